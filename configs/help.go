package configs

import (
	"fmt"
	"strings"
)

// help says what each setting does and its default, by environment
// variable; Usage and the serve flags print it. A setting missing here is
// described by its name.
var help = map[string]string{
	"PUSHGATE_ADDR":                   "host:port to listen on (default " + defaultAddr + ")",
	"PUSHGATE_PUBLIC_URL":             "base URL others reach this server at, for callback URLs (default http:// + the listen address)",
	"PUSHGATE_BODY_LIMIT":             fmt.Sprintf("largest push body accepted, in bytes; larger ones get 413 (default %d)", defaultBodyLimit),
	"PUSHGATE_REPLY_BUDGET":           fmt.Sprintf("time a handler has to produce a passive reply before the answer is \"success\" (default %s)", defaultReplyBudget),
	"PUSHGATE_SHUTDOWN_TIMEOUT":       fmt.Sprintf("time in-flight pushes and handlers get to finish at shutdown (default %s)", defaultShutdownTimeout),
	"PUSHGATE_LOG_LEVEL":              "debug, info, warn or error (default " + defaultLogLevel + ")",
	"PUSHGATE_DB_DRIVER":              "database: sqlite (one process owns the file) or postgres (several replicas) (default " + defaultDBDriver + ")",
	"PUSHGATE_DB_DSN":                 "SQLite file, or PostgreSQL \"host=... dbname=...\" or postgres:// URL (default " + defaultDBDSN + ")",
	"PUSHGATE_RETENTION":              fmt.Sprintf("handled events and succeeded deliveries older than this are pruned, at least 1h (default %s)", defaultRetention),
	"PUSHGATE_WECHAT_TOKEN":           "token WeChat signs pushes with, as set on its console (required)",
	"PUSHGATE_WECHAT_APPID":           "app id, checked inside safe-mode pushes (default none)",
	"PUSHGATE_WECHAT_AES_KEY":         "43-character EncodingAESKey: turns safe mode on (default none: off)",
	"PUSHGATE_ADMIN_TOKEN":            "bearer token of the admin routes (events, replay, deliveries) (default none: they refuse all)",
	"PUSHGATE_API_TOKEN":              "bearer token of the API routes (results, sync) (default none: they refuse all)",
	"PUSHGATE_RESULT_VALIDITY":        fmt.Sprintf("how long a stored result stays retrievable (default %s)", defaultResultValidity),
	"PUSHGATE_RESULT_PER_API":         "validity per API, api=duration list (default none)",
	"PUSHGATE_RESULT_MAX_WAIT":        fmt.Sprintf("longest ?timeout a result request may wait (default %s)", defaultResultMaxWait),
	"PUSHGATE_SYNC_TARGETS":           "sync processes, conv_id=URL list (default none)",
	"PUSHGATE_SYNC_DEFAULT_TIMEOUT":   fmt.Sprintf("how long a sync request waits when it names no timeout (default %s)", defaultSyncTimeout),
	"PUSHGATE_SYNC_MAX_TIMEOUT":       fmt.Sprintf("longest timeout a sync request may ask for (default %s)", defaultSyncMaxTimeout),
	"PUSHGATE_NOTIFY_URLS":            "URLs that get every stored event as a signed POST, comma-separated (default none)",
	"PUSHGATE_NOTIFY_SECRET":          "whsec_ secret the notifications are signed with (default none: unsigned)",
	"PUSHGATE_NOTIFY_SCHEDULE":        "delays before each retry of a notification (default 2m,10m,30m,1h,2h,6h,6h,10h,15h,15h)",
	"PUSHGATE_NOTIFY_CONNECT_TIMEOUT": fmt.Sprintf("bound on connecting to a subscriber (default %s)", defaultNotifyConnect),
	"PUSHGATE_NOTIFY_READ_TIMEOUT":    fmt.Sprintf("bound on waiting for a subscriber's answer (default %s)", defaultNotifyRead),
	"PUSHGATE_NOTIFY_POOL_CORE":       fmt.Sprintf("delivery workers kept running (default %d)", defaultPoolCore),
	"PUSHGATE_NOTIFY_POOL_MAX":        fmt.Sprintf("most delivery workers under load (default %d)", defaultPoolMax),
	"PUSHGATE_NOTIFY_QUEUE_SIZE":      fmt.Sprintf("capacity of the in-memory delivery queue (default %d)", defaultQueueSize),
	"PUSHGATE_NOTIFY_SCAN_PERIOD":     fmt.Sprintf("how often the outbox is scanned for due retries (default %s)", defaultScanPeriod),
	"PUSHGATE_NOTIFY_FETCH_SIZE":      fmt.Sprintf("due deliveries claimed per scan (default %d)", defaultFetchSize),
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
