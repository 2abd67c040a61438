package store

import (
	"context"
	"database/sql"
)

// insertEventsSQLite inserts the events that are not retries, in chunks
// with the prepared multi-row inserts. Which are retries comes from the
// dedup index (dedup_sqlite.go) in one lookup for the whole commit; the
// events table has no unique index, so each insert is an append. Ids are
// AUTOINCREMENT, so the n rows of one statement take the n ids ending at
// its last insert id; the index learns the new keys with their ids once the
// transaction commits (dedupIndex.apply). The caller holds the index's lock.
func (s *Store) insertEventsSQLite(ctx context.Context, tx *sql.Tx, events []EventRow, inserted []bool) error {
	d := s.dedup
	keys := make([]dedupKey, 0, len(events))
	keyOf := make([]int, len(events)) // index into keys, or -1: server ids are never keys
	for i := range events {
		inserted[i] = true
		keyOf[i] = -1
		if e := &events[i]; !e.ServerID && !IsServerMessageID(e.MessageID) {
			keyOf[i] = len(keys)
			keys = append(keys, dedupKey{project: e.ProjectID, id: e.MessageID})
		}
	}
	dup := make([]bool, len(keys))
	if err := d.seen(ctx, tx, keys, dup); err != nil {
		return err
	}
	for i, k := range keyOf {
		if k >= 0 && dup[k] {
			inserted[i] = false
		}
	}

	args := make([]any, 0, min(len(events), insertChunk)*eventColumns)
	chunk := make([]EventRow, 0, insertChunk)
	idx := make([]int, 0, insertChunk) // chunk[j] is events[idx[j]]
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		res, err := tx.StmtContext(ctx, s.insertMany[len(chunk)]).ExecContext(ctx, eventArgs(args[:0], chunk)...)
		if err != nil {
			return err
		}
		last, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for j, i := range idx {
			if k := keyOf[i]; k >= 0 {
				d.fresh.add(keys[k], last-int64(len(chunk)-1-j))
			}
		}
		d.fresh.maxID = max(d.fresh.maxID, last)
		chunk, idx = chunk[:0], idx[:0]
		return nil
	}
	for i := range events {
		if !inserted[i] {
			continue
		}
		chunk, idx = append(chunk, events[i]), append(idx, i)
		if len(chunk) == insertChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
