// Package internal implements the user API.
package internal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/promutil"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// Options configure the user API.
type Options struct {
	ServerName           string
	BcryptCost           int
	AccessTokenLifetime  time.Duration // for refreshable sessions
	RefreshTokenLifetime time.Duration // 0: never
	// TokenCacheTTL bounds how long a token→device entry stays cached.
	TokenCacheTTL time.Duration
	// Msisdn configures phone verification.
	Msisdn MsisdnOptions
	// DirectoryRestricted is user_directory.search_all_users = false: a
	// search finds only users who share a room with the searcher or are in
	// public rooms.
	DirectoryRestricted bool
}

// UserAPI implements api.UserAPI.
type UserAPI struct {
	opts  Options
	store *storage.Storage
	cache cache.Cache
	bus   bus.Bus
	log   logrus.FieldLogger
	clock atomic.Pointer[func() time.Time]
	push  pushState
	// holders: the users who may have pushers (pushers.go).
	holders pusherHolders
	msisdn  MsisdnOptions

	logins *prometheus.CounterVec
}

var _ api.UserAPI = (*UserAPI)(nil)

// New returns the user API over store, caching token lookups in c.
func New(
	opts Options, store *storage.Storage, c cache.Cache, b bus.Bus, log logrus.FieldLogger, reg prometheus.Registerer,
) (*UserAPI, error) {
	if opts.BcryptCost == 0 {
		opts.BcryptCost = bcrypt.DefaultCost
	}
	if opts.TokenCacheTTL == 0 {
		opts.TokenCacheTTL = 10 * time.Minute
	}
	u := &UserAPI{opts: opts, store: store, cache: c, bus: b, log: log, push: newPushState(),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myelin_userapi_sessions_created_total",
			Help: "Login sessions created, by how (login, register, refresh).",
		}, []string{"kind"}),
	}
	u.msisdn = opts.Msisdn
	u.msisdn.defaults()
	u.SetClock(time.Now)
	var err error
	if u.logins, err = promutil.Register(reg, u.logins); err != nil {
		return nil, fmt.Errorf("userapi: registering metrics: %w", err)
	}
	if err := u.fillDirectory(context.Background()); err != nil {
		return nil, err
	}
	return u, nil
}

func (u *UserAPI) userID(l api.Localpart) string { return "@" + string(l) + ":" + u.opts.ServerName }

func (u *UserAPI) nowMs() int64 { return (*u.clock.Load())().UnixMilli() }

// maxBcryptPassword is what bcrypt reads of a password. Longer passwords are
// cut to it, as Synapse's bcrypt does, so stored hashes stay interchangeable.
const maxBcryptPassword = 72

func (u *UserAPI) hashPassword(password string) (string, error) {
	b := []byte(password)
	if len(b) > maxBcryptPassword {
		b = b[:maxBcryptPassword]
	}
	h, err := bcrypt.GenerateFromPassword(b, u.opts.BcryptCost)
	if err != nil {
		return "", fmt.Errorf("userapi: hashing password: %w", err)
	}
	return string(h), nil
}

func passwordMatches(hash, password string) bool {
	if hash == "" {
		return false
	}
	b := []byte(password)
	if len(b) > maxBcryptPassword {
		b = b[:maxBcryptPassword]
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), b) == nil
}

