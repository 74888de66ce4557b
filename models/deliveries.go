package models

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Delivery statuses. A delivery is created "pending"; a 2xx answer whose body
// is "success" makes it "succeeded"; a failure after the last retry of the
// schedule makes it "dead".
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryDead      = "dead"
)

// Sentinel errors of the notify outbox. Methods wrap them with %w.
var (
	// ErrNotified is returned by CreateDeliveries when the event was already
	// fanned out (by this or another replica) or does not exist.
	ErrNotified = errors.New("event already notified")
	// ErrDeliveryState means a delivery cannot be retried as it stands: it
	// succeeded, or an attempt is being sent right now.
	ErrDeliveryState = errors.New("delivery cannot be retried now")
	// ErrLeaseLost is returned by RecordDeliveryAttempt and ReleaseDelivery when
	// the claim they name is no longer the delivery's (its lease expired and
	// another claim, or a retry, replaced it). The attempt row is kept.
	ErrLeaseLost = errors.New("delivery lease lost")
)

func init() { registerModels(&Delivery{}, &DeliveryAttempt{}) }

// Delivery is one notification to one URL (table "deliveries"): an accepted
// event for one subscriber, or an answer of the sync bridge (EventID 0). Its
// Body is fixed when it is created, so every retry signs the same bytes.
//
// A pending delivery is due when NextAttemptAt has passed. Claiming it sets
// Lease (the claim's token) and moves NextAttemptAt to the end of the lease:
// a claim that is never recorded (a crash, a full pool) simply falls due again.
type Delivery struct {
	ID      int64 `gorm:"primaryKey;autoIncrement:false" json:"id"`
	EventID int64 `gorm:"not null;index:idx_deliveries_event_id" json:"event_id"`
	// Account is the account of the delivery's event ("" for deliveries of
	// no event).
	Account       string    `gorm:"not null;default:''" json:"account"`
	URL           string    `gorm:"not null" json:"url"`
	Kind          string    `gorm:"not null" json:"kind"`
	Body          []byte    `gorm:"not null" json:"-"`
	Status        string    `gorm:"not null;index:idx_deliveries_due,priority:1" json:"status"`
	Attempts      int       `gorm:"not null" json:"attempts"`
	NextAttemptAt time.Time `gorm:"not null;index:idx_deliveries_due,priority:2" json:"next_attempt_at"`
	Lease         int64     `gorm:"not null" json:"-"` // token of the current claim; 0 = unclaimed
	LastStatus    int       `gorm:"not null" json:"last_status"`
	LastError     string    `gorm:"not null" json:"last_error"`
	// TraceParent is its event's Event.TraceParent: its attempts' spans
	// continue the push's trace ("" for none).
	TraceParent string    `gorm:"column:trace_parent;not null;default:''" json:"-"`
	CreatedAt   time.Time `gorm:"not null" json:"created_at"`
	UpdatedAt   time.Time `gorm:"not null" json:"updated_at"`
}

// TableName pins the table name.
func (Delivery) TableName() string { return "deliveries" }

// DeliveryAttempt is one POST of a delivery (table "delivery_attempts").
type DeliveryAttempt struct {
	ID         int64     `gorm:"primaryKey;autoIncrement:false" json:"id"`
	DeliveryID int64     `gorm:"not null;index:idx_delivery_attempts_delivery_id" json:"delivery_id"`
	Attempt    int       `gorm:"not null" json:"attempt"` // 1 for the first
	Started    time.Time `gorm:"not null" json:"started"`
	DurationUS int64     `gorm:"not null" json:"duration_us"` // microseconds
	Status     int       `gorm:"not null" json:"status"`      // HTTP status; 0 = no answer
	Error      string    `gorm:"not null" json:"error"`       // "" = success
}

// TableName pins the table name.
func (DeliveryAttempt) TableName() string { return "delivery_attempts" }

// Duration returns how long the attempt took.
func (a DeliveryAttempt) Duration() time.Duration {
	return time.Duration(a.DurationUS) * time.Microsecond
}

// NewDelivery is one delivery to create.
type NewDelivery struct {
	// ID is the new row's id; zero means one from NewID. Set it (from
	// Store.NewID) to know the id before the commit.
	ID   int64
	URL  string
	Kind string
	// Account is the account of the event notified ("" for none).
	Account string
	Body    []byte // the exact bytes to POST
	// TraceParent is the event's Event.TraceParent ("" for none).
	TraceParent string
	// DueAt is the first attempt's time; zero means now.
	DueAt time.Time
}

// EventDeliveries is the fan-out of one event: its deliveries, one per
// subscriber that wants it (possibly none).
type EventDeliveries struct {
	EventID    int64 // 0: deliveries of no event (sync bridge answers); never "notified"
	Deliveries []NewDelivery
}

