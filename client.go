package pushgate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// adminClient talks to a running server's admin API.
type adminClient struct {
	server string
	token  string
	http   *http.Client
}

// clientFlags adds --server and --token to fs.
func clientFlags(fs *flag.FlagSet) *adminClient {
	c := &adminClient{http: &http.Client{Timeout: 5 * time.Minute}}
	server := os.Getenv("PUSHGATE_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	fs.StringVar(&c.server, "server", server, "pushgate's base URL (env PUSHGATE_SERVER)")
	fs.StringVar(&c.token, "token", os.Getenv("PUSHGATE_ADMIN_TOKEN"), "admin bearer token (env PUSHGATE_ADMIN_TOKEN)")
	return c
}

// do sends a request and decodes a JSON answer into out; a non-2xx answer
// is an error carrying the server's {"error"} message.
// statusError is adminClient.do's error for an answer that is not 2xx.
type statusError struct {
	method, path string
	status       int
	msg          string // the JSON error's text, else the body
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.msg)
}

// hasStatus reports whether err is a statusError with status.
func hasStatus(err error, status int) bool {
	var se *statusError
	return errors.As(err, &se) && se.status == status
}

func (c *adminClient) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.server, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		se := &statusError{method: method, path: path, status: resp.StatusCode, msg: string(bytes.TrimSpace(raw))}
		var e struct{ Error string }
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			se.msg = e.Error
		}
		return se
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// stream sends a request asking for application/x-ndjson and calls line
// with each line of a 2xx answer as it arrives, until the body ends or
// line returns an error. It has no overall timeout (the answer may take
// as long as the work it reports on); ctx ends it. A non-2xx answer is
// an error as with do.
func (c *adminClient) stream(ctx context.Context, method, path string, body any, line func([]byte) error) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.server, "/")+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/x-ndjson")
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		se := &statusError{method: method, path: path, status: resp.StatusCode, msg: string(bytes.TrimSpace(raw))}
		var e struct{ Error string }
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			se.msg = e.Error
		}
		return se
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := line(sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// list pages through a list route whose answer holds its items under key
// and a next_cursor, until limit items (limit <= 0: all of them).
func (c *adminClient) list(ctx context.Context, path string, q url.Values, key string, limit int) ([]json.RawMessage, error) {
	var rows []json.RawMessage
	for limit <= 0 || len(rows) < limit {
		n := 500
		if limit > 0 {
			n = min(n, limit-len(rows))
		}
		q.Set("limit", strconv.Itoa(n))
		var page map[string]json.RawMessage
		if err := c.do(ctx, "GET", path+"?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		var items []json.RawMessage
		if err := json.Unmarshal(page[key], &items); err != nil {
			return nil, fmt.Errorf("GET %s: no %q list in the answer: %w", path, key, err)
		}
		rows = append(rows, items...)
		var next string
		if err := json.Unmarshal(page["next_cursor"], &next); err != nil || next == "" {
			break
		}
		q.Set("cursor", next)
	}
	return rows, nil
}

// printJSONLines writes each row on a line of its own.
func printJSONLines(w io.Writer, rows []json.RawMessage) {
	for _, r := range rows {
		fmt.Fprintln(w, string(r))
	}
}
