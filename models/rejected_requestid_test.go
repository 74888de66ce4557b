package models

import (
	"context"
	"testing"
)

// TestMigrateAddsRejectedRequestID: a database made before refused pushes
// kept their request id gets the column when a Store opens it; its old
// rows read "" and new ones keep theirs, in the listing and alone.
func TestMigrateAddsRejectedRequestID(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, drv string) {
		t.Parallel()
		dsn := testDSN(t, drv)
		ctx := context.Background()
		old, err := Open(ctx, drv, dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		before := &Rejected{Reason: "undecodable", Status: 400, Raw: []byte("<x")}
		if err := old.SaveRejected(ctx, before); err != nil {
			t.Fatal(err)
		}
		if err := old.db.Migrator().DropColumn(&Rejected{}, "http_request_id"); err != nil {
			t.Fatalf("dropping http_request_id: %v", err)
		}
		if old.db.Migrator().HasColumn(&Rejected{}, "http_request_id") {
			t.Fatal("http_request_id still there after DropColumn")
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}

		s := openTest(t, drv, dsn, Options{})
		if !s.db.Migrator().HasColumn(&Rejected{}, "http_request_id") {
			t.Fatal("Open did not add http_request_id to an existing rejected_pushes table")
		}
		after := &Rejected{Reason: "sealed for another app", Status: 401, HTTPRequestID: "0123456789abcdef0123456789abcdef"}
		if err := s.SaveRejected(ctx, after); err != nil {
			t.Fatalf("SaveRejected on the migrated table = %v", err)
		}
		rows, _, err := s.ListRejected(ctx, 0, "")
		if err != nil || len(rows) != 2 {
			t.Fatalf("ListRejected = %d rows, %v; want 2", len(rows), err)
		}
		want := map[int64]string{before.ID: "", after.ID: after.HTTPRequestID}
		for _, r := range rows {
			if r.HTTPRequestID != want[r.ID] {
				t.Errorf("Got(ListRejected: row %d's HTTPRequestID) = %q, want %q", r.ID, r.HTTPRequestID, want[r.ID])
			}
			one, err := s.GetRejected(ctx, r.ID)
			if err != nil || one.HTTPRequestID != want[r.ID] {
				t.Errorf("GetRejected(%d) = %q, %v; want %q", r.ID, one.HTTPRequestID, err, want[r.ID])
			}
		}
	})
}