// CreateDeliveries creates the deliveries of event eventID and marks the event
// notified, in one transaction: an event is either fully fanned out or still
// unnotified. If the event was already notified (or does not exist) nothing is
// created and the error wraps ErrNotified. eventID 0 creates deliveries of no
// event. It returns after the commit.
func (s *Store) CreateDeliveries(ctx context.Context, eventID int64, ds []NewDelivery) error {
	n, err := s.FanOut(ctx, []EventDeliveries{{EventID: eventID, Deliveries: ds}})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("models: create deliveries of event %d: %w", eventID, ErrNotified)
	}
	return nil
}

// FanOut is CreateDeliveries for several events in one transaction. Events
// already notified (by another replica, say) or unknown are skipped; it returns
// how many entries were applied (an EventID 0 entry always is).
func (s *Store) FanOut(ctx context.Context, fan []EventDeliveries) (int, error) {
	if err := s.checkOpen("fan out"); err != nil {
		return 0, err
	}
	now := dbTime(s.now())
	// Update event rows in one order in every replica: no deadlocks between them.
	fan = slices.Clone(fan)
	slices.SortFunc(fan, func(a, b EventDeliveries) int { return cmp.Compare(a.EventID, b.EventID) })
	rows := make([][]deliveryRow, len(fan))
	for i, f := range fan {
		for _, d := range f.Deliveries {
			if d.ID == 0 {
				d.ID = s.NewID()
			}
			due := now
			if !d.DueAt.IsZero() {
				due = dbTime(d.DueAt)
			}
			rows[i] = append(rows[i], deliveryRow{f.EventID, d, due})
		}
	}
	var ids []int64
	for _, f := range fan {
		if f.EventID != 0 {
			ids = append(ids, f.EventID)
		}
	}
	var applied int
	err := s.groupExec(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		marked, err := s.markNotified(ctx, tx, ids)
		if err != nil {
			return err
		}
		applied = 0
		var keep []deliveryRow
		for i, f := range fan {
			if f.EventID != 0 && !marked[f.EventID] {
				continue // notified already, by another replica say
			}
			applied++
			keep = append(keep, rows[i]...)
		}
		return s.insertDeliveries(ctx, tx, keep, now)
	})
	if err != nil {
		return 0, fmt.Errorf("models: fan out: %w", err)
	}
	return applied, nil
}

// markNotified marks the events with ids (sorted) notified where they were not
// yet, and returns those it marked.
func (s *Store) markNotified(ctx context.Context, tx *sql.Tx, ids []int64) (map[int64]bool, error) {
	marked := make(map[int64]bool, len(ids))
	for chunk := range chunks(ids, 500) {
		rows, err := tx.QueryContext(ctx, s.rebind("UPDATE events SET notified = true WHERE id IN ("+
			placeholders(len(chunk))+") AND notified = false RETURNING id"), anys(chunk)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			marked[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return marked, nil
}

// deliveryRow is a NewDelivery with its event and first due time resolved.
type deliveryRow struct {
	eventID int64
	d       NewDelivery
	due     time.Time
}

// deliveryInsertChunk bounds the rows of one INSERT (10 parameters each).
const deliveryInsertChunk = 500

func (s *Store) insertDeliveries(ctx context.Context, tx *sql.Tx, rows []deliveryRow, now time.Time) error {
	for len(rows) > 0 {
		k := min(len(rows), deliveryInsertChunk)
		q := make([]byte, 0, 200+40*k)
		q = append(q, `INSERT INTO deliveries (id, event_id, account, url, kind, body, trace_parent, status, attempts,
 next_attempt_at, lease, last_status, last_error, created_at, updated_at) VALUES `...)
		args := make([]any, 0, 9*k)
		for i, r := range rows[:k] {
			if i > 0 {
				q = append(q, ',')
			}
			q = append(q, "(?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, 0, 0, '', ?, ?)"...)
			body := r.d.Body
			if body == nil {
				body = []byte{}
			}
			args = append(args, r.d.ID, r.eventID, r.d.Account, r.d.URL, r.d.Kind, body, r.d.TraceParent, r.due, now, now)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(string(q)), args...); err != nil {
			return err
		}
		rows = rows[k:]
	}
	return nil
}

// UnnotifiedEventsByID returns those of the events with the given ids that are
// not yet notified, oldest first, with only the columns a notification needs:
// ID, Account, AuthorizerAppID, Kind, MsgType, Event, ReceivedAt, Payload
// and TraceParent.
func (s *Store) UnnotifiedEventsByID(ctx context.Context, ids []int64) ([]Event, error) {
	if err := s.checkOpen("unnotified events"); err != nil {
		return nil, err
	}
	var out []Event
	for chunk := range chunks(ids, 500) {
		var part []Event
		err := s.db.WithContext(ctx).Select("id", "account", "authorizer_appid", "kind", "msg_type", "event", "received_at", "payload", "trace_parent").
			Where("id IN ?", chunk).Where("notified = ?", false).Find(&part).Error
		if err != nil {
			return nil, fmt.Errorf("models: unnotified events by id: %w", err)
		}
		out = append(out, part...)
	}
	slices.SortFunc(out, func(a, b Event) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}
