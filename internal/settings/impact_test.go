package settings

import (
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
)

func TestImpactSummary(t *testing.T) {
	for _, tt := range []struct {
		name    string
		totals  []store.OutcomeCount
		summary string
		unknown string
	}{
		{"the issue's example", []store.OutcomeCount{
			{Outcome: store.OutcomeAccepted, N: 10380},
			{Outcome: store.OutcomeReportOnly, Reason: "missing_token", N: 390},
			{Outcome: store.OutcomeReportOnly, Reason: "signature_mismatch", N: 22},
		}, "412 of 10,380 events (4.0%) would be rejected: 390 missing_token, 22 signature_mismatch", ""},
		{"already refused count too", []store.OutcomeCount{
			{Outcome: store.OutcomeAccepted, N: 90},
			{Outcome: store.OutcomeRejected, Reason: "signature_mismatch", N: 10},
			{Outcome: store.OutcomeReportOnly, Reason: "missing_token", N: 5},
		}, "15 of 100 events (15.0%) would be rejected: 10 signature_mismatch, 5 missing_token", ""},
		{"no_secret is left out", []store.OutcomeCount{
			{Outcome: store.OutcomeAccepted, N: 1000},
			{Outcome: store.OutcomeReportOnly, Reason: "no_secret", N: 600},
			{Outcome: store.OutcomeReportOnly, Reason: "missing_token", N: 1},
		}, "1 of 400 events (0.2%) would be rejected: 1 missing_token", "600 events received while the project had no identity secret are not counted."},
		{"all verified", []store.OutcomeCount{{Outcome: store.OutcomeAccepted, N: 1}}, "0 of 1 event would be rejected: every one verified.", ""},
		{"tiny share", []store.OutcomeCount{
			{Outcome: store.OutcomeAccepted, N: 100000},
			{Outcome: store.OutcomeReportOnly, Reason: "malformed_token", N: 1},
		}, "1 of 100,000 events (<0.1%) would be rejected: 1 malformed_token", ""},
		{"nothing", nil, "", ""},
	} {
		im := impact(tt.totals)
		if im.Summary != tt.summary || im.Unknown != tt.unknown {
			t.Errorf("%s: summary %q, unknown %q; want %q, %q", tt.name, im.Summary, im.Unknown, tt.summary, tt.unknown)
		}
	}
}

func TestThousandsAndPercent(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 10380: "10,380", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	if got := percent(9999, 10000); got != "99.9%" {
		t.Errorf("percent(9999, 10000) = %q: must not round to 100%%", got)
	}
}

func TestChartLayout(t *testing.T) {
	start := time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)
	hours := make([]store.HourCounts, 24)
	for i := range hours {
		hours[i].Hour = start.Add(time.Duration(i) * time.Hour)
	}
	hours[5] = store.HourCounts{Hour: hours[5].Hour, Accepted: 90, ReportOnly: 30, Rejected: 10} // 60 + 30 + 10 = 100
	c := chart(hours)
	if len(c.Bars) != 24 || c.Empty {
		t.Fatalf("%d bars, empty=%v", len(c.Bars), c.Empty)
	}
	b := c.Bars[5]
	if len(b.Segments) != 3 {
		t.Fatalf("segments = %+v", b.Segments)
	}
	// The axis tops out at a round number ≥ the peak and the stack fills its share.
	top := c.YTicks[len(c.YTicks)-1]
	if top.Label != "100" || top.Pos != plotTop {
		t.Errorf("top tick = %+v, want 100 at the top", top)
	}
	total := 0.0
	for _, s := range b.Segments {
		total += s.H
	}
	if d := total - (plotBottom - plotTop); d > 0.001 || d < -0.001 {
		t.Errorf("the peak bar is %.2f high, want the full plot %.2f", total, plotBottom-plotTop)
	}
	if b.Segments[0].Class != "seg-verified" || b.Segments[0].Y+b.Segments[0].H != plotBottom {
		t.Errorf("verified is not at the bottom: %+v", b.Segments[0])
	}
	if c.Verified != "60" || c.ReportOnly != "30" || c.Rejected != "10" {
		t.Errorf("totals = %s %s %s", c.Verified, c.ReportOnly, c.Rejected)
	}
	if len(chart(make([]store.HourCounts, 24)).Bars[0].Segments) != 0 || !chart(make([]store.HourCounts, 24)).Empty {
		t.Errorf("an empty day draws segments")
	}
	for peak, want := range map[int64][2]int64{0: {4, 1}, 7: {8, 2}, 100: {100, 25}, 101: {150, 50}, 12345: {15000, 5000}} {
		top, step := niceScale(peak)
		if top != want[0] || step != want[1] {
			t.Errorf("niceScale(%d) = %d, %d; want %d, %d", peak, top, step, want[0], want[1])
		}
	}
}
