package internal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/phone"
	"github.com/myelin-im/myelin/internal/testenv"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/sms"
)

// outbox stands in for an SMS provider (a third-party service): it keeps
// what would have been sent.
type outbox struct {
	mu   sync.Mutex
	sent []sms.Message
	fail error
}

func (o *outbox) Send(_ context.Context, m sms.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.sent = append(o.sent, m)
	return nil
}

func (o *outbox) last(t *testing.T) sms.Message {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.sent) == 0 {
		t.Fatal("no message was sent")
	}
	return o.sent[len(o.sent)-1]
}

func (o *outbox) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.sent)
}

// clock is a settable time for the user API.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// withCaches runs fn on a user API over the in-memory cache and, when
// configured, over Redis.
func withCaches(t *testing.T, fn func(t *testing.T, u *UserAPI, box *outbox, clk *clock)) {
	caches := map[string]func(t *testing.T) cache.Cache{
		"memory": func(*testing.T) cache.Cache { return cache.NewMemory(cache.MemoryOptions{}, nil) },
		"redis": func(t *testing.T) cache.Cache {
			return redisCache(t, fmt.Sprintf("test-msisdn-%d:", time.Now().UnixNano()))
		},
	}
	for name, mk := range caches {
		t.Run(name, func(t *testing.T) {
			u := testAPI(t)
			u.cache = mk(t)
			box := &outbox{}
			u.msisdn = MsisdnOptions{Sender: box, SendsPerNumber: 3, SendsPerIP: 5}
			u.msisdn.defaults()
			// Start the clock on a window boundary so the send limits'
			// windows are predictable; Redis expiry still runs on real time.
			clk := &clock{now: time.Now().Truncate(time.Hour)}
			u.SetClock(clk.Now)
			fn(t, u, box, clk)
		})
	}
}

