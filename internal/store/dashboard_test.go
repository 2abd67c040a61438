package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

func TestRejectionsPagedAndFiltered(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		p := storetest.Project(t, s, "web")
		q := storetest.Project(t, s, "other")
		now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		var rows []store.RejectionRow
		for i := range 7 {
			reason := "missing_token"
			if i%2 == 1 {
				reason = "signature_mismatch"
			}
			rows = append(rows, store.RejectionRow{ProjectID: p.ID, At: now.Add(time.Duration(i) * time.Second), Endpoint: "/events/batch",
				BatchIndex: i, EventType: "identify", UserID: "u", Reason: reason, Enforced: i < 3})
		}
		rows = append(rows, store.RejectionRow{ProjectID: q.ID, At: now, Endpoint: "/events", BatchIndex: -1, EventType: "track", Reason: "missing_token"})
		if err := s.WriteBatch(ctx, &store.Batch{Rejections: rows}, nil); err != nil {
			t.Fatal(err)
		}

		page1, err := s.Rejections(ctx, store.RejectionFilter{ProjectID: p.ID, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if got := indexes(page1); !equal(got, []int{6, 5, 4}) {
			t.Errorf("page 1 batch indexes = %v, want [6 5 4]", got)
		}
		page2, _ := s.Rejections(ctx, store.RejectionFilter{ProjectID: p.ID, Limit: 3, BeforeID: page1[2].ID})
		if got := indexes(page2); !equal(got, []int{3, 2, 1}) {
			t.Errorf("page 2 batch indexes = %v, want [3 2 1]", got)
		}
		if !page2[1].Enforced || page2[0].Enforced {
			t.Errorf("enforced flags = %v %v, want false true", page2[0].Enforced, page2[1].Enforced)
		}
		mismatch, _ := s.Rejections(ctx, store.RejectionFilter{ProjectID: p.ID, Reason: "signature_mismatch", Limit: 10})
		if got := indexes(mismatch); !equal(got, []int{5, 3, 1}) {
			t.Errorf("signature_mismatch batch indexes = %v, want [5 3 1]", got)
		}
		other, _ := s.Rejections(ctx, store.RejectionFilter{ProjectID: q.ID, Limit: 10})
		if len(other) != 1 || other[0].BatchIndex != -1 || other[0].Endpoint != "/events" || !other[0].At.Equal(now) {
			t.Errorf("other project = %+v, want one /events row with batch index -1", other)
		}
	})
}

func indexes(rs []store.Rejection) []int {
	var out []int
	for _, r := range rs {
		out = append(out, r.BatchIndex)
	}
	return out
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHourlyCountsAndTotals(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		p := storetest.Project(t, s, "web")
		now := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)

		ev := func(id string, at time.Time, verification string) store.EventRow {
			return store.EventRow{ProjectID: p.ID, MessageID: id, Type: "track", Event: "x", UserID: "u", Timestamp: at, ReceivedAt: at, Verification: verification}
		}
		b := &store.Batch{
			Events: []store.EventRow{
				ev("a", now, "verified"),
				ev("b", now, "missing_token"),
				ev("c", now.Add(-2*time.Hour), "verified"),
				ev("d", now.Add(-25*time.Hour), "signature_mismatch"), // outside the window
			},
			Counts: map[store.CountKey]int64{
				{ProjectID: p.ID, Minute: store.MinuteOf(now.Add(-time.Hour)), Outcome: store.OutcomeRejected, Reason: "signature_mismatch"}: 4,
			},
		}
		if err := s.WriteBatch(ctx, b, nil); err != nil {
			t.Fatal(err)
		}

		hours, err := s.HourlyCounts(ctx, p.ID, now.Add(-23*time.Hour), now)
		if err != nil {
			t.Fatal(err)
		}
		if len(hours) != 24 {
			t.Fatalf("got %d hours, want 24", len(hours))
		}
		if want := time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC); !hours[0].Hour.Equal(want) {
			t.Errorf("first hour = %v, want %v", hours[0].Hour, want)
		}
		last := hours[23]
		if last.Accepted != 2 || last.ReportOnly != 1 || last.Rejected != 0 {
			t.Errorf("current hour = %+v, want 2 accepted, 1 report-only", last)
		}
		if h := hours[22]; h.Rejected != 4 || h.Accepted != 0 {
			t.Errorf("an hour ago = %+v, want 4 rejected", h)
		}
		if h := hours[21]; h.Accepted != 1 {
			t.Errorf("two hours ago = %+v, want 1 accepted", h)
		}

		totals, err := s.OutcomeTotals(ctx, p.ID, now.Add(-24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := []store.OutcomeCount{
			{Outcome: store.OutcomeRejected, Reason: "signature_mismatch", N: 4},
			{Outcome: store.OutcomeAccepted, N: 3},
			{Outcome: store.OutcomeReportOnly, Reason: "missing_token", N: 1},
		}
		if len(totals) != len(want) {
			t.Fatalf("totals = %+v, want %+v", totals, want)
		}
		for i := range want {
			if totals[i] != want[i] {
				t.Errorf("totals[%d] = %+v, want %+v", i, totals[i], want[i])
			}
		}
	})
}
