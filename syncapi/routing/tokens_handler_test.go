package routing_test

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// TestTokenParams: every parameter that takes a stream token refuses a
// malformed one with 400 M_INVALID_PARAM, and a /sync token works as a
// pagination token (spec: "Syncing", prev_batch and /messages from).
func TestTokenParams(t *testing.T) {
	e := newEnv(t)
	between := "/_matrix/client/unstable/im.myelin/rooms/" + url.PathEscape(e.room) + "/messages_between?from_ts=0&to_ts=1&from="
	params := map[string]string{
		"sync since":            syncPath + "?since=",
		"messages from":         roomPath(e.room, "messages?dir=b&from="),
		"messages to":           roomPath(e.room, "messages?dir=b&to="),
		"members at":            roomPath(e.room, "members?at="),
		"messages_between from": between,
	}
	var cases []reqCase
	for _, name := range slices.Sorted(maps.Keys(params)) {
		for _, tok := range []string{"t1", "s", "s1_", "s_1", "s1x", "s--1", "s-1_2", "s99999999999999999999"} {
			cases = append(cases, invalidParam(name+" "+tok, e.bob.Token, params[name]+url.QueryEscape(tok)))
		}
	}
	// Below zero is history backfilled from other servers: pagination
	// tokens reach it, sync tokens never do.
	cases = append(cases,
		invalidParam("sync since below zero", e.bob.Token, syncPath+"?since=s-1"),
		reqCase{name: "messages from below zero", token: e.bob.Token, path: roomPath(e.room, "messages?dir=b&from=s-1"),
			status: http.StatusOK},
	)
	run(t, e.Fixture, http.MethodGet, cases)

	t.Run("sync token pages /messages", func(t *testing.T) {
		next := doSync(t, e.Fixture, e.bob, "").NextBatch
		res := e.Do(t, http.MethodGet, roomPath(e.room, "messages?dir=b&limit=1&from="+url.QueryEscape(next)), e.bob.Token, nil)
		res.Want(t, http.StatusOK)
		if got := ids(decodeMessages(t, res).Chunk); !slices.Equal(got, []string{e.late}) {
			t.Fatalf("newest event before %s: %v, want %s", next, got, e.late)
		}
	})
}