// CreateAccount implements api.Accounts.
func (u *UserAPI) CreateAccount(ctx context.Context, req api.CreateAccountRequest) (*api.Account, error) {
	hash := ""
	if req.Password != "" {
		var err error
		if hash, err = u.hashPassword(req.Password); err != nil {
			return nil, err
		}
	}
	now := u.nowMs()
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		err := u.store.InsertAccount(ctx, storage.AccountRow{
			Localpart:    req.Localpart,
			PasswordHash: hash,
			CreatedTS:    now,
			IsAdmin:      req.IsAdmin,
		})
		if err != nil {
			return err
		}
		if err := u.setInitialDisplayName(ctx, req); err != nil {
			return err
		}
		if req.Msisdn != "" {
			if err := u.store.InsertThreepid(ctx, req.Localpart, api.MediumMSISDN, req.Msisdn, now); err != nil {
				return err
			}
		}
		if req.RegistrationToken != "" {
			return u.store.UseRegistrationToken(ctx, req.RegistrationToken, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.Account{Localpart: req.Localpart, UserID: u.userID(req.Localpart), IsAdmin: req.IsAdmin, CreatedTS: now}, nil
}

// setInitialDisplayName gives a new account its display name (the
// localpart unless the request names one), inside CreateAccount's
// transaction so that no path creates an account without one.
func (u *UserAPI) setInitialDisplayName(ctx context.Context, req api.CreateAccountRequest) error {
	name := req.DisplayName
	if name == "" {
		name = string(req.Localpart)
	}
	b, err := json.Marshal(name)
	if err != nil {
		return fmt.Errorf("userapi: encoding the display name: %w", err)
	}
	return u.SetProfileField(ctx, req.Localpart, "displayname", b)
}

// LocalpartAvailable implements api.Accounts.
func (u *UserAPI) LocalpartAvailable(ctx context.Context, localpart api.Localpart) (bool, error) {
	_, err := u.store.Account(ctx, localpart)
	if errors.Is(err, api.ErrNoSuchAccount) {
		return true, nil
	}
	return false, err
}

// Account implements api.Accounts.
func (u *UserAPI) Account(ctx context.Context, localpart api.Localpart) (*api.Account, error) {
	a, err := u.store.Account(ctx, localpart)
	if err != nil {
		return nil, err
	}
	return &api.Account{
		Localpart:   a.Localpart,
		UserID:      u.userID(a.Localpart),
		IsAdmin:     a.IsAdmin,
		Deactivated: a.Deactivated,
		CreatedTS:   a.CreatedTS,
	}, nil
}

// dummyHash is compared against when an account does not exist, so a login
// for a missing user costs as much time as one with a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("myelin-timing-equaliser"), bcrypt.MinCost)

// CheckPassword implements api.Accounts.
func (u *UserAPI) CheckPassword(ctx context.Context, localpart api.Localpart, password string) (*api.Account, error) {
	a, err := u.store.Account(ctx, localpart)
	if errors.Is(err, api.ErrNoSuchAccount) {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return nil, api.ErrBadPassword
	}
	if err != nil {
		return nil, err
	}
	if a.Deactivated {
		return nil, api.ErrDeactivated
	}
	if !passwordMatches(a.PasswordHash, password) {
		return nil, api.ErrBadPassword
	}
	return &api.Account{Localpart: a.Localpart, UserID: u.userID(a.Localpart), IsAdmin: a.IsAdmin, CreatedTS: a.CreatedTS}, nil
}

// SetPassword implements api.Accounts.
func (u *UserAPI) SetPassword(ctx context.Context, localpart api.Localpart, password string, logoutOthers bool, keep api.DeviceID) error {
	hash, err := u.hashPassword(password)
	if err != nil {
		return err
	}
	var revoked []string
	err = u.store.WithTx(ctx, func(ctx context.Context) error {
		if err := u.store.SetPasswordHash(ctx, localpart, hash); err != nil {
			return err
		}
		if logoutOthers {
			revoked, err = u.deleteDevices(ctx, localpart, nil, keep)
		}
		return err
	})
	if err != nil {
		return err
	}
	u.forgetTokens(ctx, revoked)
	return nil
}

// Deactivate implements api.Accounts.
func (u *UserAPI) Deactivate(ctx context.Context, localpart api.Localpart) error {
	var revoked []string
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		if err := u.store.SetDeactivated(ctx, localpart); err != nil {
			return err
		}
		var err error
		if revoked, err = u.deleteDevices(ctx, localpart, nil, ""); err != nil {
			return err
		}
		if err := u.store.DeleteProfile(ctx, localpart); err != nil {
			return err
		}
		// Spec: deactivation removes the account's 3PIDs, so that they can
		// be bound to another account.
		if err := u.store.DeleteThreepids(ctx, localpart); err != nil {
			return err
		}
		if err := u.store.DeleteDirectoryEntry(ctx, u.userID(localpart)); err != nil {
			return err
		}
		if err := u.store.DeleteOpenIDTokens(ctx, localpart); err != nil {
			return err
		}
		u.forgetPushRules(ctx, localpart)
		return u.store.DeleteAccountData(ctx, localpart)
	})
	if err != nil {
		return err
	}
	u.forgetTokens(ctx, revoked)
	return nil
}

