package federationapi

import (
	"slices"
	"testing"
)

func TestPrevEventIDs(t *testing.T) {
	for _, c := range []struct {
		name string
		in   any
		want []string
	}{
		{"v3+ IDs", []any{"$a", "$b"}, []string{"$a", "$b"}},
		{"v1 pairs", []any{[]any{"$a:x", map[string]any{"sha256": "h"}}, []any{"$b:x", map[string]any{}}}, []string{"$a:x", "$b:x"}},
		{"none", nil, nil},
		{"not a list", map[string]any{"x": 1}, nil},
		{"pairs without IDs", []any{[]any{}, []any{7}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := prevEventIDs(c.in); !slices.Equal(got, c.want) {
				t.Fatalf("prevEventIDs(%v) = %v, want %v", c.in, got, c.want)
			}
		})
	}
}
