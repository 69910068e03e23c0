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
	fmt.Fprintln(os.Stderr, "usage: fedchat ca DIR | "+
		"fedchat run --network NET --one CONTAINER --two CONTAINER [--messages N] [--hold D] [--wake] [--timeout D]")
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
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), certPEM, 0o644); err != nil {
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

	// Found or made as the scenario runs.
	oneURL, twoURL, metricsURL string // host ports of the client APIs and of one's metrics
	alice, bob                 *mautrix.Client
	aliceSync, bobSync         *syncer
	roomID                     id.RoomID
	reconnected                time.Time // when two was connected again
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
	fs.BoolVar(&s.wake, "wake", false,
		fmt.Sprintf("after reconnecting, bob sends first and alice's messages must arrive within %s, whatever one's backoff", wakeDeadline))
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

// run plays the scenario, step by step; the first step that fails ends it.
func (s *scenario) run(ctx context.Context) error {
	if err := s.connect(ctx); err != nil {
		return err
	}
	if err := s.registerUsers(ctx); err != nil {
		return err
	}
	if err := s.createRoom(ctx); err != nil {
		return err
	}
	if err := s.greet(ctx); err != nil {
		return err
	}
	failedBefore, err := s.cutTwo(ctx)
	if err != nil {
		return err
	}
	away, err := s.sendWhileAway(ctx)
	if err != nil {
		return err
	}
	if err := s.confirmCut(ctx, failedBefore); err != nil {
		return err
	}
	deadline, err := s.reconnect(ctx, failedBefore)
	if err != nil {
		return err
	}
	fromBob, err := s.awaitDelivery(ctx, away, deadline)
	if err != nil {
		return err
	}
	if err := s.bobAnswers(ctx, fromBob); err != nil {
		return err
	}
	if err := s.verifyOnce(ctx, away); err != nil {
		return err
	}
	s.logf("PASS")
	return nil
}

// messages are messages one user sent, in order: their IDs and bodies.
type messages struct {
	ids    []id.EventID
	bodies []string
}

func (m *messages) add(eventID id.EventID, body string) {
	m.ids = append(m.ids, eventID)
	m.bodies = append(m.bodies, body)
}

// connect finds the host ports of both servers' client APIs and of one's
// metrics, and waits until both servers answer.
func (s *scenario) connect(ctx context.Context) error {
	var err error
	if s.oneURL, err = s.clientURL(ctx, s.oneC, "8008/tcp"); err != nil {
		return err
	}
	if s.twoURL, err = s.clientURL(ctx, s.twoC, "8008/tcp"); err != nil {
		return err
	}
	if s.metricsURL, err = s.clientURL(ctx, s.oneC, "9090/tcp"); err != nil {
		return err
	}
	for name, u := range map[string]string{"one": s.oneURL, "two": s.twoURL} {
		if err := waitReady(ctx, u, time.Minute); err != nil {
			return fmt.Errorf("server %s (%s) did not come up: %w", name, u, err)
		}
	}
	s.logf("both servers answer: one at %s, two at %s", s.oneURL, s.twoURL)
	return nil
}

// registerUsers registers alice on one and bob on two, and starts their
// /sync streams.
func (s *scenario) registerUsers(ctx context.Context) error {
	password := "pw-" + s.runID
	var err error
	if s.alice, err = register(ctx, s.oneURL, "alice", password); err != nil {
		return fmt.Errorf("registering alice on one: %w", err)
	}
	if s.bob, err = register(ctx, s.twoURL, "bob", password); err != nil {
		return fmt.Errorf("registering bob on two: %w", err)
	}
	if s.alice.UserID != "@alice:one" || s.bob.UserID != "@bob:two" {
		return fmt.Errorf("registered %s and %s, want @alice:one and @bob:two", s.alice.UserID, s.bob.UserID)
	}
	s.logf("registered %s and %s", s.alice.UserID, s.bob.UserID)
	s.aliceSync, s.bobSync = &syncer{cli: s.alice}, &syncer{cli: s.bob}
	if _, err := s.aliceSync.next(ctx, 0); err != nil {
		return fmt.Errorf("alice's initial sync: %w", err)
	}
	if _, err := s.bobSync.next(ctx, 0); err != nil {
		return fmt.Errorf("bob's initial sync: %w", err)
	}
	return nil
}

// createRoom has alice create a room and invite bob, and bob join it over
// federation; alice must see the join.
func (s *scenario) createRoom(ctx context.Context) error {
	room, err := s.alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "private_chat",
		Name:   "one and two",
		Invite: []id.UserID{s.bob.UserID},
	})
	if err != nil {
		return fmt.Errorf("alice creating a room and inviting %s: %w", s.bob.UserID, err)
	}
	s.roomID = room.RoomID
	s.logf("alice created %s and invited %s", s.roomID, s.bob.UserID)
	invited := func(r *mautrix.RespSync) bool {
		_, ok := r.Rooms.Invite[s.roomID]
		return ok
	}
	if err := s.bobSync.until(ctx, 60*time.Second, invited); err != nil {
		return fmt.Errorf("bob's /sync never showed the invite to %s: %w", s.roomID, err)
	}
	if _, err := s.bob.JoinRoom(ctx, s.roomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one"}}); err != nil {
		return fmt.Errorf("bob joining %s through one: %w", s.roomID, err)
	}
	bobJoined := func(r *mautrix.RespSync) bool {
		for _, e := range timeline(r, s.roomID) {
			if e.Type == event.StateMember && e.GetStateKey() == s.bob.UserID.String() && e.Content.Raw["membership"] == "join" {
				return true
			}
		}
		return false
	}
	if err := s.aliceSync.until(ctx, 60*time.Second, bobJoined); err != nil {
		return fmt.Errorf("alice's /sync never showed bob's join: %w", err)
	}
	s.logf("bob joined; alice saw the join")
	return nil
}

