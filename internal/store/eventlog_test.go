package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// writeEvents stores n events of project p, one per second from base:
// event i is by user u<i%users>, type identify/track/page by i%3, verified
// unless i%4 == 3 (missing_token). The other project gets every fifth.
// Each run of one project's events is a commit of its own, so ids follow
// i whatever order a commit inserts its projects' events in.
func writeEvents(t *testing.T, s *store.Store, p, other store.Project, n, users int, base time.Time) {
	t.Helper()
	var evs []store.EventRow
	flush := func() {
		if len(evs) > 0 {
			if err := s.WriteBatch(context.Background(), &store.Batch{Events: evs}, nil); err != nil {
				t.Fatal(err)
			}
			evs = nil
		}
	}
	for i := range n {
		at := base.Add(time.Duration(i) * time.Second)
		ev := store.EventRow{ProjectID: p.ID, MessageID: fmt.Sprintf("m%04d", i), Type: []string{"identify", "track", "page"}[i%3],
			UserID: fmt.Sprintf("u%d", i%users), Timestamp: at, ReceivedAt: at, Verification: "verified",
			Traits: []byte(`{"n":1}`), Properties: []byte(`{"p":"<b>"}`), Context: []byte(`{"c":true}`)}
		if ev.Type == "track" {
			ev.Event = "Clicked"
		}
		if i%4 == 3 {
			ev.Verification = "missing_token"
		}
		if i%5 == 4 {
			ev.ProjectID = other.ID
		}
		if len(evs) > 0 && evs[0].ProjectID != ev.ProjectID {
			flush()
		}
		evs = append(evs, ev)
	}
	flush()
}

func ids(evs []store.EventSummary) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.MessageID)
	}
	return out
}

