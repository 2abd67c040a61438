package store

import (
	"database/sql/driver"
	"fmt"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite"
)

var registerSQLiteOnce sync.Once

// provenanceCalls counts profile_provenance calls on SQLite, so a test can
// show the upsert runs it once per identify.
var provenanceCalls atomic.Int64

// registerSQLiteFunctions adds the store's own SQL functions to the SQLite
// driver, for every connection opened after it: profile_provenance
// (provenance.go). PostgreSQL defines it in its migrations.
func registerSQLiteFunctions() {
	registerSQLiteOnce.Do(func() {
		sqlite.MustRegisterDeterministicScalarFunction("profile_provenance", 8, provenanceSQLite)
	})
}

// provenanceSQLite is profile_provenance(old_traits, new_traits, old_prov,
// patch, at, message_id, verification, signed) for SQLite.
func provenanceSQLite(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	provenanceCalls.Add(1)
	var in provenanceInput
	var err error
	text := func(i int) *string {
		switch v := args[i].(type) {
		case nil:
			return nil
		case string:
			return &v
		case []byte:
			s := string(v)
			return &s
		}
		err = fmt.Errorf("profile_provenance: argument %d is %T, want text", i+1, args[i])
		return nil
	}
	str := func(i int) string {
		if p := text(i); p != nil {
			return *p
		}
		return ""
	}
	in.OldTraits, in.OldProv, in.Signed = text(0), text(2), text(7)
	in.NewTraits, in.Patch, in.By, in.Verification = str(1), str(3), str(5), str(6)
	switch v := args[4].(type) {
	case int64:
		in.At = v
	default:
		err = fmt.Errorf("profile_provenance: at is %T, want an integer", v)
	}
	if err != nil {
		return nil, err
	}
	if out := profileProvenance(in); out != nil {
		return *out, nil
	}
	return nil, nil
}
