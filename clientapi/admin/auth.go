package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/clientapi/admin/storage"
	"github.com/myelin-im/myelin/internal/httputil"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Caller is the admin making a request.
type Caller struct {
	Device *userapi.Device
	// detail is what the handler adds to the audit entry.
	detail string
}

// Note adds detail to the request's audit entry (the device a support
// login made, how many events a purge removed).
func (c *Caller) Note(detail string) { c.detail = detail }

// handler is an admin route's handler: caller is a server admin.
type handler func(w http.ResponseWriter, r *http.Request, caller *Caller) error

// Field names of admin log lines.
const (
	fieldAdmin  = "admin_user_id"
	fieldAction = "admin_action"
)

var errNotAdmin = httputil.Forbidden("You are not a server admin")

// admin runs h for a server admin only: no token is 401, a token that is
// not an admin's 403 M_FORBIDDEN (Synapse's answer). Every request that
// changes something (any method but GET and HEAD) is written to the audit
// log before h runs and finished with its status after, so no admin
// action goes unrecorded; the log line names the admin too.
func (a *Admin) admin(h handler) httputil.Handler {
	return a.guard(h, false)
}

// adminAudited is admin for a read that is recorded too (an export).
func (a *Admin) adminAudited(h handler) httputil.Handler {
	return a.guard(h, true)
}

func (a *Admin) guard(h handler, auditReads bool) httputil.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		dev, err := a.authorise(r)
		if err != nil {
			return err
		}
		log := httputil.Logger(r.Context()).WithFields(logrus.Fields{
			fieldAdmin: dev.UserID, httputil.FieldDeviceID: dev.ID, fieldAction: r.Method + " " + r.URL.Path,
		})
		r = r.WithContext(httputil.WithLogger(r.Context(), log))
		caller := &Caller{Device: dev}
		if !auditReads && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			return h(w, r, caller)
		}
		return a.audited(w, r, caller, h, log)
	}
}

// authorise finds the request's device and checks its user is an admin.
// An application service acting as a user is never an admin.
func (a *Admin) authorise(r *http.Request) (*userapi.Device, error) {
	dev, err := userapi.Authenticate(r.Context(), a.d.Users, httputil.AccessToken(r))
	if err != nil {
		return nil, err
	}
	if dev.AppServiceID != "" {
		return nil, errNotAdmin
	}
	acct, err := a.d.Users.Account(r.Context(), dev.Localpart)
	if errors.Is(err, userapi.ErrNoSuchAccount) {
		return nil, errNotAdmin
	}
	if err != nil {
		return nil, err
	}
	if !acct.IsAdmin {
		return nil, errNotAdmin
	}
	return dev, nil
}

// audited records the action, runs it and records how it ended.
func (a *Admin) audited(w http.ResponseWriter, r *http.Request, caller *Caller, h handler, log *logrus.Entry) error {
	id, err := a.audit.Begin(r.Context(), storage.AuditEntry{
		TS:          time.Now().UnixMilli(),
		AdminUserID: caller.Device.UserID,
		Method:      r.Method,
		Path:        r.URL.Path,
		Target:      auditTarget(r),
	})
	if err != nil {
		return err
	}
	sw := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	herr := h(sw, r, caller)
	status := sw.status
	if herr != nil {
		status = http.StatusInternalServerError
		if me, ok := httputil.AsMatrixError(herr); ok {
			status = me.Status
		}
	}
	// The action has happened: finishing the entry must not fail it.
	if ferr := a.audit.Finish(r.Context(), id, status, caller.detail); ferr != nil {
		log.WithError(ferr).Warn("admin: could not finish the audit entry")
	}
	log.WithField("status", status).Info("admin action")
	return herr
}

// auditTarget is the user, room or media a request's path names.
func auditTarget(r *http.Request) string {
	vars := httputil.Vars(r)
	for _, k := range []string{"userId", "roomId", "mediaId", "reportId", "token"} {
		if v := vars[k]; v != "" {
			return v
		}
	}
	return ""
}

// statusRecorder remembers the status a handler answered, passing
// flushes through for streamed answers (an export).
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// isLocal reports whether userID is one of this server's users, and its
// localpart.
func (a *Admin) isLocal(userID string) (userapi.Localpart, bool) {
	return userapi.LocalpartOf(userID, a.d.ServerName)
}