func mustNumber(t *testing.T, n string) phone.Number {
	t.Helper()
	p, err := phone.Parse("CN", n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func request(u *UserAPI, purpose api.MsisdnPurpose, secret string, n phone.Number, attempt int64, ip string) (*api.MsisdnSession, error) {
	return u.RequestMsisdnToken(context.Background(), api.MsisdnTokenRequest{
		Purpose: purpose, ClientSecret: secret, Number: n, SendAttempt: attempt, IP: ip,
	})
}

func TestMsisdnVerify(t *testing.T) {
	withCaches(t, func(t *testing.T, u *UserAPI, box *outbox, _ *clock) {
		ctx := context.Background()
		n := mustNumber(t, "13800138000")
		s, err := request(u, api.MsisdnRegister, "secret", n, 1, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		m := box.last(t)
		if m.To != "+8613800138000" || len(m.Code) != 6 || strings.Trim(m.Code, "0123456789") != "" ||
			!strings.Contains(m.Body, m.Code) {
			t.Fatalf("sent %+v", m)
		}
		if again, err := request(u, api.MsisdnRegister, "secret", n, 1, "10.0.0.1"); err != nil || again.SID != s.SID || box.count() != 1 {
			t.Fatalf("a repeated send_attempt must return the same session and send nothing: %+v %v, %d sent", again, err, box.count())
		}
		if _, err := u.ValidatedMsisdn(ctx, s.SID, "secret", api.MsisdnRegister); !errors.Is(err, api.ErrSessionNotValidated) {
			t.Errorf("before the code: %v", err)
		}
		if err := u.SubmitMsisdnToken(ctx, s.SID, "wrong secret", m.Code); !errors.Is(err, api.ErrNoValidSession) {
			t.Errorf("wrong client secret: %v", err)
		}
		if err := u.SubmitMsisdnToken(ctx, s.SID, "secret", m.Code); err != nil {
			t.Fatal(err)
		}
		got, err := u.ValidatedMsisdn(ctx, s.SID, "secret", api.MsisdnRegister)
		if err != nil || got != "8613800138000" {
			t.Fatalf("validated number = %q, %v", got, err)
		}
		if _, err := u.ValidatedMsisdn(ctx, s.SID, "secret", api.MsisdnLogin); !errors.Is(err, api.ErrNoValidSession) {
			t.Errorf("a register session used to log in: %v", err)
		}
		if err := u.EndMsisdnSession(ctx, s.SID); err != nil {
			t.Fatal(err)
		}
		if err := u.SubmitMsisdnToken(ctx, s.SID, "secret", m.Code); !errors.Is(err, api.ErrNoValidSession) {
			t.Errorf("a replayed code after the session ended: %v", err)
		}
		if s2, err := request(u, api.MsisdnRegister, "secret", n, 2, "10.0.0.1"); err != nil || s2.SID == s.SID || box.count() != 2 {
			t.Errorf("a new send_attempt must send a new code in a new session: %+v %v", s2, err)
		}
	})
}

func TestMsisdnWrongCodes(t *testing.T) {
	withCaches(t, func(t *testing.T, u *UserAPI, box *outbox, _ *clock) {
		ctx := context.Background()
		s, err := request(u, api.MsisdnRegister, "secret", mustNumber(t, "13800138001"), 1, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		code := box.last(t).Code
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		for i := 0; i < 5; i++ {
			if err := u.SubmitMsisdnToken(ctx, s.SID, "secret", wrong); !errors.Is(err, api.ErrTokenIncorrect) {
				t.Fatalf("wrong code %d: %v", i+1, err)
			}
		}
		if err := u.SubmitMsisdnToken(ctx, s.SID, "secret", code); !errors.Is(err, api.ErrSessionExpired) {
			t.Fatalf("the right code after five wrong ones: %v, want the session dead", err)
		}
	})
}

func TestMsisdnCodeExpires(t *testing.T) {
	withCaches(t, func(t *testing.T, u *UserAPI, box *outbox, clk *clock) {
		ctx := context.Background()
		s, err := request(u, api.MsisdnRegister, "secret", mustNumber(t, "13800138002"), 1, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		clk.Add(10*time.Minute + time.Second)
		if err := u.SubmitMsisdnToken(ctx, s.SID, "secret", box.last(t).Code); !errors.Is(err, api.ErrSessionExpired) {
			t.Fatalf("a code after 10 minutes: %v", err)
		}
	})
}

func TestMsisdnSendLimits(t *testing.T) {
	withCaches(t, func(t *testing.T, u *UserAPI, _ *outbox, clk *clock) {
		n := mustNumber(t, "13800138003")
		for i := int64(1); i <= 3; i++ {
			if _, err := request(u, api.MsisdnRegister, "secret", n, i, "10.0.0.1"); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		_, err := request(u, api.MsisdnRegister, "secret", n, 4, "10.0.0.1")
		var rl *api.RateLimitedError
		if !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.RetryAfter > time.Hour {
			t.Fatalf("fourth send to one number: %v", err)
		}
		// Other numbers from the same address, up to its own limit (5 in all).
		for i, num := range []string{"13800138004", "13800138005"} {
			if _, err := request(u, api.MsisdnRegister, "s", mustNumber(t, num), 1, "10.0.0.1"); err != nil {
				t.Fatalf("other number %d: %v", i, err)
			}
		}
		if _, err := request(u, api.MsisdnRegister, "s", mustNumber(t, "13800138006"), 1, "10.0.0.1"); !errors.As(err, &rl) {
			t.Fatalf("sixth send from one address: %v", err)
		}
		clk.Add(time.Hour)
		if _, err := request(u, api.MsisdnRegister, "secret", n, 5, "10.0.0.2"); err != nil {
			t.Fatalf("the next window must allow sends again: %v", err)
		}
	})
}

func TestMsisdnNumberState(t *testing.T) {
	withCaches(t, func(t *testing.T, u *UserAPI, box *outbox, _ *clock) {
		ctx := context.Background()
		n := mustNumber(t, "13800138007")
		if _, err := request(u, api.MsisdnLogin, "secret", n, 1, "10.0.0.1"); !errors.Is(err, api.ErrThreepidNotFound) {
			t.Errorf("login code for an unbound number: %v", err)
		}
		if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "phoebe", Msisdn: string(n.MSISDN)}); err != nil {
			t.Fatal(err)
		}
		if _, err := request(u, api.MsisdnRegister, "secret", n, 1, "10.0.0.1"); !errors.Is(err, api.ErrThreepidInUse) {
			t.Errorf("register code for a bound number: %v", err)
		}
		if _, err := request(u, api.MsisdnLogin, "secret", n, 1, "10.0.0.1"); err != nil {
			t.Errorf("login code for a bound number: %v", err)
		}
		if box.count() != 1 {
			t.Errorf("%d messages sent, want 1", box.count())
		}
		_, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "other", Msisdn: string(n.MSISDN)})
		if !errors.Is(err, api.ErrThreepidInUse) {
			t.Errorf("a second account with the number: %v", err)
		}
		if ok, _ := u.LocalpartAvailable(ctx, "other"); !ok {
			t.Error("a refused registration must leave no account behind")
		}
		if err := u.Deactivate(ctx, "phoebe"); err != nil {
			t.Fatal(err)
		}
		if _, err := u.ThreepidOwner(ctx, api.MediumMSISDN, string(n.MSISDN)); !errors.Is(err, api.ErrThreepidNotFound) {
			t.Errorf("deactivation must free the number: %v", err)
		}
	})
}

func TestMsisdnProviderFailure(t *testing.T) {
	withCaches(t, func(t *testing.T, u *UserAPI, box *outbox, _ *clock) {
		box.fail = fmt.Errorf("%w: quota exhausted", sms.ErrProvider)
		_, err := request(u, api.MsisdnRegister, "secret", mustNumber(t, "13800138008"), 1, "10.0.0.1")
		var se *api.SMSError
		if !errors.As(err, &se) || !errors.Is(err, sms.ErrProvider) || !strings.Contains(err.Error(), "quota exhausted") {
			t.Fatalf("provider failure: %v", err)
		}
	})
}

// Two user API processes sharing Redis share sessions: a code asked for on
// one is accepted on the other, and attempts count together.
func TestMsisdnSharedAcrossProcesses(t *testing.T) {
	prefix := fmt.Sprintf("test-msisdn-shared-%d:", time.Now().UnixNano())
	box := &outbox{}
	var apis [2]*UserAPI
	for i := range apis {
		apis[i] = testAPI(t)
		apis[i].cache = redisCache(t, prefix)
		apis[i].msisdn = MsisdnOptions{Sender: box, MaxAttempts: 2}
		apis[i].msisdn.defaults()
	}
	ctx := context.Background()
	s, err := request(apis[0], api.MsisdnRegister, "secret", mustNumber(t, "13800138009"), 1, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := apis[1].SubmitMsisdnToken(ctx, s.SID, "secret", "not-it"); !errors.Is(err, api.ErrTokenIncorrect) {
		t.Fatalf("wrong code on the second process: %v", err)
	}
	if err := apis[0].SubmitMsisdnToken(ctx, s.SID, "secret", box.last(t).Code); err != nil {
		t.Fatalf("right code on the first process, second attempt of two: %v", err)
	}
	if got, err := apis[1].ValidatedMsisdn(ctx, s.SID, "secret", api.MsisdnRegister); err != nil || got != "8613800138009" {
		t.Fatalf("the second process sees the validation: %q %v", got, err)
	}
}

// redisCache is a Redis cache whose keys start with prefix, closed when the
// test ends; the test is skipped without MYELIN_TEST_REDIS_URL.
func redisCache(tb testing.TB, prefix string) cache.Cache {
	tb.Helper()
	c, err := cache.NewRedis(context.Background(), testenv.RedisURL(tb), prefix, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
