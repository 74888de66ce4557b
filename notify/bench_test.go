package notify

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// createDeliveries adds n deliveries of no event to url, due at due (zero:
// now), in transactions of 5,000.
func createDeliveries(b *testing.B, s *models.Store, n int, url string, due time.Time) {
	b.Helper()
	body := []byte(`{"id":912253299790548993,"kind":"event.CLICK","msg_type":"event","event":"CLICK",` +
		`"received_at":"2024-01-02T03:04:05Z","payload":{"EventKey":"KEY_1"}}`)
	for n > 0 {
		k := min(n, 5000)
		ds := make([]models.NewDelivery, k)
		for i := range ds {
			ds[i] = models.NewDelivery{URL: url, Kind: "event.CLICK", Body: body, DueAt: due}
		}
		if err := s.CreateDeliveries(context.Background(), 0, ds); err != nil {
			b.Fatalf("CreateDeliveries = %v", err)
		}
		n -= k
	}
}

// BenchmarkDeliver measures deliveries per second, each a signed POST to a
// loopback sink answering "success" and its recorded attempt, with seed 003's
// pool (10 core, 50 max, queue 100) and fetch size. The b.N deliveries are
// created before the timer starts; it stops when none is pending.
func BenchmarkDeliver(b *testing.B) {
	for _, drv := range drivers {
		b.Run(drv, func(b *testing.B) {
			s := openStore(b, drv, testDSN(b, drv))
			var got atomic.Int64
			sk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				got.Add(1)
				io.WriteString(w, "success")
			}))
			defer sk.Close()
			createDeliveries(b, s, b.N, sk.URL, time.Time{})
			cfg := configs.Default().Notify
			cfg.Secret = testSecret("bench")
			n := New(s, cfg, nil, Options{Logger: slog.New(slog.DiscardHandler)})
			ctx := context.Background()
			b.ResetTimer()
			start := time.Now()
			if err := n.Start(ctx); err != nil {
				b.Fatal(err)
			}
			for {
				_, pending, err := s.NextDeliveryDue(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if !pending {
					break
				}
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if err := n.Stop(ctx); err != nil {
				b.Fatal(err)
			}
			if got.Load() < int64(b.N) {
				b.Fatalf("sink got %d requests, want %d", got.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkFindDue100k measures ClaimDueDeliveries (and NextDeliveryDue)
// among 100,000 pending deliveries none of which is due: the cost of the
// dispatcher's look for due retries. TestFindDueUsesIndex in models checks
// the plan uses idx_deliveries_due.
func BenchmarkFindDue100k(b *testing.B) {
	for _, drv := range drivers {
		b.Run(drv, func(b *testing.B) {
			s := openStore(b, drv, testDSN(b, drv))
			createDeliveries(b, s, 100_000, "http://127.0.0.1:9/hook", time.Now().Add(time.Hour))
			ctx := context.Background()
			b.Run("claim", func(b *testing.B) {
				for b.Loop() {
					ds, err := s.ClaimDueDeliveries(ctx, time.Now(), 100, time.Minute)
					if err != nil || len(ds) != 0 {
						b.Fatalf("ClaimDueDeliveries = %d, %v; want none", len(ds), err)
					}
				}
			})
			b.Run("next", func(b *testing.B) {
				for b.Loop() {
					next, ok, err := s.NextDeliveryDue(ctx)
					if err != nil || !ok || next.Before(time.Now()) {
						b.Fatalf("NextDeliveryDue = %v, %v, %v", next, ok, err)
					}
				}
			})
		})
	}
}
