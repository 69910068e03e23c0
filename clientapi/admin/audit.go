package admin

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/myelin-im/myelin/clientapi/admin/storage"
	"github.com/myelin-im/myelin/internal/httputil"
)

// setupAudit serves the audit log (a Myelin extension,
// docs/api-extensions.md).
func (a *Admin) setupAudit(p prefixed) {
	p.Handle("/v1/audit_log", a.admin(a.auditLog)).Methods(http.MethodGet)
}

type auditEntryJSON struct {
	ID     int64  `json:"id"`
	TS     int64  `json:"ts"`
	Admin  string `json:"admin"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Target string `json:"target,omitempty"`
	Detail string `json:"detail,omitempty"`
	Status int    `json:"status"`
}

// GET /_synapse/admin/v1/audit_log?from=&limit=&admin=&target=: newest
// first; next_token, when present, is the from of the next page.
func (a *Admin) auditLog(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	q := r.URL.Query()
	from, limit, err := paging(q)
	if err != nil {
		return err
	}
	entries, err := a.audit.Audit(r.Context(), storage.AuditQuery{
		Before: int64(from), Limit: limit, AdminUserID: q.Get("admin"), Target: q.Get("target"),
	})
	if err != nil {
		return err
	}
	out := make([]auditEntryJSON, len(entries))
	for i, e := range entries {
		out[i] = auditEntryJSON{e.ID, e.TS, e.AdminUserID, e.Method, e.Path, e.Target, e.Detail, e.Status}
	}
	resp := map[string]any{"entries": out}
	if len(entries) == limit {
		resp["next_token"] = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// paging reads Synapse's from and limit (default 100) query parameters.
func paging(q url.Values) (from, limit int, err error) {
	if from, err = intParam(q.Get("from"), 0); err != nil {
		return 0, 0, err
	}
	limit, err = intParam(q.Get("limit"), 100)
	return from, limit, err
}

// intParam parses a non-negative integer query parameter (empty: def),
// with Synapse's answer to a bad one: 400 M_INVALID_PARAM.
func intParam(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, httputil.InvalidParam("Query parameter must be a non-negative integer: %q", v)
	}
	return n, nil
}
