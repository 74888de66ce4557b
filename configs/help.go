package configs

import (
	"fmt"
	"strings"
)

// help says what each setting does and its default, by environment
// variable; Usage and the serve flags print it. A setting missing here is
// described by its name.
var help = map[string]string{
	"PUSHGATE_ADDR":                     "host:port to listen on (default " + defaultAddr + ")",
	"PUSHGATE_PUBLIC_URL":               "base URL others reach this server at, for callback URLs (default http:// + the listen address)",
	"PUSHGATE_BODY_LIMIT":               fmt.Sprintf("largest push body accepted, in bytes; larger ones get 413 (default %d)", defaultBodyLimit),
	"PUSHGATE_REPLY_BUDGET":             fmt.Sprintf("time a handler has to produce a passive reply before the answer is \"success\" (default %s)", defaultReplyBudget),
	"PUSHGATE_SHUTDOWN_TIMEOUT":         fmt.Sprintf("time in-flight pushes and handlers get to finish at shutdown (default %s)", defaultShutdownTimeout),
	"PUSHGATE_LOG_LEVEL":                "debug, info, warn or error (default " + defaultLogLevel + ")",
	"PUSHGATE_DB_DRIVER":                "database: sqlite (one process owns the file) or postgres (several replicas) (default " + defaultDBDriver + ")",
	"PUSHGATE_DB_DSN":                   "SQLite file, or PostgreSQL \"host=... dbname=...\" or postgres:// URL (default " + defaultDBDSN + ")",
	"PUSHGATE_RETENTION":                fmt.Sprintf("handled events and succeeded deliveries older than this are pruned, at least 1h (default %s)", defaultRetention),
	"PUSHGATE_WECHAT_TOKEN":             "token WeChat signs pushes with, as set on its console (required)",
	"PUSHGATE_WECHAT_APPID":             "app id, checked inside safe-mode pushes (default none)",
	"PUSHGATE_WECHAT_AES_KEY":           "43-character EncodingAESKey: turns safe mode on (default none: off)",
	"PUSHGATE_STORE_WAIT":               fmt.Sprintf("longest a push waits for its commit before the answer is 503 (default %s)", defaultStoreWait),
	"PUSHGATE_WECHAT_MODE":              "safe-mode policy of the default account: plain, compat or safe (default safe with an AES key, else plain)",
	"PUSHGATE_WECHAT_PREVIOUS_TOKEN":    "token before the last change on WeChat's console, still accepted (default none)",
	"PUSHGATE_WECHAT_PREVIOUS_AES_KEY":  "EncodingAESKey before the last change, still opened (default none)",
	"PUSHGATE_WECHAT_MAX_SKEW":          fmt.Sprintf("freshness window: pushes whose timestamp is further off are refused, and a (timestamp, nonce) cannot carry another body; 0 turns it off (default %s)", defaultMaxSkew),
	"PUSHGATE_HTTP_MAX_HEADER_BYTES":    fmt.Sprintf("largest request header accepted, in bytes (default %d)", defaultMaxHeaderBytes),
	"PUSHGATE_HTTP_READ_HEADER_TIMEOUT": fmt.Sprintf("bound on reading a request's header (default %s)", defaultReadHeader),
	"PUSHGATE_HTTP_READ_TIMEOUT":        fmt.Sprintf("bound on reading a whole request, body included (default %s)", defaultReadTimeout),
	"PUSHGATE_HTTP_WRITE_TIMEOUT":       "bound from a request's header to the end of its answer; 0 is none, for long polls (default 0)",
	"PUSHGATE_HTTP_IDLE_TIMEOUT":        fmt.Sprintf("bound on a kept-alive connection waiting for its next request (default %s)", defaultIdleTimeout),
	"PUSHGATE_REFUSED_BODY_CAP":         fmt.Sprintf("bytes kept of a refused push's body, with its size and SHA-256 (default %d)", defaultRefusedBodyCap),
	"PUSHGATE_REFUSED_RETENTION":        fmt.Sprintf("how long refused pushes are kept (default %s)", defaultRefusedKeep),
	"PUSHGATE_REFUSED_TOTAL_CAP":        fmt.Sprintf("bytes of all refused bodies kept; past it the oldest go first (default %d)", defaultRefusedTotal),
	"PUSHGATE_REFUSED_RATE":             fmt.Sprintf("refusals per second one remote address may have kept; more are counted, not stored (default %d)", defaultRefusedRate),
	"PUSHGATE_REFUSED_BURST":            fmt.Sprintf("refusals one remote address may have kept at once above the rate (default %d)", defaultRefusedBurst),
	"PUSHGATE_ADMIN_TOKEN":              "bearer token of the admin routes (events, replay, deliveries) (default none: they refuse all)",
	"PUSHGATE_API_TOKEN":                "bearer token of the API routes (results, sync) (default none: they refuse all)",
	"PUSHGATE_RESULT_VALIDITY":          fmt.Sprintf("how long a stored result stays retrievable (default %s)", defaultResultValidity),
	"PUSHGATE_RESULT_PER_API":           "validity per API, api=duration list (default none)",
	"PUSHGATE_RESULT_MAX_WAIT":          fmt.Sprintf("longest ?timeout a result request may wait (default %s)", defaultResultMaxWait),
	"PUSHGATE_SYNC_TARGETS":             "sync processes, conv_id=URL list (default none)",
	"PUSHGATE_SYNC_DEFAULT_TIMEOUT":     fmt.Sprintf("how long a sync request waits when it names no timeout (default %s)", defaultSyncTimeout),
	"PUSHGATE_SYNC_MAX_TIMEOUT":         fmt.Sprintf("longest timeout a sync request may ask for (default %s)", defaultSyncMaxTimeout),
	"PUSHGATE_NOTIFY_URLS":              "URLs that get every stored event as a signed POST, comma-separated (default none)",
	"PUSHGATE_NOTIFY_SECRET":            "whsec_ secret the notifications are signed with (default none: unsigned)",
	"PUSHGATE_NOTIFY_SCHEDULE":          "delays before each retry of a notification (default 2m,10m,30m,1h,2h,6h,6h,10h,15h,15h)",
	"PUSHGATE_NOTIFY_CONNECT_TIMEOUT":   fmt.Sprintf("bound on connecting to a subscriber (default %s)", defaultNotifyConnect),
	"PUSHGATE_NOTIFY_READ_TIMEOUT":      fmt.Sprintf("bound on waiting for a subscriber's answer (default %s)", defaultNotifyRead),
	"PUSHGATE_NOTIFY_POOL_CORE":         fmt.Sprintf("delivery workers kept running (default %d)", defaultPoolCore),
	"PUSHGATE_NOTIFY_POOL_MAX":          fmt.Sprintf("most delivery workers under load (default %d)", defaultPoolMax),
	"PUSHGATE_NOTIFY_QUEUE_SIZE":        fmt.Sprintf("capacity of the in-memory delivery queue (default %d)", defaultQueueSize),
	"PUSHGATE_NOTIFY_SCAN_PERIOD":       fmt.Sprintf("how often the outbox is scanned for due retries (default %s)", defaultScanPeriod),
	"PUSHGATE_NOTIFY_FETCH_SIZE":        fmt.Sprintf("due deliveries claimed per scan (default %d)", defaultFetchSize),
}

// describe is the help of s: what it does and its default, then where else
// to set it.
func describe(s setting) string {
	h, ok := help[s.env]
	if !ok {
		h = s.name
	}
	if s.flag != "" {
		return h + "; env " + s.env
	}
	return h
}

// helpWidth pads the variable names of Usage.
var helpWidth = func() int {
	n := 0
	for _, s := range settings {
		n = max(n, len(s.env))
	}
	return n
}()

// envLine is one line of Usage's environment list.
func envLine(s setting) string {
	h, ok := help[s.env]
	if !ok {
		h = s.name
	}
	return "  " + s.env + strings.Repeat(" ", helpWidth-len(s.env)+2) + h
}
