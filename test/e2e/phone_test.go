package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/server"
)

// phoneServer runs a server whose SMS go to the log provider's outbox file,
// which the tests read as a phone would.
func phoneServer(t *testing.T, dbURL string, change func(*config.Config)) (*server.Server, string) {
	t.Helper()
	cfg := testConfig(t, dbURL)
	cfg.SMS.OutboxFile = filepath.Join(cfg.Global.DataDir, "sms-outbox.jsonl")
	if change != nil {
		change(cfg)
		if err := cfg.Verify(); err != nil {
			t.Fatal(err)
		}
	}
	return startServer(t, cfg), cfg.SMS.OutboxFile
}

// smsLine is one message of the outbox file.
type smsLine struct {
	To   string `json:"to"`
	Body string `json:"body"`
	Code string `json:"code"`
}

// sms returns every message sent to the number to (E.164 with '+').
func sms(t *testing.T, outbox, to string) []smsLine {
	t.Helper()
	f, err := os.Open(outbox)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []smsLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l smsLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("outbox line %q: %v", sc.Text(), err)
		}
		if l.To == to {
			out = append(out, l)
		}
	}
	return out
}

// lastCode is the code of the last message sent to to.
func lastCode(t *testing.T, outbox, to string) string {
	t.Helper()
	msgs := sms(t, outbox, to)
	if len(msgs) == 0 {
		t.Fatalf("no SMS was sent to %s", to)
	}
	return msgs[len(msgs)-1].Code
}

// codeRequest is a phone requestToken answer.
type codeRequest struct {
	SID       string `json:"sid"`
	MSISDN    string `json:"msisdn"`
	IntlFmt   string `json:"intl_fmt"`
	SubmitURL string `json:"submit_url"`
}

const myelinPath = "/_matrix/client/unstable/im.myelin"

// requestCode asks for a code at path (a v3 path, or under the extension
// prefix when it starts with "/_") with c's client library.
func requestCode(t *testing.T, c *mautrix.Client, path, secret, number string, attempt int) (*codeRequest, error) {
	t.Helper()
	segments := []any{"v3"}
	for _, seg := range strings.Split(path, "/") {
		segments = append(segments, seg)
	}
	url := c.BuildClientURL(segments...)
	if path[0] == '/' {
		url = c.HomeserverURL.String() + path
	}
	var resp codeRequest
	_, err := c.MakeRequest(ctx(t), http.MethodPost, url, map[string]any{
		"client_secret": secret, "country": "CN", "phone_number": number, "send_attempt": attempt,
	}, &resp)
	return &resp, err
}

// submitCode submits a code at the session's submit_url.
func submitCode(t *testing.T, c *mautrix.Client, r *codeRequest, secret, code string) error {
	t.Helper()
	var resp struct {
		Success bool `json:"success"`
	}
	_, err := c.MakeRequest(ctx(t), http.MethodPost, r.SubmitURL, map[string]any{
		"sid": r.SID, "client_secret": secret, "token": code,
	}, &resp)
	if err == nil && !resp.Success {
		t.Fatalf("submit_token answered 200 without success")
	}
	return err
}

// loginBySMS logs in with im.myelin.login.msisdn; code "" means the code
// was already submitted at submit_url.
func loginBySMS(t *testing.T, c *mautrix.Client, r *codeRequest, secret, code string) (*mautrix.RespLogin, error) {
	t.Helper()
	body := map[string]any{"type": "im.myelin.login.msisdn", "sid": r.SID, "client_secret": secret}
	if code != "" {
		body["token"] = code
	}
	var resp mautrix.RespLogin
	_, err := c.MakeRequest(ctx(t), http.MethodPost, c.BuildClientURL("v3", "login"), body, &resp)
	return &resp, err
}

// registerByPhone registers user with a verified number.
func registerByPhone(t *testing.T, srv *server.Server, outbox, user, number, e164 string) *mautrix.Client {
	t.Helper()
	c := newClient(t, srv)
	r, err := requestCode(t, c, "register/msisdn/requestToken", "reg-"+user, number, 1)
	if err != nil {
		t.Fatalf("register requestToken: %v", err)
	}
	if err := submitCode(t, c, r, "reg-"+user, lastCode(t, outbox, e164)); err != nil {
		t.Fatalf("submitting the code: %v", err)
	}
	resp, _, err := c.Register(ctx(t), &mautrix.ReqRegister[any]{
		Username: user, Password: "phone-password",
		Auth: map[string]any{"type": "m.login.msisdn", "threepid_creds": map[string]string{"sid": r.SID, "client_secret": "reg-" + user}},
	})
	if err != nil {
		t.Fatalf("registering with the phone: %v", err)
	}
	c.UserID, c.AccessToken, c.DeviceID = resp.UserID, resp.AccessToken, resp.DeviceID
	return c
}

