package routing

import (
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/mxid"
)

// Identifiers a client sends — in the path, a JSON body or the query string
// — are checked here against the spec's grammar (appendices, "Identifier
// Grammar"; see internal/mxid) before a handler does anything with them, so
// that none that is malformed reaches storage or another server. A malformed
// identifier is 400 M_INVALID_PARAM, except where an endpoint's spec names
// another answer (registration: M_INVALID_USERNAME; login: the answer for
// an unknown user, see identifierLocalpart).

// invalidParam turns an mxid refusal into 400 M_INVALID_PARAM, saying why
// (nil stays nil).
func invalidParam(err error) error {
	var e *mxid.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return httputil.InvalidParam("Invalid %s %q: %s", e.Kind, e.ID, e.Reason)
	}
	return httputil.InvalidParam("%s", err)
}

// checkRoomID refuses a malformed room ID.
func checkRoomID(id string) error { return invalidParam(mxid.ValidateRoomID(id)) }

// checkUserID refuses a malformed user ID (historical localparts are
// accepted: they may name existing users of other servers).
func checkUserID(id string) error { return invalidParam(mxid.ValidateUserID(id)) }

// checkEventID refuses a malformed event ID (of any room version).
func checkEventID(id string) error { return invalidParam(mxid.ValidateEventID(id)) }

// checkServerName refuses a malformed server name.
func checkServerName(name string) error { return invalidParam(mxid.ValidateServerName(name)) }

// parseAlias splits a room alias into its localpart and server name,
// refusing a malformed one.
func parseAlias(alias string) (local, server string, err error) {
	local, server, err = mxid.ParseRoomAlias(alias)
	return local, server, invalidParam(err)
}

// queryServers returns the server names a query parameter lists (the via
// and server_name of joins), refusing any that is malformed; empty values
// are skipped.
func queryServers(r *http.Request, params ...string) ([]string, error) {
	var out []string
	q := r.URL.Query()
	for _, p := range params {
		for _, s := range q[p] {
			if s == "" {
				continue
			}
			if err := checkServerName(s); err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}
