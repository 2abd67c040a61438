package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/datadir"
)

// scanDataFiles reads the raw bytes of every file in the data directory and
// of the backup, and fails if one holds a needle (or, for a hex needle such
// as a token's MAC, its bytes). The master key may be in its own file only;
// values in stored (event bodies) are kept on purpose and are skipped.
func scanDataFiles(t *testing.T, dataDir, backup string, needles, masterKey []string, stored map[string]bool) {
	t.Helper()
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{backup}
	for _, e := range entries {
		if e.Type().IsRegular() {
			files = append(files, filepath.Join(dataDir, e.Name()))
		}
	}
	isKey := map[string]bool{}
	for _, k := range masterKey {
		isKey[k] = true
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		for _, n := range needles {
			if n == "" || stored[n] || strings.Contains(n, "body-canary") || (isKey[n] && name == datadir.MasterKeyFile) {
				continue
			}
			forms := [][]byte{[]byte(n)}
			if raw, err := hex.DecodeString(strings.TrimPrefix(n, "hmac_v1:")); err == nil && len(raw) >= 16 {
				forms = append(forms, raw)
			}
			for _, form := range forms {
				if bytes.Contains(b, form) {
					t.Errorf("%s holds %.24q…", name, n)
				}
			}
		}
	}
}
