package models

import "time"

// Event statuses. An event is stored "received"; each dispatch attempt moves it
// to "handled" (success) or "failed".
const (
	StatusReceived = "received"
	StatusHandled  = "handled"
	StatusFailed   = "failed"
)

// Event is one accepted push (table "events"). Its indexes are chosen for
// insert speed: the primary key and every index lead with a time-ordered value
// (the id, or a dedupe key that leads with the CreateTime in the common case),
// and the indexes of the columns the hot path does not look up by are partial,
// holding only the rows somebody looks for: those not handled (recovery, and
// listings of failures), not notified (fan-out), and with a request id. A
// handled, notified CLICK costs the primary key and the dedupe key only.
//
// Queries that use a partial index repeat its condition literally (SQLite
// uses a partial index only then); see the *Cond constants.
type Event struct {
	ID        int64  `gorm:"primaryKey;autoIncrement:false;index:idx_events_unhandled,priority:2,where:status <> 'handled';index:idx_events_unnotified,priority:2,where:notified = false;index:idx_events_account_event_id,priority:3" json:"id"`
	DedupeKey string `gorm:"not null;uniqueIndex:idx_events_dedupe_key" json:"dedupe_key"`
	// Account is the name of the account the push arrived for.
	Account string `gorm:"not null;default:'default';index:idx_events_component_ticket,priority:1,where:kind = 'component.component_verify_ticket';index:idx_events_account_event_id,priority:1;index:idx_events_authorizer_to_user,priority:1,where:authorizer_appid <> ''" json:"account"`
	// AuthorizerAppID is, for a push that an Open Platform account received
	// on behalf of an authorized official account or mini program, that
	// account's app id; "" otherwise.
	AuthorizerAppID string `gorm:"column:authorizer_appid;not null;default:'';index:idx_events_authorizer_to_user,priority:3" json:"authorizer_appid,omitempty"`
	// NonceKey is the push's "timestamp:account:nonce" when the freshness
	// window is on, else "": unique, so that one signed URL cannot carry two
	// different pushes (see NewEvent.NonceKey).
	NonceKey   string     `gorm:"not null;default:'';uniqueIndex:idx_events_nonce_key,where:nonce_key <> ''" json:"-"`
	Kind       string     `gorm:"not null" json:"kind"`
	MsgType    string     `gorm:"not null" json:"msg_type"`
	Event      string     `gorm:"not null;index:idx_events_account_event_id,priority:2" json:"event"`
	EventKey   string     `gorm:"not null" json:"event_key"`
	FromUser   string     `gorm:"not null" json:"from_user"`
	ToUser     string     `gorm:"not null;index:idx_events_authorizer_to_user,priority:2" json:"to_user"`
	CreateTime int64      `gorm:"not null;index:idx_events_component_ticket,priority:2" json:"create_time"`
	MsgID      string     `gorm:"not null" json:"msg_id"`
	RequestID  string     `gorm:"not null;index:idx_events_request_id_set,where:request_id <> ''" json:"request_id"`
	Format     string     `gorm:"not null" json:"format"`
	Status     string     `gorm:"not null;index:idx_events_unhandled,priority:1" json:"status"`
	Attempts   int        `gorm:"not null" json:"attempts"`
	Duplicates int        `gorm:"not null" json:"duplicates"`
	ReceivedAt time.Time  `gorm:"not null;index:idx_events_account_event_id,priority:4" json:"received_at"`
	LastSeen   time.Time  `gorm:"not null" json:"last_seen"`
	HandledAt  *time.Time `json:"handled_at,omitempty"`
	LastError  string     `gorm:"not null" json:"last_error"`
	Reply      []byte     `json:"reply,omitempty"` // the stored passive reply; nil = "success"
	Payload    []byte     `json:"payload,omitempty"`
	Raw        []byte     `json:"raw,omitempty"`
	Notified   bool       `gorm:"not null;default:false;index:idx_events_unnotified,priority:1" json:"notified"`
	// RecoveryUntil is the end of a recovery claim (see Store.ClaimReceived):
	// until then no other recovery dispatches the event. NULL (never claimed)
	// unless recovery took the event; the insert leaves it out.
	RecoveryUntil *time.Time `json:"recovery_until,omitempty"`

	// HTTPRequestID is the id of the HTTP request that delivered the push
	// (X-Request-Id); "" for events stored before it was kept.
	HTTPRequestID string `gorm:"column:http_request_id;not null;default:''" json:"http_request_id"`
	// TraceParent is the W3C traceparent of the push's server span when
	// tracing was on ("" otherwise): notifications of the event continue
	// that trace.
	TraceParent string `gorm:"column:trace_parent;not null;default:''" json:"trace_parent,omitempty"`

	// RawLen, PayloadLen and ReplyLen are the stored lengths of Raw, Payload
	// and Reply, set by listings (ListEvents), which carry at most
	// ListBodyCap bytes of each (no Payload when longer: a cut JSON is no
	// JSON); GetEvent carries them whole and leaves these zero.
	RawLen     int64 `gorm:"->;-:migration;column:raw_len" json:"raw_len,omitempty"`
	PayloadLen int64 `gorm:"->;-:migration;column:payload_len" json:"payload_len,omitempty"`
	ReplyLen   int64 `gorm:"->;-:migration;column:reply_len" json:"reply_len,omitempty"`
}

