package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

const conversationColumns = "id, user_id, channel, thread, state, expires_at, updated_at"

func scanConversation(row scanner) (Conversation, error) {
	var c Conversation
	err := row.Scan(&c.ID, &c.UserID, &c.Channel, &c.Thread, &c.State, tsCol{&c.ExpiresAt}, tsCol{&c.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return Conversation{}, ErrNotFound
	}
	return c, err
}

func (s *sqlStore) SaveConversation(ctx context.Context, c Conversation) error {
	if c.ID == "" || c.ExpiresAt.IsZero() {
		return fmt.Errorf("store: save conversation: need an id and an expiry, got %q and %v", c.ID, c.ExpiresAt)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		// Expired conversations go as new ones come, so the table stays small.
		if _, err := tx.ExecContext(ctx, s.q("DELETE FROM conversations WHERE expires_at <= ?"), s.ts(now)); err != nil {
			return fmt.Errorf("remove expired: %w", err)
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO conversations (`+conversationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, channel = excluded.channel, thread = excluded.thread,
			state = excluded.state, expires_at = excluded.expires_at, updated_at = excluded.updated_at`),
			c.ID, c.UserID, c.Channel, c.Thread, c.State, s.ts(c.ExpiresAt), s.ts(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: save conversation %s: %w", c.ID, err)
	}
	return nil
}

func (s *sqlStore) GetConversation(ctx context.Context, id string) (Conversation, error) {
	c, err := scanConversation(s.r.QueryRowContext(ctx, s.q("SELECT "+conversationColumns+" FROM conversations WHERE id = ? AND expires_at > ?"), id, s.ts(s.now())))
	if err != nil {
		return Conversation{}, fmt.Errorf("store: get conversation %s: %w", id, err)
	}
	return c, nil
}

func (s *sqlStore) FindConversation(ctx context.Context, channel, thread, user string) (Conversation, error) {
	c, err := scanConversation(s.r.QueryRowContext(ctx, s.q("SELECT "+conversationColumns+` FROM conversations
		WHERE channel = ? AND thread = ? AND user_id = ? AND expires_at > ? ORDER BY updated_at DESC, id DESC LIMIT 1`),
		channel, thread, user, s.ts(s.now())))
	if err != nil {
		return Conversation{}, fmt.Errorf("store: find conversation of %s in %s/%s: %w", user, channel, thread, err)
	}
	return c, nil
}

func (s *sqlStore) DeleteConversation(ctx context.Context, id string) error {
	if _, err := s.w.ExecContext(ctx, s.q("DELETE FROM conversations WHERE id = ?"), id); err != nil {
		return fmt.Errorf("store: delete conversation %s: %w", id, err)
	}
	return nil
}
