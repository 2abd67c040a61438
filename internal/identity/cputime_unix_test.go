//go:build unix

package identity_test

import (
	"syscall"
	"testing"
	"time"
)

// cpuPerOp reports, when the returned function is called after the loop,
// the process's CPU time (user and system, every thread: the GC's too) per
// operation as "cpu-ns/op". On a shared machine wall time (ns/op) grows
// with the other processes' load; CPU time much less.
func cpuPerOp(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
