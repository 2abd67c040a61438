package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
)

// poisonBodies are what a poison sender sends, in turn: events that
// earlier versions let reach the store, where they failed every group
// commit they joined (traits nesting 1,000 levels: SQLite's json_patch
// refuses them) or broke exports (invalid UTF-8, a year-9999 timestamp),
// alone and hidden among valid events in a batch.
func poisonBodies(key string) [][]byte {
	deep := strings.Repeat(`{"a":`, 999) + `{}` + strings.Repeat(`}`, 999)
	poison := []string{
		`{"type":"identify","userId":"poison","traits":` + deep + `}`,
		`{"type":"identify","userId":"poison","traits":{"name":"` + "\xff\xfe" + `"}}`,
		`{"type":"track","event":"E","userId":"poison","timestamp":"9999-12-31T23:59:59Z","sentAt":"2000-01-01T00:00:00Z","properties":{"s":"\ud800"}}`,
	}
	var out [][]byte
	for _, p := range poison {
		out = append(out, []byte(strings.Replace(p, "{", `{"publicKey":"`+key+`",`, 1)))
	}
	var batch strings.Builder
	fmt.Fprintf(&batch, `{"publicKey":%q,"events":[`, key)
	for i := range 100 {
		if i > 0 {
			batch.WriteByte(',')
		}
		batch.WriteString(poison[i%len(poison)])
	}
	batch.WriteString("]}")
	return append(out, []byte(batch.String()))
}

// poisonAddr is the address poison senders connect from: another client
// than the valid ones (on Linux every 127.x.y.z reaches the loopback), as
// a hostile SDK is, so that the server's per-address budgets tell them
// apart as they would in production.
var poisonAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}

// poisonStats counts what the poison senders were answered.
type poisonStats struct {
	mu       sync.Mutex
	statuses map[int]int
	sent     int
}

func (p *poisonStats) add(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.statuses == nil {
		p.statuses = map[int]int{}
	}
	p.statuses[status]++
	p.sent++
}

// poisonSender posts poison at full speed until stop, ignoring Retry-After.
func poisonSender(srv *serverProc, stop <-chan struct{}, stats *poisonStats) {
	client := httpClient(1)
	client.Transport.(*http.Transport).DialContext = (&net.Dialer{LocalAddr: poisonAddr}).DialContext
	bodies := poisonBodies(srv.key)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		path := "/events"
		body := bodies[i%len(bodies)]
		if i%len(bodies) == len(bodies)-1 {
			path = "/events/batch"
		}
		req, _ := http.NewRequest("POST", srv.urlFor(0)+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			stats.add(0)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		stats.add(resp.StatusCode)
	}
}
