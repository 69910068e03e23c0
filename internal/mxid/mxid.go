// Package mxid checks Matrix identifiers — server names, user IDs and
// localparts, room IDs, room aliases, event IDs and opaque identifiers —
// against the grammar of the spec's appendix "Identifier Grammar", so that
// handlers refuse a malformed identifier where it enters the server instead
// of letting it reach a database or another server.
//
//	if err := mxid.ValidateRoomID(req.RoomID); err != nil {
//		return httputil.InvalidParam("%s", err)
//	}
//
// Every error wraps ErrInvalid and is an *Error naming the kind of
// identifier and what is wrong with it.
package mxid

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxLength is the most bytes any identifier may have, sigil and server
// name included (appendices: user IDs, room IDs, aliases and event IDs
// "MUST NOT exceed 255 bytes").
const MaxLength = 255

// ErrInvalid is wrapped by every error this package returns.
var ErrInvalid = errors.New("invalid identifier")

// Error says why an identifier was refused.
type Error struct {
	Kind   string // "user ID", "room ID", "room alias", "event ID", "server name", "localpart"
	ID     string // the identifier as given
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("invalid %s %q: %s", e.Kind, e.ID, e.Reason) }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }

// ParseUserID splits a user ID into its localpart and server name. It
// accepts the historical grammar, which servers MUST still accept for
// existing users (appendices, "Historical User IDs"): the localpart may be
// any valid code points except ':' and NUL, even empty. New localparts are
// checked with ValidateLocalpart.
func ParseUserID(id string) (localpart, server string, err error) {
	return parseSigilled(id, '@', "user ID", true)
}

// ValidateUserID checks a user ID (historical grammar; see ParseUserID).
func ValidateUserID(id string) error {
	_, _, err := ParseUserID(id)
	return err
}

// ValidateLocalpart checks the localpart of a new user ID (appendices, "User
// Identifiers": only a-z, 0-9 and ._=-/+, not empty). The length of the
// whole user ID is the caller's to check, as it depends on the server name.
func ValidateLocalpart(local string) error {
	if local == "" {
		return &Error{Kind: "localpart", ID: local, Reason: "empty"}
	}
	for i := 0; i < len(local); i++ {
		if !isUserIDChar(local[i]) {
			return &Error{Kind: "localpart", ID: local, Reason: "only a-z, 0-9 and ._=-/+ are allowed"}
		}
	}
	return nil
}

func isUserIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("._=-/+", c) >= 0
}

// ParseRoomAlias splits a room alias (appendices, "Room Aliases":
// #localpart:server, the localpart any valid code points except ':' and
// NUL) into its localpart, which this server also requires to be non-empty,
// and server name.
func ParseRoomAlias(alias string) (localpart, server string, err error) {
	return parseSigilled(alias, '#', "room alias", false)
}

// ValidateRoomAlias checks a room alias (see ParseRoomAlias).
func ValidateRoomAlias(alias string) error {
	_, _, err := ParseRoomAlias(alias)
	return err
}

// ValidateRoomID checks a room ID (appendices, "Room IDs"): !localpart:server
// in room versions that name a server, and in room version 12 and later the
// create event's ID with '!' as sigil, which is unpadded base64.
func ValidateRoomID(id string) error {
	return validateOpaque(id, '!', "room ID")
}

// ValidateEventID checks an event ID (appendices, "Event IDs"; room
// versions): $localpart:server in room versions 1 and 2, unpadded base64 of
// a hash from version 3 on (standard alphabet in version 3, URL-safe from 4).
func ValidateEventID(id string) error {
	return validateOpaque(id, '$', "event ID")
}

// validateOpaque checks the two forms room and event IDs take: with a server
// name after the first ':', or a hash in unpadded base64 without one.
func validateOpaque(id string, sigil byte, kind string) error {
	if strings.IndexByte(id, ':') >= 0 {
		_, _, err := parseSigilled(id, sigil, kind, true)
		return err
	}
	if err := checkCommon(id, sigil, kind); err != nil {
		return err
	}
	if len(id) == 1 {
		return &Error{Kind: kind, ID: id, Reason: "empty"}
	}
	for i := 1; i < len(id); i++ {
		if !isBase64Char(id[i]) {
			return &Error{Kind: kind, ID: id, Reason: "without a server name, it must be unpadded base64"}
		}
	}
	return nil
}

// isBase64Char accepts both alphabets: room version 3 uses the standard
// one, later versions the URL-safe one (RFC 4648 §4 and §5).
func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("+/-_", c) >= 0
}

// parseSigilled splits sigil localpart ":" server_name, the common
// identifier format.
func parseSigilled(id string, sigil byte, kind string, emptyLocal bool) (localpart, server string, err error) {
	if err := checkCommon(id, sigil, kind); err != nil {
		return "", "", err
	}
	local, server, ok := strings.Cut(id[1:], ":")
	switch {
	case !ok:
		return "", "", &Error{Kind: kind, ID: id, Reason: "no ':' before the server name"}
	case local == "" && !emptyLocal:
		return "", "", &Error{Kind: kind, ID: id, Reason: "empty localpart"}
	}
	if err := ValidateServerName(server); err != nil {
		var se *Error
		if errors.As(err, &se) {
			return "", "", &Error{Kind: kind, ID: id, Reason: "server name: " + se.Reason}
		}
		return "", "", err
	}
	return local, server, nil
}

// checkCommon applies what every sigilled identifier must satisfy: its
// sigil, at most MaxLength bytes, valid UTF-8 (so no surrogates) and no NUL.
func checkCommon(id string, sigil byte, kind string) error {
	switch {
	case id == "" || id[0] != sigil:
		return &Error{Kind: kind, ID: id, Reason: fmt.Sprintf("must start with '%c'", sigil)}
	case len(id) > MaxLength:
		return &Error{Kind: kind, ID: id, Reason: fmt.Sprintf("longer than %d bytes", MaxLength)}
	case !utf8.ValidString(id):
		return &Error{Kind: kind, ID: id, Reason: "not valid UTF-8"}
	case strings.IndexByte(id, 0) >= 0:
		return &Error{Kind: kind, ID: id, Reason: "contains NUL"}
	}
	return nil
}

// ValidateOpaqueID checks an identifier of the Opaque Identifier Grammar
// (appendices, "Opaque Identifiers": 1 to maxLen characters from
// [0-9A-Za-z-._~]); kind names it in the error.
func ValidateOpaqueID(id, kind string, maxLen int) error {
	switch {
	case id == "":
		return &Error{Kind: kind, ID: id, Reason: "empty"}
	case len(id) > maxLen:
		return &Error{Kind: kind, ID: id, Reason: fmt.Sprintf("longer than %d characters", maxLen)}
	}
	for i := 0; i < len(id); i++ {
		if !isOpaqueChar(id[i]) {
			return &Error{Kind: kind, ID: id, Reason: "only 0-9, A-Z, a-z and -._~ are allowed"}
		}
	}
	return nil
}

// isOpaqueChar is RFC 3986's unreserved set, which the grammar takes.
func isOpaqueChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0
}
