// Command fedchat drives the two-server federation test that
// scripts/federation-docker.sh sets up: two Myelin containers on a private
// Docker network whose host names are their server names. It talks to them
// with maunium.net/go/mautrix, a real client library, and cuts one of them
// off with `docker network disconnect`.
//
//	fedchat ca DIR
//	    writes a throwaway CA (ca.crt, ca.key: P-256, SEC 1) for the
//	    containers' `myelin issue-cert`
//	fedchat run --network NET --one CONTAINER --two CONTAINER [--messages N] [--hold D] [--wake] [--timeout D]
//	    the scenario; exits 1 with "FAIL: …" when something did not arrive
//
// The scenario: alice registers on one, bob on two; alice creates a room and
// invites @bob:two, bob joins; they exchange a message each way. Then two is
// disconnected from the network, alice sends N messages, and one's
// federation queue must fail to deliver them (read on one's Prometheus
// metrics: at least one failed transaction, N PDUs pending), which shows
// the cut is real. Two is connected again (--hold keeps it off longer, so
// that one's backoff grows), and bob must see all N, in order, exactly
// once: without --wake within the time one's retry schedule allows (bob
// stays silent, nothing else wakes the queue), with --wake within 45 s of
// bob speaking first (one wakes a destination's queue when it hears from
// it). Then bob answers and alice must see his messages, in order, once
// each; a last /sync and bob's /messages must show no second copy.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "ca":
		if len(os.Args) != 3 {
			usage()
		}
		err = writeCA(os.Args[2])
	case "run":
		err = run(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fedchat: FAIL: %v\n", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: fedchat ca DIR | fedchat run --network NET --one CONTAINER --two CONTAINER [--messages N] [--hold D] [--wake] [--timeout D]")
	os.Exit(2)
}

// writeCA writes a CA certificate and key valid for a day. The files are
// world-readable: the CA exists for one test run and is copied into the
// containers, whose root user must read them whoever runs the script.
func writeCA(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "myelin federation-docker test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "ca.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o644)
}

// The queue's retry schedule with Myelin's defaults
// (federationapi/queue.Options): 2 s after the first failure, doubled after
// each further one, at most an hour.
const (
	minBackoff = 2 * time.Second
	maxBackoff = time.Hour
)

// backoffAfter is the wait before the retry that follows the n-th
// consecutive failure.
func backoffAfter(n int) time.Duration {
	wait := minBackoff
	for i := 1; i < n && wait < maxBackoff; i++ {
		wait *= 2
	}
	return min(wait, maxBackoff)
}

// wakeDeadline bounds the delivery of alice's messages under --wake: the
// client's timeout of one federation request (30 s) plus slack.
const wakeDeadline = 45 * time.Second

type scenario struct {
	network, oneC, twoC string
	n                   int
	hold                time.Duration
	wake                bool
	start               time.Time
	runID               string
}

