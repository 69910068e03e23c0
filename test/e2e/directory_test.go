package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// TestRoomAliases drives room aliases as clients use them: an alias given at
// creation, resolving it, joining by it, adding and removing aliases with
// the directory endpoints, and who may do what — on SQLite and PostgreSQL.
func TestRoomAliases(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")
		carol := register(t, srv, "carol", "long enough")
		base := srv.ClientURL() + "/_matrix/client/v3"
		aliasURL := func(alias string) string { return base + "/directory/room/" + url.PathEscape(alias) }

		// createRoom with room_alias_name: the alias maps to the room and is
		// its canonical alias.
		tea, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{RoomAliasName: "tea", Visibility: "public", Name: "Tea party"})
		if err != nil {
			t.Fatalf("createRoom with an alias: %v", err)
		}
		const teaAlias = id.RoomAlias("#tea:localhost")
		res, err := bob.ResolveAlias(ctx(t), teaAlias)
		if err != nil || res.RoomID != tea.RoomID || !slices.Equal(res.Servers, []string{"localhost"}) {
			t.Fatalf("resolve %s = %+v, %v; want %s on localhost", teaAlias, res, err, tea.RoomID)
		}
		var canonical struct {
			Alias string `json:"alias"`
		}
		err = alice.StateEvent(ctx(t), tea.RoomID, event.StateCanonicalAlias, "", &canonical)
		if err != nil || canonical.Alias != string(teaAlias) {
			t.Fatalf("canonical alias = %q, %v", canonical.Alias, err)
		}
		// Resolving needs no access token.
		if r := do(t, http.MethodGet, aliasURL(string(teaAlias)), "", nil); r.Status != http.StatusOK ||
			r.Body["room_id"] != string(tea.RoomID) {
			t.Fatalf("unauthenticated resolve: %d %v", r.Status, r.Body)
		}

		// Joining by alias.
		joined, err := bob.JoinRoom(ctx(t), string(teaAlias), nil)
		if err != nil || joined.RoomID != tea.RoomID {
			t.Fatalf("join by alias = %+v, %v", joined, err)
		}
		_, err = carol.JoinRoom(ctx(t), "#nowhere:localhost", nil)
		wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
		_, err = carol.JoinRoom(ctx(t), "#tea:elsewhere.example", nil)
		wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")

		// The alias is taken; bad localparts are refused.
		_, err = carol.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{RoomAliasName: "tea"})
		wantMatrixError(t, err, http.StatusBadRequest, "M_ROOM_IN_USE")
		for _, bad := range []string{"a:b", "white space", "tab\there"} {
			_, err = carol.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{RoomAliasName: bad})
			wantMatrixError(t, err, http.StatusBadRequest, "M_INVALID_PARAM")
		}
		if rooms, _ := carol.JoinedRooms(ctx(t)); len(rooms.JoinedRooms) != 0 {
			t.Fatalf("refused createRoom requests made rooms: %v", rooms.JoinedRooms)
		}

		// PUT /directory/room: any member may add an alias; non-members may not.
		const bobAlias = id.RoomAlias("#teatime:localhost")
		if _, err := bob.CreateAlias(ctx(t), bobAlias, tea.RoomID); err != nil {
			t.Fatalf("bob adds an alias: %v", err)
		}
		_, err = carol.CreateAlias(ctx(t), "#carols:localhost", tea.RoomID)
		wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
		_, err = alice.CreateAlias(ctx(t), bobAlias, tea.RoomID)
		wantMatrixError(t, err, http.StatusConflict, "M_UNKNOWN")
		_, err = alice.CreateAlias(ctx(t), "#tea:elsewhere.example", tea.RoomID)
		wantMatrixError(t, err, http.StatusBadRequest, "M_INVALID_PARAM")
		_, err = alice.CreateAlias(ctx(t), "#ghost:localhost", "!ghost:localhost")
		wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
		r := do(t, http.MethodPut, aliasURL("#noroom:localhost"), alice.AccessToken, map[string]any{})
		if r.Status != http.StatusBadRequest || r.errcode() != "M_MISSING_PARAM" {
			t.Fatalf("PUT alias without room_id: %d %v", r.Status, r.Body)
		}
		anon := map[string]any{"room_id": tea.RoomID}
		if r := do(t, http.MethodPut, aliasURL("#anon:localhost"), "", anon); r.Status != http.StatusUnauthorized {
			t.Fatalf("PUT alias without a token: %d %v", r.Status, r.Body)
		}
		_, err = alice.ResolveAlias(ctx(t), "no-sigil:localhost")
		wantMatrixError(t, err, http.StatusBadRequest, "M_INVALID_PARAM")
		_, err = alice.ResolveAlias(ctx(t), "#ghost:localhost")
		wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
		_, err = alice.ResolveAlias(ctx(t), "#tea:elsewhere.example")
		wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")

		// GET /rooms/{roomId}/aliases: members only, unless world_readable.
		list, err := bob.GetAliases(ctx(t), tea.RoomID)
		if err != nil || !slices.Equal(list.Aliases, []id.RoomAlias{teaAlias, bobAlias}) {
			t.Fatalf("aliases = %+v, %v", list, err)
		}
		_, err = carol.GetAliases(ctx(t), tea.RoomID)
		wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
		open, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{
			RoomAliasName: "open",
			InitialState:  historyVisibility("world_readable"),
		})
		if err != nil {
			t.Fatal(err)
		}
		list, err = carol.GetAliases(ctx(t), open.RoomID)
		if err != nil || !slices.Equal(list.Aliases, []id.RoomAlias{"#open:localhost"}) {
			t.Fatalf("world_readable room's aliases for a non-member = %+v, %v", list, err)
		}

		// DELETE /directory/room: the alias's creator, or a member with the
		// power to send m.room.canonical_alias.
		if _, err := carol.JoinRoom(ctx(t), string(teaAlias), nil); err != nil {
			t.Fatal(err)
		}
		_, err = carol.DeleteAlias(ctx(t), bobAlias) // power 0, not the creator
		wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
		_, err = bob.DeleteAlias(ctx(t), teaAlias) // alice's alias: bob has power 0
		wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
		if _, err := bob.DeleteAlias(ctx(t), bobAlias); err != nil {
			t.Fatalf("bob deletes his alias: %v", err)
		}
		_, err = bob.ResolveAlias(ctx(t), bobAlias)
		wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
		_, err = bob.DeleteAlias(ctx(t), bobAlias)
		wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
		// A moderator (alice, the creator of the room) removes carol's alias.
		if _, err := carol.CreateAlias(ctx(t), "#carols:localhost", tea.RoomID); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.DeleteAlias(ctx(t), "#carols:localhost"); err != nil {
			t.Fatalf("alice deletes carol's alias: %v", err)
		}
		// A deleted alias can be given to another room.
		if _, err := alice.CreateAlias(ctx(t), "#carols:localhost", open.RoomID); err != nil {
			t.Fatal(err)
		}
		if res, err := carol.ResolveAlias(ctx(t), "#carols:localhost"); err != nil || res.RoomID != open.RoomID {
			t.Fatalf("re-used alias = %+v, %v", res, err)
		}
		list, err = alice.GetAliases(ctx(t), tea.RoomID)
		if err != nil || !slices.Equal(list.Aliases, []id.RoomAlias{teaAlias}) {
			t.Fatalf("aliases after deletes = %+v, %v", list, err)
		}
	})
}