// RegistrationTokenValid implements api.Accounts.
func (u *UserAPI) RegistrationTokenValid(ctx context.Context, token string) (bool, error) {
	return u.store.RegistrationTokenValid(ctx, token, u.nowMs())
}

// CreateRegistrationToken makes a new registration token for operators.
// usesAllowed nil: unlimited; expiry nil: never.
func (u *UserAPI) CreateRegistrationToken(ctx context.Context, usesAllowed *int64, expiry *time.Time) (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	var exp *int64
	if expiry != nil {
		ms := expiry.UnixMilli()
		exp = &ms
	}
	return tok, u.store.InsertRegistrationToken(ctx, tok, usesAllowed, exp, u.nowMs())
}

// Profile implements api.Profiles.
func (u *UserAPI) Profile(ctx context.Context, localpart api.Localpart) (map[string]json.RawMessage, error) {
	return u.store.ProfileFields(ctx, localpart)
}

// Profile limits, spec v1.16 "PUT /profile/{userId}/{keyName}": the whole
// profile under 64 KiB, keys at most 255 bytes.
const (
	MaxProfileBytes = 64 * 1024
	MaxProfileKey   = 255
)

// SetProfileField implements api.Profiles.
func (u *UserAPI) SetProfileField(ctx context.Context, localpart api.Localpart, key string, value json.RawMessage) error {
	if len(key) > MaxProfileKey {
		return api.ErrKeyTooLarge
	}
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		err := u.store.SetProfileField(ctx, localpart, key, value, func(fields map[string]json.RawMessage) error {
			b, err := json.Marshal(fields)
			if err != nil {
				return err
			}
			if len(b) >= MaxProfileBytes {
				return api.ErrProfileTooLarge
			}
			return nil
		})
		if err != nil {
			return err
		}
		return u.indexLocalUser(ctx, localpart)
	})
}

// DeleteProfileField implements api.Profiles.
func (u *UserAPI) DeleteProfileField(ctx context.Context, localpart api.Localpart, key string) error {
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		if err := u.store.DeleteProfileField(ctx, localpart, key); err != nil {
			return err
		}
		return u.indexLocalUser(ctx, localpart)
	})
}

// AccountData implements api.AccountData.
func (u *UserAPI) AccountData(ctx context.Context, localpart api.Localpart, roomID, dataType string) (json.RawMessage, error) {
	return u.accountDataView(ctx, localpart, roomID, dataType)
}

// SetAccountData implements api.AccountData. The change is announced on
// the bus in the same transaction, so /sync learns of it exactly when it is
// stored.
func (u *UserAPI) SetAccountData(ctx context.Context, localpart api.Localpart, roomID, dataType string, content json.RawMessage) error {
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		pos, err := u.store.SetAccountData(ctx, localpart, roomID, dataType, content)
		if err != nil {
			return err
		}
		u.afterAccountDataWrite(ctx, localpart, roomID, dataType)
		if u.bus == nil {
			return nil
		}
		userID := u.userID(localpart)
		body, err := json.Marshal(api.AccountDataChange{UserID: userID, RoomID: roomID, Type: dataType, Pos: pos})
		if err != nil {
			return err
		}
		return u.bus.Publish(ctx, api.AccountDataTopic, userID, body, nil)
	})
}

// AccountDataSince implements api.AccountData.
func (u *UserAPI) AccountDataSince(ctx context.Context, localpart api.Localpart, since int64) ([]api.AccountDataEntry, int64, error) {
	entries, pos, err := u.store.AccountDataSince(ctx, localpart, since)
	if err != nil {
		return nil, 0, err
	}
	entries, err = u.withPushRules(ctx, localpart, since, entries)
	return entries, pos, err
}

// --- tokens ---

// HashToken is the stored form of a token: hex SHA-256.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func newToken(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("userapi: random: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func newDeviceID() (api.DeviceID, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return api.DeviceID(b[:]), nil
}

