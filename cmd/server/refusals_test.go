package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestPoisonSenderIsPacedByItsAddress: the served binary, on its default
// settings, holds a client address that loops on refused input (batches of
// 40 events nesting 1,000 levels, ~240 KB) once it has spent its refusal
// budget (1 MiB/s, burst 2 s), and the holds show in the metrics; a client
// on another address is not held, and the poison's answers still name
// every refused event.
func TestPoisonSenderIsPacedByItsAddress(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, nil, "--data", data, "--metrics-addr", "127.0.0.1:0")
	murl := "http://" + logAddr(s.logs.String(), "metrics listening")
	key := listProjects(t, nil, data)[0].PublicKey

	deep := strings.Repeat(`{"a":`, 999) + `{}` + strings.Repeat(`}`, 999)
	evs := make([]string, 40)
	for i := range evs {
		evs[i] = `{"type":"identify","userId":"poison","traits":` + deep + `}`
	}
	poison := `{"publicKey":"` + key + `","events":[` + strings.Join(evs, ",") + `]}`
	hostile := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	defer hostile.CloseIdleConnections()

	held := func() (waited, refused float64) {
		page := scrape(t, murl)
		waited, _ = metric(page, `sendora_ingest_held_requests_total{outcome="waited"}`)
		refused, _ = metric(page, `sendora_ingest_held_requests_total{outcome="refused"}`)
		return waited, refused
	}
	// The burst is 2 MiB: about ten batches pass unheld, the rest wait.
	n := (3<<20)/len(poison) + 1
	for i := range n {
		resp, err := hostile.Post(s.url+"/events/batch", "application/json", strings.NewReader(poison))
		if err != nil {
			t.Fatalf("poison batch %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"accepted":0`) || strings.Count(string(body), `"INVALID_EVENT"`) != len(evs) {
			t.Fatalf("poison batch %d: %d %.200s", i, resp.StatusCode, body)
		}
	}
	waited, refused := held()
	if waited < 1 || refused != 0 {
		t.Fatalf("after %d poison batches (%d KB): %v requests held, %v refused; want the ones past 2 MiB held", n, n*len(poison)>>10, waited, refused)
	}
	if secs, _ := metric(scrape(t, murl), "sendora_ingest_held_seconds_total"); secs <= 0 {
		t.Errorf("held seconds %v", secs)
	}

	// Another address, while the hostile one is in debt.
	for i := range 20 {
		body := fmt.Sprintf(`{"publicKey":%q,"type":"track","event":"E","userId":"u","messageId":"elsewhere-%d"}`, key, i)
		if code, resp := postJSON(t, s.url+"/events", body); code != 200 {
			t.Fatalf("valid client elsewhere: %d %s", code, resp)
		}
	}
	if w, _ := held(); w != waited {
		t.Errorf("the valid client on another address was held (%v holds, was %v)", w, waited)
	}
}
