// Package migrations embeds the schema migrations the store applies with
// goose at start, one folder per SQL dialect: sqlite/ and postgres/. Both
// hold the same numbered files, NNNNN_name.sql, one per change, so a version
// means the same schema on either database; a change that reads the same in
// both is still written twice, each in its dialect's types (INTEGER 0/1 and
// BLOB on SQLite are boolean and BYTEA on PostgreSQL; times are integer Unix
// milliseconds in both).
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// SQLite holds the SQLite migrations.
var SQLite = sub("sqlite")

// Postgres holds the PostgreSQL migrations.
var Postgres = sub("postgres")

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the embedded tree always has both folders
	}
	return f
}
