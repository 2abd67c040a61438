package settings

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/web/templates/pages"
)

// impact previews strict mode from the counters of the window: every
// report-only event (accepted, did not verify) and every event already
// refused would be rejected. Events counted while the project had no secret
// (no_secret) are left out of both sides: whether they would verify under
// the secret the project has now cannot be known.
func impact(totals []store.OutcomeCount) pages.Impact {
	var accepted, refused, unknown int64
	byReason := map[string]int64{}
	for _, c := range totals {
		switch c.Outcome {
		case store.OutcomeAccepted:
			accepted += c.N
		case store.OutcomeRejected:
			refused += c.N
			if c.Reason == "no_secret" {
				unknown += c.N
			} else {
				byReason[c.Reason] += c.N
			}
		case store.OutcomeReportOnly:
			if c.Reason == "no_secret" {
				unknown += c.N
			} else {
				byReason[c.Reason] += c.N
			}
		}
	}
	// Refused events are not in accepted; report-only ones are.
	total := accepted + refused - unknown
	var would int64
	type rc struct {
		reason string
		n      int64
	}
	var list []rc
	for r, n := range byReason {
		if n > 0 {
			list = append(list, rc{r, n})
			would += n
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].n != list[j].n {
			return list[i].n > list[j].n
		}
		return list[i].reason < list[j].reason
	})
	im := pages.Impact{Total: total, Rejected: would}
	var parts []string
	for _, x := range list {
		im.ByReason = append(im.ByReason, pages.ReasonCount{Reason: x.reason, N: thousands(x.n)})
		parts = append(parts, thousands(x.n)+" "+x.reason)
	}
	noun := "events"
	if total == 1 {
		noun = "event"
	}
	switch {
	case total <= 0:
		im.Total = 0
	case would == 0:
		im.Summary = fmt.Sprintf("0 of %s %s would be rejected: every one verified.", thousands(total), noun)
	default:
		im.Summary = fmt.Sprintf("%s of %s %s (%s) would be rejected: %s", thousands(would), thousands(total), noun,
			percent(would, total), strings.Join(parts, ", "))
	}
	if unknown > 0 {
		im.Unknown = thousands(unknown) + " events received while the project had no identity secret are not counted."
	}
	return im
}

// percent is part/whole with one decimal: "4.0%", "<0.1%", "100%".
func percent(part, whole int64) string {
	if whole == 0 {
		return "0%"
	}
	if part == whole {
		return "100%"
	}
	p := float64(part) * 100 / float64(whole)
	if p > 0 && p < 0.05 {
		return "<0.1%"
	}
	s := strconv.FormatFloat(p, 'f', 1, 64)
	if s == "100.0" { // 99.96% is not everything
		s = "99.9"
	}
	return s + "%"
}

// thousands writes n with comma separators: 10380 → "10,380".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
