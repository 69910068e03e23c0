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
