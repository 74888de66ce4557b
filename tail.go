package pushgate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// tailBackoffMax caps the wait before tail reconnects.
const tailBackoffMax = 10 * time.Second

// runTail follows GET /v1/stream and prints one line per event (or its JSON
// with --json) until ctx ends. When the stream breaks (the server restarts,
// or closes a slow consumer) it reconnects after the last event printed,
// so no event is skipped or printed twice. An answer reconnecting would not
// change (401 for a wrong token, 400 for a bad filter) ends it with an error.
func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := clientFlags(fs)
	fs.StringVar(&client.token, "api-token", os.Getenv("PUSHGATE_API_TOKEN"), "API bearer token (env PUSHGATE_API_TOKEN)")
	filters := addFilterFlags(fs)
	after := fs.String("after", "", "start after this event id, 0 for every stored event (default: only new events)")
	asJSON := fs.Bool("json", false, "print each event's JSON on one line")
	raw := fs.Bool("raw", false, "include the raw body in the JSON")
	fs.Lookup("token").Usage = "the same as --api-token (tail reads an API route)"
	if err := fs.Parse(args); err != nil {
		return err
	}
	if client.token == "" {
		return errors.New("tail needs the API token: --api-token or PUSHGATE_API_TOKEN")
	}
	q := filters.query()
	if *raw {
		q.Set("raw", "1")
	}
	cursor := *after
	if cursor == "" {
		cursor = "now" // only what comes next; the first event gives the cursor
	}
	out := bufio.NewWriter(stdout)
	backoff := 100 * time.Millisecond
	for {
		n, err := tailOnce(ctx, client, q.Encode(), &cursor, out, *asJSON)
		if ctx.Err() != nil {
			return nil
		}
		var refused *tailRefused
		if errors.As(err, &refused) { // reconnecting would get the same answer
			return err
		}
		if n > 0 {
			backoff = 100 * time.Millisecond
		}
		fmt.Fprintf(stderr, "pushgate tail: %v; reconnecting after %s in %s\n", err, cursor, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, tailBackoffMax)
	}
}

// tailOnce follows one connection of the stream, printing each event and
// advancing cursor, until it breaks; it returns how many events it printed.
func tailOnce(ctx context.Context, c *adminClient, query string, cursor *string, out *bufio.Writer, asJSON bool) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(c.server, "/")+"/v1/stream?"+query, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Last-Event-ID", *cursor)
	resp, err := (&http.Client{}).Do(req) // no timeout: the stream lasts
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		err := fmt.Errorf("GET /v1/stream: %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return 0, &tailRefused{fmt.Errorf("%w (tail needs the API token: --api-token or PUSHGATE_API_TOKEN)", err)}
		case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
			return 0, &tailRefused{err}
		}
		return 0, err
	}
	r := bufio.NewReader(resp.Body)
	n := 0
	var id string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return n, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, ": slow consumer"), strings.HasPrefix(line, ": server shutting down"):
			return n, errors.New(strings.TrimPrefix(line, ": "))
		case strings.HasPrefix(line, "data: "):
			data := line[6:]
			if asJSON {
				out.WriteString(data)
				out.WriteByte('\n')
			} else {
				var e listedEvent
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					return n, fmt.Errorf("event %s: %w", id, err)
				}
				fmt.Fprintf(out, "%s  %s  %-24s %-12s from=%s key=%s\n", e.ID, e.ReceivedAt.Local().Format("2006-01-02 15:04:05.000"),
					e.Kind, e.Status, e.FromUser, e.EventKey)
			}
			*cursor = id
			n++
		case line == "" && r.Buffered() == 0: // the end of what arrived
			if err := out.Flush(); err != nil {
				return n, err
			}
		}
	}
}

// tailRefused is an answer of the server that reconnecting would not change
// (a wrong token, a bad filter, no such route): tail stops with it.
type tailRefused struct{ err error }

func (e *tailRefused) Error() string { return e.err.Error() }
func (e *tailRefused) Unwrap() error { return e.err }
