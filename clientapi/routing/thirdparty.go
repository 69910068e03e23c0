package routing

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/myelin-im/myelin/appservice"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// setupThirdParty registers the third-party lookups (spec: client-server
// API, "Third-party networks"), answered by the application services that
// bridge each protocol.
func (rt *Routes) setupThirdParty(v3 prefixed) {
	v3.Handle("/thirdparty/protocols", rt.authed(rt.thirdPartyProtocols)).Methods(http.MethodGet)
	v3.Handle("/thirdparty/protocol/{protocol}", rt.authed(rt.thirdPartyProtocol)).Methods(http.MethodGet)
	v3.Handle("/thirdparty/location/{protocol}", rt.authed(rt.thirdPartyLookup("location"))).Methods(http.MethodGet)
	v3.Handle("/thirdparty/user/{protocol}", rt.authed(rt.thirdPartyLookup("user"))).Methods(http.MethodGet)
	v3.Handle("/thirdparty/location", rt.authed(rt.thirdPartyReverse("location", "alias"))).Methods(http.MethodGet)
	v3.Handle("/thirdparty/user", rt.authed(rt.thirdPartyReverse("user", "userid"))).Methods(http.MethodGet)
}

func (rt *Routes) thirdParty(r *http.Request) *appservice.ThirdParty {
	return &appservice.ThirdParty{Client: queryClient, Reg: rt.appServices(), Log: httputil.Logger(r.Context())}
}

// GET /v3/thirdparty/protocols
func (rt *Routes) thirdPartyProtocols(w http.ResponseWriter, r *http.Request, _ *api.Device) error {
	httputil.WriteJSON(w, http.StatusOK, rt.thirdParty(r).Protocols(r.Context()))
	return nil
}

// GET /v3/thirdparty/protocol/{protocol}
func (rt *Routes) thirdPartyProtocol(w http.ResponseWriter, r *http.Request, _ *api.Device) error {
	p := httputil.Vars(r)["protocol"]
	m, ok := rt.thirdParty(r).Protocol(r.Context(), p)
	if !ok {
		return httputil.NotFound("Unknown protocol %q", p)
	}
	httputil.WriteJSON(w, http.StatusOK, m)
	return nil
}

// GET /v3/thirdparty/{location,user}/{protocol}: the query parameters are
// the protocol's fields, passed on as they are.
func (rt *Routes) thirdPartyLookup(kind string) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, _ *api.Device) error {
		p := httputil.Vars(r)["protocol"]
		results, known := rt.thirdParty(r).Lookup(r.Context(), kind, p, withoutAuth(r.URL.Query()))
		if !known {
			return httputil.NotFound("Unknown protocol %q", p)
		}
		return writeResults(w, results, kind)
	}
}

// GET /v3/thirdparty/location?alias= and /v3/thirdparty/user?userid=
func (rt *Routes) thirdPartyReverse(kind, param string) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, _ *api.Device) error {
		v := r.URL.Query().Get(param)
		if v == "" {
			return httputil.MissingParam("Missing %s", param)
		}
		return writeResults(w, rt.thirdParty(r).Reverse(r.Context(), kind, url.Values{param: {v}}), kind)
	}
}

// writeResults answers a lookup: 404 when nothing was found, as the spec's
// responses say.
func writeResults(w http.ResponseWriter, results []json.RawMessage, kind string) error {
	if len(results) == 0 {
		return httputil.NotFound("No third-party %s found", kind)
	}
	httputil.WriteJSON(w, http.StatusOK, results)
	return nil
}

// withoutAuth drops what authenticates the client (access_token, and an
// application service's user_id and device_id) from the fields passed on.
func withoutAuth(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		switch k {
		case "access_token", "user_id", "device_id", "org.matrix.msc3202.device_id":
		default:
			out[k] = v
		}
	}
	return out
}