func TestEventsPagesAndWindows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p, other := storetest.Project(t, s, "web"), storetest.Project(t, s, "other")
		empty, err := s.Events(ctx, store.EventFilter{ProjectID: p.ID, Limit: 10})
		if err != nil || len(empty.Events) != 0 || empty.Older {
			t.Fatalf("no events yet: %+v, %v", empty, err)
		}
		base := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		writeEvents(t, s, p, other, 200, 7, base)

		// Newest first, only the project's, paged by id.
		pg1, err := s.Events(ctx, store.EventFilter{ProjectID: p.ID, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(pg1.Events); !slices.Equal(got, []string{"m0198", "m0197", "m0196", "m0195", "m0193"}) {
			t.Errorf("newest page = %v", got)
		}
		pg2, _ := s.Events(ctx, store.EventFilter{ProjectID: p.ID, Limit: 5, BeforeID: pg1.Events[4].ID})
		if got := ids(pg2.Events); !slices.Equal(got, []string{"m0192", "m0191", "m0190", "m0188", "m0187"}) {
			t.Errorf("second page = %v", got)
		}
		if pg1.Events[0].Event != "" || pg1.Events[1].Event != "Clicked" && pg1.Events[1].Type == "track" {
			t.Errorf("event names: %+v", pg1.Events[:2])
		}

		// Filters combine.
		f := store.EventFilter{ProjectID: p.ID, UserID: "u3", Type: "track", Verification: store.VerificationReportOnly, Limit: 100}
		got, _ := s.Events(ctx, f)
		for _, e := range got.Events {
			if e.UserID != "u3" || e.Type != "track" || e.Verification == "verified" {
				t.Errorf("filtered page holds %+v", e)
			}
		}
		// i with i%7 == 3, i%3 == 1, i%4 == 3, i%5 != 4: i ≡ 31 mod 84 → 31, 115, 199; 199%5 == 4.
		if !slices.Equal(ids(got.Events), []string{"m0115", "m0031"}) {
			t.Errorf("u3 report-only tracks = %v", ids(got.Events))
		}
		byReason, _ := s.Events(ctx, store.EventFilter{ProjectID: p.ID, Verification: "missing_token", MessageID: "m0031", Limit: 10})
		if !slices.Equal(ids(byReason.Events), []string{"m0031"}) {
			t.Errorf("by reason and messageId = %v", ids(byReason.Events))
		}
		verified, _ := s.Events(ctx, store.EventFilter{ProjectID: p.ID, Verification: "verified", MessageID: "m0031", Limit: 10})
		if len(verified.Events) != 0 {
			t.Errorf("m0031 is not verified: %v", ids(verified.Events))
		}

		// A window smaller than the table: the page says what it searched
		// and that older events exist; the next window goes on from there.
		w := store.EventFilter{ProjectID: p.ID, UserID: "u0", Window: 50, Limit: 100}
		win1, _ := s.Events(ctx, w)
		if win1.Before-win1.From != 50 || !win1.Older {
			t.Errorf("window = [%d, %d) older %v", win1.From, win1.Before, win1.Older)
		}
		for _, e := range win1.Events {
			if e.ID < win1.From || e.ID >= win1.Before {
				t.Errorf("event %d outside the window [%d, %d)", e.ID, win1.From, win1.Before)
			}
		}
		if want := base.Add(time.Duration(win1.From-pg1.Events[0].ID+198) * time.Second); !win1.FromTime.Equal(want) {
			t.Errorf("window starts at %s, want %s", win1.FromTime, want)
		}
		all := ids(win1.Events)
		for w.BeforeID = win1.From; ; {
			next, _ := s.Events(ctx, w)
			all = append(all, ids(next.Events)...)
			if !next.Older {
				break
			}
			w.BeforeID = next.From
		}
		full, _ := s.Events(ctx, store.EventFilter{ProjectID: p.ID, UserID: "u0", Limit: 1000})
		if !slices.Equal(all, ids(full.Events)) || len(all) == 0 {
			t.Errorf("windows found %v, one search %v", all, ids(full.Events))
		}

		// One event with everything stored of it, only in its project.
		e, err := s.Event(ctx, p.ID, pg1.Events[0].ID)
		if err != nil || e.MessageID != "m0198" || e.Traits != `{"n":1}` || e.Properties != `{"p":"<b>"}` || e.Context != `{"c":true}` {
			t.Errorf("event = %+v, %v", e, err)
		}
		if _, err := s.Event(ctx, other.ID, pg1.Events[0].ID); err == nil {
			t.Errorf("an event of another project was returned")
		}

		// Binary search by receive time.
		for _, c := range []struct {
			at   time.Time
			want string
		}{{base.Add(-time.Hour), "m0000"}, {base, "m0000"}, {base.Add(100*time.Second + time.Millisecond), "m0101"}, {base.Add(199 * time.Second), "m0199"}} {
			id, err := s.EventIDAt(ctx, c.at)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := s.Events(ctx, store.EventFilter{ProjectID: p.ID, BeforeID: id + 1, Window: 1, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if len(ev.Events) == 1 {
				got = ev.Events[0].MessageID
			} else if o, _ := s.Event(ctx, other.ID, id); o.MessageID != "" {
				got = o.MessageID
			}
			if got != c.want {
				t.Errorf("EventIDAt(%s) = %d (%s), want %s", c.at, id, got, c.want)
			}
		}
		if id, _ := s.EventIDAt(ctx, base.Add(time.Hour)); id != pg1.Events[0].ID+2 {
			t.Errorf("EventIDAt after the newest = %d, want %d", id, pg1.Events[0].ID+2)
		}
	})
}

func TestProfilesListAndSearch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p := storetest.Project(t, s, "web")
		now := time.Now()
		users := []string{"a", "ab", "abc", "abd", "ab\U0010FFFF", "ab\U0010FFFFz", "ac", "b", "é", "éa", "f", "Z", "<b>x</b>"}
		var evs []store.EventRow
		for i, u := range users {
			evs = append(evs, store.EventRow{ProjectID: p.ID, MessageID: fmt.Sprint("v", i), Type: "identify", UserID: u, Timestamp: now, ReceivedAt: now,
				Verification: "verified", Traits: []byte(`{"plan":"free"}`)})
		}
		for i, u := range []string{"abd", "éa", "Z"} { // poisoned
			evs = append(evs, store.EventRow{ProjectID: p.ID, MessageID: fmt.Sprint("r", i), Type: "identify", UserID: u, Timestamp: now, ReceivedAt: now,
				Verification: "missing_token", Traits: []byte(`{"plan":"pro"}`)})
		}
		if err := s.WriteBatch(ctx, &store.Batch{Events: evs}, nil); err != nil {
			t.Fatal(err)
		}
		list := func(f store.ProfileFilter) []string {
			t.Helper()
			f.ProjectID = p.ID
			if f.Limit == 0 {
				f.Limit = 100
			}
			rows, err := s.Profiles(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range rows {
				out = append(out, r.UserID)
			}
			return out
		}
		// Byte order on both databases (SQLite's BINARY, PostgreSQL's "C").
		if got, want := list(store.ProfileFilter{}), []string{"<b>x</b>", "Z", "a", "ab", "abc", "abd", "ab\U0010FFFF", "ab\U0010FFFFz", "ac", "b", "f", "é", "éa"}; !slices.Equal(got, want) {
			t.Errorf("all = %q\nwant %q", got, want)
		}
		for prefix, want := range map[string][]string{
			"ab":           {"ab", "abc", "abd", "ab\U0010FFFF", "ab\U0010FFFFz"},
			"ab\U0010FFFF": {"ab\U0010FFFF", "ab\U0010FFFFz"},
			"é":            {"é", "éa"},
			"<":            {"<b>x</b>"},
			"zz":           nil,
		} {
			if got := list(store.ProfileFilter{Prefix: prefix}); !slices.Equal(got, want) {
				t.Errorf("prefix %q = %q, want %q", prefix, got, want)
			}
		}
		if got := list(store.ProfileFilter{Prefix: "ab", After: "abc", Limit: 2}); !slices.Equal(got, []string{"abd", "ab\U0010FFFF"}) {
			t.Errorf("second page of ab = %q", got)
		}
		if got := list(store.ProfileFilter{Flagged: true}); !slices.Equal(got, []string{"Z", "abd", "éa"}) {
			t.Errorf("flagged = %q", got)
		}
		if got := list(store.ProfileFilter{Flagged: true, Prefix: "a"}); !slices.Equal(got, []string{"abd"}) {
			t.Errorf("flagged under a = %q", got)
		}
		for limit, want := range map[int]int{1: 1, 3: 3, 10: 3} {
			if n, err := s.CountFlaggedProfiles(ctx, p.ID, limit); err != nil || n != want {
				t.Errorf("CountFlaggedProfiles(limit %d) = %d, %v, want %d", limit, n, err, want)
			}
		}
	})
}

