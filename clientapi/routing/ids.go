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

// invalidParam turns an mxid refusal into 400 M_INVALID_PARAM, saying why.
func invalidParam(err error) error {
	var e *mxid.Error
	if errors.As(err, &e) {
		return httputil.InvalidParam("Invalid %s %q: %s", e.Kind, e.ID, e.Reason)
	}
	return httputil.InvalidParam("%s", err)
}

// checkRoomID refuses a malformed room ID.
func checkRoomID(id string) error {
	if err := mxid.ValidateRoomID(id); err != nil {
		return invalidParam(err)
	}
	return nil
}

// checkUserID refuses a malformed user ID (historical localparts are
// accepted: they may name existing users of other servers).
func checkUserID(id string) error {
	if err := mxid.ValidateUserID(id); err != nil {
		return invalidParam(err)
	}
	return nil
}

// checkEventID refuses a malformed event ID (of any room version).
func checkEventID(id string) error {
	if err := mxid.ValidateEventID(id); err != nil {
		return invalidParam(err)
	}
	return nil
}

// checkServerName refuses a malformed server name.
func checkServerName(name string) error {
	if err := mxid.ValidateServerName(name); err != nil {
		return invalidParam(err)
	}
	return nil
}

// parseAlias splits a room alias into its localpart and server name,
// refusing a malformed one.
func parseAlias(alias string) (local, server string, err error) {
	local, server, err = mxid.ParseRoomAlias(alias)
	if err != nil {
		return "", "", invalidParam(err)
	}
	return local, server, nil
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
