package pusher

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	syncapi "github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// pusherKey names a pusher: a user's app ID and pushkey.
type pusherKey struct {
	localpart api.Localpart
	appID     string
	pushKey   string
}

func keyOf(p api.Pusher) pusherKey { return pusherKey{p.Localpart, p.AppID, p.PushKey} }

// push is one notification waiting for one pusher.
type push struct {
	n    *syncapi.Notification
	user syncapi.NotifiedUser
}

// queue is one pusher's waiting notifications, sent in order by one
// goroutine that runs while the queue is not empty.
type queue struct {
	key     pusherKey
	pusher  api.Pusher // as last read; guarded by Worker.mu
	pending []push     // guarded by Worker.mu
	gone    bool       // the pusher was deleted; guarded by Worker.mu
}

// enqueue adds a notification to p's queue, starting its goroutine if it
// has none, and drops the oldest waiting one past QueueLen.
func (w *Worker) enqueue(p api.Pusher, item push) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil {
		return
	}
	q := w.queues[keyOf(p)]
	if q == nil || q.gone {
		q = &queue{key: keyOf(p)}
		w.queues[q.key] = q
		w.wg.Add(1)
		w.m.queues.Inc()
		go w.run(q)
	}
	q.pusher = p
	q.pending = append(q.pending, item)
	if len(q.pending) > w.opts.QueueLen {
		q.pending = slices.Delete(q.pending, 0, 1)
		w.m.pushes.WithLabelValues("overflow").Inc()
	}
}

// next takes q's next notification, or removes q when it is empty.
func (w *Worker) next(q *queue) (api.Pusher, push, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(q.pending) == 0 || q.gone || w.ctx.Err() != nil {
		if w.queues[q.key] == q { // not a newer queue of a pusher set again
			delete(w.queues, q.key)
		}
		return api.Pusher{}, push{}, false
	}
	item := q.pending[0]
	q.pending = slices.Delete(q.pending, 0, 1)
	return q.pusher, item, true
}

// run sends q's notifications until it is empty or the worker closes.
func (w *Worker) run(q *queue) {
	defer w.wg.Done()
	defer w.m.queues.Dec()
	for {
		p, item, ok := w.next(q)
		if !ok {
			return
		}
		w.deliver(q, p, item)
	}
}

// deliver sends one notification, retrying with backoff up to Attempts
// times; before each retry the pusher is read again, so one deleted or
// changed meanwhile is honoured.
func (w *Worker) deliver(q *queue, p api.Pusher, item push) {
	log := w.log.WithFields(logrus.Fields{"user_id": item.user.UserID, "event_id": item.n.EventID, "app_id": p.AppID})
	for attempt := 1; ; attempt++ {
		rejected, err := w.send(p, item)
		if err == nil {
			w.m.pushes.WithLabelValues("sent").Inc()
			if rejected {
				w.m.pushes.WithLabelValues("rejected").Inc()
				log.Info("the push gateway rejected a pushkey; deleting its pusher")
				w.drop(q, p)
			}
			return
		}
		w.m.pushes.WithLabelValues("failed").Inc()
		if w.ctx.Err() != nil {
			return
		}
		if attempt >= w.opts.Attempts {
			w.m.pushes.WithLabelValues("gave_up").Inc()
			log.WithError(err).WithField("attempts", attempt).Warn("pusher: giving up on a notification")
			return
		}
		wait := w.backoff(attempt)
		log.WithError(err).WithFields(logrus.Fields{"attempt": attempt, "retry_in": wait.String()}).Debug("pusher: sending failed")
		if !w.sleep(wait) {
			return
		}
		var ok bool
		if p, ok = w.current(q); !ok {
			w.forget(q)
			return
		}
	}
}

// backoff is the wait after the attempt-th failure: RetryMin doubled per
// failure, at most RetryMax.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.opts.RetryMin
	for i := 1; i < attempt && d < w.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, w.opts.RetryMax)
}

// sleep waits d, or less if the worker closes (then false).
func (w *Worker) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.ctx.Done():
		return false
	}
}

// current reads q's pusher again; false when it is gone.
func (w *Worker) current(q *queue) (api.Pusher, bool) {
	ps, err := w.store.PushersOf(w.ctx, []api.Localpart{q.key.localpart})
	if err != nil {
		// Keep the copy we have: the database being away is no reason to
		// drop a notification.
		w.mu.Lock()
		defer w.mu.Unlock()
		return q.pusher, true
	}
	for _, p := range ps {
		if keyOf(p) == q.key {
			return p, p.Kind == "http"
		}
	}
	return api.Pusher{}, false
}

// drop deletes a pusher the gateway rejected, with what its queue holds.
func (w *Worker) drop(q *queue, p api.Pusher) {
	if _, err := w.store.DeletePusher(w.ctx, p.Localpart, p.AppID, p.PushKey); err != nil {
		w.log.WithError(err).WithField("app_id", p.AppID).Warn("pusher: deleting a rejected pusher")
	}
	w.forget(q)
}

// forget empties q, whose pusher is gone.
func (w *Worker) forget(q *queue) {
	w.mu.Lock()
	defer w.mu.Unlock()
	q.gone, q.pending = true, nil
}

// errGateway is a push gateway's answer other than success.
var errGateway = errors.New("push gateway error")

// maxResponse bounds what is read of a gateway's answer.
const maxResponse = 64 << 10

// send posts one notification to p's gateway and reports whether the
// gateway rejected p's pushkey.
func (w *Worker) send(p api.Pusher, item push) (rejected bool, err error) {
	if c := w.counter.Load(); c != nil {
		n, err := (*c).UnreadTotal(w.ctx, item.user.UserID)
		if err != nil {
			w.log.WithError(err).WithField("user_id", item.user.UserID).Warn("pusher: counting unread notifications")
		}
		item.user.Unread = n
	}
	body, err := buildRequest(p, item.n, item.user)
	if err != nil {
		return false, fmt.Errorf("pusher: building the request: %w", err)
	}
	var data struct {
		URL string `json:"url"`
	}
	_ = json.Unmarshal(p.Data, &data) // checked when the pusher was set
	select {
	case w.sending <- struct{}{}:
		defer func() { <-w.sending }()
	case <-w.ctx.Done():
		return false, w.ctx.Err()
	}
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, data.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("pusher: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := w.opts.Client.Do(req)
	if err != nil {
		return false, fmt.Errorf("pusher: %w", err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return false, fmt.Errorf("%w: HTTP %d", errGateway, res.StatusCode)
	}
	var resp notifyResponse
	_ = json.Unmarshal(b, &resp) // a success without a readable body rejects nothing
	return slices.Contains(resp.Rejected, p.PushKey), nil
}
