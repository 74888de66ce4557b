package models

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/internal/benchfill"
)

// TestBenchFillRows: the rows internal/benchfill builds for the growth
// benchmarks read back through the Store as a real push's would: ids as
// the id generator lays them out (IDTime = received_at), the time a
// listing's since filter compares, a raw body that decodes to the event it
// is listed as, one attempt each, and no id the store makes later is
// smaller.
func TestBenchFillRows(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		now := time.Now().UTC()
		from, to := now.Add(-10*24*time.Hour), now.Add(-time.Hour)
		const n = 3000
		if err := benchfill.Fill(ctx, s.sqlDB, drv, benchfill.Spec{N: n, From: from, To: to, Chunk: 1000}); err != nil {
			t.Fatal(err)
		}
		for _, g := range []int{0, 1, 1234, n - 1} {
			id := benchfill.ID(g, n, from, to)
			e, err := s.GetEvent(ctx, id)
			if err != nil {
				t.Fatalf("row %d: GetEvent(%d) = %v", g, id, err)
			}
			if !IDTime(id).Equal(e.ReceivedAt) {
				t.Errorf("row %d: IDTime(id) = %v, received_at %v", g, IDTime(id), e.ReceivedAt)
			}
			if e.ReceivedAt.Before(from.Add(-time.Millisecond)) || !e.ReceivedAt.Before(to) {
				t.Errorf("row %d: received_at %v outside %v..%v", g, e.ReceivedAt, from, to)
			}
			if want := benchfill.Accounts[g%10]; e.Account != want || !strings.HasPrefix(e.DedupeKey, want+"/d:") {
				t.Errorf("row %d: account %q, dedupe key %q, want account %q", g, e.Account, e.DedupeKey, want)
			}
			if e.Status != StatusHandled || e.Attempts != 1 || !e.Notified || len(e.Raw) < 200 {
				t.Errorf("row %d: status %q attempts %d notified %v raw %d bytes", g, e.Status, e.Attempts, e.Notified, len(e.Raw))
			}
			ev, err := events.Decode(e.Raw, events.ParseFormat(e.Format))
			if err != nil {
				t.Fatalf("row %d: raw %q does not decode: %v", g, e.Raw, err)
			}
			if m := events.Describe(ev); m.Event != e.Event || m.EventKey != e.EventKey || m.CreateTime != e.CreateTime {
				t.Errorf("row %d: raw decodes to %+v, row says event %q key %q create_time %d", g, m, e.Event, e.EventKey, e.CreateTime)
			}
			if !json.Valid(e.Payload) {
				t.Errorf("row %d: payload %q is not JSON", g, e.Payload)
			}
			atts, err := s.EventAttempts(ctx, id)
			if err != nil || len(atts) != 1 || atts[0].Error != "" {
				t.Errorf("row %d: attempts %+v, %v; want one that succeeded", g, atts, err)
			}
		}
		// The since filter sees the built times: the last day holds about
		// 1/10 of the rows of 10 days (less the last hour), 1/50 of them
		// acct3's CLICKs.
		since := now.Add(-25 * time.Hour)
		var want int64
		if err := s.db.Model(&Event{}).Where("account = ? AND event = ? AND received_at >= ?", "acct3", "CLICK", dbTime(since)).Count(&want).Error; err != nil {
			t.Fatal(err)
		}
		var wantByID int
		for g := range n {
			if g%10 == 3 && (g/10)%5 == 0 && !IDTime(benchfill.ID(g, n, from, to)).Before(since.Truncate(time.Millisecond)) {
				wantByID++
			}
		}
		if want == 0 || int(want) != wantByID {
			t.Errorf("received_at >= %v counts %d of acct3's CLICKs, their ids say %d", since, want, wantByID)
		}
		if got := s.NewID(); got <= benchfill.ID(n-1, n, from, to) {
			t.Errorf("NewID() = %d, not above the built ids", got)
		}
	})
}
