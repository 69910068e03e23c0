package internal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/myelin-im/myelin/mediaapi/api"
)

var _ api.Admin = (*Media)(nil)

// UserMedia implements api.Admin.
func (m *Media) UserMedia(ctx context.Context, q api.UserMediaQuery) ([]api.AdminMedia, int, error) {
	return m.store.UserMedia(ctx, q)
}

// DeleteMedia implements api.Admin: each ID's records go, then each file
// no record names any more.
func (m *Media) DeleteMedia(ctx context.Context, ids []api.MediaID) ([]api.MediaID, error) {
	var deleted []api.MediaID
	for _, id := range ids {
		sums, found, err := m.store.DeleteMedia(ctx, m.opts.ServerName, id)
		if err != nil {
			return deleted, err
		}
		if !found {
			continue
		}
		deleted = append(deleted, id)
		for _, sum := range sums {
			if err := m.removeUnreferenced(ctx, sum); err != nil {
				return deleted, err
			}
		}
	}
	return deleted, nil
}

// removeUnreferenced removes the file with sum unless a record names it,
// under the file's lock: an upload of the same bytes places its file and
// records it under the same lock (files.keep), so it never loses its file.
func (m *Media) removeUnreferenced(ctx context.Context, sum string) error {
	p, err := m.files.path(sum)
	if err != nil {
		return err
	}
	l := &m.files.locks[hashByte(sum)]
	l.Lock()
	defer l.Unlock()
	ref, err := m.store.FileReferenced(ctx, sum)
	if err != nil || ref {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("media: removing a deleted file: %w", err)
	}
	return nil
}

// DeleteOld implements api.Admin.
func (m *Media) DeleteOld(ctx context.Context, q api.DeleteOldQuery) ([]api.MediaID, error) {
	old, err := m.store.OldMedia(ctx, m.opts.ServerName, q.BeforeTS, q.SizeGT)
	if err != nil {
		return nil, err
	}
	ids := make([]api.MediaID, 0, len(old))
	for i := range old {
		if q.Keep != nil {
			if keep, err := q.Keep(ctx, &old[i].Metadata); err != nil {
				return nil, err
			} else if keep {
				continue
			}
		}
		ids = append(ids, old[i].MediaID)
	}
	return m.DeleteMedia(ctx, ids)
}

// Quarantine implements api.Admin.
func (m *Media) Quarantine(ctx context.Context, uris []api.MXC, by string, skipProtected bool) (int, error) {
	n := 0
	for _, u := range uris {
		if skipProtected && u.ServerName == m.opts.ServerName {
			if p, err := m.store.Protected(ctx, u.MediaID); err != nil {
				return n, err
			} else if p {
				continue
			}
		}
		changed, err := m.store.SetQuarantined(ctx, u.ServerName, u.MediaID, by, m.nowMs())
		if err != nil {
			return n, err
		}
		if changed {
			n++
		}
	}
	return n, nil
}

// Protect implements api.Admin.
func (m *Media) Protect(ctx context.Context, id api.MediaID, protected bool) error {
	if _, err := m.store.Media(ctx, m.opts.ServerName, id); err != nil {
		return err
	}
	return m.store.SetProtected(ctx, id, protected)
}

// checkQuarantine answers api.ErrNotFound for quarantined media: it is
// served to no one.
func (m *Media) checkQuarantine(ctx context.Context, mxc api.MXC) error {
	q, err := m.store.Quarantined(ctx, mxc.ServerName, mxc.MediaID)
	if err != nil {
		return err
	}
	if q {
		return api.ErrNotFound
	}
	return nil
}