// TableName pins the table name.
func (Event) TableName() string { return "events" }

// The conditions of the partial indexes of events, to AND into queries.
const (
	unhandledCond  = "status <> 'handled'" // idx_events_unhandled
	unnotifiedCond = "notified = false"    // idx_events_unnotified
	requestIDCond  = "request_id <> ''"    // idx_events_request_id_set
)

// droppedIndexes are indexes of earlier versions, replaced by partial ones.
var droppedIndexes = []string{"idx_events_status_id", "idx_events_notified_id", "idx_events_request_id"}

// EventAttempt is one dispatch of an event (table "event_attempts").
type EventAttempt struct {
	ID         int64     `gorm:"primaryKey;autoIncrement:false" json:"id"`
	EventID    int64     `gorm:"not null;index:idx_event_attempts_event_id" json:"event_id"`
	Started    time.Time `gorm:"not null" json:"started"`
	DurationUS int64     `gorm:"not null" json:"duration_us"` // microseconds
	Error      string    `gorm:"not null" json:"error"`       // "" = success
	Replay     bool      `gorm:"not null" json:"replay"`
}

// TableName pins the table name.
func (EventAttempt) TableName() string { return "event_attempts" }

// Duration returns how long the attempt took.
func (a EventAttempt) Duration() time.Duration { return time.Duration(a.DurationUS) * time.Microsecond }

// Rejected is a refused push, kept with its raw body (table "rejected_pushes").
type Rejected struct {
	ID         int64     `gorm:"primaryKey;autoIncrement:false" json:"id"`
	ReceivedAt time.Time `gorm:"not null" json:"received_at"`
	// Account is the account the push was posted for ("" when the route
	// named none that exists).
	Account     string `gorm:"not null;default:''" json:"account"`
	Reason      string `gorm:"not null" json:"reason"`
	Status      int    `gorm:"not null" json:"status"` // the HTTP status answered
	Query       string `gorm:"not null" json:"query"`
	RemoteAddr  string `gorm:"not null" json:"remote_addr"`
	ContentType string `gorm:"not null" json:"content_type"`
	Raw         []byte `json:"raw,omitempty"`
	// BodySize is the length of the body as received, which Raw may hold
	// only the head of (refused bodies are kept up to a cap); 0 in rows of
	// versions before it was recorded.
	BodySize int64 `gorm:"not null;default:0" json:"body_size"`
	// BodySHA256 is the hex SHA-256 of the whole body as received; "" when
	// the whole was not read (a body over the size limit) or not recorded.
	BodySHA256 string `gorm:"not null;default:''" json:"body_sha256"`
	// HTTPRequestID is the id of the HTTP request that delivered the push
	// (X-Request-Id), as on Event; "" in rows stored before it was kept.
	HTTPRequestID string `gorm:"column:http_request_id;not null;default:''" json:"http_request_id"`

	// RawLen is the stored length of Raw, set by ListRejected, which carries
	// at most ListBodyCap bytes of it; GetRejected carries it whole and
	// leaves RawLen zero.
	RawLen int64 `gorm:"->;-:migration;column:raw_len" json:"raw_len,omitempty"`
}

// TableName pins the table name.
func (Rejected) TableName() string { return "rejected_pushes" }
