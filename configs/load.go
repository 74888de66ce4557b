package configs

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// setting is one value that the environment, and maybe a flag, can set.
type setting struct {
	name string // as named in error messages, e.g. "wechat token"
	env  string // PUSHGATE_* variable
	flag string // serve flag without dashes; "" when there is none
	set  func(c *Config, v string) error
}

// settings lists every setting the environment can override, in the order
// of Config's fields. Flags exist for the common ones only.
var settings = []setting{
	{"addr", "PUSHGATE_ADDR", "addr", str(func(c *Config) *string { return &c.Addr })},
	{"public url", "PUSHGATE_PUBLIC_URL", "public-url", str(func(c *Config) *string { return &c.PublicURL })},
	{"body limit", "PUSHGATE_BODY_LIMIT", "body-limit", int64s(func(c *Config) *int64 { return &c.BodyLimit })},
	{"reply budget", "PUSHGATE_REPLY_BUDGET", "", dur(func(c *Config) *time.Duration { return &c.ReplyBudget })},
	{"store wait", "PUSHGATE_STORE_WAIT", "", dur(func(c *Config) *time.Duration { return &c.StoreWait })},
	{"shutdown timeout", "PUSHGATE_SHUTDOWN_TIMEOUT", "", dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{"log level", "PUSHGATE_LOG_LEVEL", "log-level", str(func(c *Config) *string { return &c.LogLevel })},
	{"db driver", "PUSHGATE_DB_DRIVER", "db-driver", str(func(c *Config) *string { return &c.DB.Driver })},
	{"db dsn", "PUSHGATE_DB_DSN", "db-dsn", str(func(c *Config) *string { return &c.DB.DSN })},
	{"db retention", "PUSHGATE_RETENTION", "retention", dur(func(c *Config) *time.Duration { return &c.DB.Retention })},
	{"wechat token", "PUSHGATE_WECHAT_TOKEN", "wechat-token", str(func(c *Config) *string { return &c.WeChat.Token })},
	{"wechat app id", "PUSHGATE_WECHAT_APPID", "wechat-appid", str(func(c *Config) *string { return &c.WeChat.AppID })},
	{"wechat aes key", "PUSHGATE_WECHAT_AES_KEY", "wechat-aes-key", str(func(c *Config) *string { return &c.WeChat.AESKey })},
	{"wechat mode", "PUSHGATE_WECHAT_MODE", "wechat-mode", str(func(c *Config) *string { return &c.WeChat.Mode })},
	{"wechat previous token", "PUSHGATE_WECHAT_PREVIOUS_TOKEN", "", str(func(c *Config) *string { return &c.WeChat.PreviousToken })},
	{"wechat previous aes key", "PUSHGATE_WECHAT_PREVIOUS_AES_KEY", "", str(func(c *Config) *string { return &c.WeChat.PreviousAESKey })},
	{"wechat max skew", "PUSHGATE_WECHAT_MAX_SKEW", "wechat-max-skew", func(c *Config, v string) error {
		d, err := parseDuration(v)
		if strings.TrimSpace(v) == "0" {
			d, err = 0, nil
		}
		if err != nil {
			return err
		}
		c.WeChat.MaxSkew = &d
		return nil
	}},
	{"http max header bytes", "PUSHGATE_HTTP_MAX_HEADER_BYTES", "", ints(func(c *Config) *int { return &c.HTTP.MaxHeaderBytes })},
	{"http read header timeout", "PUSHGATE_HTTP_READ_HEADER_TIMEOUT", "", dur(func(c *Config) *time.Duration { return &c.HTTP.ReadHeaderTimeout })},
	{"http read timeout", "PUSHGATE_HTTP_READ_TIMEOUT", "", dur(func(c *Config) *time.Duration { return &c.HTTP.ReadTimeout })},
	{"http write timeout", "PUSHGATE_HTTP_WRITE_TIMEOUT", "", dur(func(c *Config) *time.Duration { return &c.HTTP.WriteTimeout })},
	{"http idle timeout", "PUSHGATE_HTTP_IDLE_TIMEOUT", "", dur(func(c *Config) *time.Duration { return &c.HTTP.IdleTimeout })},
	{"refused body cap", "PUSHGATE_REFUSED_BODY_CAP", "", int64s(func(c *Config) *int64 { return &c.Refused.BodyCap })},
	{"refused retention", "PUSHGATE_REFUSED_RETENTION", "", dur(func(c *Config) *time.Duration { return &c.Refused.Retention })},
	{"refused total cap", "PUSHGATE_REFUSED_TOTAL_CAP", "", int64s(func(c *Config) *int64 { return &c.Refused.TotalCap })},
	{"refused rate", "PUSHGATE_REFUSED_RATE", "", ints(func(c *Config) *int { return &c.Refused.Rate })},
	{"refused burst", "PUSHGATE_REFUSED_BURST", "", ints(func(c *Config) *int { return &c.Refused.Burst })},
	{"admin token", "PUSHGATE_ADMIN_TOKEN", "admin-token", str(func(c *Config) *string { return &c.AdminToken })},
	{"api token", "PUSHGATE_API_TOKEN", "api-token", str(func(c *Config) *string { return &c.APIToken })},
	{"result validity", "PUSHGATE_RESULT_VALIDITY", "", dur(func(c *Config) *time.Duration { return &c.Results.Validity })},
	{"result per-api validity", "PUSHGATE_RESULT_PER_API", "", setPerAPI},
	{"result max wait", "PUSHGATE_RESULT_MAX_WAIT", "", dur(func(c *Config) *time.Duration { return &c.Results.MaxWait })},
	{"sync targets", "PUSHGATE_SYNC_TARGETS", "sync-targets", setTargets},
	{"sync default timeout", "PUSHGATE_SYNC_DEFAULT_TIMEOUT", "", dur(func(c *Config) *time.Duration { return &c.Sync.DefaultTimeout })},
	{"sync max timeout", "PUSHGATE_SYNC_MAX_TIMEOUT", "", dur(func(c *Config) *time.Duration { return &c.Sync.MaxTimeout })},
	{"notify urls", "PUSHGATE_NOTIFY_URLS", "notify-urls", func(c *Config, v string) error { c.Notify.URLs = splitList(v); return nil }},
	{"notify secret", "PUSHGATE_NOTIFY_SECRET", "notify-secret", str(func(c *Config) *string { return &c.Notify.Secret })},
	{"notify schedule", "PUSHGATE_NOTIFY_SCHEDULE", "notify-schedule", setSchedule},
	{"notify connect timeout", "PUSHGATE_NOTIFY_CONNECT_TIMEOUT", "", dur(func(c *Config) *time.Duration { return &c.Notify.ConnectTimeout })},
	{"notify read timeout", "PUSHGATE_NOTIFY_READ_TIMEOUT", "", dur(func(c *Config) *time.Duration { return &c.Notify.ReadTimeout })},
	{"notify pool core", "PUSHGATE_NOTIFY_POOL_CORE", "", ints(func(c *Config) *int { return &c.Notify.PoolCore })},
	{"notify pool max", "PUSHGATE_NOTIFY_POOL_MAX", "", ints(func(c *Config) *int { return &c.Notify.PoolMax })},
	{"notify queue size", "PUSHGATE_NOTIFY_QUEUE_SIZE", "", ints(func(c *Config) *int { return &c.Notify.QueueSize })},
	{"notify scan period", "PUSHGATE_NOTIFY_SCAN_PERIOD", "", dur(func(c *Config) *time.Duration { return &c.Notify.ScanPeriod })},
	{"notify fetch size", "PUSHGATE_NOTIFY_FETCH_SIZE", "", ints(func(c *Config) *int { return &c.Notify.FetchSize })},
}

// LoadFile decodes the YAML file at path into into, over what into already
// holds; keys the file leaves out keep their value. Durations are strings
// such as "10s" or "24h". A key Config does not know is an error naming it.
// An empty file changes nothing.
func LoadFile(path string, into *Config) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// ApplyEnv overrides c's settings with the PUSHGATE_* variables getenv
// reports non-empty; a nil getenv means an empty environment. List-valued
// variables replace the whole list or map. Every value that does not parse
// is reported, each naming its variable, joined with errors.Join.
func ApplyEnv(c *Config, getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	var errs []error
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			if err := s.set(c, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w (%s)", s.name, err, where(s.env)))
			}
		}
	}
	return errors.Join(errs...)
}

