package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSlowClientsCannotStarveOthers: 500 connections from one address
// (127.0.0.2) that declare full batches, send a few bytes and idle, hold
// neither the server's byte budget nor its other clients: a normal client
// from 127.0.0.1 keeps getting 200s meanwhile. Each slow connection is
// answered in the contract's shape: 429 at once past its address's share,
// 408 once its body is late.
func TestSlowClientsCannotStarveOthers(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, nil, "--data", data, "--body-timeout", "3s")
	key := listProjects(t, nil, data)[0].PublicKey
	addr := strings.TrimPrefix(s.url, "http://")

	const slow = 500
	type answer struct {
		status int
		code   string
		err    error
	}
	answers := make(chan answer, slow)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	for i := range slow {
		c, err := dialer.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("slow connection %d: %v", i, err)
		}
		conns = append(conns, c)
		head := "POST /events/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		if i%5 == 0 { // some chunked, with no length to reserve
			head += "Transfer-Encoding: chunked\r\n\r\na\r\n{\"events\":"
		} else {
			head += fmt.Sprintf("Content-Length: %d\r\n\r\n{\"events\":", 512<<10)
		}
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		go func() {
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			var body struct{ Error struct{ Code string } }
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			answers <- answer{status: resp.StatusCode, code: body.Error.Code}
		}()
	}

	// Meanwhile, a normal client from another address.
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}}).DialContext}}
	var lat []time.Duration
	for i := range 200 {
		body := fmt.Sprintf(`{"publicKey":%q,"type":"track","event":"E","userId":"u","messageId":"n%d"}`, key, i)
		start := time.Now()
		resp, err := client.Post(s.url+"/events", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("normal client, request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != 200 {
			t.Fatalf("normal client, request %d: %d while 500 slow connections are open", i, resp.StatusCode)
		}
	}
	slices.Sort(lat)
	t.Logf("normal client beside %d slow connections: p50 %s, p99 %s, max %s", slow, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])

	counts := map[string]int{}
	for range slow {
		a := <-answers
		if a.err != nil {
			t.Errorf("a slow connection got no answer: %v", a.err)
			continue
		}
		counts[fmt.Sprintf("%d %s", a.status, a.code)]++
	}
	t.Logf("slow connections answered: %v", counts)
	for k, n := range counts {
		if k != "429 RATE_LIMITED" && k != "408 REQUEST_TIMEOUT" {
			t.Errorf("%d slow connections answered %s, want 429 RATE_LIMITED or 408 REQUEST_TIMEOUT", n, k)
		}
	}
	if counts["408 REQUEST_TIMEOUT"] == 0 {
		t.Errorf("no slow connection was admitted and timed out: %v", counts)
	}
}

// TestOversizedBodyAnswerIsReadable: real clients that send a 600 KiB body
// and only then read the answer (Python's urllib, Node's fetch, with a
// length or chunked) get the 413 in the contract's shape, not a reset.
func TestOversizedBodyAnswerIsReadable(t *testing.T) {
	python, node := needTool(t, "python3"), needTool(t, "node")
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, nil, "--data", data)
	const size = 600 << 10
	py := `import sys, json, urllib.request, urllib.error
url, chunked = sys.argv[1], sys.argv[2] == "chunked"
body = b'{"events":[' + b" " * ` + fmt.Sprint(size) + ` + b"]}"
data = iter([body[i:i+65536] for i in range(0, len(body), 65536)]) if chunked else body
req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
try:
    urllib.request.urlopen(req, timeout=20)
    print("no error")
except urllib.error.HTTPError as e:
    print(e.code, json.loads(e.read())["error"]["code"])`
	js := `const [url, mode] = process.argv.slice(1);
const body = '{"events":[' + " ".repeat(` + fmt.Sprint(size) + `) + "]}";
const init = { method: "POST", headers: { "Content-Type": "application/json" } };
if (mode === "chunked") {
  init.body = new ReadableStream({ start(c) { const b = new TextEncoder().encode(body); for (let i = 0; i < b.length; i += 65536) c.enqueue(b.subarray(i, i + 65536)); c.close(); } });
  init.duplex = "half";
} else init.body = body;
fetch(url, init).then(async r => console.log(r.status, (await r.json()).error.code), e => { console.log("error", e.cause ? e.cause.code : e.message); });`
	for _, path := range []string{"/events", "/events/batch"} {
		for _, mode := range []string{"length", "chunked"} {
			for _, c := range []struct{ name, bin, flag, src string }{{"python urllib", python, "-c", py}, {"node fetch", node, "-e", js}} {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				out, err := exec.CommandContext(ctx, c.bin, c.flag, c.src, s.url+path, mode).CombinedOutput()
				cancel()
				if got := strings.TrimSpace(string(out)); err != nil || got != "413 PAYLOAD_TOO_LARGE" {
					t.Errorf("%s, %s body to %s: %q (%v), want 413 PAYLOAD_TOO_LARGE", c.name, mode, path, got, err)
				}
			}
		}
	}
}
