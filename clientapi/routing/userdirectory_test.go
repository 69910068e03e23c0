package routing_test

import (
	"testing"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestUserDirectoryHandlers covers userdirectory.go: request validation,
// limit and limited, and what a result holds.
func TestUserDirectoryHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	for _, name := range []string{"sam1", "sam2", "sam3"} {
		f.User(t, name)
	}
	run(t, f, []call{
		{"set name", "PUT", "/profile/" + alice.ID + "/displayname", alice.Token, `{"displayname":"Alice Cooper"}`, 200, "", nil},
		{"set signature", "PUT", "/profile/" + alice.ID + "/im.myelin.signature", alice.Token,
			`{"im.myelin.signature":"Schools out"}`, 200, "", nil},
		{"set avatar", "PUT", "/profile/" + alice.ID + "/avatar_url", alice.Token, `{"avatar_url":"mxc://test/a"}`, 200, "", nil},

		{"without token", "POST", "/user_directory/search", "", `{"search_term":"a"}`, 401, "M_MISSING_TOKEN", nil},
		{"wrong method", "GET", "/user_directory/search", bob.Token, nil, 405, "M_UNRECOGNIZED", nil},
		{"not JSON", "POST", "/user_directory/search", bob.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"not an object", "POST", "/user_directory/search", bob.Token, `["alice"]`, 400, "M_BAD_JSON", nil},
		{"term missing", "POST", "/user_directory/search", bob.Token, `{}`, 400, "M_MISSING_PARAM", nil},
		{"term mistyped", "POST", "/user_directory/search", bob.Token, `{"search_term":3}`, 400, "M_BAD_JSON", nil},
		{"limit mistyped", "POST", "/user_directory/search", bob.Token, `{"search_term":"a","limit":"5"}`, 400, "M_BAD_JSON", nil},
		{"limit fractional", "POST", "/user_directory/search", bob.Token, `{"search_term":"a","limit":1.5}`, 400, "M_BAD_JSON", nil},
		{"limit zero", "POST", "/user_directory/search", bob.Token, `{"search_term":"a","limit":0}`, 400, "M_INVALID_PARAM", nil},
		{"limit negative", "POST", "/user_directory/search", bob.Token, `{"search_term":"a","limit":-1}`, 400, "M_INVALID_PARAM", nil},
		{"term too long", "POST", "/user_directory/search", bob.Token, map[string]string{"search_term": string(make([]byte, 513))},
			400, "M_INVALID_PARAM", nil},

		{"by name", "POST", "/user_directory/search", bob.Token, `{"search_term":"cooper"}`, 200, "", results(aliceResult(alice.ID))},
		{"by ID", "POST", "/user_directory/search", bob.Token, `{"search_term":"ALI"}`, 200, "", results(aliceResult(alice.ID))},
		{"by signature", "POST", "/user_directory/search", bob.Token, `{"search_term":"school"}`, 200, "",
			results(aliceResult(alice.ID))},
		{"nothing", "POST", "/user_directory/search", bob.Token, `{"search_term":"zed"}`, 200, "", results()},
		{"empty term", "POST", "/user_directory/search", bob.Token, `{"search_term":""}`, 200, "", results()},
		{"limited", "POST", "/user_directory/search", bob.Token, `{"search_term":"sam","limit":2}`, 200, "", countLimited(2, true)},
		{"default limit", "POST", "/user_directory/search", bob.Token, `{"search_term":"sam"}`, 200, "", countLimited(3, false)},
		{"huge limit", "POST", "/user_directory/search", bob.Token, `{"search_term":"sam","limit":1000000}`, 200, "",
			countLimited(3, false)},
	})
}

// TestUserDirectoryRateLimit checks that searches count against the
// per-token request limit.
func TestUserDirectoryRateLimit(t *testing.T) {
	f := newServer(t, serverOpts{config: func(c *config.Config) {
		c.ClientAPI.RateLimits.Enabled = true
		c.ClientAPI.RateLimits.Requests = config.RateLimit{PerSecond: 0.001, Burst: 2}
	}})
	bob := f.User(t, "bob")
	body := `{"search_term":"x"}`
	run(t, f, []call{
		{"first", "POST", "/user_directory/search", bob.Token, body, 200, "", nil},
		{"second", "POST", "/user_directory/search", bob.Token, body, 200, "", nil},
		{"third", "POST", "/user_directory/search", bob.Token, body, 429, "M_LIMIT_EXCEEDED", hasKeys("retry_after_ms")},
	})
}

func aliceResult(id string) map[string]any {
	return map[string]any{"user_id": id, "display_name": "Alice Cooper", "avatar_url": "mxc://test/a",
		"im.myelin.signature": "Schools out"}
}

// results checks a search response's results, in order, and limited false.
func results(want ...map[string]any) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var got struct {
			Results []map[string]any `json:"results"`
			Limited *bool            `json:"limited"`
		}
		r.Decode(t, &got)
		if got.Results == nil || got.Limited == nil || *got.Limited {
			t.Fatalf("want results and limited false: %s", r.Body)
		}
		if len(got.Results) != len(want) {
			t.Fatalf("%d results, want %d: %s", len(got.Results), len(want), r.Body)
		}
		for i, w := range want {
			for k, v := range w {
				if got.Results[i][k] != v {
					t.Fatalf("result %d: %s = %v, want %v; body %s", i, k, got.Results[i][k], v, r.Body)
				}
			}
			if len(got.Results[i]) != len(w) {
				t.Fatalf("result %d has other keys: %s", i, r.Body)
			}
		}
	}
}

// countLimited checks the number of results and limited.
func countLimited(n int, limited bool) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var got struct {
			Results []map[string]any `json:"results"`
			Limited bool             `json:"limited"`
		}
		r.Decode(t, &got)
		if len(got.Results) != n || got.Limited != limited {
			t.Fatalf("%d results, limited %v; want %d, %v: %s", len(got.Results), got.Limited, n, limited, r.Body)
		}
	}
}
