package routing

import (
	"errors"
	"net/url"
	"testing"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/storage"
)

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"m.room.message", "m.room.message", true},
		{"m.room.message", "m.room.messages", false},
		{"*", "", true},
		{"*", "anything", true},
		{"m.room.*", "m.room.member", true},
		{"m.room.*", "m.roomx", false},
		{"*.member", "m.room.member", true},
		{"*.member", "m.room.members", false},
		{"m.*.m*r", "m.room.member", true},
		{"m.*.m*r", "m.room.mem", false},
		{"ab*b", "ab", false},
		{"ab*b", "abb", true},
		{"a**b", "ab", true},
	} {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func histEv(typ, sender string, stateKey *string, content string) *storage.Event {
	return &storage.Event{RoomID: "!r:x", Type: typ, Sender: sender, StateKey: stateKey,
		JSON: []byte(`{"type":"` + typ + `","sender":"` + sender + `","content":` + content + `}`)}
}

func TestRoomEventFilter(t *testing.T) {
	alice, bob := "@alice:x", "@bob:x"
	msg := histEv("m.room.message", alice, nil, `{"body":"hi"}`)
	img := histEv("m.room.message", bob, nil, `{"body":"pic","url":"mxc://x/y"}`)
	name := histEv("m.room.name", alice, new(string), `{"name":"n"}`)
	all := []*storage.Event{msg, img, name}
	for _, tc := range []struct {
		filter string
		want   []*storage.Event
	}{
		{``, all},
		{`{}`, all},
		{`{"types":null}`, all},
		{`{"types":[]}`, nil},
		{`{"types":["m.room.message"]}`, []*storage.Event{msg, img}},
		{`{"types":["m.room.*"],"not_types":["m.room.name"]}`, []*storage.Event{msg, img}},
		{`{"not_types":["*"]}`, nil},
		{`{"senders":["@bob:x"]}`, []*storage.Event{img}},
		{`{"not_senders":["@bob:x"]}`, []*storage.Event{msg, name}},
		{`{"senders":["@bob:x"],"not_senders":["@bob:x"]}`, nil},
		{`{"contains_url":true}`, []*storage.Event{img}},
		{`{"contains_url":false}`, []*storage.Event{msg, name}},
		{`{"rooms":["!other:x"]}`, nil},
		{`{"not_rooms":["!other:x"]}`, all},
	} {
		f, err := parseRoomEventFilter(tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		got := f.apply(all)
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %d events, want %d", tc.filter, len(got), len(tc.want))
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: event %d differs", tc.filter, i)
			}
		}
	}
	for _, bad := range []string{`{`, `[1]`, `{"types":"m.room.message"}`, `nope`} {
		if _, err := parseRoomEventFilter(bad); !errors.Is(err, httputil.BadJSON("")) {
			t.Errorf("filter %s: got %v, want M_BAD_JSON", bad, err)
		}
	}
}

func TestLazyMembers(t *testing.T) {
	alice, bob, carol := "@alice:x", "@bob:x", "@carol:x"
	member := func(u string) *storage.Event { return histEv("m.room.member", u, &u, `{"membership":"join"}`) }
	create := histEv("m.room.create", alice, new(string), `{}`)
	state := []*storage.Event{create, member(alice), member(bob), member(carol)}
	target := histEv("m.room.message", bob, nil, `{}`)
	after := []*storage.Event{histEv("m.room.message", carol, nil, `{}`)}
	got := lazyMembers(state, target, nil, after)
	if len(got) != 3 || got[0] != create || *got[1].StateKey != bob || *got[2].StateKey != carol {
		t.Fatalf("lazy state: %v", got)
	}
}

func TestHistoryParams(t *testing.T) {
	q := url.Values{"ts": {"123"}, "neg": {"-1"}, "bad": {"1.5"}}
	if n, err := timestampParam(q, "ts"); err != nil || n != 123 {
		t.Fatalf("ts: %d %v", n, err)
	}
	if _, err := timestampParam(q, "missing"); !errors.Is(err, httputil.MissingParam("")) {
		t.Fatalf("missing: %v", err)
	}
	for _, k := range []string{"neg", "bad"} {
		if _, err := timestampParam(q, k); !errors.Is(err, httputil.InvalidParam("")) {
			t.Fatalf("%s: %v", k, err)
		}
	}
	for _, tc := range []struct {
		limit      string
		def, floor int
		want       int
		ok         bool
	}{
		{"", 10, 0, 10, true},
		{"0", 10, 0, 0, true},
		{"0", 100, 1, 1, true},
		{"7", 100, 1, 7, true},
		{"5000", 100, 1, maxHistoryLimit, true},
		{"-1", 100, 1, 0, false},
		{"x", 100, 1, 0, false},
	} {
		q := url.Values{}
		if tc.limit != "" {
			q.Set("limit", tc.limit)
		}
		n, err := limitParam(q, tc.def, tc.floor)
		if tc.ok && (err != nil || n != tc.want) || !tc.ok && !errors.Is(err, httputil.InvalidParam("")) {
			t.Errorf("limit %q: %d %v", tc.limit, n, err)
		}
	}
}

// TestCloserInTime: another server's answer to timestamp_to_event is used
// when it is on the side of ts asked for and nearer than the local one
// (or there is none); a tie keeps the local one.
func TestCloserInTime(t *testing.T) {
	local := &storage.Event{TS: 100}
	for _, tc := range []struct {
		name    string
		remote  int64
		local   *storage.Event
		forward bool
		want    bool
	}{
		{"forward, nearer", 60, local, true, true},
		{"forward, farther", 120, local, true, false},
		{"forward, a tie", 100, local, true, false},
		{"forward, before ts", 40, local, true, false},
		{"forward, no local", 70, nil, true, true},
		{"backward, nearer", 110, &storage.Event{TS: 90}, false, true},
		{"backward, farther", 80, &storage.Event{TS: 90}, false, false},
		{"backward, after ts", 160, nil, false, false},
		{"backward, no local", 120, nil, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := int64(50)
			if !tc.forward {
				ts = 150
			}
			if got := closerInTime(fedapi.EventAt{EventID: "$r", OriginServerTS: tc.remote}, tc.local, ts, tc.forward); got != tc.want {
				t.Fatalf("closerInTime = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestAfterGapInMemory: a timeline read from memory starts at its newest
// event marked as placed after a gap, limited; without one it is left as
// it was.
func TestAfterGapInMemory(t *testing.T) {
	evs := func(gaps ...bool) []*storage.Event {
		out := make([]*storage.Event, len(gaps))
		for i, g := range gaps {
			out[i] = &storage.Event{Pos: int64(i + 1), Gap: g}
		}
		return out
	}
	rt := &Routes{}
	for _, tc := range []struct {
		name        string
		evs         []*storage.Event
		limited     bool
		wantFirst   int64
		wantLimited bool
	}{
		{"no gap", evs(false, false, false), false, 1, false},
		{"no gap, limited by count", evs(false, false), true, 1, true},
		{"a gap in the middle", evs(false, true, false), false, 2, true},
		{"two gaps: the newest", evs(true, false, true, false), false, 3, true},
		{"a gap first", evs(true, false), false, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, limited, err := rt.afterGap(t.Context(), "!r:x", tc.evs, tc.limited, true)
			if err != nil || got[0].Pos != tc.wantFirst || limited != tc.wantLimited {
				t.Fatalf("first %d limited %v (%v), want %d %v", got[0].Pos, limited, err, tc.wantFirst, tc.wantLimited)
			}
		})
	}
}
