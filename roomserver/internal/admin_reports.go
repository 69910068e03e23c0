package internal

import (
	"context"

	"github.com/myelin-im/myelin/roomserver/api"
)

var _ api.ReportsAdmin = (*Roomserver)(nil)

// GetReport implements api.ReportsAdmin.
func (rs *Roomserver) GetReport(ctx context.Context, id int64) (api.Report, error) {
	return rs.store.GetReport(ctx, id)
}

// DeleteReport implements api.ReportsAdmin.
func (rs *Roomserver) DeleteReport(ctx context.Context, id int64) error {
	return rs.store.DeleteReport(ctx, id)
}

// ResolveReport implements api.ReportsAdmin.
func (rs *Roomserver) ResolveReport(ctx context.Context, id int64, resolved bool) error {
	return rs.store.ResolveReport(ctx, id, resolved)
}
