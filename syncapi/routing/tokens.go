package routing

import (
	"strconv"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
)

// A stream token "s<N>" stands between stream positions N and N+1: /sync
// returns what comes after it, /messages pages from it. Tokens are opaque to
// clients (spec: "Syncing").
func formatToken(pos int64) string { return "s" + strconv.FormatInt(pos, 10) }

func parseToken(tok string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(tok, "s"), 10, 64)
	if err != nil || !strings.HasPrefix(tok, "s") || n < 0 {
		return 0, httputil.InvalidParam("Invalid pagination or sync token %q", tok)
	}
	return n, nil
}
