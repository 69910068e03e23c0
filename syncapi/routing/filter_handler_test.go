package routing_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
)

func filterPath(userID string) string {
	return "/_matrix/client/v3/user/" + url.PathEscape(userID) + "/filter"
}

// TestPostFilter: POST /user/{userId}/filter stores a filter only for the
// user themselves, and refuses what is not a filter definition with the
// error the spec gives it.
func TestPostFilter(t *testing.T) {
	e := newEnv(t)
	path := filterPath(e.bob.ID)
	bob := e.bob.Token
	bad := func(name, body, errcode string) reqCase {
		return reqCase{name: name, token: bob, path: path, body: body, status: http.StatusBadRequest, errcode: errcode}
	}
	cases := append(authCases(path), []reqCase{
		{name: "another user's filters", token: bob, path: filterPath(e.alice.ID), body: `{}`,
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "malformed user ID", token: bob, path: filterPath("bob"), body: `{}`, status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		bad("no body", "", "M_NOT_JSON"),
		bad("body not JSON", `{"room":`, "M_NOT_JSON"),
		bad("body an array", `[]`, "M_BAD_JSON"),
		bad("field of the wrong type", `{"room":{"timeline":{"limit":"ten"}}}`, "M_BAD_JSON"),
		bad("event_fields not a list", `{"event_fields":"content"}`, "M_BAD_JSON"),
		bad("unknown event_format", `{"event_format":"xml"}`, "M_INVALID_PARAM"),
		bad("room ID without sigil", `{"room":{"rooms":["room:test.local"]}}`, "M_INVALID_PARAM"),
		bad("timeline not_rooms with an alias", `{"room":{"timeline":{"not_rooms":["#a:test.local"]}}}`, "M_INVALID_PARAM"),
		bad("negative limit", `{"presence":{"limit":-1}}`, "M_INVALID_PARAM"),
		bad("sender without server", `{"room":{"state":{"senders":["@bob"]}}}`, "M_INVALID_PARAM"),
		bad("sender without sigil", `{"account_data":{"not_senders":["bob:test.local"]}}`, "M_INVALID_PARAM"),
		{name: "valid filter", token: bob, path: path, status: http.StatusOK,
			body: `{"room":{"rooms":["!a:test.local"],"timeline":{"limit":5,"senders":["@alice:test.local"]}},"event_format":"client"}`,
			check: func(t *testing.T, res *fixture.Response) {
				id, _ := res.JSON()["filter_id"].(string)
				if _, err := strconv.ParseInt(id, 10, 64); err != nil {
					t.Fatalf("filter_id %q is not the number the store gave it", id)
				}
			}},
	}...)
	run(t, e.Fixture, http.MethodPost, cases)
}

// TestGetFilter: GET /user/{userId}/filter/{filterId} gives a user back
// exactly what they uploaded, and nobody else anything.
func TestGetFilter(t *testing.T) {
	e := newEnv(t)
	const def = `{"room":{"timeline":{"limit":3}}}`
	bobs := postFilter(t, e.Fixture, e.bob, def)
	alices := postFilter(t, e.Fixture, e.alice, `{}`)
	path := filterPath(e.bob.ID) + "/"
	bob := e.bob.Token
	cases := append(authCases(path+bobs), []reqCase{
		forbidden("another user's path", e.alice.Token, path+bobs),
		notFound("filter ID not a number", bob, path+"latest"),
		notFound("unknown filter ID", bob, path+"999999"),
		notFound("another user's filter ID", bob, path+alices),
		{name: "own filter", token: bob, path: path + bobs, status: http.StatusOK,
			check: func(t *testing.T, res *fixture.Response) {
				if string(res.Body) != def || res.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("got %s (%s), want %s as JSON", res.Body, res.Header.Get("Content-Type"), def)
				}
			}},
	}...)
	run(t, e.Fixture, http.MethodGet, cases)
}
