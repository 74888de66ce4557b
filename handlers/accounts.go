package handlers

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/configs"
)

// account is one configured WeChat account as the receiver uses it: its
// tokens and the Crypters of every (token, key) pair, current ones first.
type account struct {
	name   string
	kind   string // configs.KindWeChat, KindOpenPlatform or KindWeCom
	mode   string
	tokens []string     // current, then previous when set
	crypt  [][]*Crypter // [token][key]: current key, then previous; nil without a key
	// receiveIDs, when set (Open Platform: the component app id; WeCom:
	// the corp or suite ids), are the ids a sealed push may be sealed for;
	// replies are sealed for the first. nil: the Crypter checks the app id.
	receiveIDs []string
}

// newAccount prepares a; a bad EncodingAESKey leaves that key out (and is
// returned, for the log: configs.Validate refuses it before serving).
func newAccount(a configs.Account) (*account, error) {
	var errs []error
	acct := &account{name: a.Name, kind: a.ResolvedKind(), mode: a.ResolvedMode(), tokens: []string{a.Token}}
	sealFor := a.AppID
	switch acct.kind {
	case configs.KindOpenPlatform:
		acct.receiveIDs = []string{a.AppID}
	case configs.KindWeCom:
		acct.receiveIDs = slices.Clone(a.ReceiveID)
		if len(acct.receiveIDs) == 0 {
			errs = append(errs, fmt.Errorf("account %s: a wecom account needs receive_id", a.Name))
			acct.receiveIDs = []string{""}
		}
		sealFor = acct.receiveIDs[0]
	}
	if a.PreviousToken != "" && a.PreviousToken != a.Token {
		acct.tokens = append(acct.tokens, a.PreviousToken)
	}
	keys := []string{a.AESKey}
	if a.PreviousAESKey != "" && a.PreviousAESKey != a.AESKey {
		keys = append(keys, a.PreviousAESKey)
	}
	acct.crypt = make([][]*Crypter, len(acct.tokens))
	for i, tok := range acct.tokens {
		acct.crypt[i] = make([]*Crypter, len(keys))
		for j, key := range keys {
			if key == "" {
				continue
			}
			c, err := NewCrypter(tok, key, sealFor)
			if err != nil {
				if i == 0 {
					errs = append(errs, fmt.Errorf("account %s: %s EncodingAESKey: %w", a.Name, [2]string{"current", "previous"}[j], err))
				}
				continue
			}
			acct.crypt[i][j] = c
		}
	}
	return acct, errors.Join(errs...)
}

// hasKey reports whether the account can open sealed pushes.
func (a *account) hasKey() bool {
	return slices.ContainsFunc(a.crypt[0], func(c *Crypter) bool { return c != nil })
}

// verify checks the URL signature with each token; it returns the index of
// the token that verified it (0 current, 1 previous), or -1.
func (a *account) verify(signature, timestamp, nonce string) int {
	for i, tok := range a.tokens {
		if validSignature(tok, signature, timestamp, nonce) {
			return i
		}
	}
	return -1
}

// open opens a sealed push with the crypters of the token that signed it,
// current key first. It returns the plaintext, the crypter that opened it
// (to seal the reply with) and whether that was the previous key.
func (a *account) open(token int, q url.Values, enc string) (plain []byte, c *Crypter, previous bool, err error) {
	err = fmt.Errorf("%w: no EncodingAESKey", ErrDecrypt)
	for j, c := range a.crypt[token] {
		if c == nil {
			continue
		}
		var e error
		plain, e = a.openWith(c, q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), enc)
		if e == nil {
			return plain, c, j > 0, nil
		}
		if errors.Is(e, ErrMsgSignature) {
			return nil, nil, false, e // the signature does not depend on the key
		}
		if !errors.Is(err, ErrReceiveID) { // a foreign receive id says the key was right
			err = e
		}
	}
	return nil, nil, false, err
}

