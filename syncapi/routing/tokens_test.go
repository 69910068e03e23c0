package routing

import "testing"

// TestPaginationTokens: pagination tokens reach below zero (backfilled
// history); sync tokens do not.
func TestPaginationTokens(t *testing.T) {
	for tok, want := range map[string]int64{"s0": 0, "s42": 42, "s42_7": 42, "s-1": -1, "s-4611686018427387904": historyStart} {
		got, err := parseToken(tok)
		if err != nil || got != want {
			t.Errorf("parseToken(%q) = %d, %v; want %d", tok, got, err, want)
		}
		if formatToken(want) != tok && tok != "s42_7" {
			t.Errorf("formatToken(%d) = %q, want %q", want, formatToken(want), tok)
		}
	}
	for _, tok := range []string{"", "s", "s-", "s-0", "s--1", "s-1_2", "t-1", "s-x", "s-99999999999999999999"} {
		if _, err := parseToken(tok); err == nil {
			t.Errorf("parseToken(%q) accepted", tok)
		}
	}
	if _, err := parseSyncToken("s-1"); err == nil {
		t.Error("a negative sync token was accepted")
	}
}

// tok is a token with the given leading positions, the rest unknown.
func tok(pos int64, streams ...int64) syncToken {
	t := initialToken()
	t.pos = pos
	ss := t.streams()
	for i, p := range ss[:len(streams)] {
		*p = streams[i]
	}
	return t
}

// TestSyncTokenStreams: the to-device position follows the account-data
// one, then the device-list, receipt, typing and presence positions;
// tokens without them (older ones) still parse, and a position a token
// lacks in the middle is written 0.
func TestSyncTokenStreams(t *testing.T) {
	for s, want := range map[string]syncToken{
		"s5":               tok(5),
		"s5_3":             tok(5, 3),
		"s5_3_7":           tok(5, 3, 7),
		"s5_0_0":           tok(5, 0, 0),
		"s0_12_99":         tok(0, 12, 99),
		"s5_3_7_4":         tok(5, 3, 7, 4),
		"s5_0_0_400":       tok(5, 0, 0, 400),
		"s5_3_7_4_9":       tok(5, 3, 7, 4, 9),
		"s5_3_7_4_9_11_13": tok(5, 3, 7, 4, 9, 11, 13),
	} {
		got, err := parseSyncToken(s)
		if err != nil || got != want {
			t.Errorf("parseSyncToken(%q) = %+v, %v; want %+v", s, got, err, want)
		}
		if got.String() != s {
			t.Errorf("%+v written %q, want %q", got, got.String(), s)
		}
	}
	if s := tok(5, -1, 7).String(); s != "s5_0_7" {
		t.Errorf("missing account-data position written %q", s)
	}
	if s := tok(5, -1, -1, 2).String(); s != "s5_0_0_2" {
		t.Errorf("device-list position after missing ones written %q", s)
	}
	if s := tok(5, -1, -1, -1, -1, -1, 8).String(); s != "s5_0_0_0_0_0_8" {
		t.Errorf("presence position after missing ones written %q", s)
	}
	for _, s := range []string{"s5_3_7_1_1_1_1_1", "s5_3_7_-1", "s5__7", "s5_3_", "s5_3_-1", "s5_3_x", "s5_1_1_1_1_-2"} {
		if _, err := parseSyncToken(s); err == nil {
			t.Errorf("parseSyncToken(%q) accepted", s)
		}
	}
}
