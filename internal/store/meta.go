package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Meta returns the value stored under key in the meta table.
func (s *Store) Meta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: meta %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: meta %q: %w", key, err)
	}
	return v, nil
}

// PutMetaOnce stores value under key unless the key is already set, and
// returns the value that is stored afterwards: two processes starting at
// once agree on one value.
func (s *Store) PutMetaOnce(ctx context.Context, key string, value []byte) ([]byte, error) {
	var stored []byte
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&stored)
	})
	if err != nil {
		return nil, fmt.Errorf("store: put meta %q: %w", key, err)
	}
	return stored, nil
}
