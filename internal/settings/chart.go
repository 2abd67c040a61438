package settings

import (
	"fmt"
	"math"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/web/templates/pages"
)

// Chart geometry, in SVG user units; the SVG scales to its box.
const (
	chartW      = 1000.0
	chartH      = 230.0
	plotLeft    = 52.0
	plotRight   = 992.0
	plotTop     = 12.0
	plotBottom  = 202.0
	barFraction = 0.72
)

// chart lays out hourly counts as stacked bars: verified (accepted and
// verified), report-only (accepted, would be refused in strict mode) and
// rejected (refused), which together are every event of the hour.
func chart(hours []store.HourCounts) pages.Chart {
	c := pages.Chart{
		Width: chartW, Height: chartH,
		PlotLeft: plotLeft, PlotRight: plotRight, PlotTop: plotTop, PlotBottom: plotBottom,
	}
	type hv struct{ verified, report, rejected int64 }
	vals := make([]hv, len(hours))
	var peak, tv, tr, tj int64
	busiest := -1
	for i, h := range hours {
		v := hv{verified: max(0, h.Accepted-h.ReportOnly), report: h.ReportOnly, rejected: h.Rejected}
		vals[i] = v
		sum := v.verified + v.report + v.rejected
		if sum > peak {
			peak, busiest = sum, i
		}
		tv, tr, tj = tv+v.verified, tr+v.report, tj+v.rejected
	}
	c.Verified, c.ReportOnly, c.Rejected = thousands(tv), thousands(tr), thousands(tj)
	c.Empty = peak == 0

	top, step := niceScale(peak)
	plotH := plotBottom - plotTop
	for v := int64(0); v <= top; v += step {
		c.YTicks = append(c.YTicks, pages.ChartTick{Pos: plotBottom - float64(v)/float64(top)*plotH, Label: compact(v)})
	}
	if len(hours) == 0 {
		return c
	}
	slot := (plotRight - plotLeft) / float64(len(hours))
	w := slot * barFraction
	for i, h := range hours {
		x := plotLeft + float64(i)*slot + (slot-w)/2
		v := vals[i]
		bar := pages.ChartBar{X: x, W: w, Title: fmt.Sprintf("%s–%s UTC: %s verified, %s report-only, %s rejected",
			h.Hour.UTC().Format("15:04"), h.Hour.UTC().Add(time.Hour).Format("15:04"), thousands(v.verified), thousands(v.report), thousands(v.rejected))}
		y := plotBottom
		for _, seg := range []struct {
			class string
			n     int64
		}{{"seg-verified", v.verified}, {"seg-report", v.report}, {"seg-rejected", v.rejected}} {
			if seg.n == 0 {
				continue
			}
			hgt := float64(seg.n) / float64(top) * plotH
			y -= hgt
			bar.Segments = append(bar.Segments, pages.ChartSegment{Class: seg.class, Y: y, H: hgt})
		}
		c.Bars = append(c.Bars, bar)
		if (len(hours)-1-i)%3 == 0 { // the hour now running is always labelled
			c.XTicks = append(c.XTicks, pages.ChartTick{Pos: x + w/2, Label: h.Hour.UTC().Format("15:04")})
		}
		c.Rows = append(c.Rows, pages.ChartRow{Hour: h.Hour.UTC().Format("Jan 2 15:04"), Verified: thousands(v.verified),
			ReportOnly: thousands(v.report), Rejected: thousands(v.rejected)})
	}
	if c.Empty {
		c.Description = "No events in the last 24 hours."
	} else {
		c.Description = fmt.Sprintf("In the last 24 hours: %s verified, %s report-only, %s rejected. Busiest hour: %s UTC with %s events.",
			c.Verified, c.ReportOnly, c.Rejected, hours[busiest].Hour.UTC().Format("15:04"), thousands(peak))
	}
	return c
}

// niceScale returns an axis top ≥ peak and a round step giving 2 to 5 ticks.
func niceScale(peak int64) (top, step int64) {
	if peak <= 4 {
		return 4, 1
	}
	raw := float64(peak) / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = int64(math.Ceil(m * mag))
		if float64(step) >= raw {
			break
		}
	}
	top = (peak + step - 1) / step * step
	return top, step
}

// compact writes an axis label: 950, 1.2k, 35k, 2.5M.
func compact(n int64) string {
	switch {
	case n >= 1_000_000:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/1e6)) + "M"
	case n >= 10_000:
		return fmt.Sprintf("%dk", n/1000)
	case n >= 1000:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/1e3)) + "k"
	}
	return fmt.Sprint(n)
}

func trimZero(s string) string {
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		return s[:len(s)-2]
	}
	return s
}
