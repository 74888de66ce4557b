package models

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestListingsCutBodies: listings carry at most ListBodyCap bytes of each
// body, cut by the database, with the stored length; the single-row reads
// carry the whole body.
func TestListingsCutBodies(t *testing.T) {
	eachDriver(t, func(t *testing.T, drv string) {
		s, _ := newTestStore(t, drv)
		ctx := context.Background()
		big := bytes.Repeat([]byte("<xml>0123456789</xml>"), 5000) // 105 000 bytes
		small := []byte("<xml>small</xml>")

		e := sampleEvent(1)
		e.Raw, e.Payload = big, []byte(`{"big":"`+strings.Repeat("x", 3*ListBodyCap)+`"}`)
		bigID := mustSave(t, s, e).ID
		if err := s.RecordAttempt(ctx, Attempt{EventID: bigID, Reply: big}, true); err != nil {
			t.Fatal(err)
		}
		e = sampleEvent(2)
		e.Raw = small
		smallID := mustSave(t, s, e).ID

		rows, _, err := s.ListEvents(ctx, EventFilter{})
		if err != nil || len(rows) != 2 {
			t.Fatalf("ListEvents = %d rows, %v; want 2", len(rows), err)
		}
		for _, r := range rows {
			switch r.ID {
			case bigID:
				if !bytes.Equal(r.Raw, big[:ListBodyCap]) || r.RawLen != int64(len(big)) {
					t.Errorf("listed big raw = %d bytes, raw_len %d; want the first %d, %d", len(r.Raw), r.RawLen, ListBodyCap, len(big))
				}
				if !bytes.Equal(r.Reply, big[:ListBodyCap]) || r.ReplyLen != int64(len(big)) {
					t.Errorf("listed big reply = %d bytes, reply_len %d; want the first %d, %d", len(r.Reply), r.ReplyLen, ListBodyCap, len(big))
				}
				if r.Payload != nil || r.PayloadLen != int64(3*ListBodyCap+10) {
					t.Errorf("listed big payload = %d bytes, payload_len %d; want none, %d", len(r.Payload), r.PayloadLen, 3*ListBodyCap+10)
				}
			case smallID:
				if !bytes.Equal(r.Raw, small) || r.RawLen != int64(len(small)) || len(r.Payload) == 0 || r.PayloadLen != int64(len(r.Payload)) {
					t.Errorf("listed small event: raw %q (len %d), payload %q (len %d); want whole", r.Raw, r.RawLen, r.Payload, r.PayloadLen)
				}
			}
		}
		full, err := s.GetEvent(ctx, bigID)
		if err != nil || !bytes.Equal(full.Raw, big) || !bytes.Equal(full.Reply, big) {
			t.Errorf("GetEvent(big) = %d raw bytes, %d reply bytes, %v; want %d whole", len(full.Raw), len(full.Reply), err, len(big))
		}

		r := &Rejected{Reason: "too big", Status: 413, Raw: big}
		if err := s.SaveRejected(ctx, r); err != nil {
			t.Fatal(err)
		}
		listed, _, err := s.ListRejected(ctx, 0, "")
		if err != nil || len(listed) != 1 || !bytes.Equal(listed[0].Raw, big[:ListBodyCap]) || listed[0].RawLen != int64(len(big)) {
			t.Fatalf("ListRejected = %+v, %v; want the first %d bytes and raw_len %d", listed, err, ListBodyCap, len(big))
		}
		got, err := s.GetRejected(ctx, r.ID)
		if err != nil || !bytes.Equal(got.Raw, big) {
			t.Errorf("GetRejected = %v; want the whole %d bytes", err, len(big))
		}
		if _, err := s.GetRejected(ctx, 42); !errorsIsNotFound(err) {
			t.Errorf("GetRejected(42) = %v, want ErrNotFound", err)
		}
	})
}

func errorsIsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
