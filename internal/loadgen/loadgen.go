// Package loadgen drives a Matrix homeserver over the Client-Server API for
// benchmarks: it registers users, creates rooms, and measures message
// throughput and send-to-delivery latency. It speaks plain HTTP and JSON, so
// it can be pointed at any homeserver (cmd/myelin-bench) as well as at
// Myelin in tests.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Client is one logged-in user.
type Client struct {
	Base   string
	Token  string
	UserID string
	HTTP   *http.Client
}

// Call sends a JSON request and decodes a JSON response into out.
func (c *Client) Call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// NewTransport is an HTTP transport sized for many concurrent clients.
func NewTransport() *http.Transport {
	return &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}
}

// Register creates n users named prefix0…prefixN-1 with dummy
// registration (the server must allow it).
func Register(ctx context.Context, base, prefix string, n int, tr http.RoundTripper) ([]*Client, error) {
	out := make([]*Client, n)
	for i := range out {
		c := &Client{Base: base, HTTP: &http.Client{Transport: tr}}
		var resp struct {
			AccessToken string `json:"access_token"`
			UserID      string `json:"user_id"`
		}
		err := c.Call(ctx, http.MethodPost, "/_matrix/client/v3/register", map[string]any{
			"username": fmt.Sprintf("%s%d", prefix, i), "password": "loadgen-password-" + prefix,
			"auth": map[string]string{"type": "m.login.dummy"}}, &resp)
		if err != nil {
			return nil, fmt.Errorf("registering user %d: %w", i, err)
		}
		c.Token, c.UserID = resp.AccessToken, resp.UserID
		out[i] = c
	}
	return out, nil
}

// Room creates a public room as creator and joins members to it.
func Room(ctx context.Context, creator *Client, members []*Client) (string, error) {
	var room struct {
		RoomID string `json:"room_id"`
	}
	createRoom := map[string]any{"preset": "public_chat"}
	if err := creator.Call(ctx, http.MethodPost, "/_matrix/client/v3/createRoom", createRoom, &room); err != nil {
		return "", err
	}
	for _, m := range members {
		join := "/_matrix/client/v3/rooms/" + url.PathEscape(room.RoomID) + "/join"
		if err := m.Call(ctx, http.MethodPost, join, map[string]any{}, nil); err != nil {
			return "", err
		}
	}
	return room.RoomID, nil
}

// Send sends one text message with a transaction ID.
func (c *Client) Send(ctx context.Context, roomID, txnID, body string) error {
	return c.Call(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/send/m.room.message/"+url.PathEscape(txnID),
		map[string]string{"msgtype": "m.text", "body": body}, nil)
}

// syncBodies is the part of a /sync response the load tool reads: the
// bodies of the timeline events of joined rooms.
type syncBodies struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			Timeline struct {
				Events []struct {
					Content struct {
						Body string `json:"body"`
					} `json:"content"`
				} `json:"events"`
			} `json:"timeline"`
		} `json:"join"`
	} `json:"rooms"`
}

// ThroughputResult is what Throughput measured.
type ThroughputResult struct {
	Messages int
	// Elapsed runs from the first send to the last acknowledgement.
	Elapsed time.Duration
	// Delivered runs from the first send until every room's messages could
	// be read from /sync (a marker sent after the last acknowledgement of
	// each room came back in a member's /sync): a server that acknowledges
	// faster than it delivers shows it here.
	Delivered time.Duration
}

// PerSecond is the acknowledged message rate.
func (r ThroughputResult) PerSecond() float64 { return float64(r.Messages) / r.Elapsed.Seconds() }

// DeliveredPerSecond is the rate at which messages reached /sync.
func (r ThroughputResult) DeliveredPerSecond() float64 {
	return float64(r.Messages) / r.Delivered.Seconds()
}

