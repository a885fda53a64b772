package main

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// receiver stands for Slack where the bot answers: each command's
// response_url is <receiver>/answers/<n>, and it records when the first
// answer to command n arrives; its /api/ answers every Web API call ok.
type receiver struct {
	srv *http.Server
	url string

	mu       sync.Mutex
	arrived  []time.Time // by command; zero until answered
	answers  int
	apiCalls int
	all      chan struct{} // closed once expect answers arrived
	expect   int
}

func newReceiver(commands int) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{url: "http://" + ln.Addr().String(), arrived: make([]time.Time, commands), all: make(chan struct{}), expect: -1}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /answers/{n}", func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		io.Copy(io.Discard, req.Body)
		if n, err := strconv.Atoi(req.PathValue("n")); err == nil && n >= 0 && n < len(r.arrived) {
			r.mu.Lock()
			if r.arrived[n].IsZero() {
				r.arrived[n] = at
				r.answers++
				r.check()
			}
			r.mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.apiCalls++
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"ts":"1700000000.000100","channel":"CLOADTEST"}`)
	})
	r.srv = &http.Server{Handler: mux}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *receiver) answerURL(n int) string { return r.url + "/answers/" + strconv.Itoa(n) }

// expectAnswers says how many answers to wait for; all is closed once they
// arrived.
func (r *receiver) expectAnswers(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expect = n
	r.check()
}

func (r *receiver) check() {
	if r.expect >= 0 && r.answers >= r.expect {
		select {
		case <-r.all:
		default:
			close(r.all)
		}
	}
}

func (r *receiver) close() { r.srv.Close() }
