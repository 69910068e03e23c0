package routing

import (
	"net/http"
	"regexp"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/phone"
	"github.com/myelin-im/myelin/userapi/api"
)

// myelinPrefix is where the product's extension endpoints live
// (ARCHITECTURE.md §1, "ext").
const myelinPrefix = "/_matrix/client/unstable/im.myelin"

// submitTokenPath is the submit_url of phone verification sessions.
const submitTokenPath = myelinPrefix + "/msisdn/submit_token"

func (rt *Routes) setupMsisdn(v3, ext prefixed) {
	v3.Handle("/register/msisdn/requestToken", httputil.Handler(rt.requestRegisterMsisdnToken)).Methods(http.MethodPost)
	v3.Handle("/account/3pid/msisdn/requestToken", httputil.Handler(rt.requestAddMsisdnToken)).Methods(http.MethodPost)
	ext.Handle("/msisdn/login/requestToken", httputil.Handler(rt.requestLoginMsisdnToken)).Methods(http.MethodPost)
	ext.Handle("/msisdn/submit_token", httputil.Handler(rt.submitMsisdnToken)).Methods(http.MethodPost)
	v3.Handle("/account/3pid", rt.authed(rt.listThreepids)).Methods(http.MethodGet)
	v3.Handle("/account/3pid/add", rt.authed(rt.addThreepid)).Methods(http.MethodPost)
	v3.Handle("/account/3pid/delete", rt.authed(rt.deleteThreepid)).Methods(http.MethodPost)
	v3.Handle("/account/3pid/unbind", rt.authed(rt.unbindThreepid)).Methods(http.MethodPost)
}

// clientSecretRe is the grammar of client_secret (spec: "POST
// /register/email/requestToken", client_secret).
var clientSecretRe = regexp.MustCompile(`^[0-9a-zA-Z.=_\-]{1,255}$`)

// msisdnTokenRequest is the body of the msisdn requestToken endpoints
// (spec: RequestMsisdnValidation).
type msisdnTokenRequest struct {
	ClientSecret string `json:"client_secret"`
	Country      string `json:"country"`
	PhoneNumber  string `json:"phone_number"`
	SendAttempt  *int64 `json:"send_attempt"`
	NextLink     string `json:"next_link"`
}

// parse checks the request and reads its number.
func (req *msisdnTokenRequest) parse() (phone.Number, error) {
	switch {
	case req.ClientSecret == "":
		return phone.Number{}, httputil.MissingParam("Missing client_secret")
	case !clientSecretRe.MatchString(req.ClientSecret):
		return phone.Number{}, httputil.InvalidParam("Invalid client_secret")
	case req.Country == "":
		return phone.Number{}, httputil.MissingParam("Missing country")
	case req.PhoneNumber == "":
		return phone.Number{}, httputil.MissingParam("Missing phone_number")
	case req.SendAttempt == nil:
		return phone.Number{}, httputil.MissingParam("Missing send_attempt")
	case len(req.NextLink) > 2048:
		return phone.Number{}, httputil.InvalidParam("next_link is too long")
	}
	n, err := phone.Parse(req.Country, req.PhoneNumber)
	if err != nil {
		return phone.Number{}, httputil.InvalidParam("Not a valid phone number for country %q", req.Country)
	}
	return n, nil
}

// POST /v3/register/msisdn/requestToken
func (rt *Routes) requestRegisterMsisdnToken(w http.ResponseWriter, r *http.Request) error {
	if rt.opts.Registration == RegistrationDisabled || rt.opts.MsisdnRegistration == msisdnOff {
		return api.ErrThreepidDenied
	}
	return rt.requestMsisdnToken(w, r, api.MsisdnRegister)
}

// POST /v3/account/3pid/msisdn/requestToken
func (rt *Routes) requestAddMsisdnToken(w http.ResponseWriter, r *http.Request) error {
	return rt.requestMsisdnToken(w, r, api.MsisdnAdd)
}

// POST /_matrix/client/unstable/im.myelin/msisdn/login/requestToken
func (rt *Routes) requestLoginMsisdnToken(w http.ResponseWriter, r *http.Request) error {
	return rt.requestMsisdnToken(w, r, api.MsisdnLogin)
}

// requestMsisdnToken starts a verification session for purpose and answers
// with its sid, the number as understood, and where to submit the code.
// NOTSPEC: msisdn and intl_fmt are not in the spec's response; Synapse
// answered them, and clients show intl_fmt to the user.
func (rt *Routes) requestMsisdnToken(w http.ResponseWriter, r *http.Request, purpose api.MsisdnPurpose) error {
	var req msisdnTokenRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	n, err := req.parse()
	if err != nil {
		return err
	}
	s, err := rt.users.RequestMsisdnToken(r.Context(), api.MsisdnTokenRequest{
		Purpose: purpose, ClientSecret: req.ClientSecret, Number: n, SendAttempt: *req.SendAttempt, IP: httputil.ClientIP(r),
	})
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{
		"sid": s.SID, "msisdn": string(s.Number.MSISDN), "intl_fmt": s.Number.International,
		"submit_url": rt.baseURL(r) + submitTokenPath,
	})
	return nil
}

// POST /_matrix/client/unstable/im.myelin/msisdn/submit_token: the request
// and answers of the identity service API's POST
// /validate/msisdn/submitToken, as submit_url promises.
func (rt *Routes) submitMsisdnToken(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		SID          string `json:"sid"`
		ClientSecret string `json:"client_secret"`
		Token        string `json:"token"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.SID == "" || req.ClientSecret == "" || req.Token == "" {
		return httputil.MissingParam("sid, client_secret and token are required")
	}
	if err := rt.users.SubmitMsisdnToken(r.Context(), req.SID, req.ClientSecret, req.Token); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]bool{"success": true})
	return nil
}

// msisdnOff is MsisdnRegistration's value when registration takes no
// phone numbers (config.MsisdnOff).
const msisdnOff = "off"

// msisdnRequired: registration needs a phone number (config.MsisdnRequired).
const msisdnRequired = "required"