// Throughput has every sender send to its room as fast as acknowledgements
// allow until total messages are sent, then waits until they are delivered
// to /sync. senders[i] sends to rooms[i % len(rooms)]; senders[r] (r <
// len(rooms)) watches room r.
func Throughput(ctx context.Context, senders []*Client, rooms []string, total int) (ThroughputResult, error) {
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range senders {
		wg.Add(1)
		go func(c *Client, room string) {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(total) || ctx.Err() != nil {
					return
				}
				txn := "lg" + strconv.FormatInt(start.UnixNano(), 36) + "-" + strconv.FormatInt(n, 10)
				if err := c.Send(ctx, room, txn, txn); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}(c, rooms[i%len(rooms)])
	}
	wg.Wait()
	res := ThroughputResult{Messages: total, Elapsed: time.Since(start)}
	if err, _ := firstErr.Load().(error); err != nil {
		return res, err
	}
	errs := make(chan error, len(rooms))
	for r, room := range rooms {
		go func(c *Client, room string) {
			errs <- c.awaitMarker(ctx, room, "marker-"+strconv.FormatInt(start.UnixNano(), 36))
		}(senders[r%len(senders)], room)
	}
	for range rooms {
		if err := <-errs; err != nil {
			return res, err
		}
	}
	res.Delivered = time.Since(start)
	return res, nil
}

// awaitMarker sends a message to roomID and long-polls /sync until it comes
// back: everything the room received before is then readable from /sync.
func (c *Client) awaitMarker(ctx context.Context, roomID, marker string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	filter := url.QueryEscape(`{"room":{"rooms":["` + roomID + `"],"timeline":{"limit":1},` +
		`"state":{"lazy_load_members":true}},"presence":{"not_types":["*"]}}`)
	var resp struct {
		NextBatch string `json:"next_batch"`
	}
	if err := c.Call(ctx, http.MethodGet, "/_matrix/client/v3/sync?timeout=0&filter="+filter, nil, &resp); err != nil {
		return err
	}
	since := resp.NextBatch
	if err := c.Send(ctx, roomID, marker, marker); err != nil {
		return err
	}
	for {
		var resp syncBodies
		path := "/_matrix/client/v3/sync?timeout=30000&filter=" + filter + "&since=" + url.QueryEscape(since)
		if err := c.Call(ctx, http.MethodGet, path, nil, &resp); err != nil {
			return fmt.Errorf("waiting for delivery in %s: %w", roomID, err)
		}
		since = resp.NextBatch
		for _, e := range resp.Rooms.Join[roomID].Timeline.Events {
			if e.Content.Body == marker {
				return nil
			}
		}
	}
}

// Latencies are send-to-delivery times.
type Latencies []time.Duration

// Quantile returns the q-quantile (0 ≤ q ≤ 1).
func (l Latencies) Quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := append(Latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q * float64(len(s)-1))
	return s[i]
}

// Latency has members long-poll /sync while sender sends n messages one
// after another to roomID, each after every member received the previous
// one; it returns, for every (message, member), the time from the start of
// the send request to that member's /sync returning the message.
func Latency(ctx context.Context, sender *Client, members []*Client, roomID string, n int) (Latencies, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat Latencies
	received := make(chan struct{}, n*len(members)+len(members))
	errs := make(chan error, len(members))
	for _, m := range members {
		var first struct {
			NextBatch string `json:"next_batch"`
		}
		if err := m.Call(ctx, http.MethodGet, "/_matrix/client/v3/sync?timeout=0", nil, &first); err != nil {
			return nil, err
		}
		go func(m *Client, since string) {
			for ctx.Err() == nil {
				var resp syncBodies
				err := m.Call(ctx, http.MethodGet, "/_matrix/client/v3/sync?timeout=30000&since="+url.QueryEscape(since), nil, &resp)
				if err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				now := time.Now()
				since = resp.NextBatch
				for _, e := range resp.Rooms.Join[roomID].Timeline.Events {
					mu.Lock()
					t0, ok := sent[e.Content.Body]
					if ok {
						lat = append(lat, now.Sub(t0))
					}
					mu.Unlock()
					if ok {
						received <- struct{}{}
					}
				}
			}
		}(m, first.NextBatch)
	}
	prefix := "lat" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	for i := 0; i < n; i++ {
		body := prefix + strconv.Itoa(i)
		mu.Lock()
		sent[body] = time.Now()
		mu.Unlock()
		if err := sender.Send(ctx, roomID, body, body); err != nil {
			return nil, err
		}
		for k := 0; k < len(members); k++ {
			select {
			case <-received:
			case err := <-errs:
				return nil, err
			case <-time.After(30 * time.Second):
				return nil, fmt.Errorf("message %d reached %d of %d members in 30 s", i, k, len(members))
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return append(Latencies(nil), lat...), nil
}
