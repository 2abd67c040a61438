// Command testsummary reads `go test -json` on stdin and prints what plain
// `go test` would (each package's result line, the output of failed tests,
// build errors), then lists every skipped test with its reason, so a run
// never skips tests silently (the PostgreSQL side of the suites skips
// without SENDORA_TEST_DATABASE_URL). It exits 1 if any test or package
// failed; `make test` runs it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
}

func main() {
	os.Exit(summarize(os.Stdin, os.Stdout))
}

func summarize(in io.Reader, out io.Writer) int {
	type key struct{ pkg, test string }
	outputs := map[key][]string{}
	skipped := map[string][]string{} // reason -> "pkg Test"
	failed := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(out, sc.Text()) // not JSON: pass it through
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "build-output":
			fmt.Fprint(out, e.Output)
		case "build-fail":
			failed = true
		case "output":
			if e.Test == "" {
				if o := strings.TrimSpace(e.Output); o == "PASS" || strings.HasPrefix(o, "=== ") || strings.HasPrefix(o, "--- ") || o == "" {
					continue
				}
				fmt.Fprint(out, e.Output)
				continue
			}
			outputs[k] = append(outputs[k], e.Output)
		case "fail":
			failed = true
			if e.Test != "" {
				fmt.Fprint(out, strings.Join(outputs[k], ""))
				delete(outputs, k)
				break
			}
			// The package failed with tests still running (a timeout's
			// panic, a crash): their output says why.
			for ok, lines := range outputs {
				if ok.pkg == e.Package {
					fmt.Fprint(out, strings.Join(lines, ""))
					delete(outputs, ok)
				}
			}
		case "skip":
			if e.Test != "" {
				r := reason(outputs[k])
				skipped[r] = append(skipped[r], strings.TrimPrefix(e.Package, "github.com/sendora/sendora/")+" "+e.Test)
			}
			delete(outputs, k)
		case "pass":
			delete(outputs, k)
		}
	}
	if len(skipped) > 0 {
		reasons := make([]string, 0, len(skipped))
		n := 0
		for r, ts := range skipped {
			reasons = append(reasons, r)
			n += len(ts)
		}
		sort.Strings(reasons)
		fmt.Fprintf(out, "\nSKIPPED %d tests:\n", n)
		for _, r := range reasons {
			fmt.Fprintf(out, "  %s (%d):\n", r, len(skipped[r]))
			for _, t := range skipped[r] {
				fmt.Fprintf(out, "    %s\n", t)
			}
		}
	}
	if failed {
		return 1
	}
	return 0
}

// reason is the message a skipped test logged: its last line that is not
// one of go test's own markers.
func reason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		if _, msg, ok := strings.Cut(l, ": "); ok && strings.Contains(l[:strings.Index(l, ": ")], ".go:") {
			return msg
		}
		return l
	}
	return "no reason given"
}
