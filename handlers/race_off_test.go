//go:build !race

package handlers_test

const raceOn = false
