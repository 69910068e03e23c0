package routing

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
)

// A sync token "s<N>_<A>_<T>_<D>_<R>_<Y>_<P>" stands after event stream
// position N, after position A of the user's account-data stream, after
// position T of the device's to-device inbox, after position D of the
// device-list stream, after position R of the receipt stream, after
// position Y of the typing stream and after position P of the presence
// stream. The per-user and per-device positions follow N
// in the order of syncToken.streams; a token may end early (older tokens:
// "s<N>_<A>", "s<N>"), the positions it lacks being unknown, and a missing
// one inside the token is written 0, which means the same: before the first.
// A new stream's position is added at the end of streams. /sync returns
// what comes after the token. Pagination tokens of /messages are "s<N>",
// the point between positions N and N+1; a sync token works as one too. N
// is negative in history backfilled from other servers
// (storage.InsertHistory), which only pagination tokens reach. Tokens are
// opaque to clients (spec: "Syncing").
type syncToken struct {
	pos int64 // -1: none (initial sync)
	ad  int64 // -1: none
	// td is the last to-device position the device received: a sync with
	// the token acknowledges the messages up to it. -1: none, so whatever
	// is waiting is delivered.
	td int64
	// dl is the device-list stream position the device's client has heard
	// of: the next incremental sync lists the users changed after it.
	// -1: none (an older token), so every change is listed again.
	dl int64
	// rc is the receipt stream position the client has seen (receipts.go);
	// -1: none, so the rooms' current receipts are sent.
	rc int64
	// ty is the typing stream position the client has seen (typing.go);
	// -1: none, so the rooms' current typing users are sent.
	ty int64
	// pr is the presence stream position the client has seen (presence.go);
	// -1: none, so the current presence of every user sharing a room is
	// sent.
	pr int64
}

// initialToken is where an initial sync starts.
func initialToken() syncToken {
	return syncToken{pos: -1, ad: -1, td: -1, dl: -1, rc: -1, ty: -1, pr: -1}
}

// streams are the token's positions after N, in the order it writes them.
func (t *syncToken) streams() [6]*int64 {
	return [6]*int64{&t.ad, &t.td, &t.dl, &t.rc, &t.ty, &t.pr}
}

func (t syncToken) String() string {
	b := append(make([]byte, 0, 32), 's')
	b = strconv.AppendInt(b, t.pos, 10)
	streams := t.streams()
	n := len(streams)
	for n > 0 && *streams[n-1] < 0 {
		n--
	}
	for _, p := range streams[:n] {
		b = append(b, '_')
		b = strconv.AppendInt(b, max(*p, 0), 10)
	}
	return string(b)
}

func parseSyncToken(tok string) (syncToken, error) {
	bad := httputil.InvalidParam("Invalid pagination or sync token %q", tok)
	rest, ok := strings.CutPrefix(tok, "s")
	if !ok {
		return syncToken{}, bad
	}
	parts := strings.Split(rest, "_")
	t := initialToken()
	streams := t.streams()
	if len(parts)-1 > len(streams) {
		return syncToken{}, bad
	}
	var err error
	if t.pos, err = strconv.ParseInt(parts[0], 10, 64); err != nil || t.pos < 0 {
		return syncToken{}, bad
	}
	for i, part := range parts[1:] {
		if *streams[i], err = strconv.ParseInt(part, 10, 64); err != nil || *streams[i] < 0 {
			return syncToken{}, bad
		}
	}
	return t, nil
}

// sinceParam reads the since parameter of /sync and the WebSocket stream;
// without one, the sync is an initial sync.
func sinceParam(q url.Values) (syncToken, error) {
	s := q.Get("since")
	if s == "" {
		return initialToken(), nil
	}
	return parseSyncToken(s)
}

func formatToken(pos int64) string {
	t := initialToken()
	t.pos = pos
	return t.String()
}

// parseToken reads a pagination token (or a sync token used as one).
func parseToken(tok string) (int64, error) {
	if rest, ok := strings.CutPrefix(tok, "s-"); ok && !strings.Contains(rest, "_") {
		if n, err := strconv.ParseInt(rest, 10, 64); err == nil && n > 0 {
			return -n, nil
		}
		return 0, httputil.InvalidParam("Invalid pagination token %q", tok)
	}
	t, err := parseSyncToken(tok)
	return t.pos, err
}
