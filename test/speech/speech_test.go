package speech

import "testing"

func TestWordErrorRate(t *testing.T) {
	for _, tc := range []struct {
		ref, hyp string
		want     float64
	}{
		{"please call me", "please call me", 0},
		{"please call me", "please tell me", 1.0 / 3},         // a substitution
		{"please call me", "please me", 1.0 / 3},              // a deletion
		{"please call me", "oh please call me now", 2.0 / 3},  // two insertions
		{"the meeting starts", "", 1},                         // all deleted
		{"we need more money", "we need money more", 2.0 / 4}, // order matters
	} {
		if got := WordErrorRate(tc.ref, tc.hyp); got != tc.want {
			t.Errorf("WER(%q, %q) = %v, want %v", tc.ref, tc.hyp, got, tc.want)
		}
	}
}
