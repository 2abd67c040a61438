package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func httpClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			DisableCompression:  true,
		},
	}
}

// signer makes the events: a fixed pool of users with their tokens signed
// once, so the client spends its time sending, not hashing.
type signer struct {
	users  []string
	tokens []string
}

func newSigner(secret string, n int) *signer {
	s := &signer{}
	for i := range n {
		u := "user_" + strconv.Itoa(i)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(u))
		s.users = append(s.users, u)
		s.tokens = append(s.tokens, "hmac_v1:"+hex.EncodeToString(m.Sum(nil)))
	}
	return s
}

// randomIDs makes messageIds random UUIDv4s, what Segment's analytics.js and
// RudderStack's SDKs send, instead of time-ordered UUIDv7s (what the
// Sendora SDK sends). Both are 36 characters, so the two runs differ only in
// the ids' order.
var randomIDs bool

// appendEvent writes one realistic track event with a unique messageId.
func (s *signer) appendEvent(b []byte, worker int, seq uint64) []byte {
	u := int(seq) % len(s.users)
	b = append(b, `{"type":"track","event":"Product Viewed","userId":"`...)
	b = append(b, s.users[u]...)
	b = append(b, `","identityToken":"`...)
	b = append(b, s.tokens[u]...)
	b = append(b, `","messageId":"`...)
	var id [16]byte
	binary.BigEndian.PutUint64(id[:8], rand.Uint64())
	binary.BigEndian.PutUint64(id[8:], rand.Uint64())
	if randomIDs {
		id[6] = id[6]&0x0f | 0x40 // version 4
	} else {
		ms := uint64(time.Now().UnixMilli())
		id[0], id[1], id[2], id[3], id[4], id[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
		id[6] = id[6]&0x0f | 0x70 // version 7: 48 bits of milliseconds first
	}
	id[8] = id[8]&0x3f | 0x80 // the RFC 9562 variant
	b = hex.AppendEncode(b, id[:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[4:6])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[6:8])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[8:10])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[10:])
	b = append(b, `","timestamp":"2026-11-24T10:00:00.000Z","sentAt":"2026-11-24T10:00:00.100Z","properties":{"product_id":"sku_42","price":19.99,"currency":"EUR","path":"/products/42"},"context":{"library":{"name":"sdk-web","version":"1.4.0"},"locale":"en-GB"}}`...)
	return b
}

// drive runs sc against srv: warm-up, then the measured window.
func drive(srv *serverProc, sc scenario, warmup, measure time.Duration) (result, error) {
	sig := newSigner(srv.secret, 1000)
	client := httpClient(sc.clients)
	var measuring atomic.Bool
	var events, requests, errs atomic.Int64
	var mu sync.Mutex
	statuses := map[int]int64{}
	lat := make([][]time.Duration, sc.clients)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var firstErr atomic.Value

	path := "/events/batch"
	if sc.perBatch == 0 {
		path = "/events"
	}
	for w := range sc.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var seq uint64
			body := make([]byte, 0, 64<<10)
			mine := make([]time.Duration, 0, 1<<16)
			for {
				select {
				case <-stop:
					lat[w] = mine
					return
				default:
				}
				body = body[:0]
				n := 1
				if sc.perBatch == 0 {
					body = sig.appendEvent(body, w, seq)
					body = append(body[:len(body)-1], `,"publicKey":"`...)
					body = append(body, srv.key...)
					body = append(body, `"}`...)
					seq++
				} else {
					n = sc.perBatch
					body = append(body, `{"publicKey":"`...)
					body = append(body, srv.key...)
					body = append(body, `","events":[`...)
					for i := range n {
						if i > 0 {
							body = append(body, ',')
						}
						body = sig.appendEvent(body, w, seq)
						seq++
					}
					body = append(body, "]}"...)
				}
				req, _ := http.NewRequest("POST", srv.urlFor(w)+path, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				start := time.Now()
				resp, err := client.Do(req)
				var status int
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				} else {
					firstErr.CompareAndSwap(nil, err)
				}
				d := time.Since(start)
				if !measuring.Load() {
					continue
				}
				requests.Add(1)
				mine = append(mine, d)
				if status == 200 {
					events.Add(int64(n))
				} else {
					errs.Add(1)
					mu.Lock()
					statuses[status]++
					mu.Unlock()
				}
			}
		}()
	}
	var poisoned poisonStats
	for range sc.poison {
		wg.Add(1)
		go func() {
			defer wg.Done()
			poisonSender(srv, stop, &poisoned)
		}()
	}
	time.Sleep(warmup)
	cpu0 := srv.cpu()
	measuring.Store(true)
	start := time.Now()
	time.Sleep(measure)
	measuring.Store(false)
	elapsed := time.Since(start)
	serverCPU := srv.cpu() - cpu0
	close(stop)
	wg.Wait()
	if sc.poison > 0 {
		if poisoned.sent == 0 {
			return result{}, fmt.Errorf("%s: the poison senders sent nothing", sc.name)
		}
		fmt.Fprintf(os.Stderr, "  poison: %d requests in %s, answered %v (0: no answer)\n", poisoned.sent, (warmup + elapsed).Round(time.Second), poisoned.statuses)
	}

	all := slices.Concat(lat...)
	slices.Sort(all)
	res := result{scenario: sc, events: events.Load(), requests: requests.Load(), errors: errs.Load(), statuses: statuses, elapsed: elapsed, serverCPU: serverCPU}
	if len(all) > 0 {
		res.p50 = all[len(all)/2]
		res.p99 = all[len(all)*99/100]
		res.max = all[len(all)-1]
	}
	if res.events == 0 {
		if e := firstErr.Load(); e != nil {
			return res, fmt.Errorf("no events accepted: %v", e)
		}
		return res, fmt.Errorf("no events accepted: statuses %v", statuses)
	}
	return res, nil
}
