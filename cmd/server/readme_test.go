package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeBlock returns the fenced block that follows the marker comment in
// the repository's README.md, verbatim.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "<!-- readme-test: "+marker)
	if i < 0 {
		t.Fatalf("README.md has no <!-- readme-test: %s --> marker", marker)
	}
	rest := readme[i:]
	open := strings.Index(rest, "\n```sh\n")
	if open < 0 || strings.Count(rest[:open], "\n") > 1 {
		t.Fatalf("the %s marker is not followed by a ```sh block on the next line", marker)
	}
	rest = rest[open+len("\n```sh\n"):]
	end := strings.Index(rest, "\n```\n")
	if end < 0 {
		t.Fatalf("the %s block does not end", marker)
	}
	return rest[:end+1]
}

// TestReadmeFirstEventTwice runs the README's "first verified event" block,
// as extracted from README.md at test time, with bash against the real
// binary serving in another process, from a directory laid out like the
// clone (bin/sendora, ./data) and twice in a row: both runs must get the
// signed event accepted and the forged one refused, and strict identity
// is on afterwards with both u_123 identifies stored and verified.
func TestReadmeFirstEventTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	block := readmeBlock(t, "first-event")
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	clone := t.TempDir()
	if err := os.Mkdir(filepath.Join(clone, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(clone, "bin", "sendora")); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, bin, filepath.Join(clone, "data"))

	// The user's environment, without anything of ours that would steer
	// the CLI elsewhere.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SENDORA_") {
			env = append(env, kv)
		}
	}
	env = append(env, "SENDORA_URL="+p.url)

	accepted := regexp.MustCompile(`^\{"accepted":1,"messageId":"srv_[^"]+"\}$`)
	for run := 1; run <= 2; run++ {
		cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", block)
		cmd.Dir, cmd.Env = clone, env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("run %d: %v\nstdout:\n%s\nstderr:\n%s", run, err, out, stderr.String())
		}
		var lines []string
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if len(lines) != 2 {
			t.Fatalf("run %d printed %d lines, want the two answers:\n%s", run, len(lines), out)
		}
		if !accepted.MatchString(lines[0]) {
			t.Errorf("run %d: the signed event's answer = %s, want {\"accepted\":1,\"messageId\":\"srv_…\"}", run, lines[0])
		}
		var refused struct {
			Error struct{ Code, Reason, Message string }
		}
		if err := json.Unmarshal([]byte(lines[1]), &refused); err != nil || refused.Error.Code != "IDENTITY_UNVERIFIED" ||
			refused.Error.Reason != "signature_mismatch" || refused.Error.Message == "" {
			t.Errorf("run %d: the forged event's answer = %s, want IDENTITY_UNVERIFIED signature_mismatch", run, lines[1])
		}
		if strings.Contains(stderr.String(), "sis_") {
			t.Errorf("run %d: the secret went to stderr: %s", run, stderr.String())
		}
	}

	// What the block leaves: strict identity on, both identifies stored
	// and verified, the forged one not stored.
	data := filepath.Join(clone, "data")
	if ps := listProjects(t, nil, data); len(ps) != 1 {
		t.Fatalf("projects = %+v", ps)
	}
	out, _, code := runCLI(t, nil, "project", "list", "--json", "--data", data)
	if code != 0 || !strings.Contains(out, `"strict": true`) {
		t.Errorf("after the block strict identity is not on: %s", out)
	}
	out, errOut, code := runCLI(t, nil, "events", "export", "--data", data)
	if code != 0 {
		t.Fatalf("events export: %s", errOut)
	}
	var verified, other int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct{ UserID, Verification string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		if ev.UserID == "u_123" && ev.Verification == "verified" {
			verified++
		} else {
			other++
		}
	}
	if verified != 2 || other != 0 {
		t.Errorf("stored: %d verified u_123 identifies and %d other events, want 2 and 0:\n%s", verified, other, out)
	}
}

// TestDocsLinksStayInTheRepository: every relative link of README.md and
// docs/*.md names a file of the repository, and no page sends readers to
// the team's design notes, which are not part of it.
func TestDocsLinksStayInTheRepository(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	pages = append(pages, filepath.Join(root, "README.md"))
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(root, page)
		for _, bad := range []string{"DESIGN.md", "../shared"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s mentions %s, which is not in the repository", name, bad)
			}
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			abs := filepath.Clean(filepath.Join(filepath.Dir(page), target))
			if !strings.HasPrefix(abs, root+string(filepath.Separator)) {
				t.Errorf("%s links outside the repository: %s", name, target)
				continue
			}
			if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s links to %s, which does not exist", name, target)
			}
		}
	}
}
