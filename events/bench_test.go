package events_test

import (
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/fixtures"
)

// BenchmarkDecode decodes every fixture. Its Baseline sub-benchmark is
// etree's bare parse of the seed's CLICK, the yardstick for the target:
// Decode of the same CLICK (parse, typed struct, validation) costs at most
// 1.3x the bare parse, both measured in one run.
func BenchmarkDecode(b *testing.B) {
	pushes, err := fixtures.Pushes()
	if err != nil {
		b.Fatal(err)
	}
	click, _ := fixtures.FS.ReadFile("pushes/event.CLICK.xml")
	b.Run("Baseline/etree.ReadFromBytes/event.CLICK", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(click)))
		for b.Loop() {
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(click); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, p := range pushes {
		format := events.DetectFormat("", p.Body)
		b.Run(p.Name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p.Body)))
			for b.Loop() {
				if _, err := events.Decode(p.Body, format); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeVsEtree alternates, in batches of 64, pushgate's full
// Decode of the seed's CLICK with etree's bare parse of the same body, so
// both see the same machine, and reports the ratio of their times as
// "x-etree" (target: at most 1.3).
func BenchmarkDecodeVsEtree(b *testing.B) {
	click, _ := fixtures.FS.ReadFile("pushes/event.CLICK.xml")
	const batch = 64
	var bare, full time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		for range batch {
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(click); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for range batch {
			if _, err := events.Decode(click, events.XML); err != nil {
				b.Fatal(err)
			}
		}
		bare += mid.Sub(start)
		full += time.Since(mid)
	}
	n := float64(b.N * batch)
	b.ReportMetric(float64(bare.Nanoseconds())/n, "etree-ns/op")
	b.ReportMetric(float64(full.Nanoseconds())/n, "decode-ns/op")
	b.ReportMetric(float64(full)/float64(bare), "x-etree")
}

// BenchmarkDedupeKey compares the dedupe key of a push without MsgId (the
// digest of the whole push) with the six-field key it replaced, and with
// decoding the push, on fixtures of both formats.
func BenchmarkDedupeKey(b *testing.B) {
	for _, name := range []string{"event.CLICK", "miniprogrampage~json", "event.pic_weixin~three"} {
		var p fixtures.Push
		pushes, _ := fixtures.Pushes()
		for _, q := range pushes {
			if q.Name == name {
				p = q
			}
		}
		if p.Body == nil {
			b.Fatalf("no fixture %q", name)
		}
		e, err := events.Decode(p.Body, events.DetectFormat("", p.Body))
		if err != nil {
			b.Fatal(err)
		}
		payload, err := events.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		m := events.Describe(e)
		m.MsgID = "" // the digest path, as for a push without MsgId
		b.Run(name+"/legacy", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = m.LegacyKey()
			}
		})
		b.Run(name+"/digest", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = m.DedupeKey(events.DefaultAccount, payload)
			}
		})
		b.Run(name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = events.Decode(p.Body, events.DetectFormat("", p.Body))
			}
		})
	}
}