// TestPublicRooms publishes rooms, lists, searches and pages the published
// room directory, and withdraws rooms from it — on SQLite and PostgreSQL.
func TestPublicRooms(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")
		carol := register(t, srv, "carol", "long enough")
		base := srv.ClientURL() + "/_matrix/client/v3"
		visURL := func(room id.RoomID) string { return base + "/directory/list/room/" + url.PathEscape(string(room)) }

		// Tea (three members) and five more published rooms, one private room.
		tea, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{
			Visibility:    "public",
			RoomAliasName: "tea",
			Name:          "Tea party",
			Topic:         "Earl Grey only",
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []*mautrix.Client{bob, carol} {
			if _, err := c.JoinRoomByID(ctx(t), tea.RoomID); err != nil {
				t.Fatal(err)
			}
		}
		published := map[id.RoomID]bool{tea.RoomID: true}
		for i := range 5 {
			r, err := bob.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Visibility: "public", Name: fmt.Sprintf("Room %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			published[r.RoomID] = true
		}
		space, err := carol.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Visibility: "public", Name: "A space",
			CreationContent: map[string]any{"type": "m.space"}})
		if err != nil {
			t.Fatal(err)
		}
		published[space.RoomID] = true
		hidden, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "public_chat", Name: "Tea room, unlisted"})
		if err != nil {
			t.Fatal(err)
		}

		// GET /publicRooms, without a token.
		var all mautrix.RespPublicRooms
		getJSON(t, base+"/publicRooms", &all)
		if len(all.Chunk) != len(published) || all.TotalRoomCountEstimate != len(published) || all.NextBatch != "" || all.PrevBatch != "" {
			t.Fatalf("publicRooms = %d rooms (estimate %d, next %q, prev %q); want %d",
				len(all.Chunk), all.TotalRoomCountEstimate, all.NextBatch, all.PrevBatch, len(published))
		}
		first := all.Chunk[0] // the most members first
		if first.RoomID != tea.RoomID || first.Name != "Tea party" || first.Topic != "Earl Grey only" ||
			first.CanonicalAlias != "#tea:localhost" || first.NumJoinedMembers != 3 || first.JoinRule != "public" ||
			first.WorldReadable || first.GuestCanJoin {
			t.Fatalf("tea's entry = %+v", first)
		}
		for _, r := range all.Chunk {
			if !published[r.RoomID] {
				t.Fatalf("unpublished room %s listed", r.RoomID)
			}
			if r.RoomID == space.RoomID && r.RoomType != "m.space" {
				t.Fatalf("space's room_type = %q", r.RoomType)
			}
		}
		if res, err := alice.PublicRooms(ctx(t), &mautrix.ReqPublicRooms{Limit: 10}); err != nil || len(res.Chunk) != len(published) {
			t.Fatalf("mautrix PublicRooms = %+v, %v", res, err)
		}

		// Paging by two: every room once, prev_batch from the second page on.
		seen := map[id.RoomID]bool{}
		since, pages := "", 0
		for {
			u := base + "/publicRooms?limit=2"
			if since != "" {
				u += "&since=" + url.QueryEscape(since)
			}
			var page mautrix.RespPublicRooms
			getJSON(t, u, &page)
			pages++
			if len(page.Chunk) == 0 || len(page.Chunk) > 2 || (pages > 1) != (page.PrevBatch != "") {
				t.Fatalf("page %d = %+v", pages, page)
			}
			for _, r := range page.Chunk {
				if seen[r.RoomID] {
					t.Fatalf("room %s on two pages", r.RoomID)
				}
				seen[r.RoomID] = true
			}
			if page.NextBatch == "" {
				break
			}
			since = page.NextBatch
		}
		if len(seen) != len(published) || pages != 4 {
			t.Fatalf("paging saw %d rooms in %d pages; want %d in 4", len(seen), pages, len(published))
		}
		if r := do(t, http.MethodGet, base+"/publicRooms?since=nonsense", "", nil); r.Status != http.StatusBadRequest ||
			r.errcode() != "M_INVALID_PARAM" {
			t.Fatalf("bad since token: %d %v", r.Status, r.Body)
		}
		// Another server's directory goes through federation: one that
		// cannot be reached (a loopback address discovery refuses) is 502.
		if r := do(t, http.MethodGet, base+"/publicRooms?server=127.0.0.1:1", "", nil); r.Status != http.StatusBadGateway {
			t.Fatalf("publicRooms of an unreachable server: %d %v", r.Status, r.Body)
		}

		// POST /publicRooms: search ignores case and looks at name, topic and
		// alias; room_types filters.
		search := func(filter map[string]any, limit int) mautrix.RespPublicRooms {
			t.Helper()
			body := map[string]any{"filter": filter}
			if limit > 0 {
				body["limit"] = limit
			}
			r := do(t, http.MethodPost, base+"/publicRooms", carol.AccessToken, body)
			if r.Status != http.StatusOK {
				t.Fatalf("POST publicRooms %v: %d %v", filter, r.Status, r.Body)
			}
			var out mautrix.RespPublicRooms
			if err := jsonRoundTrip(r.Body, &out); err != nil {
				t.Fatal(err)
			}
			return out
		}
		for _, term := range []string{"EARL grey", "tea PARTY", "#tea:"} {
			if got := search(map[string]any{"generic_search_term": term}, 0); len(got.Chunk) != 1 ||
				got.Chunk[0].RoomID != tea.RoomID || got.TotalRoomCountEstimate != 1 {
				t.Fatalf("search %q = %+v", term, got)
			}
		}
		if got := search(map[string]any{"generic_search_term": "room"}, 3); len(got.Chunk) != 3 ||
			got.TotalRoomCountEstimate != 5 || got.NextBatch == "" {
			t.Fatalf("search \"room\" limit 3 = %+v", got)
		}
		if got := search(map[string]any{"generic_search_term": "no such room anywhere"}, 0); len(got.Chunk) != 0 || got.Chunk == nil {
			t.Fatalf("search without matches = %+v", got)
		}
		if got := search(map[string]any{"room_types": []any{"m.space"}}, 0); len(got.Chunk) != 1 || got.Chunk[0].RoomID != space.RoomID {
			t.Fatalf("room_types [m.space] = %+v", got)
		}
		if got := search(map[string]any{"room_types": []any{nil}}, 0); len(got.Chunk) != len(published)-1 {
			t.Fatalf("room_types [null] = %d rooms; want %d", len(got.Chunk), len(published)-1)
		}
		if r := do(t, http.MethodPost, base+"/publicRooms", "", map[string]any{}); r.Status != http.StatusUnauthorized {
			t.Fatalf("POST publicRooms without a token: %d", r.Status)
		}

		// Visibility: readable by anyone; changed by moderators only.
		wantVisibility := func(room id.RoomID, want string) {
			t.Helper()
			if r := do(t, http.MethodGet, visURL(room), "", nil); r.Status != http.StatusOK || r.Body["visibility"] != want {
				t.Fatalf("visibility of %s = %d %v; want %s", room, r.Status, r.Body, want)
			}
		}
		wantVisibility(tea.RoomID, "public")
		wantVisibility(hidden.RoomID, "private")
		if r := do(t, http.MethodGet, visURL("!ghost:localhost"), "", nil); r.Status != http.StatusNotFound ||
			r.errcode() != "M_NOT_FOUND" {
			t.Fatalf("visibility of an unknown room: %d %v", r.Status, r.Body)
		}
		for _, c := range []struct {
			who  *mautrix.Client
			room id.RoomID
		}{{bob, tea.RoomID}, {carol, hidden.RoomID}} { // power 0; not a member
			r := do(t, http.MethodPut, visURL(c.room), c.who.AccessToken, map[string]any{"visibility": "private"})
			if r.Status != http.StatusForbidden || r.errcode() != "M_FORBIDDEN" {
				t.Fatalf("%s sets %s private: %d %v", c.who.UserID, c.room, r.Status, r.Body)
			}
		}
		secret := map[string]any{"visibility": "secret"}
		if r := do(t, http.MethodPut, visURL(tea.RoomID), alice.AccessToken, secret); r.Status != http.StatusBadRequest {
			t.Fatalf("bad visibility: %d %v", r.Status, r.Body)
		}
		public := map[string]any{"visibility": "public"}
		if r := do(t, http.MethodPut, visURL("!ghost:localhost"), alice.AccessToken, public); r.Status != http.StatusNotFound {
			t.Fatalf("publishing an unknown room: %d %v", r.Status, r.Body)
		}
		private := map[string]any{"visibility": "private"}
		if r := do(t, http.MethodPut, visURL(tea.RoomID), alice.AccessToken, private); r.Status != http.StatusOK {
			t.Fatalf("alice unpublishes tea: %d %v", r.Status, r.Body)
		}
		wantVisibility(tea.RoomID, "private")
		if got := search(map[string]any{"generic_search_term": "tea"}, 0); len(got.Chunk) != 0 {
			t.Fatalf("unpublished room still listed: %s %q (tea %s, hidden %s)",
				got.Chunk[0].RoomID, got.Chunk[0].Name, tea.RoomID, hidden.RoomID)
		}
		// Publishing (the default visibility of the PUT) brings it back.
		if r := do(t, http.MethodPut, visURL(hidden.RoomID), alice.AccessToken, map[string]any{}); r.Status != http.StatusOK {
			t.Fatalf("alice publishes the hidden room: %d %v", r.Status, r.Body)
		}
		wantVisibility(hidden.RoomID, "public")
		if got := search(map[string]any{"generic_search_term": "tea"}, 0); len(got.Chunk) != 1 || got.Chunk[0].RoomID != hidden.RoomID {
			t.Fatalf("search after publishing = %+v", got)
		}
	})
}