// threepids lists c's bound numbers.
func threepids(t *testing.T, c *mautrix.Client) []string {
	t.Helper()
	var resp struct {
		Threepids []struct {
			Medium  string `json:"medium"`
			Address string `json:"address"`
		} `json:"threepids"`
	}
	if _, err := c.MakeRequest(ctx(t), http.MethodGet, c.BuildClientURL("v3", "account", "3pid"), nil, &resp); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tp := range resp.Threepids {
		out = append(out, tp.Medium+":"+tp.Address)
	}
	return out
}

func TestPhoneRegisterAndLogin(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv, outbox := phoneServer(t, dbURL, nil)
		anon := newClient(t, srv)
		r, err := requestCode(t, anon, "register/msisdn/requestToken", "s1", "138 0013 8000", 1)
		if err != nil {
			t.Fatal(err)
		}
		wantSubmit := srv.ClientURL() + myelinPath + "/msisdn/submit_token"
		if r.MSISDN != "8613800138000" || r.IntlFmt != "+86 138 0013 8000" || r.SubmitURL != wantSubmit {
			t.Fatalf("requestToken answered %+v", r)
		}
		if again, err := requestCode(t, anon, "register/msisdn/requestToken", "s1", "13800138000", 1); err != nil ||
			again.SID != r.SID || len(sms(t, outbox, "+8613800138000")) != 1 {
			t.Fatalf("a repeated send_attempt must send nothing: %+v %v", again, err)
		}
		phoebe := registerByPhone(t, srv, outbox, "phoebe", "13800138000", "+8613800138000")
		if got := threepids(t, phoebe); len(got) != 1 || got[0] != "msisdn:8613800138000" {
			t.Fatalf("bound numbers %v", got)
		}
		if _, err := requestCode(t, anon, "register/msisdn/requestToken", "s2", "13800138000", 1); err == nil {
			t.Fatal("a bound number must not register again")
		} else {
			wantMatrixError(t, err, 400, "M_THREEPID_IN_USE")
		}

		// Phone and password, with mautrix's m.id.phone identifier.
		pw := newClient(t, srv)
		resp, err := pw.Login(ctx(t), &mautrix.ReqLogin{
			Type:       mautrix.AuthTypePassword,
			Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypePhone, Country: "CN", Phone: "+86 13800138000"},
			Password:   "phone-password",
		})
		if err != nil || resp.UserID != phoebe.UserID {
			t.Fatalf("phone + password login: %+v %v", resp, err)
		}

		// Phone and SMS code, the code given inline.
		r, err = requestCode(t, anon, myelinPath+"/msisdn/login/requestToken", "l1", "13800138000", 1)
		if err != nil {
			t.Fatal(err)
		}
		code := lastCode(t, outbox, "+8613800138000")
		if resp, err := loginBySMS(t, anon, r, "l1", code); err != nil || resp.UserID != phoebe.UserID || resp.AccessToken == "" {
			t.Fatalf("SMS login: %+v %v", resp, err)
		}
		if _, err := loginBySMS(t, anon, r, "l1", code); err == nil {
			t.Fatal("a used code logged in again")
		} else {
			wantMatrixError(t, err, 400, "M_NO_VALID_SESSION")
		}

		// Phone and SMS code, submitted at submit_url first.
		r, err = requestCode(t, anon, myelinPath+"/msisdn/login/requestToken", "l2", "13800138000", 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := loginBySMS(t, anon, r, "wrong-secret", ""); err == nil {
			t.Fatal("a wrong client_secret logged in")
		}
		if err := submitCode(t, anon, r, "l2", lastCode(t, outbox, "+8613800138000")); err != nil {
			t.Fatal(err)
		}
		if resp, err := loginBySMS(t, anon, r, "l2", ""); err != nil || resp.UserID != phoebe.UserID {
			t.Fatalf("SMS login after submit_url: %+v %v", resp, err)
		}
	})
}

