package api

import "context"

// SignatureField is the product's profile field for a user's personal
// signature (ARCHITECTURE.md §1 row 9), searchable in the user directory.
const SignatureField = "im.myelin.signature"

// UserDirectorySearch is POST /user_directory/search, already parsed.
type UserDirectorySearch struct {
	// SearcherID is the searching user's ID.
	SearcherID string
	SearchTerm string
	Limit      int
}

// DirectoryUser is one user found in the user directory. Empty fields are
// unknown.
type DirectoryUser struct {
	UserID      string
	DisplayName string
	AvatarURL   string
	Signature   string
}

// UserDirectoryResult is what a search found, and whether more matched
// than the limit.
type UserDirectoryResult struct {
	Results []DirectoryUser
	Limited bool
}

// UserDirectory searches users by user ID, display name and signature.
type UserDirectory interface {
	SearchUserDirectory(ctx context.Context, req UserDirectorySearch) (*UserDirectoryResult, error)
}
