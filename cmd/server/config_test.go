package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestConfigIsStrict: an env twin is parsed exactly as its flag is, and
// settings that cannot work stop the start with one line (exit 2) instead
// of being accepted and failing every request later.
func TestConfigIsStrict(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // in the one-line error
	}{
		{"env rate limit with a unit", map[string]string{"SENDORA_RATE_LIMIT_KEY": "1x"}, nil, `SENDORA_RATE_LIMIT_KEY="1x": invalid value for --rate-limit-key`},
		{"env rate limit as a float", map[string]string{"SENDORA_RATE_LIMIT_IP": "2.5"}, nil, `SENDORA_RATE_LIMIT_IP="2.5"`},
		{"env pending with a suffix", map[string]string{"SENDORA_MAX_PENDING_EVENTS": "10k"}, nil, `SENDORA_MAX_PENDING_EVENTS="10k": invalid value for --max-pending-events`},
		{"env duration without a unit", map[string]string{"SENDORA_SECRET_CACHE_TTL": "60"}, nil, `SENDORA_SECRET_CACHE_TTL="60"`},
		{"env bytes with spaces", map[string]string{"SENDORA_MAX_INFLIGHT_BYTES": " 33554432"}, nil, `SENDORA_MAX_INFLIGHT_BYTES`},
		{"flag rate limit with a unit", nil, []string{"--rate-limit-key", "1x"}, "invalid value"},
		{"pending below a batch", nil, []string{"--max-pending-events", "100"}, "below the largest batch (500 events)"},
		{"env pending below a batch", map[string]string{"SENDORA_MAX_PENDING_EVENTS": "499"}, nil, "below the largest batch"},
		{"inflight below a batch", nil, []string{"--max-inflight-bytes", "1000"}, "below one batch body"},
		{"no request per address", nil, []string{"--max-inflight-per-ip", "0"}, "--max-inflight-per-ip"},
		{"refusal budget under an event", nil, []string{"--refused-bytes-per-ip", "1000"}, "below one event"},
		{"negative refusal budget", map[string]string{"SENDORA_REFUSED_BYTES_PER_IP": "-1"}, nil, "--refused-bytes-per-ip must be 0 (off) or positive"},
		{"body timeout too short", nil, []string{"--body-timeout", "10ms"}, "--body-timeout"},
		{"retention in minutes", nil, []string{"--retention", "30m"}, "within the hour"},
		{"retention without a unit", map[string]string{"SENDORA_RETENTION": "90"}, nil, `SENDORA_RETENTION="90"`},
		{"negative rate limit", nil, []string{"--rate-limit-ip", "-1"}, "rate limits"},
		{"metrics on the API address", nil, []string{"--addr", "127.0.0.1:8080", "--metrics-addr", "127.0.0.1:8080"}, "their own"},
		{"public URL without a scheme", nil, []string{"--public-url", "sendora.example.com"}, "--public-url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A case that wrongly starts the server is stopped after a while.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var errw bytes.Buffer
			err := run(ctx, append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, tt.args...), testEnv(tt.env), strings.NewReader(""), io.Discard, &errw)
			code := exitCode(err, &errw)
			errOut := errw.String()
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, errOut, tt.want)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("error is not one line: %q", errOut)
			}
		})
	}

	// Good env values are taken, and a flag on the command line wins.
	c, err := parseServe(env{getenv: testEnv(map[string]string{
		"SENDORA_RATE_LIMIT_KEY": "10", "SENDORA_MAX_PENDING_EVENTS": "0x2710", "SENDORA_BODY_TIMEOUT": "20s", "SENDORA_RATE_LIMIT_IP": "5",
		"SENDORA_REFUSED_BYTES_PER_IP": "0",
	})}, []string{"--rate-limit-ip", "7"})
	if err != nil {
		t.Fatal(err)
	}
	if c.rateLimitKey != 10 || c.maxPending != 10_000 || c.bodyTimeout != 20*time.Second || c.rateLimitIP != 7 || c.refusedPerIP != 0 {
		t.Errorf("parsed %+v", c)
	}
}
