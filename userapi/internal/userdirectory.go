package internal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// MaxDirectoryLimit caps the results of one user directory search.
const MaxDirectoryLimit = 100

// SearchUserDirectory implements api.UserDirectory (spec: POST
// /user_directory/search). With Options.DirectoryRestricted the results are
// the users the spec requires at least: those sharing a room with the
// searcher and those joined to public or world-readable rooms; otherwise
// every local user and every other server's user seen in a room here.
func (u *UserAPI) SearchUserDirectory(ctx context.Context, req api.UserDirectorySearch) (*api.UserDirectoryResult, error) {
	limit := min(max(req.Limit, 0), MaxDirectoryLimit)
	entries, limited, err := u.store.SearchDirectory(ctx, storage.DirectoryQuery{
		Term:       req.SearchTerm,
		Limit:      limit,
		Searcher:   req.SearcherID,
		Restricted: u.opts.DirectoryRestricted,
	})
	if err != nil {
		return nil, err
	}
	out := &api.UserDirectoryResult{Results: make([]api.DirectoryUser, 0, len(entries)), Limited: limited}
	for _, e := range entries {
		out.Results = append(out.Results, api.DirectoryUser{
			UserID: e.UserID, DisplayName: e.DisplayName, AvatarURL: e.AvatarURL, Signature: e.Signature,
		})
	}
	return out, nil
}

// indexLocalUser brings a local user's directory entry in line with their
// account and global profile (never a room-specific member name): gone
// when the account is deactivated or missing.
func (u *UserAPI) indexLocalUser(ctx context.Context, localpart api.Localpart) error {
	userID := u.userID(localpart)
	a, err := u.store.Account(ctx, localpart)
	if errors.Is(err, api.ErrNoSuchAccount) || (err == nil && a.Deactivated) {
		return u.store.DeleteDirectoryEntry(ctx, userID)
	}
	if err != nil {
		return err
	}
	fields, err := u.store.ProfileFields(ctx, localpart)
	if err != nil {
		return err
	}
	return u.store.SetDirectoryEntry(ctx, localEntry(userID, fields))
}

// localEntry is the directory entry of a local user with profile fields.
func localEntry(userID string, fields map[string]json.RawMessage) storage.DirectoryEntry {
	return storage.DirectoryEntry{
		UserID:      userID,
		Local:       true,
		DisplayName: stringField(fields, "displayname"),
		AvatarURL:   stringField(fields, "avatar_url"),
		Signature:   stringField(fields, api.SignatureField),
	}
}

// stringField returns a profile field that is a JSON string, or "".
func stringField(fields map[string]json.RawMessage, key string) string {
	var s string
	if raw, ok := fields[key]; ok && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// fillDirectory indexes every active local account when the directory is
// empty: on the first start after the directory was added, for the
// accounts made before it. Later changes keep it up to date.
func (u *UserAPI) fillDirectory(ctx context.Context) error {
	empty, err := u.store.DirectoryEmpty(ctx)
	if err != nil || !empty {
		return err
	}
	locals, err := u.store.ActiveLocalparts(ctx)
	if err != nil || len(locals) == 0 {
		return err
	}
	entries := make([]storage.DirectoryEntry, 0, len(locals))
	for _, l := range locals {
		fields, err := u.store.ProfileFields(ctx, api.Localpart(l))
		if err != nil {
			return err
		}
		entries = append(entries, localEntry(u.userID(api.Localpart(l)), fields))
	}
	if err := u.store.InsertDirectoryEntries(ctx, entries); err != nil {
		return fmt.Errorf("userapi: filling the user directory: %w", err)
	}
	u.log.WithField("users", len(entries)).Info("user directory filled with the existing accounts")
	return nil
}
