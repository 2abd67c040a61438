package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/sendora/sendora/db/migrations"
)

// postgresDialect is PostgreSQL's part of the store.
var postgresDialect = &dialect{
	name:         "postgres",
	goose:        goose.DialectPostgres,
	migrations:   migrations.Postgres,
	insertSuffix: insertReturningPostgres,
	forUpdate:    " FOR UPDATE",
	notifySQL:    notifySQLPostgres,
	serializeSQL: "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
	isUnique:     isUniquePostgres,
	insertEvents: (*Store).insertEventsPostgres,
}

// PostgresOptions tunes a PostgreSQL store. Zero values take defaults.
type PostgresOptions struct {
	// MaxConns bounds this process's connections in its pool (default 10);
	// the change listener holds one more. PostgreSQL's max_connections must
	// cover every instance's pool, the CLI and maintenance.
	MaxConns int
	// ExistingOnly refuses a database sendora has not set up yet instead of
	// creating its tables: the CLI must not turn a mistyped URL into a new,
	// empty Sendora database.
	ExistingOnly bool
}

// ErrNotSetUp means ExistingOnly met a database without Sendora's tables.
var ErrNotSetUp = errors.New("sendora has not set up this database yet: start `sendora serve` on it once")

// DefaultPostgresMaxConns is the pool size when PostgresOptions.MaxConns is 0.
const DefaultPostgresMaxConns = 10

// pgConfig is what a PostgreSQL store remembers of how it was opened.
type pgConfig struct {
	url      string // as given, password included: never log it
	redacted string // without the password, for messages
	conn     *pgx.ConnConfig
	opt      PostgresOptions
}

// IsPostgresURL reports whether s names a PostgreSQL database
// (postgres:// or postgresql://).
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// countShards is how many shards of the per-minute counters instances
// spread over (Store.countShard). Two instances draw the same one once in
// 16 starts; they then queue on those rows as before, and stay correct.
const countShards = 16

// OpenPostgres connects to the PostgreSQL database at rawURL and applies
// pending migrations under an advisory lock, so instances starting together
// migrate once. An unreachable database is a one-line error that names
// the URL without its password.
func OpenPostgres(ctx context.Context, rawURL string, opt PostgresOptions) (*Store, error) {
	if opt.MaxConns <= 0 {
		opt.MaxConns = DefaultPostgresMaxConns
	}
	redacted := RedactURL(rawURL)
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		// pgx's message would quote the URL; say what is wrong without it.
		var pe *pgconn.ParseConfigError
		msg := "not a PostgreSQL URL like postgres://user:password@host:5432/dbname"
		if errors.As(err, &pe) {
			msg = oneLine(strings.TrimPrefix(pe.Error(), "cannot parse `"+redactAll(pe.ConnString)+"`: "))
		}
		return nil, fmt.Errorf("store: database URL %s: %s", redacted, msg)
	}
	if cfg.ConnectTimeout == 0 {
		// An unreachable host fails the start (or a commit) in seconds,
		// not after the kernel's TCP timeout.
		cfg.ConnectTimeout = 5 * time.Second
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "sendora"
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(opt.MaxConns)
	db.SetMaxIdleConns(opt.MaxConns)
	// Recycle connections now and then, so a pool spreads again over a
	// failed-over or restarted server.
	db.SetConnMaxLifetime(30 * time.Minute)
	db.SetConnMaxIdleTime(5 * time.Minute)

	s := &Store{w: db, r: db, d: postgresDialect, pg: &pgConfig{url: rawURL, redacted: redacted, conn: cfg, opt: opt},
		countShard: int16(rand.IntN(countShards))}
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout+time.Second)
	err = db.PingContext(pctx)
	cancel()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: cannot connect to PostgreSQL at %s: %s", redacted, connectCause(err))
	}
	if opt.ExistingOnly {
		var set bool
		if err := db.QueryRowContext(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&set); err != nil || !set {
			db.Close()
			if err == nil {
				err = ErrNotSetUp
			}
			return nil, fmt.Errorf("store: %s: %w", redacted, err)
		}
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: migrate %s: %s", redacted, oneLine(err.Error()))
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// connectCause is the reason a connection failed, in one line: the
// innermost error of pgx's ConnectError (which spans lines when it tried
// several addresses), or the server's message.
func connectCause(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message + " (SQLSTATE " + pe.Code + ")"
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		if inner := ce.Unwrap(); inner != nil {
			err = inner
		}
	}
	return oneLine(err.Error())
}

// oneLine joins a multi-line message into one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\n\t", "; ")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// RedactURL returns a database URL without its password (the userinfo
// password and password or sslpassword parameters), for messages and logs.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return redactAll(raw)
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	for _, k := range []string{"password", "sslpassword"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

var (
	kvPassword  = regexp.MustCompile(`(?i)(ssl)?password\s*=\s*('[^']*'|\S*)`)
	urlPassword = regexp.MustCompile(`:[^:@/]*@`)
)

// redactAll masks anything that may be a password in a string that is not
// a well-formed URL: key=value settings and user:password@ pieces.
func redactAll(s string) string {
	s = kvPassword.ReplaceAllString(s, "${1}password=xxxxx")
	return urlPassword.ReplaceAllString(s, ":xxxxx@")
}

// isUniquePostgres reports whether err is a UNIQUE violation (23505).
func isUniquePostgres(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
