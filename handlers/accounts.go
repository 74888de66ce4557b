package handlers

import (
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
	mode   string
	tokens []string     // current, then previous when set
	crypt  [][]*Crypter // [token][key]: current key, then previous; nil without a key
}

// newAccount prepares a; a bad EncodingAESKey leaves that key out (and is
// returned, for the log: configs.Validate refuses it before serving).
func newAccount(a configs.Account) (*account, error) {
	acct := &account{name: a.Name, mode: a.ResolvedMode(), tokens: []string{a.Token}}
	if a.PreviousToken != "" && a.PreviousToken != a.Token {
		acct.tokens = append(acct.tokens, a.PreviousToken)
	}
	var errs []error
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
			c, err := NewCrypter(tok, key, a.AppID)
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
		plain, err = c.Open(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), enc)
		if err == nil {
			return plain, c, j > 0, nil
		}
		if errors.Is(err, ErrMsgSignature) {
			return nil, nil, false, err // the signature does not depend on the key
		}
	}
	return nil, nil, false, err
}

// AccountInfo describes a served account, as /healthz lists them.
type AccountInfo struct {
	Name string `json:"name"`
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
		out = append(out, AccountInfo{Name: a.name, Mode: a.mode, Path: "/wechat/" + a.name, Rotating: rot})
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
