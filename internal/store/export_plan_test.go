package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// TestExportSeeks: an export chunk, with or without --since, is a seek on
// events_project_received in the order it returns rows: no scan of the
// project's older events, no sort of its rows (each chunk used to re-sort
// the project through the dedup index), and it returns what it should.
func TestExportSeeks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p := storetest.Project(t, s, "default")
		other := storetest.Project(t, s, "other")
		start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		const n = 20_000
		for off := 0; off < n; off += 1000 {
			var rows []store.EventRow
			for i := off; i < off+1000; i++ {
				at := start.Add(time.Duration(i) * time.Second)
				for _, proj := range []int64{p.ID, other.ID} {
					rows = append(rows, store.EventRow{ProjectID: proj, MessageID: fmt.Sprintf("m%06d", i), Type: "track", Event: "E",
						UserID: "u", Timestamp: at, ReceivedAt: at, Verification: "verified"})
				}
			}
			if err := s.WriteBatch(ctx, &store.Batch{Events: rows}, nil); err != nil {
				t.Fatal(err)
			}
		}
		s.AnalyzeForTest(ctx, t)
		since := start.Add((n - 100) * time.Second)
		for _, at := range []time.Time{{}, since} {
			for query, plan := range s.ExplainExportForTest(ctx, t, p.ID, at) {
				switch s.Dialect() {
				case "sqlite":
					want := "USING INDEX events_project_received"
					if query == "boundary" {
						want = "USING COVERING INDEX events_project_received" // the index alone, no row read
					}
					if !strings.Contains(plan, want) || strings.Contains(plan, "TEMP B-TREE") {
						t.Errorf("export %s query does not seek the received_at index in order:\n%s", query, plan)
					}
				case "postgres":
					// The planner may sort the few rows a bitmap scan of
					// the index finds; it must not scan the table.
					if !strings.Contains(plan, "events_project_received") || strings.Contains(plan, "Seq Scan") {
						t.Errorf("export %s query does not seek the received_at index:\n%s", query, plan)
					}
				}
			}
		}
		var got []string
		err := s.ExportEvents(ctx, p.ID, since, func(e *store.StoredEvent) error {
			got = append(got, e.MessageID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 100 || got[0] != fmt.Sprintf("m%06d", n-100) || got[99] != fmt.Sprintf("m%06d", n-1) {
			t.Errorf("export --since gave %d events, %v…", len(got), got[:min(3, len(got))])
		}
		count := 0
		if err := s.ExportEvents(ctx, p.ID, time.Time{}, func(*store.StoredEvent) error { count++; return nil }); err != nil || count != n {
			t.Errorf("export of the whole project: %d events, %v; want %d", count, err, n)
		}
	})
}
