package appservice

import (
	"context"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/appservice/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// SenderAccounts is what EnsureSenders needs of the user API.
type SenderAccounts interface {
	CreateAccount(ctx context.Context, req userapi.CreateAccountRequest) (*userapi.Account, error)
}

// EnsureSenders creates the sender user of every registered service that
// does not have one yet (spec: the service acts as sender_localpart when it
// names no user_id); the account has no password.
func EnsureSenders(ctx context.Context, users SenderAccounts, reg *api.Registry) error {
	for _, as := range reg.All() {
		_, err := users.CreateAccount(ctx, userapi.CreateAccountRequest{Localpart: userapi.Localpart(as.SenderLocalpart)})
		if err != nil && !errors.Is(err, userapi.ErrUserInUse) {
			return fmt.Errorf("appservice %s: creating its sender user: %w", as.ID, err)
		}
	}
	return nil
}