func TestPhoneChangeNumber(t *testing.T) {
	srv, outbox := phoneServer(t, "", nil)
	phoebe := registerByPhone(t, srv, outbox, "phoebe", "13800138010", "+8613800138010")
	anon := newClient(t, srv)

	r, err := requestCode(t, phoebe, "account/3pid/msisdn/requestToken", "add", "13900139000", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := submitCode(t, phoebe, r, "add", lastCode(t, outbox, "+8613900139000")); err != nil {
		t.Fatal(err)
	}
	add := map[string]any{"client_secret": "add", "sid": r.SID}
	if _, err := phoebe.MakeRequest(ctx(t), http.MethodPost, phoebe.BuildClientURL("v3", "account", "3pid", "add"), add, nil); err == nil {
		t.Fatal("adding a number without authentication")
	}
	add["auth"] = passwordAuth(phoebe.UserID, "phone-password", "")
	if _, err := phoebe.MakeRequest(ctx(t), http.MethodPost, phoebe.BuildClientURL("v3", "account", "3pid", "add"), add, nil); err != nil {
		t.Fatalf("adding the new number: %v", err)
	}
	del := map[string]any{"medium": "msisdn", "address": "8613800138010"}
	var delResp map[string]string
	delURL := phoebe.BuildClientURL("v3", "account", "3pid", "delete")
	if _, err := phoebe.MakeRequest(ctx(t), http.MethodPost, delURL, del, &delResp); err != nil ||
		delResp["id_server_unbind_result"] != "no-support" {
		t.Fatalf("deleting the old number: %v %v", delResp, err)
	}
	if got := threepids(t, phoebe); len(got) != 1 || got[0] != "msisdn:8613900139000" {
		t.Fatalf("bound numbers after the change: %v", got)
	}
	_, err = requestCode(t, anon, myelinPath+"/msisdn/login/requestToken", "old", "13800138010", 1)
	wantMatrixError(t, err, 400, "M_THREEPID_NOT_FOUND")
	_, err = anon.Login(ctx(t), &mautrix.ReqLogin{
		Type:       mautrix.AuthTypePassword,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypePhone, Country: "CN", Phone: "13800138010"},
		Password:   "phone-password",
	})
	wantMatrixError(t, err, 403, "M_FORBIDDEN")
	r, err = requestCode(t, anon, myelinPath+"/msisdn/login/requestToken", "new", "13900139000", 1)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := loginBySMS(t, anon, r, "new", lastCode(t, outbox, "+8613900139000")); err != nil || resp.UserID != phoebe.UserID {
		t.Fatalf("login with the new number: %+v %v", resp, err)
	}
	// The old number is free for someone else now.
	registerByPhone(t, srv, outbox, "quinn", "13800138010", "+8613800138010")
}

func TestPhoneCodeLimits(t *testing.T) {
	srv, outbox := phoneServer(t, "", func(c *config.Config) {
		c.UserAPI.Msisdn.CodeLifetime = config.Duration(time.Second)
		c.UserAPI.Msisdn.SendsPerNumber = 3
	})
	anon := newClient(t, srv)

	t.Run("five wrong codes kill the session", func(t *testing.T) {
		r, err := requestCode(t, anon, "register/msisdn/requestToken", "w", "13800138020", 1)
		if err != nil {
			t.Fatal(err)
		}
		code := lastCode(t, outbox, "+8613800138020")
		wrong := "000000"
		if code == wrong {
			wrong = "999999"
		}
		for i := 0; i < 5; i++ {
			wantMatrixError(t, submitCode(t, anon, r, "w", wrong), 400, "M_TOKEN_INCORRECT")
		}
		wantMatrixError(t, submitCode(t, anon, r, "w", code), 400, "M_SESSION_EXPIRED")
	})
	t.Run("an expired code is refused", func(t *testing.T) {
		r, err := requestCode(t, anon, "register/msisdn/requestToken", "e", "13800138021", 1)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1200 * time.Millisecond)
		wantMatrixError(t, submitCode(t, anon, r, "e", lastCode(t, outbox, "+8613800138021")), 400, "M_SESSION_EXPIRED")
	})
	t.Run("the send limit", func(t *testing.T) {
		for i := 1; i <= 3; i++ {
			if _, err := requestCode(t, anon, "register/msisdn/requestToken", "l", "13800138022", i); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		_, err := requestCode(t, anon, "register/msisdn/requestToken", "l", "13800138022", 4)
		wantMatrixError(t, err, 429, "M_LIMIT_EXCEEDED")
		var he mautrix.HTTPError
		if errors.As(err, &he); he.RespError == nil || he.RespError.ExtraData["retry_after_ms"] == nil {
			t.Fatalf("429 without retry_after_ms: %v", err)
		}
		if n := len(sms(t, outbox, "+8613800138022")); n != 3 {
			t.Fatalf("%d messages sent, want 3", n)
		}
	})
	t.Run("registration refuses an unverified session", func(t *testing.T) {
		r, err := requestCode(t, anon, "register/msisdn/requestToken", "u", "13800138023", 1)
		if err != nil {
			t.Fatal(err)
		}
		_, uia, err := anon.Register(ctx(t), &mautrix.ReqRegister[any]{
			Username: "ursula", Password: "phone-password",
			Auth: map[string]any{"type": "m.login.msisdn", "threepid_creds": map[string]string{"sid": r.SID, "client_secret": "u"}},
		})
		if err == nil && uia == nil {
			t.Fatal("registered with an unverified number")
		}
		if _, err := anon.RegisterAvailable(ctx(t), "ursula"); err != nil {
			t.Fatalf("a refused registration must create nothing: %v", err)
		}
	})
}