// greet sends one message each way while both servers are connected.
func (s *scenario) greet(ctx context.Context) error {
	if err := s.exchange(ctx, s.alice, s.bobSync, []string{"hello from alice " + s.runID}, 60*time.Second); err != nil {
		return fmt.Errorf("alice -> bob before the cut: %w", err)
	}
	if err := s.exchange(ctx, s.bob, s.aliceSync, []string{"hello from bob " + s.runID}, 60*time.Second); err != nil {
		return fmt.Errorf("bob -> alice before the cut: %w", err)
	}
	s.logf("alice and bob each saw the other's message")
	return nil
}

// cutTwo disconnects two from the network. It returns how many
// transactions one had failed before, to count the failures of the cut.
func (s *scenario) cutTwo(ctx context.Context) (float64, error) {
	failedBefore, err := s.failedTransactions(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := docker(ctx, "network", "disconnect", s.network, s.twoC); err != nil {
		return 0, err
	}
	s.logf("two is cut off (docker network disconnect %s %s)", s.network, s.twoC)
	return failedBefore, nil
}

// sendWhileAway has alice send --messages messages while two is cut off.
func (s *scenario) sendWhileAway(ctx context.Context) (messages, error) {
	var sent messages
	for i := 1; i <= s.n; i++ {
		body := fmt.Sprintf("while two was away %d/%d %s", i, s.n, s.runID)
		resp, err := s.alice.SendMessageEvent(ctx, s.roomID, event.EventMessage,
			map[string]any{"msgtype": "m.text", "body": body}, mautrix.ReqSendEvent{TransactionID: fmt.Sprintf("away-%s-%d", s.runID, i)})
		if err != nil {
			return messages{}, fmt.Errorf("alice sending message %d while two is cut off: %w", i, err)
		}
		sent.add(resp.EventID, body)
	}
	s.logf("alice sent %d messages", s.n)
	return sent, nil
}

// confirmCut checks that one's queue tried two and failed, holding the
// messages: otherwise the cut did not cut anything. With --hold it then
// keeps two cut off longer.
func (s *scenario) confirmCut(ctx context.Context, failedBefore float64) error {
	var failures float64
	if err := poll(ctx, 90*time.Second, func() (bool, error) {
		f, err := s.failedTransactions(ctx)
		failures = f - failedBefore
		return failures >= 1, err
	}); err != nil {
		return fmt.Errorf("one never failed a transaction to two while it was cut off: %w", err)
	}
	pending, err := metric(ctx, s.metricsURL, "myelin_federation_queue_pending", `kind="pdu"`)
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
	return nil
}

// reconnect connects two again under its host name and waits until its
// client API answers. It returns how long alice's messages may take to
// reach bob without --wake: until one's next retry, plus the attempt.
func (s *scenario) reconnect(ctx context.Context, failedBefore float64) (time.Duration, error) {
	if _, err := docker(ctx, "network", "connect", "--alias", "two", s.network, s.twoC); err != nil {
		return 0, err
	}
	s.reconnected = time.Now()
	f, err := s.failedTransactions(ctx)
	if err != nil {
		return 0, err
	}
	failures := f - failedBefore
	// The retry that sees two again comes at most backoffAfter(failures+1)
	// from now (one more attempt may fail while the network comes back),
	// plus the attempt itself.
	nextRetry := backoffAfter(int(failures) + 1)
	s.logf("two is connected again after %v failed transaction(s); one's next retry is due within %s", failures, nextRetry)
	// Two's published port may change with the new endpoint.
	if s.twoURL, err = s.clientURL(ctx, s.twoC, "8008/tcp"); err != nil {
		return 0, err
	}
	if s.bob.HomeserverURL, err = url.Parse(s.twoURL); err != nil {
		return 0, err
	}
	if err := waitReady(ctx, s.twoURL, 30*time.Second); err != nil {
		return 0, fmt.Errorf("two's client API (%s) after reconnecting: %w", s.twoURL, err)
	}
	return nextRetry + 30*time.Second, nil
}

// awaitDelivery waits until bob has seen alice's messages from the cut, in
// order, once each, and one's queue is empty. It returns what bob sent
// meanwhile.
//
// Without --wake bob stays silent: only one's queue retry can bring the
// messages, within deadline. With it, bob speaks first: his server's
// transaction to one tells one that two is back (Myelin wakes a
// destination's queue when it hears from it), so the messages come at once
// instead of at the next retry.
func (s *scenario) awaitDelivery(ctx context.Context, away messages, deadline time.Duration) (messages, error) {
	var fromBob messages
	if s.wake {
		body := "bob is back " + s.runID
		resp, err := s.bob.SendText(ctx, s.roomID, body)
		if err != nil {
			return messages{}, fmt.Errorf("bob sending right after the reconnection: %w", err)
		}
		fromBob.add(resp.EventID, body)
		deadline = wakeDeadline
		s.logf("bob spoke first (--wake): waiting up to %s for alice's messages", deadline)
	}
	if !s.wake {
		s.logf("bob stays silent: waiting up to %s for alice's messages", deadline)
	}
	seen, err := s.collect(ctx, s.bobSync, s.alice.UserID, away, deadline)
	if err != nil {
		return messages{}, fmt.Errorf("bob after the reconnection: %w", err)
	}
	s.logf("bob's /sync showed all %d messages, in order, once each, %.1fs after the reconnection",
		len(seen), time.Since(s.reconnected).Seconds())
	if err := poll(ctx, 30*time.Second, func() (bool, error) {
		p, err := metric(ctx, s.metricsURL, "myelin_federation_queue_pending", `kind="pdu"`)
		return p == 0, err
	}); err != nil {
		return messages{}, fmt.Errorf("one's queue still holds PDUs after two got them: %w", err)
	}
	return fromBob, nil
}

// bobAnswers has bob send three messages; alice must see them, after what
// he sent before (fromBob), in order, once each.
func (s *scenario) bobAnswers(ctx context.Context, fromBob messages) error {
	for i := 1; i <= 3; i++ {
		body := fmt.Sprintf("bob answers %d/3 %s", i, s.runID)
		resp, err := s.bob.SendText(ctx, s.roomID, body)
		if err != nil {
			return fmt.Errorf("bob sending after the reconnection: %w", err)
		}
		fromBob.add(resp.EventID, body)
	}
	if _, err := s.collect(ctx, s.aliceSync, s.bob.UserID, fromBob, 60*time.Second); err != nil {
		return fmt.Errorf("bob -> alice after the reconnection: %w", err)
	}
	s.logf("alice saw bob's %d messages since the reconnection, in order, once each", len(fromBob.ids))
	return nil
}

// verifyOnce checks that nothing arrived twice later either: bob's /sync
// since then shows none of alice's messages, and the room's history on two
// lists those from the cut once each, in order.
func (s *scenario) verifyOnce(ctx context.Context, away messages) error {
	r, err := s.bobSync.next(ctx, 1000)
	if err != nil {
		return fmt.Errorf("bob's last /sync: %w", err)
	}
	for _, e := range timeline(r, s.roomID) {
		if e.Sender == s.alice.UserID {
			return fmt.Errorf("bob's /sync showed alice's %s (%q) again", e.ID, e.Content.Raw["body"])
		}
	}
	hist, err := s.bob.Messages(ctx, s.roomID, "", "", mautrix.DirectionBackward, nil, 100)
	if err != nil {
		return fmt.Errorf("bob's /messages: %w", err)
	}
	var fromAlice []id.EventID
	for i := len(hist.Chunk) - 1; i >= 0; i-- {
		e := hist.Chunk[i]
		if e.Sender == s.alice.UserID && e.Type == event.EventMessage && strings.HasPrefix(bodyOf(e), "while two was away ") {
			fromAlice = append(fromAlice, e.ID)
		}
	}
	if !equalIDs(fromAlice, away.ids) {
		return fmt.Errorf("bob's /messages lists alice's messages from the cut as %v, want %v", fromAlice, away.ids)
	}
	s.logf("bob's /messages lists the %d messages once each, in order", len(away.ids))
	return nil
}

// failedTransactions reads how many transactions one's federation queue
// has failed so far.
func (s *scenario) failedTransactions(ctx context.Context) (float64, error) {
	return metric(ctx, s.metricsURL, "myelin_federation_queue_transactions_total", `result="failed"`)
}

// exchange sends bodies from sender and waits until the other side's sync
// has shown exactly them, in order.
func (s *scenario) exchange(ctx context.Context, sender *mautrix.Client, to *syncer, bodies []string, wait time.Duration) error {
	var sent messages
	for _, body := range bodies {
		resp, err := sender.SendText(ctx, s.roomID, body)
		if err != nil {
			return fmt.Errorf("%s sending: %w", sender.UserID, err)
		}
		sent.add(resp.EventID, body)
	}
	_, err := s.collect(ctx, to, sender.UserID, sent, wait)
	return err
}

// collect syncs until the messages of sender in the room seen from here on
// are exactly want (IDs and bodies), in order; a duplicate, a message out of
// order or an unexpected one fails at once.
func (s *scenario) collect(ctx context.Context, sy *syncer, sender id.UserID, want messages, wait time.Duration) ([]id.EventID, error) {
	var got []id.EventID
	err := sy.until(ctx, wait, func(r *mautrix.RespSync) bool {
		if jr := r.Rooms.Join[s.roomID]; jr != nil && jr.Timeline.Limited {
			sy.err = fmt.Errorf("the timeline came back limited (a gap) after %d of %d messages", len(got), len(want.ids))
			return true
		}
		for _, e := range timeline(r, s.roomID) {
			if e.Sender != sender || e.Type != event.EventMessage {
				continue
			}
			i := len(got)
			switch {
			case i >= len(want.ids):
				sy.err = fmt.Errorf("an extra message after all %d: %s %q", len(want.ids), e.ID, bodyOf(e))
			case e.ID != want.ids[i] || bodyOf(e) != want.bodies[i]:
				sy.err = fmt.Errorf("message %d of %d is %s %q, want %s %q (seen so far: %v)",
					i+1, len(want.ids), e.ID, bodyOf(e), want.ids[i], want.bodies[i], got)
			}
			if sy.err != nil {
				return true
			}
			got = append(got, e.ID)
		}
		return len(got) == len(want.ids)
	})
	if err != nil {
		return got, fmt.Errorf("%d of %d messages from %s arrived: %w", len(got), len(want.ids), sender, err)
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
				return fmt.Errorf("not within %s (last error: %w)", wait, lastErr)
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
	// What SetCredentials did: its replacement, ReqLogin.StoreCredentials,
	// is for logging in, and registration has no such option.
	c.UserID, c.AccessToken, c.DeviceID = resp.UserID, resp.AccessToken, resp.DeviceID
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
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
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
		_ = resp.Body.Close()
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
				return fmt.Errorf("not within %s (last error: %w)", wait, lastErr)
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
	defer func() { _ = resp.Body.Close() }()
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
