package api

import (
	"net/http"
	"strings"

	"github.com/myelin-im/myelin/internal/coded"
)

// The refusals of a join to a restricted room (spec: server-server API,
// "Restricted rooms"; room versions 8+, knock_restricted in 10+).
var (
	// ErrUnableToAuthoriseJoin: this server cannot tell whether the user
	// meets the join rules' conditions (it is in none of the allowed
	// rooms); the joining server should ask another.
	ErrUnableToAuthoriseJoin = coded.New("this server cannot tell whether you may join: it is in none of the allowed rooms",
		http.StatusBadRequest, "M_UNABLE_TO_AUTHORISE_JOIN")
	// ErrUnableToGrantJoin: the user meets the conditions but no user of
	// this server may invite, so none can authorise the join; the joining
	// server should ask another.
	ErrUnableToGrantJoin = coded.New("no user of this server can authorise your join", http.StatusBadRequest,
		"M_UNABLE_TO_GRANT_JOIN")
)

// JoinElsewhereError is a local user's join to a restricted room this
// server is in, which the user may join but no local user can authorise:
// the join goes through one of Servers, the room's other servers (as
// ErrUnableToGrantJoin when none takes it).
type JoinElsewhereError struct{ Servers []string }

func (e *JoinElsewhereError) Error() string {
	return "no user of this server can authorise the join; try " + strings.Join(e.Servers, ", ")
}

// Unwrap makes the error ErrUnableToGrantJoin for errors.Is and its answer.
func (e *JoinElsewhereError) Unwrap() error { return ErrUnableToGrantJoin }
