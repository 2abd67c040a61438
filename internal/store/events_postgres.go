package store

import (
	"context"
	"database/sql"
)

// insertReturningPostgres ends PostgreSQL's multi-row event insert: a
// retry does nothing at the unique index (events_dedup, which leaves out
// server-assigned ids), and the statement returns the keys of the rows it
// really inserted. Ids from one sequence interleave
// between instances, so unlike SQLite's rowid ranges this is the one way to
// know which events of a statement were retries.
const insertReturningPostgres = " ON CONFLICT (project_id, message_id) WHERE left(message_id, 4) <> 'srv_' DO NOTHING RETURNING project_id, message_id"

// insertEventsPostgres inserts events in chunks with the prepared
// multi-row inserts and marks the ones each statement returned. A retry
// racing its original on another instance waits for that instance's
// transaction at the unique index, then does nothing: stored once.
func (s *Store) insertEventsPostgres(ctx context.Context, tx *sql.Tx, events []EventRow, inserted []bool) error {
	args := make([]any, 0, min(len(events), insertChunk)*eventColumns)
	fresh := make(map[eventKey]bool, min(len(events), insertChunk))
	for off := 0; off < len(events); off += insertChunk {
		chunk := events[off:min(off+insertChunk, len(events))]
		args = eventArgs(args[:0], chunk)
		err := func() error {
			rows, err := tx.StmtContext(ctx, s.insertMany[len(chunk)]).QueryContext(ctx, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			clear(fresh)
			for rows.Next() {
				var k eventKey
				if err := rows.Scan(&k.project, &k.id); err != nil {
					return err
				}
				fresh[k] = true
			}
			return rows.Err()
		}()
		if err != nil {
			return err
		}
		markFirst(chunk, fresh, inserted[off:off+len(chunk)])
	}
	return nil
}
