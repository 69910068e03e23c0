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

// TestSyncTokenStreams: the to-device position follows the account-data
// one and the device-list position the to-device one; tokens without them
// (older ones) still parse, and a position a token lacks in the middle is
// written 0.
func TestSyncTokenStreams(t *testing.T) {
	for tok, want := range map[string]syncToken{
		"s5":         {pos: 5, ad: -1, td: -1, dl: -1},
		"s5_3":       {pos: 5, ad: 3, td: -1, dl: -1},
		"s5_3_7":     {pos: 5, ad: 3, td: 7, dl: -1},
		"s5_0_0":     {pos: 5, ad: 0, td: 0, dl: -1},
		"s0_12_99":   {pos: 0, ad: 12, td: 99, dl: -1},
		"s5_3_7_4":   {pos: 5, ad: 3, td: 7, dl: 4},
		"s5_0_0_400": {pos: 5, ad: 0, td: 0, dl: 400},
	} {
		got, err := parseSyncToken(tok)
		if err != nil || got != want {
			t.Errorf("parseSyncToken(%q) = %+v, %v; want %+v", tok, got, err, want)
		}
		if got.String() != tok {
			t.Errorf("%+v written %q, want %q", got, got.String(), tok)
		}
	}
	if s := (syncToken{pos: 5, ad: -1, td: 7, dl: -1}).String(); s != "s5_0_7" {
		t.Errorf("missing account-data position written %q", s)
	}
	if s := (syncToken{pos: 5, ad: -1, td: -1, dl: 2}).String(); s != "s5_0_0_2" {
		t.Errorf("device-list position after missing ones written %q", s)
	}
	for _, tok := range []string{"s5_3_7_1_1", "s5_3_7_-1", "s5__7", "s5_3_", "s5_3_-1", "s5_3_x"} {
		if _, err := parseSyncToken(tok); err == nil {
			t.Errorf("parseSyncToken(%q) accepted", tok)
		}
	}
}
