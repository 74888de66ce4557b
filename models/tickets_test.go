package models

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestLatestComponentTicket: the ticket with the newest CreateTime of the
// account wins, whatever the order of arrival; other accounts and kinds do
// not count; none is ErrNotFound; it survives reopening the database.
func TestLatestComponentTicket(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		ctx := context.Background()
		dsn := testDSN(t, drv)
		s := openTest(t, drv, dsn, Options{})
		if _, err := s.LatestComponentTicket(ctx, "platform"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("LatestComponentTicket(empty) = %v, want ErrNotFound", err)
		}
		ticket := func(account string, ct int64) *NewEvent {
			return &NewEvent{
				DedupeKey: fmt.Sprintf("%s:d:%d", account, ct), Account: account, Kind: ComponentTicketKind,
				Event: "component_verify_ticket", ToUser: "wx_c", CreateTime: ct, Format: "xml",
				Payload: []byte(fmt.Sprintf(`{"ComponentVerifyTicket":"t%d"}`, ct)),
			}
		}
		other := sampleEvent(1)
		other.Account, other.CreateTime = "platform", 1999999999
		saveAll(t, s, []*NewEvent{ticket("platform", 1700000600), ticket("platform", 1700001200),
			ticket("platform", 1700000000), ticket("other", 1800000000), other})
		s.Close()
		s = openTest(t, drv, dsn, Options{})
		ev, err := s.LatestComponentTicket(ctx, "platform")
		if err != nil {
			t.Fatal(err)
		}
		if ev.CreateTime != 1700001200 || string(ev.Payload) != `{"ComponentVerifyTicket":"t1700001200"}` {
			t.Errorf("LatestComponentTicket(platform) = %d %s, want 1700001200", ev.CreateTime, ev.Payload)
		}
		if _, err := s.LatestComponentTicket(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Errorf("LatestComponentTicket(nobody) = %v, want ErrNotFound", err)
		}
	})
}

// TestAuthorizerAppIDStoredAndFiltered: the authorizer app id is stored by
// the row-by-row and the array inserts alike, and ListEvents filters on it.
func TestAuthorizerAppIDStoredAndFiltered(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		s, _ := newTestStore(t, drv)
		var evs []*NewEvent
		for i := range 40 {
			e := sampleEvent(i)
			e.Account = "platform"
			e.AuthorizerAppID = []string{"wx_a", "wx_b", ""}[i%3]
			e.DedupeKey = e.AuthorizerAppID + "/" + e.DedupeKey
			evs = append(evs, e)
		}
		saveAll(t, s, evs)
		for _, app := range []string{"wx_a", "wx_b"} {
			got, _, err := s.ListEvents(context.Background(), EventFilter{AuthorizerAppID: app, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, e := range evs {
				if e.AuthorizerAppID == app {
					want++
				}
			}
			if len(got) != want {
				t.Errorf("ListEvents(authorizer_appid=%s) = %d events, want %d", app, len(got), want)
			}
			for _, e := range got {
				if e.AuthorizerAppID != app || e.Account != "platform" {
					t.Errorf("ListEvents(authorizer_appid=%s) returned %q/%q", app, e.Account, e.AuthorizerAppID)
				}
			}
		}
	})
}
