package configs_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pushgate/pushgate/configs"
)

// TestAccountKindsFromFile: kind and receive_id (one id or a list) load from
// the file; Open Platform and WeCom accounts resolve to safe mode.
func TestAccountKindsFromFile(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `
accounts:
  - name: platform
    kind: open_platform
    token: p-token
    app_id: wx_component
    aes_key: "`+aesKey+`"
  - name: corp
    kind: wecom
    token: c-token
    aes_key: "`+aesKey+`"
    receive_id: ww_corp
  - name: suite
    kind: wecom
    token: s-token
    aes_key: "`+aesKey+`"
    receive_id: [ww_corp, suite_1]
  - name: shop
    token: shop-token
`)
	c, err := configs.Load([]string{"--config", path}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	want := []configs.Account{
		{Name: "platform", Kind: "open_platform", Token: "p-token", AppID: "wx_component", AESKey: aesKey, Mode: "safe"},
		{Name: "corp", Kind: "wecom", Token: "c-token", AESKey: aesKey, Mode: "safe", ReceiveID: configs.StringList{"ww_corp"}},
		{Name: "suite", Kind: "wecom", Token: "s-token", AESKey: aesKey, Mode: "safe", ReceiveID: configs.StringList{"ww_corp", "suite_1"}},
		{Name: "shop", Token: "shop-token", Mode: "plain"},
	}
	if diff := cmp.Diff(want, c.WeChatAccounts()); diff != "" {
		t.Errorf("WeChatAccounts() mismatch (-want +got):\n%s", diff)
	}
	for _, tt := range []struct{ name, kind string }{{"platform", "open_platform"}, {"corp", "wecom"}, {"shop", "wechat"}} {
		if a, _ := c.Account(tt.name); a.ResolvedKind() != tt.kind {
			t.Errorf("Account(%q).ResolvedKind() = %q, want %q", tt.name, a.ResolvedKind(), tt.kind)
		}
	}
}

func TestValidateAccountKinds(t *testing.T) {
	t.Parallel()
	platform := configs.Account{Name: "p", Kind: "open_platform", Token: "t", AppID: "wx_c", AESKey: aesKey}
	corp := configs.Account{Name: "w", Kind: "wecom", Token: "t", AESKey: aesKey, ReceiveID: configs.StringList{"ww1"}}
	with := func(a configs.Account, tune func(*configs.Account)) configs.Account { tune(&a); return a }
	tests := []struct {
		name string
		acct configs.Account
		want string // "" = valid
	}{
		{"open platform", platform, ""},
		{"wecom", corp, ""},
		{"explicit safe", with(corp, func(a *configs.Account) { a.Mode = "safe" }), ""},
		{"bad kind", with(corp, func(a *configs.Account) { a.Kind = "WeCom" }), `kind must be wechat, open_platform or wecom, got "WeCom"`},
		{"platform without key", with(platform, func(a *configs.Account) { a.AESKey = "" }), "kind open_platform needs an aes_key"},
		{"wecom without key", with(corp, func(a *configs.Account) { a.AESKey = "" }), "kind wecom needs an aes_key"},
		{"wecom plain", with(corp, func(a *configs.Account) { a.Mode = "plain" }), `kind wecom is always in safe mode, got mode "plain"`},
		{"platform compat", with(platform, func(a *configs.Account) { a.Mode = "compat" }), "always in safe mode"},
		{"platform without app id", with(platform, func(a *configs.Account) { a.AppID = "" }), "kind open_platform needs app_id"},
		{"wecom without receive id", with(corp, func(a *configs.Account) { a.ReceiveID = nil }), "kind wecom needs receive_id"},
		{"receive id on wechat", configs.Account{Name: "x", Token: "t", ReceiveID: configs.StringList{"a"}}, "receive_id is for wecom accounts only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			c.Accounts = []configs.Account{tt.acct}
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestDefaultFileAccountsExample: the accounts example commented in
// configs/pushgate.yaml (an ordinary account, an Open Platform and a WeCom
// account) loads and validates once its placeholders are filled in.
func TestDefaultFileAccountsExample(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("pushgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, example, ok := strings.Cut(string(raw), "#   accounts:\n")
	example, _, ok2 := strings.Cut(example, "accounts: []")
	if !ok || !ok2 {
		t.Fatal("pushgate.yaml has no commented accounts example before accounts: []")
	}
	var b strings.Builder
	b.WriteString("wechat:\n  token: default-token\naccounts:\n")
	for _, line := range strings.Split(strings.TrimSpace(example), "\n") {
		line = strings.TrimPrefix(line, "#")
		line = strings.Replace(line, `aes_key: "..."`, `aes_key: "`+aesKey+`"`, 1)
		b.WriteString(line + "\n")
	}
	c, err := configs.Load([]string{"--config", writeFile(t, b.String())}, func(string) string { return "" })
	if err != nil {
		t.Fatalf("the example in pushgate.yaml:\n%s\ndoes not load: %v", b.String(), err)
	}
	var kinds []string
	for _, a := range c.WeChatAccounts() {
		kinds = append(kinds, a.Name+":"+a.ResolvedKind()+":"+a.Mode)
	}
	want := []string{"default:wechat:plain", "shop:wechat:safe", "blog:wechat:plain", "platform:open_platform:safe", "corp:wecom:safe"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("accounts of the example (-want +got):\n%s", diff)
	}
}
