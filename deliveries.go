package pushgate

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"
)

const deliveriesUsage = `usage:
  pushgate deliveries list [--account NAME] [--status pending|succeeded|dead] [--event-id ID] [--limit N] [--json]
  pushgate deliveries retry ID
both take --server URL (env PUSHGATE_SERVER, default http://127.0.0.1:8080)
and --token TOKEN (env PUSHGATE_ADMIN_TOKEN)`

// listedDelivery is what the table shows of a delivery.
type listedDelivery struct {
	ID            string     `json:"id"`
	EventID       *string    `json:"event_id"`
	URL           string     `json:"url"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	LastStatus    int        `json:"last_status"`
	LastError     string     `json:"last_error"`
}

// runDeliveries runs "pushgate deliveries list|retry" against a running
// server's admin API.
func runDeliveries(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, deliveriesUsage)
		return errors.New("deliveries: list or retry?")
	}
	switch args[0] {
	case "list":
		return runDeliveriesList(ctx, args[1:], stdout, stderr)
	case "retry":
		return runDeliveriesRetry(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, deliveriesUsage)
		return nil
	}
	fmt.Fprintln(stderr, deliveriesUsage)
	return fmt.Errorf("deliveries: unknown subcommand %q", args[0])
}

func runDeliveriesList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("deliveries list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := clientFlags(fs)
	account := fs.String("account", "", "only the deliveries of this account's events")
	status := fs.String("status", "", "only deliveries in this status: pending, succeeded or dead")
	eventID := fs.String("event-id", "", "only the deliveries of this event")
	limit := fs.Int("limit", 50, "deliveries to show (the newest first)")
	asJSON := fs.Bool("json", false, "print JSON, one delivery per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("deliveries list: unexpected argument %q", fs.Arg(0))
	}
	q := url.Values{}
	if *account != "" {
		q.Set("account", *account)
	}
	if *status != "" {
		q.Set("status", *status)
	}
	if *eventID != "" {
		q.Set("event_id", *eventID)
	}
	rows, err := client.list(ctx, "/v1/deliveries", q, "deliveries", *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		printJSONLines(stdout, rows)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEVENT\tSTATUS\tATTEMPTS\tNEXT_ATTEMPT\tLAST_STATUS\tURL\tLAST_ERROR")
	for _, r := range rows {
		var d listedDelivery
		if err := json.Unmarshal(r, &d); err != nil {
			return err
		}
		event, next, last := "-", "-", "-"
		if d.EventID != nil {
			event = *d.EventID
		}
		if d.NextAttemptAt != nil {
			next = d.NextAttemptAt.Local().Format(time.DateTime)
		}
		if d.LastStatus != 0 {
			last = strconv.Itoa(d.LastStatus)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", d.ID, event, d.Status, d.Attempts, next, last,
			d.URL, firstLine(d.LastError))
	}
	return tw.Flush()
}

func runDeliveriesRetry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("deliveries retry", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := clientFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	id := fs.Arg(0)
	if fs.NArg() > 0 {
		if err := fs.Parse(fs.Args()[1:]); err != nil { // flags may follow the id
			return err
		}
	}
	if id == "" || fs.NArg() > 0 {
		return errors.New("usage: pushgate deliveries retry ID")
	}
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		return fmt.Errorf("deliveries retry: id must be a number, got %q", id)
	}
	var d listedDelivery
	if err := client.do(ctx, "POST", "/v1/deliveries/"+url.PathEscape(id)+"/retry", nil, &d); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "delivery %s is %s, sending again now (attempt %d)\n", d.ID, d.Status, d.Attempts+1)
	return nil
}
