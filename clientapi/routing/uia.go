package routing

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/myelin-im/myelin/clientapi/auth"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/mxid"
	"github.com/myelin-im/myelin/internal/phone"
	"github.com/myelin-im/myelin/userapi/api"
)

// uiaRequest describes one user-interactive authentication (spec:
// "User-Interactive Authentication API") guarding an operation.
type uiaRequest struct {
	purpose string      // binds the session to the operation
	userID  string      // the authenticated user, "" for registration
	flows   []auth.Flow // flows that complete it
	params  map[string]any
	dict    *auth.AuthDict
}

// runUIA runs one step of UIA. It returns the session when a flow is
// complete, or an error: a *auth.ChallengeError (401) telling the client what
// is left or why the stage failed, or another error that stops the request.
func (rt *Routes) runUIA(ctx context.Context, req uiaRequest) (*auth.Session, error) {
	if req.params == nil {
		req.params = map[string]any{}
	}
	var sess *auth.Session
	var err error
	if req.dict != nil && req.dict.Session != "" {
		sess, err = rt.uia.Get(ctx, req.dict.Session, req.purpose, req.userID)
	} else {
		sess, err = rt.uia.New(ctx, req.purpose, req.userID)
	}
	if err != nil {
		return nil, err
	}
	challenge := func(me *httputil.MatrixError) error {
		c := auth.Challenge{Flows: req.flows, Params: req.params, Session: sess.ID, Completed: sess.Completed}
		if me != nil {
			c.ErrCode, c.Error = me.ErrCode, me.Message
		}
		return &auth.ChallengeError{Challenge: c}
	}
	if req.dict == nil || req.dict.Type == "" {
		return nil, challenge(nil)
	}
	if !auth.Offered(req.flows, req.dict.Type) {
		return nil, challenge(httputil.BadRequestUnknown("Authentication type %q is not offered here", req.dict.Type))
	}
	if err := rt.attemptStage(ctx, sess, req); err != nil {
		if errors.Is(err, errUIAWrongUser) {
			// Authenticating as someone else is refused outright (403),
			// not answered with another challenge (as Synapse does).
			return nil, httputil.Forbidden("Authentication must be for the user making the request")
		}
		if me, ok := httputil.AsMatrixError(err); ok && me.ErrCode != "M_LIMIT_EXCEEDED" && me.Status < 500 {
			return nil, challenge(me)
		}
		return nil, err
	}
	if !slices.Contains(sess.Completed, req.dict.Type) {
		sess.Completed = append(sess.Completed, req.dict.Type)
	}
	if err := rt.uia.Save(ctx, sess); err != nil {
		return nil, err
	}
	if !auth.Done(req.flows, sess.Completed) {
		return nil, challenge(nil)
	}
	return sess, nil
}

// errUIAWrongUser: a password stage for a user other than the requester.
var errUIAWrongUser = errors.New("authentication for another user")

// attemptStage checks the credentials of one stage.
func (rt *Routes) attemptStage(ctx context.Context, sess *auth.Session, req uiaRequest) error {
	d := req.dict
	switch d.Type {
	case auth.StageDummy:
		return nil
	case auth.StagePassword:
		localpart, err := rt.identifierLocalpart(ctx, d.Identifier, d.User)
		if err != nil {
			return err
		}
		if "@"+string(localpart)+":"+rt.opts.ServerName != req.userID {
			return errUIAWrongUser
		}
		if ok, wait := rt.loginByUser.Peek(string(localpart)); !ok {
			return httputil.LimitExceeded(wait.Milliseconds() + 1)
		}
		if _, err := rt.users.CheckPassword(ctx, localpart, d.Password); err != nil {
			if errors.Is(err, api.ErrBadPassword) {
				rt.loginByUser.Allow(string(localpart))
			}
			return err
		}
		return nil
	case auth.StageMsisdn:
		return rt.attemptMsisdnStage(ctx, sess, req)
	case auth.StageRegistrationToken:
		if d.Token == "" {
			return httputil.MissingParam("Missing registration token")
		}
		ok, err := rt.registrationTokenValid(ctx, d.Token)
		if err != nil {
			return err
		}
		if !ok {
			return httputil.Unauthorized("Invalid registration token")
		}
		if sess.Data == nil {
			sess.Data = map[string]string{}
		}
		sess.Data["registration_token"] = d.Token
		return nil
	}
	return httputil.BadRequestUnknown("Unsupported authentication type %q", d.Type)
}

