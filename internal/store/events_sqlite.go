package store

import (
	"context"
	"database/sql"
)

// insertEventsSQLite inserts events in chunks with the prepared multi-row
// inserts. It learns which were new from each statement's row count, and
// only when some were retries reads the new rows back by rowid: SQLite's
// single writer gives the n new rows of a statement the n rowids ending at
// its last insert id.
func (s *Store) insertEventsSQLite(ctx context.Context, tx *sql.Tx, events []EventRow, inserted []bool) error {
	args := make([]any, 0, min(len(events), insertChunk)*eventColumns)
	for off := 0; off < len(events); off += insertChunk {
		chunk := events[off:min(off+insertChunk, len(events))]
		args = eventArgs(args[:0], chunk)
		res, err := tx.StmtContext(ctx, s.insertMany[len(chunk)]).ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if int(n) == len(chunk) { // no retries among them: the usual case
			for i := range chunk {
				inserted[off+i] = true
			}
			continue
		}
		if err := whichInsertedSQLite(ctx, tx, res, n, chunk, inserted[off:off+len(chunk)]); err != nil {
			return err
		}
	}
	return nil
}

// whichInsertedSQLite works out which events of a chunk were new when some
// were retries of stored messageIds. The n new rows took the n highest
// rowids, ending at the last insert id; read their keys back and mark the
// first event of the chunk with each key.
func whichInsertedSQLite(ctx context.Context, tx *sql.Tx, res sql.Result, n int64, chunk []EventRow, inserted []bool) error {
	if n == 0 {
		return nil
	}
	last, err := res.LastInsertId()
	if err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT project_id, message_id FROM events WHERE id > $1 AND id <= $2`, last-n, last)
	if err != nil {
		return err
	}
	defer rows.Close()
	fresh := make(map[eventKey]bool, n)
	for rows.Next() {
		var k eventKey
		if err := rows.Scan(&k.project, &k.id); err != nil {
			return err
		}
		fresh[k] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	markFirst(chunk, fresh, inserted)
	return nil
}
