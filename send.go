package pushgate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pushgate/pushgate/fixtures"
	"github.com/pushgate/pushgate/handlers"
)

// runSend posts signed pushes to a server: the named fixtures (all of them
// when none is named) or files.
func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr("PUSHGATE_SERVER", "http://127.0.0.1:8080"), "pushgate's base URL (env PUSHGATE_SERVER)")
	token := fs.String("token", os.Getenv("PUSHGATE_WECHAT_TOKEN"), "WeChat token to sign with (env PUSHGATE_WECHAT_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token == "" {
		return fmt.Errorf("send needs the WeChat token: --token or PUSHGATE_WECHAT_TOKEN")
	}
	pushes, err := fixtures.Pushes()
	if err != nil {
		return err
	}
	type item struct {
		name, format string
		body         []byte
	}
	var items []item
	if fs.NArg() == 0 {
		for _, p := range pushes {
			items = append(items, item{p.Name, p.Format, p.Body})
		}
	}
	for _, arg := range fs.Args() {
		found := false
		for _, p := range pushes {
			if p.Name == arg {
				items, found = append(items, item{p.Name, p.Format, p.Body}), true
			}
		}
		if found {
			continue
		}
		body, err := os.ReadFile(arg)
		if err != nil {
			return fmt.Errorf("%q is neither a fixture name nor a readable file: %w", arg, err)
		}
		items = append(items, item{filepath.Base(arg), strings.TrimPrefix(filepath.Ext(arg), "."), body})
	}
	client := &http.Client{Timeout: 10 * time.Second}
	failed, unauthorized := 0, 0
	for _, it := range items {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		nonceBytes := make([]byte, 8)
		_, _ = rand.Read(nonceBytes)
		nonce := hex.EncodeToString(nonceBytes)
		q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {handlers.Signature(*token, ts, nonce)}}
		req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(*server, "/")+"/wechat?"+q.Encode(), bytes.NewReader(it.body))
		if err != nil {
			return err
		}
		ct := "text/xml"
		if it.format == "json" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		fmt.Fprintf(stdout, "%-45s %d %s\n", it.name, resp.StatusCode, bytes.TrimSpace(answer))
		if resp.StatusCode != http.StatusOK {
			failed++
			if resp.StatusCode == http.StatusUnauthorized {
				unauthorized++
			}
		}
	}
	return sendOutcome(len(items), failed, unauthorized)
}

// sendOutcome is send's error when any push failed: every failure counts,
// and a 401 says which token signs pushes.
func sendOutcome(sent, failed, unauthorized int) error {
	if failed == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d of %d pushes failed", failed, sent)
	if unauthorized > 0 {
		msg += fmt.Sprintf("; %d got 401: sign with the server's WeChat token (its PUSHGATE_WECHAT_TOKEN; "+
			"serve --dev prints it as development PUSHGATE_WECHAT_TOKEN=..., not the admin or API token)", unauthorized)
	}
	return errors.New(msg)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
