// Package ui is pushgate's web inspector, served at /ui/: a login form that
// keeps the admin token in a server-side session, and pages (events live
// from the feed, one event with its attempts and deliveries, refused
// pushes, deliveries, health, and in development a sample sender) whose
// plain JavaScript calls the admin API through same-origin proxies under
// /ui/api/. Templates and assets are embedded; nothing is fetched from the
// network at run time.
//
// The inspector talks to pushgate only over its HTTP routes, in process:
// a proxied call is the admin route's own handler, with the session's token
// put in the Authorization header, so the browser never sees the token.
package ui

import (
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/fixtures"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// contentSecurityPolicy allows nothing but the inspector's own scripts,
// styles and calls: no inline script, no other origin, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options configure the Inspector.
type Options struct {
	// AdminToken is what the login form must be given (configs AdminToken);
	// empty refuses every login.
	AdminToken string
	// APIToken lets a session read the live feed (GET /v1/stream, an API
	// route); empty makes the events page poll the admin API instead.
	APIToken string
	// Dev adds the "send a sample push" panel, which signs fixtures with
	// WeChatToken. Only for development servers.
	Dev         bool
	WeChatToken string
	// SealPush, when not nil, seals each push of that panel as the default
	// account's safe mode needs, for the given timestamp and nonce: it
	// returns the body to post and the query parameters to add
	// (encrypt_type, msg_signature). Nil posts them in plaintext.
	SealPush func(body []byte, format, timestamp, nonce string) ([]byte, url.Values)
	// SessionTTL is how long a login lasts; 0 means 12 hours.
	SessionTTL time.Duration
	// Handler serves the proxied admin and API calls; nil means the engine
	// Routes is given (it must then be an http.Handler, as *gin.Engine is).
	Handler http.Handler
	// Logger receives errors; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Inspector serves the web inspector. It implements handlers.Feature.
type Inspector struct {
	opts     Options
	sessions *sessions
	logins   *loginLimiter
	pages    map[string]*template.Template
	handler  http.Handler
	samples  []samplePush // the dev panel's fixtures
}

// New returns an Inspector; mount it with Routes.
func New(o Options) *Inspector {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	in := &Inspector{opts: o, sessions: newSessions(o.SessionTTL, o.Now), logins: newLoginLimiter(), pages: map[string]*template.Template{}}
	for _, name := range []string{"login", "events", "event", "rejected", "deliveries", "health", "send"} {
		in.pages[name] = template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	if o.Dev {
		p, err := fixtures.Pushes()
		if err != nil {
			o.Logger.Error("ui: the sample pushes are unreadable", "err", err)
		}
		in.samples = p
	}
	return in
}

// Routes implements handlers.Feature: every route is under /ui on r; the
// api and admin groups are not used (proxied calls carry their own token).
func (in *Inspector) Routes(r, _, _ gin.IRouter) {
	in.handler = in.opts.Handler
	if in.handler == nil {
		h, ok := r.(http.Handler)
		if !ok {
			panic("ui: Routes needs an http.Handler router (a *gin.Engine) or Options.Handler")
		}
		in.handler = h
	}
	r.GET("/ui", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/ui/") })
	g := r.Group("/ui", securityHeaders)
	static, _ := fs.Sub(staticFS, "static")
	g.StaticFS("/static", filesOnly{http.FS(static)})
	g.GET("/login", in.loginForm)
	g.POST("/login", in.login)
	g.POST("/logout", in.logout)

	pages := g.Group("/", in.pageSession)
	pages.GET("/", in.page("events"))
	pages.GET("/events/:id", in.page("event"))
	pages.GET("/rejected", in.page("rejected"))
	pages.GET("/deliveries", in.page("deliveries"))
	pages.GET("/health", in.page("health"))

	api := g.Group("/api", in.apiSession)
	api.GET("/v1/*path", in.forward)
	api.POST("/v1/*path", in.forward)
	if in.opts.Dev {
		pages.GET("/send", in.page("send"))
		api.POST("/send", in.send)
	}
}

// securityHeaders sets the strict CSP and its companions on every /ui
// answer.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Next()
}

// pageData is what every page template reads.
type pageData struct {
	Page    string
	Title   string
	CSRF    string
	Dev     bool
	ID      string
	Error   string
	Samples []string
}

// page renders the shell of a page; its script fills it.
func (in *Inspector) page(name string) gin.HandlerFunc {
	titles := map[string]string{"events": "Events", "event": "Event", "rejected": "Refused pushes",
		"deliveries": "Deliveries", "health": "Health", "send": "Send a sample push"}
	return func(c *gin.Context) {
		s := c.MustGet(sessionKey).(*session)
		d := pageData{Page: name, Title: titles[name], CSRF: s.csrf, Dev: in.opts.Dev, ID: c.Param("id")}
		for _, p := range in.samples {
			d.Samples = append(d.Samples, p.Name)
		}
		in.render(c, http.StatusOK, name, d)
	}
}

func (in *Inspector) render(c *gin.Context, status int, name string, d pageData) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	if err := in.pages[name].ExecuteTemplate(c.Writer, "layout", d); err != nil {
		in.opts.Logger.Error("ui: rendering a page", "page", name, "err", err)
	}
}

// samplePush is a fixture the dev panel can send.
type samplePush = fixtures.Push

// filesOnly serves the files of fs and no directory listing.
type filesOnly struct{ http.FileSystem }

func (f filesOnly) Open(name string) (http.File, error) {
	file, err := f.FileSystem.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err != nil || st.IsDir() {
		file.Close()
		return nil, fs.ErrNotExist
	}
	return file, nil
}