// Load builds the configuration of `pushgate serve` from its command-line
// arguments and environment: defaults < --config FILE < PUSHGATE_* variables
// < flags (only the flags given count). It then fills defaults and validates.
// Every problem found is returned at once; the Config is nil on error. With
// -h or --help the error wraps [flag.ErrHelp]; see [Usage] for the help text.
func Load(args []string, getenv func(string) string) (*Config, error) {
	return LoadFilling(args, getenv, nil)
}

// LoadFilling is Load with fill (when not nil) run on the settings the file,
// the environment and the flags gave, before the defaults and the
// validation: what fill sets counts only where none of those set anything.
// serve --dev gives a random token there to each token left empty.
func LoadFilling(args []string, getenv func(string) string, fill func(*Config)) (*Config, error) {
	fs := newFlagSet(io.Discard)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	c := &Config{}
	if path := fs.Lookup("config").Value.String(); path != "" {
		if err := LoadFile(path, c); err != nil {
			return nil, err
		}
	}
	var errs []error
	if err := ApplyEnv(c, getenv); err != nil {
		errs = append(errs, err)
	}
	fs.Visit(func(f *flag.Flag) {
		for _, s := range settings {
			if s.flag == f.Name {
				if err := s.set(c, f.Value.String()); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w (--%s)", s.name, err, s.flag))
				}
			}
		}
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if fill != nil {
		fill(c)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Usage writes the help of `pushgate serve` to w: its flags, then every
// environment variable Load reads.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: pushgate serve [flags]\n\nFlags (override the environment):")
	newFlagSet(w).PrintDefaults()
	fmt.Fprintln(w, "\nEnvironment (overrides the --config file):")
	for _, s := range settings {
		fmt.Fprintln(w, envLine(s))
	}
}

// newFlagSet returns the serve flag set; every flag is a plain string,
// parsed by its setting once Load applies it.
func newFlagSet(out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.String("config", "", "YAML config `file` (see configs/pushgate.yaml)")
	for _, s := range settings {
		if s.flag != "" {
			fs.String(s.flag, "", describe(s))
		}
	}
	return fs
}

// str sets a string field.
func str(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = v; return nil }
}

// dur sets a time.Duration field from a string such as "90s".
func dur(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		*field(c) = d
		return nil
	}
}

