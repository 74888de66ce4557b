package handlers_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/fixtures"
	"github.com/pushgate/pushgate/models"
)

// TestPlatformPushesAreIndexed posts Open Platform and WeCom pushes over
// HTTP and checks how each is stored: the columns an operator filters on.
func TestPlatformPushesAreIndexed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	type row struct{ Kind, MsgType, Event, EventKey, FromUser, ToUser string }
	tests := []struct {
		fixture string
		want    row
	}{
		{"component.component_verify_ticket.xml", row{"component.component_verify_ticket", "", "component_verify_ticket", "", "", "wx304925fbea25bcbe"}},
		{"component.authorized.xml", row{"component.authorized", "", "authorized", "", "wxf8b4f85f3a794e77", "wx304925fbea25bcbe"}},
		{"unknown~component_notify_third_fastverifybetaapp.xml", row{"unknown", "", "notify_third_fastverifybetaapp", "", "", "wx304925fbea25bcbe"}},
		{"event.change_external_contact.xml", row{"event.change_external_contact", "event", "change_external_contact", "add_external_contact", "sys", "toUser"}},
		{"text~wecom.xml", row{"text", "text", "", "", "fromUser", "toUser"}},
	}
	for _, tt := range tests {
		body, err := fixtures.FS.ReadFile("pushes/" + tt.fixture)
		if err != nil {
			t.Fatal(err)
		}
		if status, answer := ts.push(t, "text/xml", body); status != http.StatusOK || answer != "success" {
			t.Fatalf("POST %s = %d %q, want 200 success", tt.fixture, status, answer)
		}
		rows, _, err := ts.store.ListEvents(context.Background(), models.EventFilter{Event: tt.want.Event, ToUser: tt.want.ToUser, MsgType: tt.want.MsgType, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got []row
		for _, r := range rows {
			got = append(got, row{r.Kind, r.MsgType, r.Event, r.EventKey, r.FromUser, r.ToUser})
		}
		if diff := cmp.Diff([]row{tt.want}, got); diff != "" {
			t.Errorf("stored %s (-want +got):\n%s", tt.fixture, diff)
		}
	}
}
