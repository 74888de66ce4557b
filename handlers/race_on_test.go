//go:build race

package handlers_test

// raceOn: the race detector slows everything ~10x; the load tests shrink.
const raceOn = true
