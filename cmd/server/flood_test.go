package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
)

// TestMillionForgedEvents floods the real binary, strict identity on, with
// a million forged identify events: every one is refused and counted, the
// detailed rejections stay within their per-project bound, the database
// stays small, no victim profile changes, and valid events still land.
func TestMillionForgedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("a million events")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	p := startProc(t, bin, data)
	secret, key := strictDefault(t, data)
	p.kill() // restart so the new settings are read at once, not after the cache TTL
	p = startProc(t, bin, data)

	attacker := identity.NewSecret()
	evs := make([]map[string]any, 500)
	for i := range evs {
		evs[i] = map[string]any{"type": "identify", "userId": "victim", "identityToken": identity.Sign(attacker, "victim"),
			"traits": map[string]any{"plan": "enterprise", "mrr": 99999}}
	}
	forged, _ := json.Marshal(map[string]any{"publicKey": key, "events": evs})

	const total = 1_000_000
	const batches = total / 500
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var next, bad atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= batches {
				resp, err := client.Post(p.url+"/events/batch", "application/json", bytes.NewReader(forged))
				if err != nil {
					bad.Add(1)
					continue
				}
				var out struct {
					Accepted int               `json:"accepted"`
					Rejected []json.RawMessage `json:"rejected"`
				}
				json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if resp.StatusCode != 200 || out.Accepted != 0 || len(out.Rejected) != 500 {
					bad.Add(1)
				}
			}
		}()
	}
	// Valid traffic during the flood.
	valid := `{"publicKey":"` + key + `","type":"identify","userId":"u1","identityToken":"` + identity.Sign(secret, "u1") + `","traits":{"plan":"free"}}`
	for i := range 20 {
		resp, err := client.Post(p.url+"/events", "application/json", strings.NewReader(valid))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("valid event %d during the flood: %v %v", i, err, resp)
		}
		resp.Body.Close()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d flood requests were not answered 200 with 500 rejections", bad.Load())
	}
	rss := peakRSS(t, p.cmd.Process.Pid)
	// Stop cleanly so the last counters and rejections are committed.
	p.cmd.Process.Signal(os.Interrupt)
	<-p.done

	st, err := store.Open(context.Background(), filepath.Join(data, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pr, _ := st.ProjectByKey(context.Background(), key, time.Now())
	totals, err := st.OutcomeTotals(context.Background(), pr.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var rejected, accepted int64
	for _, c := range totals {
		switch c.Outcome {
		case store.OutcomeRejected:
			rejected += c.N
		case store.OutcomeAccepted:
			accepted += c.N
		}
	}
	if rejected != total || accepted != 20 {
		t.Errorf("counters: %d rejected, %d accepted; want %d and 20 (counters are never sampled)", rejected, accepted, total)
	}
	rows, err := st.Rejections(context.Background(), store.RejectionFilter{ProjectID: pr.ID, Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) > 11_000 {
		t.Errorf("%d rejection rows kept, want at most ~10,000", len(rows))
	}
	prof, err := st.Profile(context.Background(), pr.ID, "victim")
	if err == nil {
		t.Errorf("the victim has a profile written by forged events: %s", prof.Traits)
	}
	var size int64
	files, _ := os.ReadDir(data)
	for _, f := range files {
		if fi, err := f.Info(); err == nil {
			size += fi.Size()
		}
	}
	t.Logf("1,000,000 forged events: %d rejection rows kept, data dir %d KiB, peak RSS %d MiB", len(rows), size>>10, rss>>20)
	if size > 64<<20 {
		t.Errorf("data directory grew to %d MiB under a flood of refused events", size>>20)
	}
}