const tokenCachePrefix = "userapi:tok:"

// encodeCachedDevice packs what a token lookup needs in a compact form that
// decodes without reflection: user ID \x00 device ID \x00 expiry. The
// localpart is recovered from the user ID, so a hit costs one string copy.
func encodeCachedDevice(userID string, id api.DeviceID, expires int64, m storage.Moderation) []byte {
	b := make([]byte, 0, len(userID)+len(id)+26)
	b = append(b, userID...)
	b = append(b, 0)
	b = append(b, id...)
	b = append(b, 0)
	b = strconv.AppendInt(b, expires, 10)
	return append(b, 0, moderationByte(m))
}

// moderationByte packs an account's moderation flags into one printable byte.
func moderationByte(m storage.Moderation) byte {
	b := byte('0')
	if m.Locked {
		b |= 1
	}
	if m.Suspended {
		b |= 2
	}
	return b
}

func decodeCachedDevice(b []byte, d *api.Device) bool {
	s := string(b)
	userID, rest, ok := strings.Cut(s, "\x00")
	if !ok || len(userID) < 4 {
		return false
	}
	id, rest, ok := strings.Cut(rest, "\x00")
	if !ok {
		return false
	}
	exp, flags, ok := strings.Cut(rest, "\x00")
	if !ok || len(flags) != 1 {
		return false
	}
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return false
	}
	local, _, ok := strings.Cut(userID[1:], ":")
	if !ok {
		return false
	}
	*d = api.Device{UserID: userID, Localpart: api.Localpart(local), ID: api.DeviceID(id), ExpiresTS: e,
		Locked: flags[0]&1 != 0, Suspended: flags[0]&2 != 0}
	return true
}

// tokenCacheKey is the cache key of a token: the prefix and the hex SHA-256,
// built in one allocation.
func tokenCacheKey(token string) (key, hash string) {
	sum := sha256.Sum256([]byte(token))
	buf := make([]byte, len(tokenCachePrefix)+hex.EncodedLen(len(sum)))
	copy(buf, tokenCachePrefix)
	hex.Encode(buf[len(tokenCachePrefix):], sum[:])
	key = string(buf)
	return key, key[len(tokenCachePrefix):]
}

// revokedMarker replaces a revoked token's cache entry for revokedTTL. A
// lookup that read the token row just before the revocation committed fills
// the cache with SetNX, which the marker makes fail, so a revoked token can
// never be cached again after its revocation.
var revokedMarker = []byte{0}

const revokedTTL = time.Minute

// forgetTokens evicts revoked access tokens from the cache once the
// transaction that revoked them (if ctx carries one) has committed.
func (u *UserAPI) forgetTokens(ctx context.Context, hashes []string) {
	if len(hashes) == 0 {
		return
	}
	u.store.AfterCommit(ctx, func() {
		for _, h := range hashes {
			if err := u.cache.Set(context.WithoutCancel(ctx), tokenCachePrefix+h, revokedMarker, revokedTTL); err != nil {
				// The tokens are gone from the database; a stale cache entry
				// would let a revoked token live until its TTL, so say so loudly.
				u.log.WithError(err).Error("could not evict a revoked access token from the cache")
			}
		}
	})
}

// QueryAccessToken implements api.Sessions.
func (u *UserAPI) QueryAccessToken(ctx context.Context, token string) (*api.Device, error) {
	key, hash := tokenCacheKey(token)
	if b, ok, err := u.cache.Get(ctx, key); err == nil && ok {
		d := new(api.Device)
		if decodeCachedDevice(b, d) {
			return u.checkExpiry(d)
		}
	}
	t, err := u.store.AccessToken(ctx, hash)
	if err != nil {
		return nil, err
	}
	ttl := u.opts.TokenCacheTTL
	if t.ExpiresTS > 0 {
		if left := time.Until(time.UnixMilli(t.ExpiresTS)); left < ttl {
			ttl = left
		}
	}
	d := &api.Device{UserID: u.userID(t.Localpart), Localpart: t.Localpart, ID: t.DeviceID, ExpiresTS: t.ExpiresTS,
		Locked: t.Moderation.Locked, Suspended: t.Moderation.Suspended}
	if ttl > 0 {
		// SetNX: never overwrite the marker of a revocation (or of a
		// moderation change) that raced this read.
		_, _ = u.cache.SetNX(ctx, key, encodeCachedDevice(d.UserID, d.ID, d.ExpiresTS, t.Moderation), ttl)
	}
	return u.checkExpiry(d)
}

