package routing

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/httputil"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// WebSocket push: GET /_matrix/client/unstable/im.myelin/sync/ws. Each
// server frame is an incremental /sync response (the same JSON, with
// next_batch). The client may send {"since": …, "filter": …} at any time to
// resume from a token or change its filter. A token the client gives (here
// or in the URL) acknowledges the to-device messages before it, as /sync's
// since does; a frame the server wrote does not, since the connection may
// end before the client has read it: a client that wants its delivered
// to-device messages deleted while it stays connected sends
// {"since": <the next_batch it has processed>}. Frames are computed one at a
// time when the previous one has been written, so a slow reader holds at
// most one frame in memory; one that cannot take a frame within
// the write timeout (DefaultWSWriteTimeout) is disconnected with a close reason.
// An open stream keeps its user online as a long-poll does; set_presence
// in the URL works as /sync's.
const (
	wsPath         = "/_matrix/client/unstable/im.myelin/sync/ws"
	wsPingInterval = 30 * time.Second
	// DefaultWSWriteTimeout is how long a frame may take to write.
	DefaultWSWriteTimeout = 10 * time.Second
	wsPollTimeout         = 30 * time.Second
	wsMaxMessage          = 64 << 10
)

// wsControl is a message from the client.
type wsControl struct {
	Since  *string         `json:"since"`
	Filter json.RawMessage `json:"filter"`
}

// syncWebSocket serves the WebSocket stream. Its parameters are checked
// before the upgrade, so a bad one is an HTTP error like /sync's.
func (rt *Routes) syncWebSocket(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	q := r.URL.Query()
	since, err := sinceParam(q)
	if err != nil {
		return err
	}
	f, err := rt.loadFilter(r, dev, q.Get("filter"))
	if err != nil {
		return err
	}
	setPresence, err := presenceParam(q)
	if err != nil {
		return err
	}
	if err := rt.ackToDevice(r.Context(), dev, since); err != nil {
		return err
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// Browsers send an Origin; the access token, not cookies,
		// authenticates, so any origin may connect (as CORS allows).
		InsecureSkipVerify: true,
	})
	if err != nil {
		// Accept has written the HTTP error itself.
		return nil
	}
	conn.SetReadLimit(wsMaxMessage)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	s := &wsSession{
		rt:     rt,
		r:      r,
		dev:    dev,
		conn:   conn,
		log:    httputil.Logger(r.Context()),
		state:  &wsState{},
		since:  since,
		filter: f,
	}
	// An open stream keeps its user online, as a long-poll does.
	defer rt.presenceSyncing(ctx, dev.UserID, setPresence)()
	go s.state.read(ctx, cancel, conn)
	go wsPinger(ctx, cancel, conn)
	s.run(ctx)
	return nil
}

// wsSession is one WebSocket connection's stream: where it stands (since)
// and what it shows (filter), both of which the client may change.
type wsSession struct {
	rt    *Routes
	r     *http.Request
	dev   *userapi.Device
	conn  *websocket.Conn
	log   logrus.FieldLogger
	state *wsState

	since  syncToken
	filter *Filter
}

// run sends a frame for each response that has something new, until the
// connection ends or fails.
func (s *wsSession) run(ctx context.Context) {
	for ctx.Err() == nil {
		if !s.applyControl() {
			return
		}
		resp, interrupted, err := s.poll(ctx)
		if interrupted || errors.Is(err, context.Canceled) {
			continue // a control message arrived, or the connection is ending
		}
		if err != nil {
			s.log.WithError(err).Warn("sync over WebSocket failed")
			closeConn(s.conn, websocket.StatusInternalError, "sync failed")
			return
		}
		if s.since.pos >= 0 && isEmpty(resp) {
			continue
		}
		if !s.send(ctx, resp) {
			return
		}
	}
	closeConn(s.conn, websocket.StatusNormalClosure, "")
}

// applyControl takes the client's latest control message, if any, into
// since and the filter. An invalid one closes the connection (false).
func (s *wsSession) applyControl() bool {
	c := s.state.take()
	if c == nil {
		return true
	}
	if c.Since != nil {
		since, err := parseSyncToken(*c.Since)
		if err != nil {
			closeConn(s.conn, websocket.StatusPolicyViolation, "invalid since token")
			return false
		}
		if err := s.rt.ackToDevice(s.r.Context(), s.dev, since); err != nil {
			s.log.WithError(err).Warn("acknowledging to-device messages over WebSocket failed")
			closeConn(s.conn, websocket.StatusInternalError, "sync failed")
			return false
		}
		s.since = since
	}
	if len(c.Filter) > 0 {
		f, err := s.rt.loadFilter(s.r, s.dev, string(c.Filter))
		if err != nil {
			closeConn(s.conn, websocket.StatusPolicyViolation, "invalid filter")
			return false
		}
		s.filter = f
	}
	return true
}

