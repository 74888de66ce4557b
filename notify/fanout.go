package notify

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/pushgate/pushgate/models"
)

// fanOutBatch bounds how many accepted events share one fan-out transaction.
const fanOutBatch = 256

// fanOutRetry is the wait before a scan after a failed fan-out.
const fanOutRetry = time.Second

// Message is the JSON body POSTed for an accepted event. Its bytes are fixed
// when the delivery is created. ID, the event's id, is a JSON string, as in
// the admin API: 64-bit numbers lose digits in JavaScript.
type Message struct {
	ID int64 `json:"id,string"`
	// Account is the name of the account the push arrived for.
	Account    string          `json:"account"`
	Kind       string          `json:"kind"`
	MsgType    string          `json:"msg_type"`
	Event      string          `json:"event"`
	ReceivedAt time.Time       `json:"received_at"`
	Payload    json.RawMessage `json:"payload"` // the decoded event (events.Marshal)

	// AuthorizerAppID is, for a push an Open Platform account received for
	// an account that authorized it, that account's app id.
	AuthorizerAppID string `json:"authorizer_appid,omitempty"`
}

// fanOutLoop turns accepted events into deliveries. It starts with a scan of
// every event not yet notified (those a crash left between their commit and
// their fan-out), then fans out the ids Accepted hands over, in batches, and
// scans again every ScanPeriod, when Accepted's hand-off overflowed, and after
// a failure.
func (n *Notifier) fanOutLoop(ctx context.Context) {
	scan := time.NewTimer(0)
	defer scan.Stop()
	ids := make([]int64, 0, fanOutBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-scan.C:
			n.scanUnnotified(ctx, scan)
		case <-n.scanNow:
			n.scanUnnotified(ctx, scan)
		case id := <-n.accepted:
			ids = append(ids[:0], id)
		more:
			for len(ids) < fanOutBatch {
				select {
				case id := <-n.accepted:
					ids = append(ids, id)
				default:
					break more
				}
			}
			evs, err := n.store.UnnotifiedEventsByID(ctx, ids)
			if err == nil {
				err = n.fanOut(ctx, evs)
			}
			if err != nil && ctx.Err() == nil {
				n.log.Error("notify: fan-out failed; the scan of unnotified events will retry", "events", len(ids), "err", err)
				scan.Reset(fanOutRetry)
			}
		}
	}
}

// scanUnnotified fans out every event not yet notified, oldest first, and
// sets scan to the next periodic scan (or to a quick retry after a failure).
func (n *Notifier) scanUnnotified(ctx context.Context, scan *time.Timer) {
	next := n.cfg.ScanPeriod
	defer func() { scan.Reset(next) }()
	var after int64
	for ctx.Err() == nil {
		evs, err := n.store.UnnotifiedEvents(ctx, 0, after)
		if err == nil && len(evs) > 0 {
			err = n.fanOut(ctx, evs)
		}
		if err != nil {
			if ctx.Err() == nil {
				n.log.Error("notify: scan of unnotified events failed", "err", err)
				next = fanOutRetry
			}
			return
		}
		if len(evs) == 0 {
			return
		}
		after = evs[len(evs)-1].ID
	}
}

// fanOut creates the deliveries of evs, one per subscriber that wants each,
// and marks them notified, in one transaction; events another replica fanned
// out meanwhile are skipped. It wakes the dispatcher.
func (n *Notifier) fanOut(ctx context.Context, evs []models.Event) error {
	if len(evs) == 0 {
		return nil
	}
	fan := make([]models.EventDeliveries, 0, len(evs))
	var created int
	for i := range evs {
		ev := &evs[i]
		f := models.EventDeliveries{EventID: ev.ID}
		var body []byte
		for _, t := range n.order {
			if !t.wants(ev.Kind) {
				continue
			}
			if body == nil {
				body = messageBody(ev)
			}
			f.Deliveries = append(f.Deliveries, models.NewDelivery{URL: t.url, Kind: ev.Kind, Account: ev.Account, Body: body,
				TraceParent: ev.TraceParent})
		}
		created += len(f.Deliveries)
		fan = append(fan, f)
	}
	if _, err := n.store.FanOut(ctx, fan); err != nil {
		return err
	}
	if created > 0 {
		n.hint(time.Time{})
	}
	return nil
}

// messageBody is the JSON of an event's Message.
func messageBody(ev *models.Event) []byte {
	payload := json.RawMessage(ev.Payload)
	if len(payload) == 0 {
		payload = nil
	} else if !json.Valid(payload) {
		payload = json.RawMessage(strconv.Quote(string(ev.Payload)))
	}
	b, err := json.Marshal(Message{
		ID: ev.ID, Account: ev.Account, Kind: ev.Kind, MsgType: ev.MsgType, Event: ev.Event,
		ReceivedAt: ev.ReceivedAt.UTC(), Payload: payload, AuthorizerAppID: ev.AuthorizerAppID,
	})
	if err != nil { // cannot happen: every field is marshalable
		return []byte(`{"id":` + strconv.FormatInt(ev.ID, 10) + `}`)
	}
	return b
}