// TestDirectoryAfterRestart checks that aliases and the published room
// directory are stored: a new server on the same database resolves, joins
// by alias and lists the rooms, summarised from state read back from the
// database.
func TestDirectoryAfterRestart(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		cfg := testConfig(t, dbURL)
		srv := startServer(t, cfg)
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")
		room, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{
			Visibility:    "public",
			RoomAliasName: "lasting",
			Name:          "Lasting",
			Topic:         "survives restarts",
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatalf("shutdown: %v", err)
		}

		srv2 := startServer(t, cfg)
		bob.HomeserverURL = mustParse(t, srv2.ClientURL())
		res, err := bob.ResolveAlias(ctx(t), "#lasting:localhost")
		if err != nil || res.RoomID != room.RoomID {
			t.Fatalf("resolve after restart = %+v, %v", res, err)
		}
		var list mautrix.RespPublicRooms
		getJSON(t, srv2.ClientURL()+"/_matrix/client/v3/publicRooms", &list)
		if len(list.Chunk) != 1 || list.Chunk[0].RoomID != room.RoomID || list.Chunk[0].Name != "Lasting" ||
			list.Chunk[0].Topic != "survives restarts" || list.Chunk[0].CanonicalAlias != "#lasting:localhost" ||
			list.Chunk[0].NumJoinedMembers != 1 {
			t.Fatalf("publicRooms after restart = %+v", list.Chunk)
		}
		if _, err := bob.JoinRoom(ctx(t), "#lasting:localhost", nil); err != nil {
			t.Fatalf("join by alias after restart: %v", err)
		}
	})
}

// getJSON GETs u without a token and decodes the 200 response into v.
func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	r := do(t, http.MethodGet, u, "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, r.Status, r.Body)
	}
	if err := jsonRoundTrip(r.Body, v); err != nil {
		t.Fatal(err)
	}
}

// jsonRoundTrip decodes a decoded JSON object into v.
func jsonRoundTrip(in map[string]any, v any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
