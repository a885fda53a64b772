package slacktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// socketState is the Socket Mode connection of the app, if any.
type socketState struct {
	mu      sync.Mutex
	conn    *websocket.Conn
	ready   chan struct{} // closed once a connection is up
	acks    map[string]chan json.RawMessage
	opened  int
	stopped chan struct{}
}

func (s *Server) sock() *socketState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.socket == nil {
		s.socket = &socketState{ready: make(chan struct{}), acks: map[string]chan json.RawMessage{}, stopped: make(chan struct{})}
	}
	return s.socket
}

func (s *Server) appsConnectionsOpen(url.Values, []byte) (any, string) {
	st := s.sock()
	st.mu.Lock()
	st.opened++
	n := st.opened
	st.mu.Unlock()
	ws := "ws" + strings.TrimPrefix(s.URL, "http") + fmt.Sprintf("/socket/%d", n)
	return map[string]any{"ok": true, "url": ws}, ""
}

// Connections counts the Socket Mode connections opened so far
// (apps.connections.open calls).
func (s *Server) Connections() int {
	st := s.sock()
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.opened
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	st := s.sock()
	st.mu.Lock()
	if st.conn != nil {
		st.conn.Close()
	}
	st.conn = conn
	select {
	case <-st.ready:
	default:
		close(st.ready)
	}
	st.mu.Unlock()
	st.write(conn, map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": AppID}, "debug_info": map[string]any{"host": "fake"}})
	done := make(chan struct{})
	go func() { // Slack pings; the client reconnects without them
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			st.mu.Lock()
			conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
			st.mu.Unlock()
			select {
			case <-done:
				return
			case <-st.stopped:
				return
			case <-t.C:
			}
		}
	}()
	defer close(done)
	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := conn.ReadJSON(&ack); err != nil {
			st.mu.Lock()
			if st.conn == conn {
				st.conn = nil
				st.ready = make(chan struct{})
			}
			st.mu.Unlock()
			return
		}
		st.mu.Lock()
		ch := st.acks[ack.EnvelopeID]
		delete(st.acks, ack.EnvelopeID)
		st.mu.Unlock()
		if ch != nil {
			ch <- ack.Payload
		}
	}
}

func (st *socketState) write(conn *websocket.Conn, v any) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return conn.WriteJSON(v)
}

// SocketSend sends an envelope over Socket Mode, once the app is
// connected, and returns the payload of its acknowledgement. typ is
// slash_commands, interactive or events_api; payload is what the HTTP
// request would carry (the slash command's fields, the interaction, the
// event callback).
func (s *Server) SocketSend(ctx context.Context, typ string, payload any) (json.RawMessage, error) {
	st := s.sock()
	var conn *websocket.Conn
	for conn == nil {
		st.mu.Lock()
		ready := st.ready
		conn = st.conn
		st.mu.Unlock()
		if conn != nil {
			break
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("no socket mode connection: %w", ctx.Err())
		}
	}
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("env-%06d", s.seq)
	s.mu.Unlock()
	ch := make(chan json.RawMessage, 1)
	st.mu.Lock()
	st.acks[id] = ch
	st.mu.Unlock()
	env := map[string]any{"envelope_id": id, "type": typ, "payload": payload, "accepts_response_payload": typ != "events_api", "retry_attempt": 0, "retry_reason": ""}
	if err := st.write(conn, env); err != nil {
		return nil, fmt.Errorf("send envelope: %w", err)
	}
	select {
	case p := <-ch:
		return p, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("envelope %s not acknowledged: %w", id, ctx.Err())
	}
}

// SocketDrop closes the current Socket Mode connection, as a network
// failure would; the app is expected to reconnect.
func (s *Server) SocketDrop() error {
	st := s.sock()
	st.mu.Lock()
	conn := st.conn
	st.mu.Unlock()
	if conn == nil {
		return errors.New("no socket mode connection")
	}
	return conn.Close()
}

func (s *Server) closeSocket() {
	s.mu.Lock()
	st := s.socket
	s.mu.Unlock()
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	select {
	case <-st.stopped:
	default:
		close(st.stopped)
	}
	if st.conn != nil {
		st.conn.Close()
	}
}
