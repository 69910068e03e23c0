package internal

import (
	"context"
	"errors"

	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// refuseLocked refuses a new session for a locked account (spec: "Soft
// logout": a locked account cannot obtain a new access token until it is
// unlocked).
func (u *UserAPI) refuseLocked(ctx context.Context, localpart api.Localpart) error {
	m, err := u.store.AccountModeration(ctx, localpart)
	if errors.Is(err, api.ErrNoSuchAccount) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.Locked {
		return api.ErrUserLocked
	}
	return nil
}

// ListAccounts implements api.AccountAdmin.
func (u *UserAPI) ListAccounts(ctx context.Context, q api.AccountQuery) ([]api.AccountSummary, int, error) {
	q.ServerName = u.opts.ServerName
	as, total, err := u.store.ListAccounts(ctx, q)
	for i := range as {
		as[i].UserID = u.userID(as[i].Localpart)
	}
	return as, total, err
}

// AccountSummary implements api.AccountAdmin.
func (u *UserAPI) AccountSummary(ctx context.Context, localpart api.Localpart) (*api.AccountSummary, error) {
	a, err := u.store.AccountSummary(ctx, localpart)
	if err != nil {
		return nil, err
	}
	a.UserID = u.userID(localpart)
	return a, nil
}

// SetAdmin implements api.AccountAdmin.
func (u *UserAPI) SetAdmin(ctx context.Context, localpart api.Localpart, admin bool) error {
	return u.store.SetAccountFlag(ctx, localpart, storage.FlagAdmin, admin)
}

// SetLocked implements api.AccountAdmin.
func (u *UserAPI) SetLocked(ctx context.Context, localpart api.Localpart, locked bool) error {
	return u.setModeration(ctx, localpart, storage.FlagLocked, locked)
}

// SetSuspended implements api.AccountAdmin.
func (u *UserAPI) SetSuspended(ctx context.Context, localpart api.Localpart, suspended bool) error {
	return u.setModeration(ctx, localpart, storage.FlagSuspended, suspended)
}

// setModeration changes a flag that token lookups carry. The account's
// cached tokens are replaced by the revocation marker once the change has
// committed: lookups read the database for a while, and one that read the
// old state just before the commit cannot cache it (QueryAccessToken's
// SetNX), so the change holds from the account's next request.
func (u *UserAPI) setModeration(ctx context.Context, localpart api.Localpart, flag string, on bool) error {
	var hashes []string
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		if err := u.store.SetAccountFlag(ctx, localpart, flag, on); err != nil {
			return err
		}
		var err error
		hashes, err = u.store.LocalAccessTokens(ctx, localpart)
		return err
	})
	if err != nil {
		return err
	}
	u.forgetTokens(ctx, hashes)
	return nil
}

// Erase implements api.AccountAdmin.
func (u *UserAPI) Erase(ctx context.Context, localpart api.Localpart) error {
	return u.store.SetAccountFlag(ctx, localpart, storage.FlagErased, true)
}

// Reactivate implements api.AccountAdmin.
func (u *UserAPI) Reactivate(ctx context.Context, localpart api.Localpart, password string) error {
	hash, err := u.hashPassword(password)
	if err != nil {
		return err
	}
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		if err := u.store.Reactivate(ctx, localpart, hash); err != nil {
			return err
		}
		// Deactivation removed the profile; the account gets its first name back.
		return u.setInitialDisplayName(ctx, api.CreateAccountRequest{Localpart: localpart})
	})
}

// RegistrationTokens implements api.RegistrationTokens.
func (u *UserAPI) RegistrationTokens(ctx context.Context, valid *bool) ([]api.RegistrationToken, error) {
	return u.store.RegistrationTokens(ctx, valid, u.nowMs())
}

// RegistrationToken implements api.RegistrationTokens.
func (u *UserAPI) RegistrationToken(ctx context.Context, token string) (*api.RegistrationToken, error) {
	return u.store.RegistrationToken(ctx, token)
}

// AddRegistrationToken implements api.RegistrationTokens.
func (u *UserAPI) AddRegistrationToken(ctx context.Context, t api.RegistrationToken) error {
	return u.store.AddRegistrationToken(ctx, t, u.nowMs())
}

// UpdateRegistrationToken implements api.RegistrationTokens.
func (u *UserAPI) UpdateRegistrationToken(
	ctx context.Context, token string, upd api.RegistrationTokenUpdate,
) (*api.RegistrationToken, error) {
	return u.store.UpdateRegistrationToken(ctx, token, upd)
}

// DeleteRegistrationToken implements api.RegistrationTokens.
func (u *UserAPI) DeleteRegistrationToken(ctx context.Context, token string) error {
	return u.store.DeleteRegistrationToken(ctx, token)
}
