package api_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// TestErrorsAnswerAsClientsExpect pins what clients read for each user API
// error with a Matrix meaning (spec: client authentication, "Soft logout";
// registration; profiles), wrapped as callers wrap them.
func TestErrorsAnswerAsClientsExpect(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		body   map[string]any
	}{
		{api.ErrMissingToken, 401, map[string]any{"errcode": "M_MISSING_TOKEN", "error": "missing access token"}},
		{api.ErrUnknownToken, 401, map[string]any{"errcode": "M_UNKNOWN_TOKEN", "error": "unknown token", "soft_logout": false}},
		{api.ErrTokenExpired, 401, map[string]any{"errcode": "M_UNKNOWN_TOKEN", "error": "access token expired", "soft_logout": true}},
		{api.ErrUserInUse, 400, map[string]any{"errcode": "M_USER_IN_USE", "error": "user ID already taken"}},
		{api.ErrBadPassword, 403, map[string]any{"errcode": "M_FORBIDDEN", "error": "invalid username or password"}},
		{api.ErrDeactivated, 403, map[string]any{"errcode": "M_USER_DEACTIVATED", "error": "this account has been deactivated"}},
		{api.ErrNoSuchDevice, 404, map[string]any{"errcode": "M_NOT_FOUND", "error": "unknown device"}},
		{api.ErrProfileTooLarge, 400, map[string]any{"errcode": "M_PROFILE_TOO_LARGE", "error": "the profile would exceed 64 KiB"}},
		{api.ErrKeyTooLarge, 400, map[string]any{"errcode": "M_KEY_TOO_LARGE", "error": "profile key is longer than 255 bytes"}},
		{api.ErrBadRegToken, 401, map[string]any{"errcode": "M_UNAUTHORIZED", "error": "registration token invalid or used up"}},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			wrapped := fmt.Errorf("query: %w", tc.err)
			me, ok := httputil.AsMatrixError(wrapped)
			if !ok || !errors.Is(wrapped, tc.err) || me.Status != tc.status || !reflect.DeepEqual(me.Body(), tc.body) {
				t.Fatalf("got %v %+v, want %d %v", ok, me, tc.status, tc.body)
			}
		})
	}
	// Errors whose answer depends on the request stay the caller's to map.
	for _, err := range []error{api.ErrNoSuchAccount, api.ErrNotFound} {
		if _, ok := httputil.AsMatrixError(err); ok {
			t.Errorf("%v has a Matrix meaning of its own", err)
		}
	}
}

func TestMatrixExtraIsACopy(t *testing.T) {
	api.ErrTokenExpired.MatrixExtra()["soft_logout"] = false
	if api.ErrTokenExpired.MatrixExtra()["soft_logout"] != true {
		t.Fatal("a caller changed the sentinel's body fields")
	}
}

func TestAuthenticateWithoutToken(t *testing.T) {
	// No token: refused before any lookup (the sessions are not asked).
	if _, err := api.Authenticate(context.Background(), nil, ""); !errors.Is(err, api.ErrMissingToken) {
		t.Fatalf("got %v, want ErrMissingToken", err)
	}
}
