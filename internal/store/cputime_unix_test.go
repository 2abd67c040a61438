//go:build unix

package store_test

import (
	"syscall"
	"time"
)

// cpuTime is the process's CPU time (user and system, every thread). On a
// shared machine wall time grows with the other processes' load; the CPU
// time an in-process SQLite spends much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