// poll waits for the next response after since (up to wsPollTimeout). A
// control message arriving meanwhile interrupts it: interrupted says the
// response, if any, is for the old since or filter.
func (s *wsSession) poll(ctx context.Context) (resp *Response, interrupted bool, err error) {
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	s.state.setStop(stopPoll)
	if s.state.hasPending() {
		stopPoll() // arrived between applyControl and setStop
	}
	resp, err = s.rt.SyncUntil(pollCtx, s.dev, s.since, s.filter, false, wsPollTimeout)
	s.state.setStop(nil)
	return resp, pollCtx.Err() != nil && ctx.Err() == nil, err
}

// send writes resp as one frame and moves since to its next_batch. A
// client that cannot take the frame within the write timeout is
// disconnected; false: the connection is done.
func (s *wsSession) send(ctx context.Context, resp *Response) bool {
	frame, err := json.Marshal(resp)
	if err != nil {
		closeConn(s.conn, websocket.StatusInternalError, "encoding failed")
		return false
	}
	wctx, cancel := context.WithTimeout(ctx, s.rt.wsWriteTimeout())
	err = s.conn.Write(wctx, websocket.MessageText, frame)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			closeConn(s.conn, websocket.StatusPolicyViolation, "client too slow to read")
		}
		return false
	}
	since, err := parseSyncToken(resp.NextBatch)
	if err != nil {
		return false
	}
	s.since = since
	return true
}

// closeConn closes the connection with a status and reason for the client.
// Its error is dropped on purpose: it only says the close handshake did not
// complete (the peer is gone or slow), and the connection is over either
// way.
func closeConn(conn *websocket.Conn, code websocket.StatusCode, reason string) {
	_ = conn.Close(code, reason)
}

// wsState holds a connection's latest unapplied control message and the
// cancel function of the wait in progress, which a control message ends.
type wsState struct {
	mu      sync.Mutex
	pending *wsControl
	stop    context.CancelFunc
}

func (s *wsState) setStop(stop context.CancelFunc) {
	s.mu.Lock()
	s.stop = stop
	s.mu.Unlock()
}

func (s *wsState) hasPending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending != nil
}

func (s *wsState) take() *wsControl {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.pending
	s.pending = nil
	return c
}

// read reads control messages until the connection ends; a newer message
// replaces fields of an unapplied older one, so memory stays bounded.
func (s *wsState) read(ctx context.Context, cancel context.CancelFunc, conn *websocket.Conn) {
	defer cancel()
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			continue
		}
		var c wsControl
		if err := json.Unmarshal(data, &c); err != nil {
			closeConn(conn, websocket.StatusUnsupportedData, "control messages are JSON objects")
			return
		}
		s.mu.Lock()
		if s.pending == nil {
			s.pending = &c
		} else {
			if c.Since != nil {
				s.pending.Since = c.Since
			}
			if len(c.Filter) > 0 {
				s.pending.Filter = c.Filter
			}
		}
		stop := s.stop
		s.mu.Unlock()
		if stop != nil {
			stop()
		}
	}
}

// SetWSWriteTimeout changes how long a WebSocket frame may take to write
// before the client is disconnected as too slow (tests use a short one).
func (rt *Routes) SetWSWriteTimeout(d time.Duration) { rt.wsTimeout.Store(int64(d)) }

func (rt *Routes) wsWriteTimeout() time.Duration {
	if d := rt.wsTimeout.Load(); d > 0 {
		return time.Duration(d)
	}
	return DefaultWSWriteTimeout
}

// wsPinger keeps the connection alive and notices dead peers.
func wsPinger(ctx context.Context, cancel context.CancelFunc, conn *websocket.Conn) {
	t := time.NewTicker(wsPingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, pcancel := context.WithTimeout(ctx, DefaultWSWriteTimeout)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				cancel()
				return
			}
		}
	}
}

func isEmpty(r *Response) bool {
	return len(r.Rooms.Join) == 0 && len(r.Rooms.Invite) == 0 && len(r.Rooms.Leave) == 0 && len(r.Rooms.Knock) == 0 &&
		len(r.AccountData.Events) == 0 && len(r.ToDevice.Events) == 0 && len(r.Presence.Events) == 0
}