func (s *scenario) logf(format string, args ...any) {
	fmt.Printf("fedchat: [%6.1fs] %s\n", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	s := &scenario{start: time.Now()}
	fs.StringVar(&s.network, "network", "", "the Docker network both containers are on")
	fs.StringVar(&s.oneC, "one", "", "container of server one")
	fs.StringVar(&s.twoC, "two", "", "container of server two (the one cut off)")
	fs.IntVar(&s.n, "messages", 20, "messages alice sends while two is cut off (at most 50: one transaction)")
	fs.BoolVar(&s.wake, "wake", false, fmt.Sprintf("after reconnecting, bob sends first and alice's messages must arrive within %s, whatever one's backoff", wakeDeadline))
	fs.DurationVar(&s.hold, "hold", 0, "keep two cut off this much longer after one's first failed attempt (more retries, longer backoff)")
	timeout := fs.Duration("timeout", 5*time.Minute, "the whole scenario")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if s.network == "" || s.oneC == "" || s.twoC == "" || s.n < 1 || s.n > 50 {
		return errors.New("run needs --network, --one, --two and 1 <= --messages <= 50")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s.runID = hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	err := s.run(ctx)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (the whole scenario's --timeout %s ran out)", err, *timeout)
	}
	return err
}

func (s *scenario) run(ctx context.Context) error {
	oneURL, err := s.clientURL(ctx, s.oneC, "8008/tcp")
	if err != nil {
		return err
	}
	twoURL, err := s.clientURL(ctx, s.twoC, "8008/tcp")
	if err != nil {
		return err
	}
	metricsURL, err := s.clientURL(ctx, s.oneC, "9090/tcp")
	if err != nil {
		return err
	}
	for name, u := range map[string]string{"one": oneURL, "two": twoURL} {
		if err := waitReady(ctx, u, time.Minute); err != nil {
			return fmt.Errorf("server %s (%s) did not come up: %w", name, u, err)
		}
	}
	s.logf("both servers answer: one at %s, two at %s", oneURL, twoURL)

	password := "pw-" + s.runID
	alice, err := register(ctx, oneURL, "alice", password)
	if err != nil {
		return fmt.Errorf("registering alice on one: %w", err)
	}
	bob, err := register(ctx, twoURL, "bob", password)
	if err != nil {
		return fmt.Errorf("registering bob on two: %w", err)
	}
	if alice.UserID != "@alice:one" || bob.UserID != "@bob:two" {
		return fmt.Errorf("registered %s and %s, want @alice:one and @bob:two", alice.UserID, bob.UserID)
	}
	s.logf("registered %s and %s", alice.UserID, bob.UserID)
	aliceSync, bobSync := &syncer{cli: alice}, &syncer{cli: bob}
	if _, err := aliceSync.next(ctx, 0); err != nil {
		return fmt.Errorf("alice's initial sync: %w", err)
	}
	if _, err := bobSync.next(ctx, 0); err != nil {
		return fmt.Errorf("bob's initial sync: %w", err)
	}

	room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Name: "one and two", Invite: []id.UserID{bob.UserID}})
	if err != nil {
		return fmt.Errorf("alice creating a room and inviting %s: %w", bob.UserID, err)
	}
	roomID := room.RoomID
	s.logf("alice created %s and invited %s", roomID, bob.UserID)
	if err := bobSync.until(ctx, 60*time.Second, func(r *mautrix.RespSync) bool { _, ok := r.Rooms.Invite[roomID]; return ok }); err != nil {
		return fmt.Errorf("bob's /sync never showed the invite to %s: %w", roomID, err)
	}
	if _, err := bob.JoinRoom(ctx, roomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one"}}); err != nil {
		return fmt.Errorf("bob joining %s through one: %w", roomID, err)
	}
	if err := aliceSync.until(ctx, 60*time.Second, func(r *mautrix.RespSync) bool {
		for _, e := range timeline(r, roomID) {
			if e.Type == event.StateMember && e.GetStateKey() == bob.UserID.String() && e.Content.Raw["membership"] == "join" {
				return true
			}
		}
		return false
	}); err != nil {
		return fmt.Errorf("alice's /sync never showed bob's join: %w", err)
	}
	s.logf("bob joined; alice saw the join")

	// One message each way while both are connected.
	if err := s.exchange(ctx, alice, bobSync, roomID, []string{"hello from alice " + s.runID}, 60*time.Second); err != nil {
		return fmt.Errorf("alice -> bob before the cut: %w", err)
	}
	if err := s.exchange(ctx, bob, aliceSync, roomID, []string{"hello from bob " + s.runID}, 60*time.Second); err != nil {
		return fmt.Errorf("bob -> alice before the cut: %w", err)
	}
	s.logf("alice and bob each saw the other's message")

	failedBefore, err := metric(ctx, metricsURL, "myelin_federation_queue_transactions_total", `result="failed"`)
	if err != nil {
		return err
	}

	// Cut two off; alice sends.
	if _, err := docker(ctx, "network", "disconnect", s.network, s.twoC); err != nil {
		return err
	}
	s.logf("two is cut off (docker network disconnect %s %s)", s.network, s.twoC)
	var bodies []string
	var sentIDs []id.EventID
	for i := 1; i <= s.n; i++ {
		body := fmt.Sprintf("while two was away %d/%d %s", i, s.n, s.runID)
		resp, err := alice.SendMessageEvent(ctx, roomID, event.EventMessage,
			map[string]any{"msgtype": "m.text", "body": body}, mautrix.ReqSendEvent{TransactionID: fmt.Sprintf("away-%s-%d", s.runID, i)})
		if err != nil {
			return fmt.Errorf("alice sending message %d while two is cut off: %w", i, err)
		}
		bodies = append(bodies, body)
		sentIDs = append(sentIDs, resp.EventID)
	}
	s.logf("alice sent %d messages", s.n)
	// One's queue must have tried two and failed: otherwise the cut did
	// not cut anything.
	var failures float64
	if err := poll(ctx, 90*time.Second, func() (bool, error) {
		f, err := metric(ctx, metricsURL, "myelin_federation_queue_transactions_total", `result="failed"`)
		failures = f - failedBefore
		return failures >= 1, err
	}); err != nil {
		return fmt.Errorf("one never failed a transaction to two while it was cut off: %w", err)
	}
	pending, err := metric(ctx, metricsURL, "myelin_federation_queue_pending", `kind="pdu"`)
	if err != nil {
		return err
	}
	if int(pending) < s.n {
		return fmt.Errorf("one's queue holds %v PDUs while two is cut off, want at least %d", pending, s.n)
	}
	s.logf("one's queue holds %v PDUs after %v failed transaction(s) to two", pending, failures)

	if s.hold > 0 {
		s.logf("keeping two cut off for %s more (--hold)", s.hold)
		select {
		case <-time.After(s.hold):
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	// Reconnect two under its host name.
	if _, err := docker(ctx, "network", "connect", "--alias", "two", s.network, s.twoC); err != nil {
		return err
	}
	reconnected := time.Now()
	f, err := metric(ctx, metricsURL, "myelin_federation_queue_transactions_total", `result="failed"`)
	if err != nil {
		return err
	}
	failures = f - failedBefore
	// The retry that sees two again comes at most backoffAfter(failures+1)
	// from now (one more attempt may fail while the network comes back),
	// plus the attempt itself.
	deadline := backoffAfter(int(failures)+1) + 30*time.Second
	s.logf("two is connected again after %v failed transaction(s); one's next retry is due within %s", failures, backoffAfter(int(failures)+1))
	// Two's published port may change with the new endpoint.
	if twoURL, err = s.clientURL(ctx, s.twoC, "8008/tcp"); err != nil {
		return err
	}
	if bob.HomeserverURL, err = url.Parse(twoURL); err != nil {
		return err
	}
	if err := waitReady(ctx, twoURL, 30*time.Second); err != nil {
		return fmt.Errorf("two's client API (%s) after reconnecting: %w", twoURL, err)
	}

	// Without --wake bob stays silent: only one's queue retry can bring
	// the messages. With it, bob speaks first: his server's transaction
	// to one tells one that two is back (Myelin wakes a destination's
	// queue when it hears from it), so the messages come at once instead
	// of at the next retry.
	var bobIDs []id.EventID
	var bobBodies []string
	if s.wake {
		body := "bob is back " + s.runID
		resp, err := bob.SendText(ctx, roomID, body)
		if err != nil {
			return fmt.Errorf("bob sending right after the reconnection: %w", err)
		}
		bobIDs, bobBodies = append(bobIDs, resp.EventID), append(bobBodies, body)
		deadline = wakeDeadline
		s.logf("bob spoke first (--wake): waiting up to %s for alice's messages", deadline)
	}
	if !s.wake {
		s.logf("bob stays silent: waiting up to %s for alice's messages", deadline)
	}
	seen, err := s.collect(ctx, bobSync, roomID, alice.UserID, sentIDs, bodies, deadline)
	if err != nil {
		return fmt.Errorf("bob after the reconnection: %w", err)
	}
	s.logf("bob's /sync showed all %d messages, in order, once each, %.1fs after the reconnection", len(seen), time.Since(reconnected).Seconds())
	if err := poll(ctx, 30*time.Second, func() (bool, error) {
		p, err := metric(ctx, metricsURL, "myelin_federation_queue_pending", `kind="pdu"`)
		return p == 0, err
	}); err != nil {
		return fmt.Errorf("one's queue still holds PDUs after two got them: %w", err)
	}

	// And the other way.
	for i := 1; i <= 3; i++ {
		body := fmt.Sprintf("bob answers %d/3 %s", i, s.runID)
		resp, err := bob.SendText(ctx, roomID, body)
		if err != nil {
			return fmt.Errorf("bob sending after the reconnection: %w", err)
		}
		bobIDs, bobBodies = append(bobIDs, resp.EventID), append(bobBodies, body)
	}
	if _, err := s.collect(ctx, aliceSync, roomID, bob.UserID, bobIDs, bobBodies, 60*time.Second); err != nil {
		return fmt.Errorf("bob -> alice after the reconnection: %w", err)
	}
	s.logf("alice saw bob's %d messages since the reconnection, in order, once each", len(bobIDs))

	// Nothing arrived twice later either: bob's /sync since then, and the
	// room's history on two.
	r, err := bobSync.next(ctx, 1000)
	if err != nil {
		return fmt.Errorf("bob's last /sync: %w", err)
	}
	for _, e := range timeline(r, roomID) {
		if e.Sender == alice.UserID {
			return fmt.Errorf("bob's /sync showed alice's %s (%q) again", e.ID, e.Content.Raw["body"])
		}
	}
	hist, err := bob.Messages(ctx, roomID, "", "", mautrix.DirectionBackward, nil, 100)
	if err != nil {
		return fmt.Errorf("bob's /messages: %w", err)
	}
	var fromAlice []id.EventID
	for i := len(hist.Chunk) - 1; i >= 0; i-- {
		e := hist.Chunk[i]
		if e.Sender == alice.UserID && e.Type == event.EventMessage && strings.HasPrefix(bodyOf(e), "while two was away ") {
			fromAlice = append(fromAlice, e.ID)
		}
	}
	if !equalIDs(fromAlice, sentIDs) {
		return fmt.Errorf("bob's /messages lists alice's messages from the cut as %v, want %v", fromAlice, sentIDs)
	}
	s.logf("bob's /messages lists the %d messages once each, in order", len(sentIDs))
	s.logf("PASS")
	return nil
}

// exchange sends bodies from sender and waits until the other side's sync
// has shown exactly them, in order.
func (s *scenario) exchange(ctx context.Context, sender *mautrix.Client, to *syncer, roomID id.RoomID, bodies []string, wait time.Duration) error {
	var ids []id.EventID
	for _, body := range bodies {
		resp, err := sender.SendText(ctx, roomID, body)
		if err != nil {
			return fmt.Errorf("%s sending: %w", sender.UserID, err)
		}
		ids = append(ids, resp.EventID)
	}
	_, err := s.collect(ctx, to, roomID, sender.UserID, ids, bodies, wait)
	return err
}

// collect syncs until the messages of sender in roomID seen from here on
// are exactly want (IDs and bodies), in order; a duplicate, a message out of
// order or an unexpected one fails at once.
func (s *scenario) collect(ctx context.Context, sy *syncer, roomID id.RoomID, sender id.UserID, want []id.EventID, bodies []string, wait time.Duration) ([]id.EventID, error) {
	var got []id.EventID
	err := sy.until(ctx, wait, func(r *mautrix.RespSync) bool {
		if jr := r.Rooms.Join[roomID]; jr != nil && jr.Timeline.Limited {
			sy.err = fmt.Errorf("the timeline came back limited (a gap) after %d of %d messages", len(got), len(want))
			return true
		}
		for _, e := range timeline(r, roomID) {
			if e.Sender != sender || e.Type != event.EventMessage {
				continue
			}
			i := len(got)
			switch {
			case i >= len(want):
				sy.err = fmt.Errorf("an extra message after all %d: %s %q", len(want), e.ID, bodyOf(e))
			case e.ID != want[i] || bodyOf(e) != bodies[i]:
				sy.err = fmt.Errorf("message %d of %d is %s %q, want %s %q (seen so far: %v)", i+1, len(want), e.ID, bodyOf(e), want[i], bodies[i], got)
			}
			if sy.err != nil {
				return true
			}
			got = append(got, e.ID)
		}
		return len(got) == len(want)
	})
	if err != nil {
		return got, fmt.Errorf("%d of %d messages from %s arrived: %w", len(got), len(want), sender, err)
	}
	return got, nil
}

// syncer is one device's /sync position.
type syncer struct {
	cli   *mautrix.Client
	since string
	err   error // set by an until predicate to stop with an error
}

// timelineFilter keeps every event of a sync in the timeline (the default
// limit is smaller than one cut's messages).
const timelineFilter = `{"room":{"timeline":{"limit":100}}}`

func (s *syncer) next(ctx context.Context, timeoutMS int) (*mautrix.RespSync, error) {
	r, err := s.cli.FullSyncRequest(ctx, mautrix.ReqSync{Timeout: timeoutMS, Since: s.since, FilterID: timelineFilter})
	if err != nil {
		return nil, err
	}
	s.since = r.NextBatch
	return r, nil
}

// until long-polls /sync until done says so or wait passes. A failed
// request is retried (a server just reconnected may drop one).
func (s *syncer) until(ctx context.Context, wait time.Duration, done func(*mautrix.RespSync) bool) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	s.err = nil
	var lastErr error
	for {
		r, err := s.next(ctx, 5000)
		if err == nil {
			if done(r) {
				return s.err
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("not within %s (last error: %v)", wait, lastErr)
			}
			return fmt.Errorf("not within %s", wait)
		default:
			if err != nil {
				time.Sleep(500 * time.Millisecond)
			}
		}
	}
}

func timeline(r *mautrix.RespSync, roomID id.RoomID) []*event.Event {
	if jr := r.Rooms.Join[roomID]; jr != nil {
		return jr.Timeline.Events
	}
	return nil
}

func bodyOf(e *event.Event) string {
	b, _ := e.Content.Raw["body"].(string)
	return b
}

func equalIDs(a, b []id.EventID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func register(ctx context.Context, url, user, password string) (*mautrix.Client, error) {
	c, err := mautrix.NewClient(url, "", "")
	if err != nil {
		return nil, err
	}
	resp, err := c.RegisterDummy(ctx, &mautrix.ReqRegister[any]{Username: user, Password: password})
	if err != nil {
		return nil, err
	}
	c.SetCredentials(resp.UserID, resp.AccessToken)
	c.DeviceID = resp.DeviceID
	return c, nil
}

// clientURL is http://HOST:PORT of a container port published on the host.
func (s *scenario) clientURL(ctx context.Context, container, port string) (string, error) {
	out, err := docker(ctx, "port", container, port)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "127.0.0.1:") {
			return "http://" + strings.TrimSpace(line), nil
		}
	}
	return "", fmt.Errorf("%s publishes %s on no 127.0.0.1 port: %q", container, port, out)
}

func docker(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// waitReady polls /_matrix/client/versions until it answers 200.
func waitReady(ctx context.Context, url string, wait time.Duration) error {
	return poll(ctx, wait, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/_matrix/client/versions", nil)
		if err != nil {
			return false, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// poll calls f every 250 ms until it reports true, fails, or wait passes.
func poll(ctx context.Context, wait time.Duration, f func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var lastErr error
	for {
		ok, err := f()
		if ok && err == nil {
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("not within %s (last error: %v)", wait, lastErr)
			}
			return fmt.Errorf("not within %s", wait)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// metric sums the samples of a Prometheus metric (text format) whose labels
// contain label.
func metric(ctx context.Context, metricsURL, name, label string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading one's metrics: %w", err)
	}
	defer resp.Body.Close()
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		if end < 0 || !strings.Contains(line[:end], label) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		// A counter vector shows no sample before its first increment.
		if strings.HasSuffix(name, "_total") {
			return 0, nil
		}
		return 0, fmt.Errorf("one's metrics have no %s{%s}", name, label)
	}
	return sum, nil
}
