package appservice

import (
	"context"
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/appservice/api"
	"github.com/myelin-im/myelin/appservice/storage"
	"github.com/myelin-im/myelin/internal/httputil"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

type masqueradeKey struct{}

// masquerade is the identity an application service asks to act as.
type masquerade struct{ userID, deviceID string }

// Masquerade is middleware for the client router: it keeps the user_id and
// device_id query parameters (spec: "Identity assertion"; MSC4326's
// org.matrix.msc3202.device_id too) in the request's context, where the
// access-token lookup finds them.
func Masquerade(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		m := masquerade{userID: q.Get("user_id"), deviceID: q.Get("device_id")}
		if m.deviceID == "" {
			m.deviceID = q.Get("org.matrix.msc3202.device_id")
		}
		if m != (masquerade{}) {
			r = r.WithContext(context.WithValue(r.Context(), masqueradeKey{}, m))
		}
		next.ServeHTTP(w, r)
	})
}

// Users is the user API as seen by the client-facing components when
// application services are registered: an as_token is a valid access token
// that acts as the service's sender or, with user_id, as a user in its
// namespaces. Every other method is the wrapped user API's.
type Users struct {
	userapi.UserAPI
	reg   *api.Registry
	store *storage.Store
}

// WrapUserAPI returns users with application service tokens accepted; with
// no registrations it returns users itself. store keeps the rooms the
// services publish in their networks' directories (nil: none can).
func WrapUserAPI(users userapi.UserAPI, reg *api.Registry, store *storage.Store) userapi.UserAPI {
	if len(reg.All()) == 0 {
		return users
	}
	return &Users{UserAPI: users, reg: reg, store: store}
}

// NetworkRooms returns the store of the rooms published in the services'
// networks' directories (nil: none).
func (u *Users) NetworkRooms() *storage.Store { return u.store }

// QueryAccessToken implements userapi.Sessions.
func (u *Users) QueryAccessToken(ctx context.Context, token string) (*userapi.Device, error) {
	as := u.reg.ByToken(token)
	if as == nil {
		return u.UserAPI.QueryAccessToken(ctx, token)
	}
	m, _ := ctx.Value(masqueradeKey{}).(masquerade)
	return Assert(ctx, u.UserAPI, u.reg, as, m.userID, m.deviceID)
}

// AppServices returns the registered application services.
func (u *Users) AppServices() *api.Registry { return u.reg }

// TouchDevice implements userapi.Sessions: a service's requests are not a
// device being seen.
func (u *Users) TouchDevice(ctx context.Context, d *userapi.Device, ip, userAgent string) {
	if d.AppServiceID == "" {
		u.UserAPI.TouchDevice(ctx, d, ip, userAgent)
	}
}

// Accounts is what identity assertion reads of the user API.
type Accounts interface {
	Account(ctx context.Context, localpart userapi.Localpart) (*userapi.Account, error)
	Device(ctx context.Context, localpart userapi.Localpart, id userapi.DeviceID) (*userapi.Device, error)
}

// Assert resolves the identity service as asks to act as (spec: "Identity
// assertion"): userID "" is its sender. A user of another server is 403
// M_FORBIDDEN, one outside the service's namespaces 403 M_EXCLUSIVE (as for
// logins outside them), one not registered 403 M_FORBIDDEN, and a device
// the user does not have 400 M_UNKNOWN_DEVICE. Without deviceID the device
// is "" (no device).
func Assert(ctx context.Context, users Accounts, reg *api.Registry, as *api.Registration,
	userID, deviceID string,
) (*userapi.Device, error) {
	if userID == "" {
		userID = as.SenderUserID(reg.ServerName())
	}
	local := reg.Localpart(userID)
	if local == "" {
		return nil, httputil.Forbidden("Application service cannot act as %s: not a user of this server", userID)
	}
	if !as.OwnsUser(userID, reg.ServerName()) {
		return nil, exclusiveForbidden("Application service cannot act as %s: not in its user namespaces", userID)
	}
	acct, err := users.Account(ctx, userapi.Localpart(local))
	if errors.Is(err, userapi.ErrNoSuchAccount) || errors.Is(err, userapi.ErrNotFound) || (err == nil && acct.Deactivated) {
		return nil, httputil.Forbidden("Application service has not registered %s", userID)
	}
	if err != nil {
		return nil, err
	}
	dev := &userapi.Device{UserID: userID, Localpart: userapi.Localpart(local), AppServiceID: as.ID}
	if deviceID != "" {
		d, err := users.Device(ctx, dev.Localpart, userapi.DeviceID(deviceID))
		if errors.Is(err, userapi.ErrNoSuchDevice) || errors.Is(err, userapi.ErrNotFound) || (err == nil && d == nil) {
			return nil, unknownDevice("%s has no device %s", userID, deviceID)
		}
		if err != nil {
			return nil, err
		}
		dev.ID, dev.DisplayName = d.ID, d.DisplayName
	}
	return dev, nil
}

var (
	exclusiveForbidden = newErr(http.StatusForbidden, "M_EXCLUSIVE")
	unknownDevice      = newErr(http.StatusBadRequest, "M_UNKNOWN_DEVICE")
)

func newErr(status int, code string) func(string, ...any) *httputil.MatrixError {
	return func(format string, args ...any) *httputil.MatrixError {
		e := httputil.Forbidden(format, args...)
		e.Status, e.ErrCode = status, code
		return e
	}
}
