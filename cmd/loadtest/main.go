// Command loadtest measures ingestion over loopback: it builds and starts
// the real sendora binary (strict identity on, signed events), drives it
// with batched and single-event clients, then does the same against a bare
// baseline server that only decodes, verifies and group-commits into SQLite,
// and reports events per second, latency percentiles, the server's peak RSS
// and the product/baseline ratio. `make bench` runs it.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "baseline-server" {
		if err := runBaseline(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type scenario struct {
	name     string
	clients  int
	perBatch int // 0: POST /events, one event per request
	// poison senders run beside the clients at full speed, unmeasured,
	// sending events the store cannot take (see poison.go).
	poison int
}

type result struct {
	scenario
	server        string
	events        int64
	requests      int64
	errors        int64
	statuses      map[int]int64
	elapsed       time.Duration
	p50, p99, max time.Duration
	peakRSS       int64         // bytes
	serverCPU     time.Duration // the server processes' CPU time while measured
}

// cpuPerEvent is the server's CPU time per accepted event.
func (r result) cpuPerEvent() time.Duration {
	if r.events == 0 {
		return 0
	}
	return r.serverCPU / time.Duration(r.events)
}

func (r result) eps() float64 { return float64(r.events) / r.elapsed.Seconds() }

func run() error {
	duration := flag.Duration("duration", 6*time.Second, "measured time per scenario")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured time before each scenario")
	only := flag.String("only", "", "run only scenarios whose name contains this")
	skipBaseline := flag.Bool("skip-baseline", false, "measure only the product")
	rounds := flag.Int("rounds", 3, "alternate product and baseline this many times per scenario and report the median, so drift on a shared machine hits both")
	target := flag.String("url", "", "drive an already running server at this URL instead (with -key and -secret)")
	key := flag.String("key", "", "with -url: the project's public key")
	secret := flag.String("secret", "", "with -url: the project's identity secret (strict identity on)")
	flag.BoolVar(&randomIDs, "random-ids", false, "random messageIds (UUIDv4) instead of time-ordered ones (UUIDv7)")
	scale := flag.Int64("scale", 0, "instead of the scenarios: fill a fresh server to this many stored events, with UUIDv7 then UUIDv4 ids, and report both")
	window := flag.Duration("scale-window", 10*time.Second, "with -scale: the length of each reported window")
	scaleClients := flag.Int("scale-clients", 16, "with -scale: concurrent clients, each sending 100-event batches back to back (at saturation a batch's latency is about clients × 100 / events per second)")
	dbURL := flag.String("database-url", "", "a PostgreSQL server on which each run creates (and drops) a fresh database: for -scale, or the postgres servers of -servers")
	instances := flag.Int("instances", 1, "with -scale and -database-url: instances sharing the database, driven round-robin")
	serverList := flag.String("servers", "sendora,baseline", "the servers each scenario runs on, in turn: sendora (SQLite), baseline, postgres (one instance, needs -database-url), postgres-2 (two instances)")
	poison := flag.Int("poison", 0, "also run each scenario beside this many poison senders at full speed (events the store cannot take), to measure what they cost valid traffic")
	flag.Parse()

	if *scale > 0 {
		tmp, err := os.MkdirTemp("", "sendora-scale-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		bin, err := buildSendora(tmp)
		if err != nil {
			return err
		}
		_, err = runScale(bin, tmp, *scale, *window, *scaleClients, *dbURL, *instances, os.Stdout)
		return err
	}

	scenarios := []scenario{
		{name: "batched 100×16", clients: 16, perBatch: 100},
		{name: "single ×64", clients: 64},
	}

	if *target != "" {
		var results []result
		for _, sc := range scenarios {
			if *only != "" && !strings.Contains(sc.name, *only) {
				continue
			}
			res, err := drive(&serverProc{url: *target, key: *key, secret: *secret}, sc, *warmup, *duration)
			if err != nil {
				return err
			}
			res.server = *target
			results = append(results, res)
		}
		report(os.Stdout, results)
		return nil
	}

	tmp, err := os.MkdirTemp("", "sendora-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	bin, err := buildSendora(tmp)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	var results []result
	for _, sc := range scenarios {
		if *only != "" && !strings.Contains(sc.name, *only) {
			continue
		}
		var servers []string
		for _, name := range strings.Split(*serverList, ",") {
			switch name = strings.TrimSpace(name); name {
			case "baseline":
				if *skipBaseline {
					continue
				}
			case "sendora":
			case "postgres", "postgres-2":
				if *dbURL == "" {
					return fmt.Errorf("-servers %s needs -database-url", name)
				}
			default:
				return fmt.Errorf("-servers: unknown server %q", name)
			}
			servers = append(servers, name)
		}
		// With -poison, each round runs the scenario clean and beside the
		// poison senders, in turn first, so drift on a shared machine hits
		// both alike; report pairs them by round.
		variants := []scenario{sc}
		if *poison > 0 {
			p := sc
			p.name += fmt.Sprintf(" + %d poison", *poison)
			p.poison = *poison
			variants = append(variants, p)
		}
		for round := 0; round < max(1, *rounds); round++ {
			if round > 0 {
				slices.Reverse(variants)
			}
			for _, v := range variants {
				if err := runRound(v, servers, bin, self, tmp, *dbURL, *warmup, *duration, &results); err != nil {
					return err
				}
			}
		}
	}
	report(os.Stdout, results)
	return nil
}

// buildSendora builds the real binary into dir.
func buildSendora(dir string) (string, error) {
	bin := filepath.Join(dir, "sendora")
	fmt.Fprintln(os.Stderr, "building sendora…")
	build := exec.Command("go", "build", "-o", bin, "./cmd/server")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	return bin, nil
}

// runRound measures sc once on each server, each on a fresh data directory.
func runRound(sc scenario, servers []string, bin, self, tmp, dbURL string, warmup, duration time.Duration, results *[]result) error {
	for _, which := range servers {
		dir, err := os.MkdirTemp(tmp, which+"-")
		if err != nil {
			return err
		}
		var srv *serverProc
		switch which {
		case "sendora":
			srv, err = startSendora(bin, dir)
		case "postgres", "postgres-2":
			var db string
			var drop func()
			if db, drop, err = freshPostgres(dbURL); err != nil {
				return err
			}
			defer drop()
			srv, err = startDeployment(bin, dir, db, map[string]int{"postgres": 1, "postgres-2": 2}[which])
		default:
			srv, err = startBaseline(self, dir)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", which, err)
		}
		fmt.Fprintf(os.Stderr, "%s on %s: %s (warm-up %s, measure %s)…\n", sc.name, which, srv.url, warmup, duration)
		res, err := drive(srv, sc, warmup, duration)
		res.server = which
		res.peakRSS = srv.peakRSS()
		if stopErr := srv.stop(); err == nil && stopErr != nil {
			err = stopErr
		}
		if err != nil {
			return fmt.Errorf("%s on %s: %w", sc.name, which, err)
		}
		*results = append(*results, res)
		fmt.Fprintln(os.Stderr, format(res))
	}
	return nil
}

func format(r result) string {
	return fmt.Sprintf("  %-16s %-9s %9.0f events/s  %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  max %6.1f ms  peak RSS %4d MiB  non-2xx %d %v",
		r.name, r.server, r.eps(), float64(r.requests)/r.elapsed.Seconds(),
		ms(r.p50), ms(r.p99), ms(r.max), r.peakRSS>>20, r.errors, r.statuses)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// report prints the Markdown table docs/BENCHMARKS.md quotes: for each
// scenario and server, the round with the median events/s (and the
// highest peak RSS of all its rounds).
func report(w io.Writer, results []result) {
	fmt.Fprintf(w, "\nLoad test, %s, GOMAXPROCS=%d, %s/%s, %s\n\n", time.Now().UTC().Format("2006-01-02"), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintln(w, "| scenario | server | events/s (median) | rounds | requests/s | p50 | p99 | peak RSS | non-2xx | product/baseline |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	type key struct{ scenario, server string }
	var order []key
	groups := map[key][]result{}
	for _, r := range results {
		k := key{r.name, r.server}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	median := map[key]result{}
	for k, rs := range groups {
		slices.SortFunc(rs, func(a, b result) int { return cmp.Compare(a.eps(), b.eps()) })
		m := rs[len(rs)/2]
		for _, r := range rs {
			m.peakRSS = max(m.peakRSS, r.peakRSS)
			m.errors = max(m.errors, r.errors)
		}
		median[k] = m
	}
	for _, k := range order {
		r := median[k]
		ratio := ""
		if b, ok := median[key{k.scenario, "baseline"}]; ok && k.server == "sendora" {
			ratio = fmt.Sprintf("%.2f", r.eps()/b.eps())
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %d | %.0f | %.2f ms | %.2f ms | %d MiB | %d | %s |\n",
			r.name, r.server, r.eps(), len(groups[k]), float64(r.requests)/r.elapsed.Seconds(), ms(r.p50), ms(r.p99), r.peakRSS>>20, r.errors, ratio)
	}
	// A scenario beside poison senders against the same scenario clean in
	// the same round: the medians above drift with the machine between
	// rounds, the pairs much less.
	for _, k := range order {
		cleanName, _, ok := strings.Cut(k.scenario, " + ")
		if !ok || !strings.HasSuffix(k.scenario, " poison") {
			continue
		}
		poisoned := inRunOrder(results, k.scenario, k.server)
		clean := inRunOrder(results, cleanName, k.server)
		var ratios []float64
		for i := range min(len(clean), len(poisoned)) {
			ratios = append(ratios, poisoned[i].eps()/clean[i].eps())
		}
		var each strings.Builder
		for _, r := range ratios {
			fmt.Fprintf(&each, " %.2f", r)
		}
		slices.Sort(ratios)
		fmt.Fprintf(w, "\n%s on %s: valid events/s against the clean run of the same round, median **%.2f** (%+.0f %%); each round:%s\n",
			k.scenario, k.server, ratios[len(ratios)/2], (ratios[len(ratios)/2]-1)*100, each.String())
		if c := medianCPU(clean); c > 0 {
			p := medianCPU(poisoned)
			fmt.Fprintf(w, "server CPU per valid event (median): clean %.2f µs, beside the poison %.2f µs (%+.0f %%)\n",
				float64(c)/1e3, float64(p)/1e3, (float64(p)/float64(c)-1)*100)
		}
	}
}

// medianCPU returns the median of the results' server CPU per event.
func medianCPU(rs []result) time.Duration {
	c := make([]time.Duration, len(rs))
	for i, r := range rs {
		c[i] = r.cpuPerEvent()
	}
	slices.Sort(c)
	return c[len(c)/2]
}

// inRunOrder returns the results of one scenario on one server, round by round.
func inRunOrder(results []result, scenario, server string) []result {
	var out []result
	for _, r := range results {
		if r.name == scenario && r.server == server {
			out = append(out, r)
		}
	}
	return out
}

// serverProc is a server under test in its own process.
type serverProc struct {
	cmd      *exec.Cmd
	stopOnce sync.Once
	stopErr  error
	url      string
	others   []*serverProc // more instances sharing the database, driven round-robin by worker
	dep      *deployment
	key      string
	secret   string
	done     chan error
}

// urlFor spreads workers over the instances.
func (s *serverProc) urlFor(worker int) string {
	if i := worker % (1 + len(s.others)); i > 0 {
		return s.others[i-1].url
	}
	return s.url
}

func (s *serverProc) stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stopNow() })
	return s.stopErr
}

func (s *serverProc) stopNow() error {
	for _, o := range s.others {
		o.stop()
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == -1 { // killed by the signal: fine
			return nil
		}
		return err
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		return errors.New("server did not stop within 30s")
	}
}

// peakRSS reads the high-water resident set size (VmHWM) of the process,
// the largest over the instances.
func (s *serverProc) peakRSS() int64 {
	peak := s.ownPeakRSS()
	for _, o := range s.others {
		peak = max(peak, o.ownPeakRSS())
	}
	return peak
}

// cpu returns the CPU time the server's processes have used (0 for a
// server this run did not start).
func (s *serverProc) cpu() time.Duration {
	var total time.Duration
	for _, p := range append([]*serverProc{s}, s.others...) {
		if p.cmd == nil || p.cmd.Process == nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			continue
		}
		// Fields after the command's closing parenthesis: utime and stime
		// are the 12th and 13th, in clock ticks (100 per second on Linux).
		_, rest, _ := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return total
}

func (s *serverProc) ownPeakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startSendora(bin, dir string) (*serverProc, error) {
	return startDeployment(bin, dir, "", 1)
}

// deployment is how to run the sendora CLI and server against one store.
type deployment struct {
	bin  string
	dir  string   // the first instance's data directory
	args []string // --data and --database-url
	env  []string
}

func (d *deployment) cli(args ...string) (string, error) {
	cmd := exec.Command(d.bin, append(args, d.args...)...)
	cmd.Env = d.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("sendora %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

// serve starts one instance and waits until it is ready.
func (d *deployment) serve(dir string) (*serverProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", addr, "--data", dir, "--log-format", "json"}
	if i := slices.Index(d.args, "--database-url"); i >= 0 {
		args = append(args, d.args[i:i+2]...)
	}
	cmd := exec.Command(d.bin, args...)
	cmd.Env = d.env
	logs, err := os.OpenFile(filepath.Join(filepath.Dir(dir), filepath.Base(dir)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serverProc{cmd: cmd, url: "http://" + addr, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); logs.Close() }()
	if err := waitReady(s.url); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// startDeployment starts instances of sendora on one store (SQLite in dir,
// or the PostgreSQL database dbURL, which must be empty), turns strict
// identity on through the CLI, and returns the first instance with the
// others attached.
func startDeployment(bin, dir, dbURL string, instances int) (*serverProc, error) {
	d := &deployment{bin: bin, dir: dir, args: []string{"--data", dir}, env: os.Environ()}
	if dbURL != "" {
		d.args = append(d.args, "--database-url", dbURL)
		// Every instance must hold the same master key.
		var k [32]byte
		crand.Read(k[:])
		d.env = append(d.env, "SENDORA_MASTER_KEY="+hex.EncodeToString(k[:]))
	}
	first, err := d.serve(dir)
	if err != nil {
		return nil, err
	}
	first.dep = d
	for i := 1; i < instances; i++ {
		other, err := d.serve(fmt.Sprintf("%s-%d", dir, i))
		if err != nil {
			first.stop()
			return nil, err
		}
		first.others = append(first.others, other)
	}
	fail := func(err error) (*serverProc, error) {
		first.stop()
		return nil, err
	}
	if first.secret, err = d.cli("identity", "rotate"); err != nil {
		return fail(err)
	}
	if _, err := d.cli("identity", "strict", "on"); err != nil {
		return fail(err)
	}
	out, err := d.cli("project", "list", "--json")
	if err != nil {
		return fail(err)
	}
	var ps []struct{ PublicKey string }
	if err := json.Unmarshal([]byte(out), &ps); err != nil || len(ps) == 0 {
		return fail(fmt.Errorf("project list: %v", err))
	}
	first.key = ps[0].PublicKey
	// Instances pick the CLI's changes up within a second; the first events
	// must already be strict.
	time.Sleep(1500 * time.Millisecond)
	return first, nil
}

func startBaseline(self, dir string) (*serverProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "baseline-server", "-addr", addr, "-data", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serverProc{cmd: cmd, url: "http://" + addr, done: make(chan error, 1)}
	// The baseline prints its key and secret on its first line.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("baseline did not start: %w", err)
	}
	go func() { io.Copy(io.Discard, stdout); s.done <- cmd.Wait() }()
	f := strings.Fields(line)
	if len(f) != 2 {
		s.stop()
		return nil, fmt.Errorf("baseline said %q", line)
	}
	s.key, s.secret = f[0], f[1]
	if err := waitHealthy(s.url); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady waits for /readyz: the store answers and ingestion runs.
func waitReady(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for {
		if resp, err := httpClient(1).Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready", url)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func waitHealthy(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if resp, err := httpClient(1).Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become healthy", url)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
