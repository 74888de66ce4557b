package pushgate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/fixtures"
	"github.com/pushgate/pushgate/handlers"
)

// runSend posts signed pushes to a server: the named fixtures (all of them
// when none is named) or files, for one account, each signed with the
// current time and its own nonce, and sealed when the account is in safe
// or compat mode. For an open_platform account, Open Platform events go to
// its authorization event URL and the rest to its message URL for the
// --authorizer app id; for a wecom account, all fixtures are WeCom's
// (those named "~wecom" and WeCom's own kinds); both are always sealed and
// verified by msg_signature only.
func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr("PUSHGATE_SERVER", "http://127.0.0.1:8080"), "pushgate's base URL (env PUSHGATE_SERVER)")
	token := fs.String("token", "", "WeChat token to sign with (default: the account's, from --config and PUSHGATE_WECHAT_*)")
	account := fs.String("account", configs.DefaultAccount, "account to post for: /wechat/NAME, signed (and sealed) with its credentials")
	configPath := fs.String("config", "", "YAML config `file` whose accounts list holds the account")
	authorizer := fs.String("authorizer", "wxf8b4f85f3a794e77", "for an open_platform account: the authorizer `appid` whose message URL (/wechat/NAME/APPID) takes the pushes that are not Open Platform events")
	if err := fs.Parse(args); err != nil {
		return err
	}
	acct, err := sendAccount(*configPath, *account, *token)
	if err != nil {
		return err
	}
	kind := acct.ResolvedKind()
	var sealer *handlers.Crypter
	if acct.AESKey != "" && acct.Mode != configs.ModePlain {
		sealFor := acct.AppID
		if kind == configs.KindWeCom && len(acct.ReceiveID) > 0 {
			sealFor = acct.ReceiveID[0]
		}
		if sealer, err = handlers.NewCrypter(acct.Token, acct.AESKey, sealFor); err != nil {
			return fmt.Errorf("account %s: %w", acct.Name, err)
		}
	}
	path := "/wechat"
	if acct.Name != configs.DefaultAccount {
		path += "/" + acct.Name
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
			if kind == configs.KindWeCom && !isWeComFixture(p) {
				continue
			}
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
		q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {handlers.Signature(acct.Token, ts, nonce)}}
		if kind == configs.KindWeCom {
			q.Del("signature") // WeCom signs with msg_signature only
		}
		body := it.body
		if sealer != nil {
			var enc string
			body, enc = sealer.SealPush(it.body, "")
			if it.format == "json" { // a JSON push travels in a JSON envelope
				body, _ = json.Marshal(map[string]string{"ToUserName": "", "Encrypt": enc})
			}
			if kind != configs.KindWeCom {
				q.Set("encrypt_type", "aes")
			}
			q.Set("msg_signature", handlers.MsgSignature(acct.Token, ts, nonce, enc))
		}
		route := path
		if kind == configs.KindOpenPlatform && !isComponentPush(it.body, it.format) {
			route += "/" + *authorizer
		}
		req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(*server, "/")+route+"?"+q.Encode(), bytes.NewReader(body))
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

// weComKinds are the kinds only WeCom sends.
var weComKinds = []string{"event.change_contact", "event.change_external_contact", "event.enter_agent"}

// isWeComFixture reports whether p is a WeCom sample: a "~wecom" variant,
// or a kind only WeCom sends.
func isWeComFixture(p fixtures.Push) bool {
	return strings.HasSuffix(p.Name, "~wecom") || slices.Contains(weComKinds, p.Kind)
}

// isComponentPush reports whether body is an Open Platform event (an
// InfoType and no MsgType), which an open_platform account takes on its
// authorization event URL; anything undecodable goes there too.
func isComponentPush(body []byte, format string) bool {
	e, err := events.Decode(body, events.ParseFormat(format))
	return err != nil || events.IsComponent(e)
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

// sendAccount finds the account to send for: in the config file's
// accounts list or, for "default", the wechat settings, both overridden by
// the PUSHGATE_WECHAT_* environment; token, when given, signs instead of
// the account's token.
func sendAccount(configPath, name, token string) (configs.Account, error) {
	cfg := &configs.Config{}
	if configPath != "" {
		if err := configs.LoadFile(configPath, cfg); err != nil {
			return configs.Account{}, err
		}
	}
	if err := configs.ApplyEnv(cfg, os.Getenv); err != nil {
		return configs.Account{}, err
	}
	if token != "" && name == configs.DefaultAccount {
		cfg.WeChat.Token = token
	}
	acct, ok := cfg.Account(name)
	switch {
	case !ok && token != "":
		acct = configs.Account{Name: name, Token: token, Mode: configs.ModePlain}
	case !ok && name == configs.DefaultAccount:
		return acct, errors.New("send needs the WeChat token: --token, PUSHGATE_WECHAT_TOKEN or wechat.token in --config")
	case !ok:
		return acct, fmt.Errorf("account %q is not configured (accounts in --config)", name)
	}
	if token != "" {
		acct.Token = token
	}
	return acct, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