// identifierLocalpart finds the local user an identifier names (spec:
// "Identifier types"); legacyUser is the deprecated top-level `user`.
func (rt *Routes) identifierLocalpart(ctx context.Context, id *auth.Identifier, legacyUser string) (api.Localpart, error) {
	user := legacyUser
	if id != nil {
		switch id.Type {
		case "m.id.user":
			user = id.User
		case "m.id.phone":
			return rt.phoneLocalpart(ctx, func() (phone.Number, error) { return phone.Parse(id.Country, id.Phone) })
		case "m.id.thirdparty":
			if id.Medium != api.MediumMSISDN {
				return "", httputil.BadRequestUnknown("Only phone numbers (medium msisdn) can identify users here")
			}
			return rt.phoneLocalpart(ctx, func() (phone.Number, error) { return phone.ParseMSISDN(id.Address) })
		case "":
			return "", httputil.BadJSON("Identifier has no type")
		default:
			return "", httputil.BadRequestUnknown("Identifier type %q is not supported", id.Type)
		}
	}
	if user == "" {
		return "", httputil.MissingParam("Missing user identifier")
	}
	userID := user
	if !strings.HasPrefix(user, "@") {
		userID = "@" + user + ":" + rt.opts.ServerName
	}
	// An identifier that cannot name a user of this server (malformed, or
	// of another server) fails as an unknown user does: nothing is looked
	// up (docs/decisions.md, "Malformed identifiers").
	local, server, err := mxid.ParseUserID(userID)
	if err != nil || server != rt.opts.ServerName {
		return "", httputil.Forbidden("Invalid username or password")
	}
	// Synapse and Dendrite match user IDs case-insensitively at login.
	return api.Localpart(strings.ToLower(local)), nil
}

// phoneLocalpart finds the account a phone number is bound to. A number
// that does not parse is M_INVALID_PARAM; one bound to no account fails as
// an unknown user does.
func (rt *Routes) phoneLocalpart(ctx context.Context, parse func() (phone.Number, error)) (api.Localpart, error) {
	n, err := parse()
	if err != nil {
		return "", httputil.InvalidParam("Not a valid phone number")
	}
	owner, err := rt.users.ThreepidOwner(ctx, api.MediumMSISDN, string(n.MSISDN))
	if errors.Is(err, api.ErrThreepidNotFound) {
		return "", httputil.Forbidden("Invalid username or password")
	}
	return owner, err
}

// attemptMsisdnStage checks an m.login.msisdn stage (spec: "Phone
// number/MSISDN-based (identity / homeserver)"). At registration the session
// must prove a free number, which the new account will be bound to; for a
// signed-in user it must prove one of the user's own numbers (a code asked
// for with the login requestToken), and is used up.
func (rt *Routes) attemptMsisdnStage(ctx context.Context, sess *auth.Session, req uiaRequest) error {
	creds := req.dict.Creds()
	if creds == nil || creds.SID == "" || creds.ClientSecret == "" {
		return httputil.MissingParam("Missing threepid_creds (sid and client_secret)")
	}
	if req.userID == "" {
		msisdn, err := rt.users.ValidatedMsisdn(ctx, creds.SID, creds.ClientSecret, api.MsisdnRegister)
		if err != nil {
			return err
		}
		if sess.Data == nil {
			sess.Data = map[string]string{}
		}
		sess.Data["msisdn"], sess.Data["msisdn_sid"] = string(msisdn), creds.SID
		return nil
	}
	msisdn, err := rt.users.ValidatedMsisdn(ctx, creds.SID, creds.ClientSecret, api.MsisdnLogin)
	if err != nil {
		return err
	}
	owner, err := rt.users.ThreepidOwner(ctx, api.MediumMSISDN, string(msisdn))
	if err != nil {
		return err
	}
	if "@"+string(owner)+":"+rt.opts.ServerName != req.userID {
		return errUIAWrongUser
	}
	return rt.users.EndMsisdnSession(ctx, creds.SID)
}
