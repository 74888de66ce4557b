package models

import (
	"context"
	"strings"
	"testing"
)

// TestOtherAuthorizer: the authorizer a ToUserName was stored under is
// found from any other authorizer's route, whether its app id sorts below
// or above, and never from its own; on SQLite the query seeks the partial
// index instead of walking the authorizer's own rows.
func TestOtherAuthorizer(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		for i, a := range []struct{ app, to string }{{"wx_m", "gh_m"}, {"wx_m", "gh_m"}, {"wx_q", "gh_q"}} {
			e := sampleEvent(i)
			e.Account, e.AuthorizerAppID, e.ToUser = "platform", a.app, a.to
			mustSave(t, s, e)
		}
		for _, c := range []struct{ to, route, want string }{
			{"gh_m", "wx_m", ""},     // its own route
			{"gh_m", "wx_a", "wx_m"}, // a route sorting below
			{"gh_m", "wx_z", "wx_m"}, // and above
			{"gh_q", "wx_m", "wx_q"},
			{"gh_new", "wx_m", ""}, // never stored
		} {
			got, err := s.OtherAuthorizer(ctx, "platform", c.to, c.route)
			if err != nil || got != c.want {
				t.Errorf("OtherAuthorizer(%s on %s) = %q, %v; want %q", c.to, c.route, got, err, c.want)
			}
		}
		if drv != DriverSQLite {
			return
		}
		rows, err := s.sqlDB.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT authorizer_appid FROM events
 WHERE account = ? AND to_user = ? AND authorizer_appid <> '' AND authorizer_appid < ? ORDER BY authorizer_appid LIMIT 1`, "platform", "gh_m", "wx_m")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if p := strings.Join(plan, "; "); !strings.Contains(p, "idx_events_authorizer_to_user") || !strings.Contains(p, "authorizer_appid<?") {
			t.Errorf("plan %q: want a seek on idx_events_authorizer_to_user bounded by authorizer_appid", p)
		}
	})
}
