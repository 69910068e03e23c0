package routing

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
)

// A sync token "s<N>_<A>" stands after event stream position N and after
// position A of the user's account-data stream; "s<N>" is the same with A
// unknown. /sync returns what comes after it. Pagination tokens of
// /messages are "s<N>", the point between positions N and N+1; a sync token
// works as one too. N is negative in history backfilled from other servers
// (storage.InsertHistory), which only pagination tokens reach. Tokens are
// opaque to clients (spec: "Syncing").
type syncToken struct {
	pos int64 // -1: none (initial sync)
	ad  int64 // -1: none
}

func (t syncToken) String() string {
	if t.ad < 0 {
		return "s" + strconv.FormatInt(t.pos, 10)
	}
	return "s" + strconv.FormatInt(t.pos, 10) + "_" + strconv.FormatInt(t.ad, 10)
}

func parseSyncToken(tok string) (syncToken, error) {
	bad := httputil.InvalidParam("Invalid pagination or sync token %q", tok)
	rest, ok := strings.CutPrefix(tok, "s")
	if !ok {
		return syncToken{}, bad
	}
	posStr, adStr, hasAD := strings.Cut(rest, "_")
	pos, err := strconv.ParseInt(posStr, 10, 64)
	if err != nil || pos < 0 {
		return syncToken{}, bad
	}
	t := syncToken{pos: pos, ad: -1}
	if hasAD {
		if t.ad, err = strconv.ParseInt(adStr, 10, 64); err != nil || t.ad < 0 {
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
		return syncToken{pos: -1, ad: -1}, nil
	}
	return parseSyncToken(s)
}

func formatToken(pos int64) string { return syncToken{pos: pos, ad: -1}.String() }

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
