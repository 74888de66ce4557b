package pushgate

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// filterFlags are the event filters shared by events list and replay.
type filterFlags map[string]*string

func addFilterFlags(fs *flag.FlagSet) filterFlags {
	f := filterFlags{}
	for _, name := range []string{"account", "authorizer_appid", "event", "msg_type", "from_user", "to_user", "event_key", "request_id", "status", "since", "until"} {
		f[name] = fs.String(strings.ReplaceAll(name, "_", "-"), "", "filter: "+name)
	}
	return f
}

func (f filterFlags) query() url.Values {
	q := url.Values{}
	for k, v := range f {
		if *v != "" {
			q.Set(k, *v)
		}
	}
	return q
}

type listedEvent struct {
	ID         string    `json:"id"`
	Account    string    `json:"account"`
	Kind       string    `json:"kind"`
	Status     string    `json:"status"`
	FromUser   string    `json:"from_user"`
	EventKey   string    `json:"event_key"`
	Attempts   int       `json:"attempts"`
	Duplicates int       `json:"duplicates"`
	ReceivedAt time.Time `json:"received_at"`
	LastError  string    `json:"last_error"`
}

func runEventsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("events list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := clientFlags(fs)
	filters := addFilterFlags(fs)
	limit := fs.Int("limit", 50, "events to show (the newest first)")
	asJSON := fs.Bool("json", false, "print JSON, one event per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rows, err := client.list(ctx, "/v1/events", filters.query(), "events", *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		printJSONLines(stdout, rows)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tACCOUNT\tKIND\tSTATUS\tFROM\tEVENT_KEY\tATTEMPTS\tDUPS\tRECEIVED\tLAST_ERROR")
	for _, r := range rows {
		var e listedEvent
		if err := json.Unmarshal(r, &e); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", e.ID, e.Account, e.Kind, e.Status, e.FromUser, e.EventKey,
			e.Attempts, e.Duplicates, e.ReceivedAt.Local().Format(time.DateTime), firstLine(e.LastError))
	}
	return tw.Flush()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// runReplay replays one event (--id) or every event matching the filters,
// oldest first, drawing a progress bar.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := clientFlags(fs)
	filters := addFilterFlags(fs)
	id := fs.String("id", "", "replay this event only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id != "" {
		var out json.RawMessage
		if err := client.do(ctx, "POST", "/v1/events/"+url.PathEscape(*id)+"/replay", nil, &out); err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(out))
		return nil
	}
	q := filters.query()
	if len(q) == 0 {
		return errors.New("replay needs --id or at least one filter (e.g. --status failed)")
	}
	// The server replays the matching events in batches and answers a line
	// of counts after each: the bar follows them.
	body := map[string]string{}
	for k := range q {
		body[k] = q.Get(k)
	}
	var sum struct {
		Matched, Done, Handled, Failed, Busy int
		Error                                string
	}
	var bar *progress
	err := client.stream(ctx, "POST", "/v1/replay", body, func(line []byte) error {
		sum.Error = ""
		if err := json.Unmarshal(line, &sum); err != nil {
			return fmt.Errorf("replay: reading the server's progress %q: %w", line, err)
		}
		if sum.Error != "" {
			return errors.New("replay: " + sum.Error)
		}
		if bar == nil {
			bar = &progress{w: stderr, total: sum.Matched}
		}
		bar.to(sum.Done)
		return nil
	})
	if bar != nil {
		bar.done()
	}
	if err != nil {
		return err
	}
	if bar == nil || sum.Done < sum.Matched {
		return fmt.Errorf("replay: the server's answer ended after %d of %d events (handled %d, failed %d, busy %d)",
			sum.Done, sum.Matched, sum.Handled, sum.Failed, sum.Busy)
	}
	fmt.Fprintf(stdout, "matched %d, handled %d, failed %d, busy %d\n", sum.Matched, sum.Handled, sum.Failed, sum.Busy)
	return nil
}

// progress draws "[=====     ] n/total" on one line.
type progress struct {
	w     io.Writer
	total int
	n     int
}

func (p *progress) step() { p.to(p.n + 1) }

// to draws the bar at n (a server's count of done, which may skip ahead:
// it reports after each batch).
func (p *progress) to(n int) {
	p.n = n
	const width = 30
	filled := width
	if p.total > 0 {
		filled = p.n * width / p.total
	}
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.n, p.total)
}

func (p *progress) done() {
	if p.total > 0 {
		fmt.Fprintln(p.w)
	}
}
