package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// notifySQLPostgres tells the LISTENing servers about a change when the
// transaction commits; $1 is the new counter value.
const notifySQLPostgres = "SELECT pg_notify('" + ChangesChannel + "', $1)"

// listen holds a connection of its own LISTENing on ChangesChannel and
// pokes Run at every notification, until ctx ends. When the connection
// breaks (a restart, a failover) it reconnects, backing off up to 5 s, and
// pokes Run on reconnecting: a change may have been made meanwhile, and
// its notification lost; the periodic read covers the gap too.
func (w *ChangeWatcher) listen(ctx context.Context, report func(string, error)) {
	backoff := 100 * time.Millisecond
	failing := false
	for ctx.Err() == nil {
		err := w.listenOnce(ctx, func() {
			backoff = 100 * time.Millisecond
			if failing {
				failing = false
				report("listening for change notifications again", nil)
			}
		})
		if ctx.Err() != nil {
			return
		}
		if !failing {
			failing = true
			report("lost the change notifications connection: reconnecting; changes made elsewhere apply at the next read of the change counter", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (w *ChangeWatcher) listenOnce(ctx context.Context, connected func()) error {
	cctx, cancel := context.WithTimeout(ctx, w.s.pg.conn.ConnectTimeout+time.Second)
	conn, err := pgx.ConnectConfig(cctx, w.s.pg.conn)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %s", connectCause(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+ChangesChannel); err != nil {
		return err
	}
	connected()
	w.poke() // anything changed while this connection was down
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		w.poke()
	}
}
