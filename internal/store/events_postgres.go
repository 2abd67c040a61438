package store

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"
)

// insertReturningPostgres ends PostgreSQL's multi-row event insert: a
// retry does nothing at the unique index (events_dedup, which leaves out
// server-assigned ids), and the statement returns the keys of the rows it
// really inserted. Ids from one sequence interleave between instances, so
// unlike SQLite's rowid ranges this is the one way to know which events of
// a statement were retries.
const insertReturningPostgres = " ON CONFLICT (project_id, message_id) WHERE left(message_id, 4) <> 'srv_' DO NOTHING RETURNING project_id, message_id"

// insertEventsPostgres inserts events in chunks with the prepared
// multi-row inserts and marks the ones each statement returned. A retry
// racing its original on another instance waits for that instance's
// transaction at the unique index, then does nothing: stored once.
//
// Events go in (project, messageId) order: each insert locks its key in the
// unique index until the transaction ends, and two instances committing the
// same retried ids in opposite orders would each wait for the other
// (deadlock, 40P01, answered 503). In one order, one waits and the other
// finishes. The sort is stable, so of two copies in one commit the first
// sent is the one stored.
func (s *Store) insertEventsPostgres(ctx context.Context, tx *sql.Tx, events []EventRow, inserted []bool) error {
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(events[a].ProjectID, events[b].ProjectID), strings.Compare(events[a].MessageID, events[b].MessageID))
	})
	args := make([]any, 0, min(len(events), insertChunk)*eventColumns)
	chunk := make([]EventRow, 0, insertChunk)
	fresh := make(map[eventKey]bool, min(len(events), insertChunk))
	for off := 0; off < len(order); off += insertChunk {
		idx := order[off:min(off+insertChunk, len(order))]
		chunk = chunk[:0]
		for _, i := range idx {
			chunk = append(chunk, events[i])
		}
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
		for j, i := range idx {
			e := &chunk[j]
			if e.ServerID || IsServerMessageID(e.MessageID) { // never keys: always stored
				inserted[i] = true
				continue
			}
			k := eventKey{e.ProjectID, e.MessageID}
			if fresh[k] { // the first copy in the chunk took it; a later one was the retry
				inserted[i] = true
				delete(fresh, k)
			}
		}
	}
	return nil
}
