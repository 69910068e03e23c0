package routing

import (
	"encoding/base64"
	"slices"
	"testing"
)

// TestPageMutualRooms: pages follow the sorted room IDs; a token names the
// last room of its page and stays valid when that room is gone.
func TestPageMutualRooms(t *testing.T) {
	rooms := []string{"!a:x", "!b:x", "!c:x", "!d:x", "!e:x"}
	tok := func(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }
	tests := []struct {
		name     string
		rooms    []string
		from     string
		wantPage []string
		wantNext string
		wantErr  bool
	}{
		{"first page", rooms, "", []string{"!a:x", "!b:x"}, tok("!b:x"), false},
		{"second page", rooms, tok("!b:x"), []string{"!c:x", "!d:x"}, tok("!d:x"), false},
		{"last page", rooms, tok("!d:x"), []string{"!e:x"}, "", false},
		{"exactly full", rooms[:2], "", []string{"!a:x", "!b:x"}, "", false},
		{"token's room left meanwhile", []string{"!a:x", "!c:x", "!d:x"}, tok("!b:x"), []string{"!c:x", "!d:x"}, "", false},
		{"past the end", rooms, tok("!z:x"), []string{}, "", false},
		{"none", nil, "", []string{}, "", false},
		{"not base64", rooms, "!!", nil, "", true},
		{"not a room ID", rooms, tok("nope"), nil, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, next, err := pageMutualRooms(tc.rooms, tc.from, 2)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want one: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if !slices.Equal(page, tc.wantPage) || next != tc.wantNext || page == nil {
				t.Fatalf("page %q next %q; want %q %q", page, next, tc.wantPage, tc.wantNext)
			}
		})
	}
}

// TestIntersectSorted: the rooms in both lists, sorted, whatever order the
// lists come in.
func TestIntersectSorted(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		want []string
	}{
		{"both empty", nil, nil, []string{}},
		{"one empty", []string{"!a:x"}, nil, []string{}},
		{"unsorted", []string{"!c:x", "!a:x", "!b:x"}, []string{"!b:x", "!d:x", "!c:x"}, []string{"!b:x", "!c:x"}},
		{"same", []string{"!b:x", "!a:x"}, []string{"!a:x", "!b:x"}, []string{"!a:x", "!b:x"}},
		{"disjoint", []string{"!a:x"}, []string{"!b:x"}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := intersectSorted(tc.a, tc.b); !slices.Equal(got, tc.want) || got == nil {
				t.Fatalf("intersectSorted = %q, want %q", got, tc.want)
			}
		})
	}
}