// TestPageQueriesOnMillionsOfRows fills the events table with two million
// rows and the profiles table with two hundred thousand (INSERT … SELECT,
// not the API), then reads every query plan
// of the Events and Profiles pages: each must walk a range of the primary
// key or an index, never the whole table, and a search whose filter
// matches nothing must examine at most one window of events.
func TestPageQueriesOnMillionsOfRows(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a table of millions of rows")
	}
	if raceEnabled {
		// SQLite is Go code in this process, and under -race filling it
		// takes a hundred times as long: make test runs this test again
		// without -race.
		t.Skip("fills tables of millions of rows: runs without -race (make test's second step)")
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p := storetest.Project(t, s, "web")
		const events, profiles = 2_000_000, 200_000
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		var fill []string
		if s.Dialect() == "sqlite" {
			fill = []string{
				`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $2)
				INSERT INTO events (project_id, message_id, type, user_id, timestamp, received_at, verification)
				SELECT $1, 'srv_' || i, CASE i % 3 WHEN 0 THEN 'identify' WHEN 1 THEN 'track' ELSE 'page' END, 'u' || (i % 50000),
					$3 + i * 10, $3 + i * 10, CASE WHEN i % 7 = 0 THEN 'missing_token' ELSE 'verified' END FROM c`,
				`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $2)
				INSERT INTO profiles (project_id, user_id, traits, last_verified, updated_at, provenance, flagged)
				SELECT $1, 'u' || i, '{"plan":"free"}', 1, $3, '{}', CASE WHEN i % 100 = 0 THEN 1 ELSE 0 END FROM c`,
				`ANALYZE`,
			}
		} else {
			fill = []string{
				// Server-assigned ids ("srv_…") are not in PostgreSQL's dedup
				// index, and the foreign key is checked once at the end, not
				// per row: filling the table pays for neither.
				`ALTER TABLE events DROP CONSTRAINT events_project_id_fkey`,
				`INSERT INTO events (project_id, message_id, type, user_id, timestamp, received_at, verification)
				SELECT $1, 'srv_' || i, CASE i % 3 WHEN 0 THEN 'identify' WHEN 1 THEN 'track' ELSE 'page' END, 'u' || (i % 50000),
					$3 + i * 10, $3 + i * 10, CASE WHEN i % 7 = 0 THEN 'missing_token' ELSE 'verified' END
				FROM generate_series(1, $2::bigint) AS i`,
				`INSERT INTO profiles (project_id, user_id, traits, last_verified, updated_at, provenance, flagged)
				SELECT $1, 'u' || i, '{"plan":"free"}', true, $3, '{}', CASE WHEN i % 100 = 0 THEN 1 ELSE 0 END FROM generate_series(1, $2::bigint) AS i`,
				`ALTER TABLE events ADD CONSTRAINT events_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE`,
				`ANALYZE events`, `ANALYZE profiles`,
			}
		}
		start := time.Now()
		for _, q := range fill {
			var args []any
			switch {
			case strings.Contains(q, "INSERT INTO events"):
				args = []any{p.ID, events, base}
			case strings.Contains(q, "INSERT INTO profiles"):
				args = []any{p.ID, profiles, base}
			}
			if _, err := s.ExecForTest(ctx, q, args...); err != nil {
				t.Fatalf("fill: %v", err)
			}
		}
		t.Logf("%s: %d events and %d profiles in %s", s.Dialect(), events, profiles, time.Since(start).Round(time.Millisecond))

		page, err := s.Events(ctx, store.EventFilter{ProjectID: p.ID, Limit: 26})
		if err != nil || len(page.Events) != 26 || page.Events[0].MessageID != fmt.Sprint("srv_", events) {
			t.Fatalf("newest page: %v, %v", ids(page.Events), err)
		}
		before := page.Before
		window := int64(store.EventScanWindow)
		type plan struct {
			name string
			sql  string
			args []any
			// want: what the plan must say (SQLite: the EXPLAIN QUERY PLAN
			// detail; PostgreSQL: node type and index name in the JSON).
			sqlite, postgres []string
		}
		evq := func(f store.EventFilter) (string, []any) {
			f.ProjectID, f.Limit = p.ID, 26
			return store.EventsQueryForTest(f, before-window, before)
		}
		prq := func(f store.ProfileFilter) (string, []any) {
			f.ProjectID, f.Limit = p.ID, 26
			return store.ProfilesQueryForTest(f)
		}
		var plans []plan
		add := func(name string, q string, args []any, sq, pg []string) {
			plans = append(plans, plan{name, q, args, sq, pg})
		}
		evPlan := []string{"SEARCH events USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"}
		evPG := []string{`"Index Name": "events_pkey"`, `"Scan Direction": "Backward"`}
		for _, f := range []store.EventFilter{{}, {UserID: "u7"}, {Type: "track"}, {Verification: store.VerificationReportOnly},
			{Verification: "missing_token", UserID: "u1", Type: "page", MessageID: "m3"}} {
			q, a := evq(f)
			add(fmt.Sprintf("events %+v", f), q, a, evPlan, evPG)
		}
		add("event by id", `SELECT traits FROM events WHERE id = $1 AND project_id = $2`, []any{int64(5), p.ID},
			[]string{"SEARCH events USING INTEGER PRIMARY KEY (rowid=?)"}, []string{`"Index Name": "events_pkey"`})
		add("EventIDAt probe", `SELECT received_at FROM events WHERE id >= $1 ORDER BY id LIMIT 1`, []any{int64(12345)},
			[]string{"SEARCH events USING INTEGER PRIMARY KEY (rowid>?)"}, []string{`"Index Name": "events_pkey"`})
		for _, f := range []store.ProfileFilter{{}, {Prefix: "u12"}, {After: "u5"}, {Prefix: "u1", After: "u15"}} {
			q, a := prq(f)
			add(fmt.Sprintf("profiles %+v", f), q, a, []string{"SEARCH profiles USING INDEX sqlite_autoindex_profiles_1 (project_id=? AND user_id>?"},
				[]string{`"Index Name": "profiles_pkey"`})
		}
		for _, f := range []store.ProfileFilter{{Flagged: true}, {Flagged: true, Prefix: "u3"}} {
			q, a := prq(f)
			add(fmt.Sprintf("profiles %+v", f), q, a, []string{"USING INDEX profiles_flagged"}, []string{`"Index Name": "profiles_flagged"`})
		}
		add("count flagged", `SELECT count(*) FROM (SELECT 1 FROM profiles WHERE project_id = $1 AND flagged > 0 LIMIT $2) AS f`, []any{p.ID, 10001},
			[]string{"SEARCH profiles USING INDEX profiles_flagged (project_id=?)"}, []string{`"Index Name": "profiles_flagged"`})
		add("profile", `SELECT traits FROM profiles WHERE project_id = $1 AND user_id = $2`, []any{p.ID, "u77"},
			[]string{"SEARCH profiles USING INDEX sqlite_autoindex_profiles_1 (project_id=? AND user_id=?)"}, []string{`"Index Name": "profiles_pkey"`})

		for _, pl := range plans {
			var text string
			if s.Dialect() == "sqlite" {
				text = explainSQLite(t, s, pl.sql, pl.args)
				for _, w := range pl.sqlite {
					if !strings.Contains(text, w) {
						t.Errorf("%s: plan lacks %q:\n%s", pl.name, w, text)
					}
				}
				if strings.Contains(text, "SCAN events") || strings.Contains(text, "SCAN profiles") || strings.Contains(text, "TEMP B-TREE") {
					t.Errorf("%s: plan scans a whole table or sorts:\n%s", pl.name, text)
				}
			} else {
				text = explainPostgres(t, s, pl.sql, pl.args, false)
				for _, w := range pl.postgres {
					if !strings.Contains(text, w) {
						t.Errorf("%s: plan lacks %s:\n%s", pl.name, w, text)
					}
				}
				if strings.Contains(text, `"Seq Scan"`) || strings.Contains(text, `"Node Type": "Sort"`) {
					t.Errorf("%s: plan scans a whole table or sorts:\n%s", pl.name, text)
				}
			}
		}

		// A search matching nothing examines one window, not the table.
		q, a := evq(store.EventFilter{UserID: "nobody"})
		if s.Dialect() == "postgres" {
			text := explainPostgres(t, s, q, a, true)
			examined := jsonInt(text, `"Actual Rows"`) + jsonInt(text, `"Rows Removed by Filter"`)
			if examined > window || examined < window/2 {
				t.Errorf("a search for nobody examined %d rows, want at most one window (%d)\n%s", examined, window, text)
			}
		}
		searched := time.Now()
		miss, err := s.Events(ctx, store.EventFilter{ProjectID: p.ID, UserID: "nobody", Limit: 26})
		t.Logf("%s: a search matching nothing examined one window of %d events in %s", s.Dialect(), window, time.Since(searched).Round(time.Millisecond))
		if err != nil || len(miss.Events) != 0 || miss.Before-miss.From != window || !miss.Older {
			t.Errorf("search for nobody: %d events, window [%d, %d), older %v, %v", len(miss.Events), miss.From, miss.Before, miss.Older, err)
		}
		target := int64(events) * 5 / 8
		at := time.UnixMilli(base + target*10)
		id, err := s.EventIDAt(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		found, err := s.Events(ctx, store.EventFilter{ProjectID: p.ID, BeforeID: id + 1, Window: 1, Limit: 1})
		if err != nil || len(found.Events) != 1 || found.Events[0].MessageID != fmt.Sprint("srv_", target) {
			t.Errorf("EventIDAt(%s) = %d: %v, %v", at, id, ids(found.Events), err)
		}
	})
}

// explainSQLite returns SQLite's EXPLAIN QUERY PLAN, one detail a line.
func explainSQLite(t *testing.T, s *store.Store, q string, args []any) string {
	t.Helper()
	rows, err := s.QueryForTest(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	return b.String()
}

// explainPostgres returns PostgreSQL's plan as JSON, with ANALYZE (the
// query runs) when analyze is set.
func explainPostgres(t *testing.T, s *store.Store, q string, args []any, analyze bool) string {
	t.Helper()
	opt := "FORMAT JSON"
	if analyze {
		opt = "ANALYZE, FORMAT JSON"
	}
	rows, err := s.QueryForTest(context.Background(), "EXPLAIN ("+opt+") "+q, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line)
	}
	return b.String()
}

// jsonInt sums the numbers following key in a plan's JSON text.
func jsonInt(text, key string) int64 {
	var sum int64
	for rest := text; ; {
		i := strings.Index(rest, key+": ")
		if i < 0 {
			return sum
		}
		rest = rest[i+len(key)+2:]
		var n int64
		fmt.Sscan(rest, &n)
		sum += n
	}
}