// openWith opens enc with c, checking the id it was sealed for: one of
// the account's receive ids when it has them, else the Crypter's app id.
func (a *account) openWith(c *Crypter, msgSignature, timestamp, nonce, enc string) ([]byte, error) {
	if a.receiveIDs == nil {
		return c.Open(msgSignature, timestamp, nonce, enc)
	}
	plain, id, err := c.decrypt(msgSignature, timestamp, nonce, enc)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(a.receiveIDs, id) {
		return nil, fmt.Errorf("%w: %w: sealed for %q, not for this account (%s)", ErrDecrypt, ErrReceiveID, id, a.receiveIDField())
	}
	return plain, nil
}

// receiveIDField names the setting that holds the account's receive ids.
func (a *account) receiveIDField() string {
	if a.kind == configs.KindOpenPlatform {
		return "its app_id, the component app id"
	}
	return "its receive_id"
}

// msgToken returns the index of the token (0 current, 1 previous) whose
// msg_signature over enc the query carries, or -1. Open Platform and WeCom
// accounts are verified so: by msg_signature, not by signature.
func (a *account) msgToken(q url.Values, enc string) int {
	sig := q.Get("msg_signature")
	for i, tok := range a.tokens {
		want := MsgSignature(tok, q.Get("timestamp"), q.Get("nonce"), enc)
		if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) == 1 {
			return i
		}
	}
	return -1
}

// bySignature reports whether the account's pushes are verified by the
// URL's signature (wechat accounts), rather than by msg_signature alone.
func (a *account) bySignature() bool { return a.kind == configs.KindWeChat }

// AccountInfo describes a served account, as /healthz lists them.
type AccountInfo struct {
	Name string `json:"name"`
	// Kind is wechat, open_platform or wecom.
	Kind string `json:"kind"`
	// Mode is its safe-mode policy: plain, compat or safe.
	Mode string `json:"mode"`
	// Path is its push route.
	Path string `json:"path"`
	// Rotating is true while a previous token or key is still accepted.
	Rotating bool `json:"rotating,omitempty"`
}

// Accounts lists the accounts the server serves, in configuration order.
func (s *Server) Accounts() []AccountInfo {
	out := make([]AccountInfo, 0, len(s.accountList))
	for _, a := range s.accountList {
		rot := len(a.tokens) > 1 || len(a.crypt[0]) > 1
		out = append(out, AccountInfo{Name: a.name, Kind: a.kind, Mode: a.mode, Path: "/wechat/" + a.name, Rotating: rot})
	}
	return out
}

// accountOf returns the account a /wechat route names: the path's
// {account}, or the default one on /wechat. nil: unknown, answered 404.
func (s *Server) accountOf(c *gin.Context) *account {
	name := accountName(c)
	a := s.accounts[name]
	if a == nil {
		s.metrics.pushes.inc("unknown_account")
		plainError(c, http.StatusNotFound, fmt.Sprintf("unknown account %q", name))
	}
	return a
}

// accountName is the account a /wechat route names.
func accountName(c *gin.Context) string {
	if name := c.Param("account"); name != "" {
		return name
	}
	return configs.DefaultAccount
}

// nonceKey is what makes a signed URL single-use within the freshness
// window: its timestamp, account and nonce, stored unique with the event
// (models.NewEvent.NonceKey). "" when the window is off. The timestamp has
// passed fresh, so it is decimal digits.
func (s *Server) nonceKey(acct *account, q url.Values) string {
	if s.maxSkew <= 0 {
		return ""
	}
	return strings.TrimSpace(q.Get("timestamp")) + ":" + acct.name + ":" + q.Get("nonce")
}

// fresh checks the push's timestamp against the freshness window.
func (s *Server) fresh(timestamp string) bool {
	if s.maxSkew <= 0 {
		return true
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(timestamp), 10, 64)
	if err != nil {
		return false
	}
	d := s.now().Sub(time.Unix(ts, 0))
	return d <= s.maxSkew && d >= -s.maxSkew
}