// ints sets an int field.
func ints(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		*field(c) = n
		return nil
	}
}

// int64s sets an int64 field.
func int64s(field func(*Config) *int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		*field(c) = n
		return nil
	}
}

// parseDuration parses v like time.ParseDuration, with a shorter error.
func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 90s or 2h", v)
	}
	return d, nil
}

// splitList splits a comma-separated list, trimming blanks and dropping
// empty items.
func splitList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// parsePairs parses "k=v,k=v". Each key must be non-empty and unique.
func parsePairs(v string) (map[string]string, error) {
	out := make(map[string]string)
	for _, item := range splitList(v) {
		k, val, ok := strings.Cut(item, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", item)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("key %q is given twice", k)
		}
		out[k] = val
	}
	return out, nil
}

// setTargets sets Sync.Targets from "42=http://h/p,43=http://h/q".
func setTargets(c *Config, v string) error {
	m, err := parsePairs(v)
	if err != nil {
		return err
	}
	c.Sync.Targets = m
	return nil
}

// setPerAPI sets Results.PerAPI from "name=2h,other=30m".
func setPerAPI(c *Config, v string) error {
	pairs, err := parsePairs(v)
	if err != nil {
		return err
	}
	m := make(map[string]time.Duration, len(pairs))
	for k, s := range pairs {
		if m[k], err = parseDuration(s); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	c.Results.PerAPI = m
	return nil
}

// setSchedule sets Notify.Schedule from "2m,10m,1h".
func setSchedule(c *Config, v string) error {
	items := splitList(v)
	if len(items) == 0 {
		return errors.New("lists no duration")
	}
	sched := make([]time.Duration, len(items))
	for i, s := range items {
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		sched[i] = d
	}
	c.Notify.Schedule = sched
	return nil
}
