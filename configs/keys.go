package configs

// yamlKeys names, for each PUSHGATE_* variable, the key of the config file
// that sets the same value, as error messages name it (e.g.
// "notify.schedule"). TestEverySettingHasItsYAMLKey checks that each
// setting has one and that it names a field of Config.
var yamlKeys = map[string]string{
	"PUSHGATE_ADDR":                     "addr",
	"PUSHGATE_PUBLIC_URL":               "public_url",
	"PUSHGATE_BODY_LIMIT":               "body_limit",
	"PUSHGATE_REPLY_BUDGET":             "reply_budget",
	"PUSHGATE_STORE_WAIT":               "store_wait",
	"PUSHGATE_SHUTDOWN_TIMEOUT":         "shutdown_timeout",
	"PUSHGATE_LOG_LEVEL":                "log_level",
	"PUSHGATE_DB_DRIVER":                "db.driver",
	"PUSHGATE_DB_DSN":                   "db.dsn",
	"PUSHGATE_RETENTION":                "db.retention",
	"PUSHGATE_WECHAT_TOKEN":             "wechat.token",
	"PUSHGATE_WECHAT_APPID":             "wechat.app_id",
	"PUSHGATE_WECHAT_AES_KEY":           "wechat.aes_key",
	"PUSHGATE_WECHAT_MODE":              "wechat.mode",
	"PUSHGATE_WECHAT_PREVIOUS_TOKEN":    "wechat.previous_token",
	"PUSHGATE_WECHAT_PREVIOUS_AES_KEY":  "wechat.previous_aes_key",
	"PUSHGATE_WECHAT_MAX_SKEW":          "wechat.max_skew",
	"PUSHGATE_HTTP_MAX_HEADER_BYTES":    "http.max_header_bytes",
	"PUSHGATE_HTTP_READ_HEADER_TIMEOUT": "http.read_header_timeout",
	"PUSHGATE_HTTP_READ_TIMEOUT":        "http.read_timeout",
	"PUSHGATE_HTTP_WRITE_TIMEOUT":       "http.write_timeout",
	"PUSHGATE_HTTP_IDLE_TIMEOUT":        "http.idle_timeout",
	"PUSHGATE_REFUSED_BODY_CAP":         "refused.body_cap",
	"PUSHGATE_REFUSED_RETENTION":        "refused.retention",
	"PUSHGATE_REFUSED_TOTAL_CAP":        "refused.total_cap",
	"PUSHGATE_REFUSED_RATE":             "refused.rate",
	"PUSHGATE_REFUSED_BURST":            "refused.burst",
	"PUSHGATE_ADMIN_TOKEN":              "admin_token",
	"PUSHGATE_API_TOKEN":                "api_token",
	"PUSHGATE_RESULT_VALIDITY":          "results.validity",
	"PUSHGATE_RESULT_PER_API":           "results.per_api",
	"PUSHGATE_RESULT_MAX_WAIT":          "results.max_wait",
	"PUSHGATE_SYNC_TARGETS":             "sync.targets",
	"PUSHGATE_SYNC_DEFAULT_TIMEOUT":     "sync.default_timeout",
	"PUSHGATE_SYNC_MAX_TIMEOUT":         "sync.max_timeout",
	"PUSHGATE_NOTIFY_URLS":              "notify.urls",
	"PUSHGATE_NOTIFY_SECRET":            "notify.secret",
	"PUSHGATE_NOTIFY_SCHEDULE":          "notify.schedule",
	"PUSHGATE_NOTIFY_CONNECT_TIMEOUT":   "notify.connect_timeout",
	"PUSHGATE_NOTIFY_READ_TIMEOUT":      "notify.read_timeout",
	"PUSHGATE_NOTIFY_POOL_CORE":         "notify.pool_core",
	"PUSHGATE_NOTIFY_POOL_MAX":          "notify.pool_max",
	"PUSHGATE_NOTIFY_QUEUE_SIZE":        "notify.queue_size",
	"PUSHGATE_NOTIFY_SCAN_PERIOD":       "notify.scan_period",
	"PUSHGATE_NOTIFY_FETCH_SIZE":        "notify.fetch_size",
}

// where says where a setting is set: "config KEY, env VAR".
func where(env string) string {
	if key := yamlKeys[env]; key != "" {
		return "config " + key + ", env " + env
	}
	return env
}
