package retention

import (
	"testing"
	"time"
)

// TestNextBatch: slow statements halve the batch down to minBatch, quick
// ones double it back up to the configured most.
func TestNextBatch(t *testing.T) {
	for _, tt := range []struct {
		batch int
		took  time.Duration
		want  int
	}{
		{1000, 25 * time.Millisecond, 500},
		{500, 11 * time.Millisecond, 250},
		{60, time.Second, minBatch},
		{250, 6 * time.Millisecond, 250},
		{250, time.Millisecond, 500},
		{800, time.Millisecond, 1000},
		{1000, time.Millisecond, 1000},
	} {
		if got := nextBatch(tt.batch, 1000, tt.took); got != tt.want {
			t.Errorf("nextBatch(%d, 1000, %v) = %d, want %d", tt.batch, tt.took, got, tt.want)
		}
	}
}
