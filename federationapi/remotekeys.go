package federationapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Other servers' users' keys for the client API (spec: client-server API,
// "POST /keys/query", "POST /keys/claim"; server-server API, "End-to-End
// Encryption"). Each server is asked once, all in parallel, within the
// client's timeout; a server that does not answer is a failure.

var _ fedapi.RemoteKeys = (*FederationAPI)(nil)

// remoteKeysAnswer is POST /user/keys/query's answer.
type remoteKeysAnswer struct {
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys"`
}

// QueryRemoteKeys implements api.RemoteKeys. A user whose cached device
// list is fresh is answered from it; the others are asked of their
// servers, and a user asked for every device has the answer cached, fresh
// when the user shares a room with this server (their server then sends
// m.device_list_update EDUs here, which keep it current).
func (f *FederationAPI) QueryRemoteKeys(
	ctx context.Context, query map[string][]string, timeout time.Duration,
) (fedapi.RemoteKeyQuery, error) {
	out := fedapi.RemoteKeyQuery{
		DeviceKeys: map[string]map[string]json.RawMessage{}, MasterKeys: map[string]json.RawMessage{},
		SelfSigningKeys: map[string]json.RawMessage{}, Failures: map[string]fedapi.KeyFailure{},
	}
	ask, err := f.answerFromCache(ctx, query, &out)
	if err != nil {
		return out, err
	}
	var mu sync.Mutex
	f.perServer(ctx, timeout, ask, func(ctx context.Context, server string, users map[string][]string) error {
		var ans remoteKeysAnswer
		err := f.ask(ctx, http.MethodPost, spec.ServerName(server), "/_matrix/federation/v1/user/keys/query",
			map[string]any{"device_keys": users}, &ans)
		if err != nil {
			return err
		}
		f.cacheAnswer(ctx, users, ans)
		mu.Lock()
		defer mu.Unlock()
		for u := range users {
			if keys, ok := ans.DeviceKeys[u]; ok {
				out.DeviceKeys[u] = keys
			}
			if k, ok := ans.MasterKeys[u]; ok {
				out.MasterKeys[u] = k
			}
			if k, ok := ans.SelfSigningKeys[u]; ok {
				out.SelfSigningKeys[u] = k
			}
		}
		return nil
	}, &mu, out.Failures)
	return out, nil
}

// answerFromCache fills out with the users whose cached lists are fresh
// and returns the others by server.
func (f *FederationAPI) answerFromCache(
	ctx context.Context, query map[string][]string, out *fedapi.RemoteKeyQuery,
) (map[string]map[string][]string, error) {
	cached := map[string]userapi.RemoteDeviceList{}
	if f.opts.Profiles != nil {
		users := make([]string, 0, len(query))
		for u := range query {
			users = append(users, u)
		}
		var err error
		if cached, err = f.opts.Profiles.RemoteDeviceLists(ctx, users); err != nil {
			return nil, err
		}
	}
	ask := map[string]map[string][]string{}
	for u, devices := range query {
		// A list is current only while the user shares a room with this
		// server: their server sends updates only then.
		if l, ok := cached[u]; ok && l.Fresh && f.sharesRoom(ctx, u) {
			out.DeviceKeys[u] = pickDevices(l.Devices, devices)
			if l.MasterKey != nil {
				out.MasterKeys[u] = l.MasterKey
			}
			if l.SelfSigningKey != nil {
				out.SelfSigningKeys[u] = l.SelfSigningKey
			}
			continue
		}
		_, server, _ := strings.Cut(u, ":")
		if ask[server] == nil {
			ask[server] = map[string][]string{}
		}
		ask[server][u] = devices
	}
	return ask, nil
}

// pickDevices is the devices of all that want lists (none: all).
func pickDevices(all map[string]json.RawMessage, want []string) map[string]json.RawMessage {
	if len(want) == 0 {
		return all
	}
	out := map[string]json.RawMessage{}
	for _, d := range want {
		if k, ok := all[d]; ok {
			out[d] = k
		}
	}
	return out
}

// cacheAnswer caches the lists of the users asked for every device.
func (f *FederationAPI) cacheAnswer(ctx context.Context, users map[string][]string, ans remoteKeysAnswer) {
	if f.opts.Profiles == nil {
		return
	}
	for u, devices := range users {
		if len(devices) != 0 {
			continue
		}
		l := userapi.RemoteDeviceList{
			UserID: u, Devices: ans.DeviceKeys[u], MasterKey: ans.MasterKeys[u], SelfSigningKey: ans.SelfSigningKeys[u],
			Fresh: f.sharesRoom(ctx, u),
		}
		if err := f.opts.Profiles.SetRemoteDeviceList(ctx, l, false); err != nil {
			f.opts.Log.WithError(err).WithField("user_id", u).Warn("caching a remote device list")
		}
	}
}

// sharesRoom reports whether a user is joined to a room a local user is
// joined to.
func (f *FederationAPI) sharesRoom(ctx context.Context, userID string) bool {
	if f.opts.Rooms == nil {
		return false
	}
	rooms, err := f.opts.Rooms.JoinedRooms(ctx, userID)
	if err != nil {
		return false
	}
	for _, room := range rooms {
		servers, err := f.opts.Rooms.JoinedServers(ctx, room)
		if err == nil && slices.Contains(servers, string(f.name)) {
			return true
		}
	}
	return false
}

// forgetUntracked marks stale the cached device lists of the users a leave
// may have stopped sharing a room with this server: the user who left when
// they are another server's, else the room's other servers' members. Their
// servers no longer send updates here, so the lists would go out of date.
func (f *FederationAPI) forgetUntracked(ctx context.Context, roomID, userID string) error {
	if f.opts.Profiles == nil || f.opts.Rooms == nil {
		return nil
	}
	users := []string{userID}
	if isUserOf(userID, f.name) {
		members, err := f.opts.Rooms.Members(ctx, roomID, spec.Join)
		if err != nil {
			return nil // a room this server no longer has
		}
		users = slices.DeleteFunc(members, func(m string) bool { return isUserOf(m, f.name) })
	}
	cached, err := f.opts.Profiles.RemoteDeviceLists(ctx, users)
	if err != nil {
		return err
	}
	for u, l := range cached {
		if l.Fresh && !f.sharesRoom(ctx, u) {
			if err := f.opts.Profiles.MarkRemoteStale(ctx, u); err != nil {
				return err
			}
		}
	}
	return nil
}

// perServer runs ask for each server's part of a request in parallel,
// within timeout, and records the servers that failed in failures (under
// mu).
func (f *FederationAPI) perServer(
	ctx context.Context, timeout time.Duration, parts map[string]map[string][]string,
	ask func(ctx context.Context, server string, users map[string][]string) error,
	mu *sync.Mutex, failures map[string]fedapi.KeyFailure,
) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	for server, users := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ask(ctx, server, users); err != nil {
				mu.Lock()
				failures[server] = keyFailure(err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// keyFailure is the failures entry for a server's error.
func keyFailure(err error) fedapi.KeyFailure {
	var re *fedapi.RemoteError
	if errors.As(err, &re) && re.Status != 0 {
		return fedapi.KeyFailure{Status: re.Status, Message: re.Error()}
	}
	return fedapi.KeyFailure{Status: http.StatusServiceUnavailable, Message: err.Error()}
}

// ClaimRemoteKeys implements api.RemoteKeys.
func (f *FederationAPI) ClaimRemoteKeys(
	ctx context.Context, claim map[string]map[string]string, timeout time.Duration,
) (map[string]map[string]map[string]json.RawMessage, map[string]fedapi.KeyFailure, error) {
	parts := map[string]map[string][]string{}
	for u := range claim {
		_, server, _ := strings.Cut(u, ":")
		if parts[server] == nil {
			parts[server] = map[string][]string{}
		}
		parts[server][u] = nil
	}
	out := map[string]map[string]map[string]json.RawMessage{}
	failures := map[string]fedapi.KeyFailure{}
	var mu sync.Mutex
	f.perServer(ctx, timeout, parts, func(ctx context.Context, server string, users map[string][]string) error {
		body := map[string]map[string]string{}
		for u := range users {
			body[u] = claim[u]
		}
		var ans struct {
			OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
		}
		err := f.ask(ctx, http.MethodPost, spec.ServerName(server), "/_matrix/federation/v1/user/keys/claim",
			map[string]any{"one_time_keys": body}, &ans)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for u, keys := range ans.OneTimeKeys {
			if _, asked := users[u]; asked {
				out[u] = keys
			}
		}
		return nil
	}, &mu, failures)
	return out, failures, nil
}
