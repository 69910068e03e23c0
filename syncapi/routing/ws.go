package routing

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/myelin-im/myelin/internal/httputil"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// WebSocket push: GET /_matrix/client/unstable/im.myelin/sync/ws. Each
// server frame is an incremental /sync response (the same JSON, with
// next_batch). The client may send {"since": …, "filter": …} at any time to
// resume from a token or change its filter. Frames are computed one at a
// time when the previous one has been written, so a slow reader holds at
// most one frame in memory; one that cannot take a frame within
// the write timeout (DefaultWSWriteTimeout) is disconnected with a close reason.
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

// syncWebSocket serves the WebSocket stream.
func (rt *Routes) syncWebSocket(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	q := r.URL.Query()
	since := syncToken{pos: -1, ad: -1}
	if s := q.Get("since"); s != "" {
		var err error
		if since, err = parseSyncToken(s); err != nil {
			return err
		}
	}
	f, err := rt.loadFilter(r, dev, q.Get("filter"))
	if err != nil {
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
	log := httputil.Logger(r.Context())
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()

	st := &wsState{}
	go st.read(ctx, cancel, conn)
	go wsPinger(ctx, cancel, conn)

	// apply takes a pending control message into since and f.
	apply := func() bool {
		c := st.take()
		if c == nil {
			return true
		}
		if c.Since != nil {
			var err error
			if since, err = parseSyncToken(*c.Since); err != nil {
				conn.Close(websocket.StatusPolicyViolation, "invalid since token")
				return false
			}
		}
		if len(c.Filter) > 0 {
			nf, err := rt.loadFilter(r, dev, string(c.Filter))
			if err != nil {
				conn.Close(websocket.StatusPolicyViolation, "invalid filter")
				return false
			}
			f = nf
		}
		return true
	}

	for ctx.Err() == nil {
		if !apply() {
			return nil
		}
		pollCtx, stopPoll := context.WithCancel(ctx)
		st.setStop(stopPoll)
		if st.hasPending() {
			stopPoll() // arrived between apply and setStop
		}
		resp, err := rt.SyncUntil(pollCtx, dev, since, f, false, wsPollTimeout)
		st.setStop(nil)
		interrupted := pollCtx.Err() != nil && ctx.Err() == nil
		stopPoll()
		if interrupted || (err != nil && errors.Is(err, context.Canceled)) {
			continue // a control message arrived, or the connection is ending
		}
		if err != nil {
			log.WithError(err).Warn("sync over WebSocket failed")
			conn.Close(websocket.StatusInternalError, "sync failed")
			return nil
		}
		if since.pos >= 0 && isEmpty(resp) {
			continue
		}
		frame, err := json.Marshal(resp)
		if err != nil {
			conn.Close(websocket.StatusInternalError, "encoding failed")
			return nil
		}
		wctx, wcancel := context.WithTimeout(ctx, rt.wsWriteTimeout())
		err = conn.Write(wctx, websocket.MessageText, frame)
		wcancel()
		if err != nil {
			if ctx.Err() == nil {
				conn.Close(websocket.StatusPolicyViolation, "client too slow to read")
			}
			return nil
		}
		if since, err = parseSyncToken(resp.NextBatch); err != nil {
			return nil
		}
	}
	conn.Close(websocket.StatusNormalClosure, "")
	return nil
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
			conn.Close(websocket.StatusUnsupportedData, "control messages are JSON objects")
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
	return len(r.Rooms.Join) == 0 && len(r.Rooms.Invite) == 0 && len(r.Rooms.Leave) == 0 && len(r.AccountData.Events) == 0
}
