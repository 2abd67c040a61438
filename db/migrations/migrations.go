// Package migrations embeds the SQLite schema migrations that the store
// applies with goose at start. Files are named NNNNN_name.sql. The SQL keeps
// to what PostgreSQL also reads where that costs nothing (integer times,
// no SQLite-only column types), so a PostgreSQL migration set can follow it
// closely.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
