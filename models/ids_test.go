package models

import (
	"sync"
	"testing"
	"time"
)

func TestIDsIncreaseAndEncodeTime(t *testing.T) {
	g := newIDGen(5)
	before := time.Now().Truncate(time.Millisecond)
	var last int64
	for range 10000 { // more than 4096 per millisecond: the sequence borrows ahead
		id := g.next()
		if id <= last {
			t.Fatalf("next() = %d after %d, want increasing", id, last)
		}
		if node := id >> idSeqBits & idNodeMask; node != 5 {
			t.Fatalf("id %d has node %d, want 5", id, node)
		}
		last = id
	}
	if at := IDTime(last); at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("IDTime = %v, want about %v", at, before)
	}
}

func TestIDsUniqueAcrossGoroutines(t *testing.T) {
	g := newIDGen(1)
	const workers, each = 8, 2000
	got := make([][]int64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				got[w] = append(got[w], g.next())
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, ids := range got {
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("id %d returned twice", id)
			}
			seen[id] = true
		}
	}
}
