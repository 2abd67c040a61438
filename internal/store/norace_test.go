//go:build !race

package store_test

// raceEnabled reports a -race build, in which SQLite (Go code here) runs
// many times slower.
const raceEnabled = false