func (u *UserAPI) checkExpiry(d *api.Device) (*api.Device, error) {
	if d.ExpiresTS > 0 && u.nowMs() >= d.ExpiresTS {
		return nil, api.ErrTokenExpired
	}
	return d, nil
}

// NewSession implements api.Sessions.
func (u *UserAPI) NewSession(ctx context.Context, req api.NewSessionRequest) (*api.Session, error) {
	id := req.DeviceID
	if id == "" {
		var err error
		if id, err = newDeviceID(); err != nil {
			return nil, err
		}
	}
	access, err := newToken("mya_")
	if err != nil {
		return nil, err
	}
	sess := &api.Session{AccessToken: access}
	now := u.nowMs()
	var expires int64
	if req.Refreshable {
		if sess.RefreshToken, err = newToken("myr_"); err != nil {
			return nil, err
		}
		expires = now + u.opts.AccessTokenLifetime.Milliseconds()
		sess.ExpiresInMs = u.opts.AccessTokenLifetime.Milliseconds()
	} else if req.ExpiresTS > 0 {
		expires = req.ExpiresTS
	}
	var revoked []string
	err = u.store.WithTx(ctx, func(ctx context.Context) error {
		if err := u.refuseLocked(ctx, req.Localpart); err != nil {
			return err
		}
		// Logging in again with an existing device ID replaces that device's
		// tokens (spec: "Relationship between access tokens and devices").
		var err error
		if revoked, err = u.store.DeleteDeviceTokens(ctx, req.Localpart, id); err != nil {
			return err
		}
		_, err = u.store.Device(ctx, req.Localpart, id)
		isNew := errors.Is(err, api.ErrNoSuchDevice)
		if err != nil && !isNew {
			return err
		}
		if err := u.store.UpsertDevice(ctx, req.Localpart, id, req.DisplayName, now, req.IP, req.UserAgent); err != nil {
			return err
		}
		// A device with a session is no longer dehydrated (MSC3814
		// rehydrates into a new device; logging in with its ID takes it).
		if err := u.store.UnmarkDehydratedDevice(ctx, req.Localpart, id); err != nil {
			return err
		}
		// A new device is a device-list change others must hear of
		// (spec: "Tracking the device list for a user").
		if isNew {
			if err := u.deviceListChanged(ctx, u.userID(req.Localpart), id, false); err != nil {
				return err
			}
		}
		err = u.store.InsertAccessToken(ctx, storage.TokenRow{
			Hash:      HashToken(access),
			Localpart: req.Localpart,
			DeviceID:  id,
			CreatedTS: now,
			ExpiresTS: expires,
		})
		if err != nil {
			return err
		}
		if sess.RefreshToken != "" {
			var rexp int64
			if u.opts.RefreshTokenLifetime > 0 {
				rexp = now + u.opts.RefreshTokenLifetime.Milliseconds()
			}
			return u.store.InsertRefreshToken(ctx, storage.TokenRow{
				Hash:      HashToken(sess.RefreshToken),
				Localpart: req.Localpart,
				DeviceID:  id,
				CreatedTS: now,
				ExpiresTS: rexp,
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	u.forgetTokens(ctx, revoked)
	sess.Device = api.Device{
		UserID:     u.userID(req.Localpart),
		Localpart:  req.Localpart,
		ID:         id,
		ExpiresTS:  expires,
		LastSeenTS: now,
		LastSeenIP: req.IP,
	}
	if req.DisplayName != nil {
		sess.Device.DisplayName = *req.DisplayName
	}
	u.logins.WithLabelValues("login").Inc()
	return sess, nil
}

// Refresh implements api.Sessions. The old refresh token is consumed, and the
// device's old access token revoked, in the same transaction that issues the
// new pair.
func (u *UserAPI) Refresh(ctx context.Context, refreshToken string) (*api.Session, error) {
	hash := HashToken(refreshToken)
	var sess *api.Session
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		t, err := u.store.RefreshToken(ctx, hash)
		if err != nil {
			return err
		}
		if t.ExpiresTS > 0 && u.nowMs() >= t.ExpiresTS {
			return api.ErrUnknownToken
		}
		if err := u.store.DeleteRefreshToken(ctx, hash); err != nil {
			return err
		}
		sess, err = u.NewSession(ctx, api.NewSessionRequest{Localpart: t.Localpart, DeviceID: t.DeviceID, Refreshable: true})
		return err
	})
	if err != nil {
		return nil, err
	}
	u.logins.WithLabelValues("refresh").Inc()
	return sess, nil
}

// Logout implements api.Sessions.
func (u *UserAPI) Logout(ctx context.Context, localpart api.Localpart, device api.DeviceID) error {
	return u.DeleteDevices(ctx, localpart, []api.DeviceID{device})
}

// LogoutAll implements api.Sessions.
func (u *UserAPI) LogoutAll(ctx context.Context, localpart api.Localpart) error {
	revoked, err := u.deleteDevices(ctx, localpart, nil, "")
	if err != nil {
		return err
	}
	u.forgetTokens(ctx, revoked)
	return nil
}

// DeleteDevices implements api.Sessions.
func (u *UserAPI) DeleteDevices(ctx context.Context, localpart api.Localpart, ids []api.DeviceID) error {
	if len(ids) == 0 {
		return nil
	}
	revoked, err := u.deleteDevices(ctx, localpart, ids, "")
	if err != nil {
		return err
	}
	u.forgetTokens(ctx, revoked)
	return nil
}

// Devices implements api.Sessions.
func (u *UserAPI) Devices(ctx context.Context, localpart api.Localpart) ([]api.Device, error) {
	ds, err := u.store.Devices(ctx, localpart)
	for i := range ds {
		ds[i].UserID = u.userID(localpart)
	}
	return ds, err
}

// Device implements api.Sessions.
func (u *UserAPI) Device(ctx context.Context, localpart api.Localpart, id api.DeviceID) (*api.Device, error) {
	d, err := u.store.Device(ctx, localpart, id)
	if d != nil {
		d.UserID = u.userID(localpart)
	}
	return d, err
}

// SetDeviceDisplayName implements api.Sessions.
// A new name is a device-list change: other users see it in the device's
// keys (unsigned.device_display_name) and other servers in
// m.device_list_update's device_display_name.
func (u *UserAPI) SetDeviceDisplayName(ctx context.Context, localpart api.Localpart, id api.DeviceID, name string) error {
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		if err := u.store.SetDeviceDisplayName(ctx, localpart, id, name); err != nil {
			return err
		}
		return u.deviceListChanged(ctx, u.userID(localpart), id, false)
	})
}

// TouchDevice implements api.Sessions: at most one write per device per
// minute, remembered in the cache, so that busy clients do not turn every
// request into a database write.
func (u *UserAPI) TouchDevice(ctx context.Context, d *api.Device, ip, userAgent string) {
	key := "userapi:seen:" + string(d.Localpart) + "\x00" + string(d.ID)
	if ok, err := u.cache.SetNX(ctx, key, []byte{1}, time.Minute); err != nil || !ok {
		return
	}
	if err := u.store.TouchDevice(ctx, d.Localpart, d.ID, u.nowMs(), ip, userAgent); err != nil {
		u.log.WithError(err).Warn("recording device last seen")
	}
}

// SetClock replaces the clock, for tests of expiry.
func (u *UserAPI) SetClock(now func() time.Time) { u.clock.Store(&now) }

// ProfileFieldsOf implements api.ProfilesBatch.
func (u *UserAPI) ProfileFieldsOf(
	ctx context.Context, localparts []api.Localpart, fields []string,
) (map[api.Localpart]map[string]json.RawMessage, error) {
	return u.store.ProfileFieldsOf(ctx, localparts, fields)
}
