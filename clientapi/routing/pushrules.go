package routing

import (
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/pushrules"
	"github.com/myelin-im/myelin/userapi/api"
)

// setupPushRules registers the push rules API (spec: "Push Rules: API",
// pushrules.yaml). Only the global scope exists.
func (rt *Routes) setupPushRules(v3 prefixed) {
	for _, p := range []string{"/pushrules/", "/pushrules"} {
		v3.Handle(p, rt.authed(rt.getAllPushRules)).Methods(http.MethodGet)
	}
	for _, p := range []string{"/pushrules/global/", "/pushrules/global"} {
		v3.Handle(p, rt.authed(rt.getGlobalPushRules)).Methods(http.MethodGet)
	}
	const rule = "/pushrules/global/{kind}/{ruleId}"
	v3.Handle(rule, rt.authed(rt.getPushRule)).Methods(http.MethodGet)
	v3.Handle(rule, rt.authed(rt.putPushRule)).Methods(http.MethodPut)
	v3.Handle(rule, rt.authed(rt.deletePushRule)).Methods(http.MethodDelete)
	v3.Handle(rule+"/enabled", rt.authed(rt.getPushRuleEnabled)).Methods(http.MethodGet)
	v3.Handle(rule+"/enabled", rt.authed(rt.putPushRuleEnabled)).Methods(http.MethodPut)
	v3.Handle(rule+"/actions", rt.authed(rt.getPushRuleActions)).Methods(http.MethodGet)
	v3.Handle(rule+"/actions", rt.authed(rt.putPushRuleActions)).Methods(http.MethodPut)
}

// GET /v3/pushrules/
func (rt *Routes) getAllPushRules(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	rs, err := rt.users.PushRules(r.Context(), dev.Localpart)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"global": rs})
	return nil
}

// GET /v3/pushrules/global/
func (rt *Routes) getGlobalPushRules(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	rs, err := rt.users.PushRules(r.Context(), dev.Localpart)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, rs)
	return nil
}

// pushRuleTarget reads the kind and rule ID of the path. No rule of a kind
// this server does not know exists (404, which is also how clients and
// Complement tell an unsupported kind, e.g. MSC4306's postcontent);
// putPushRule refuses to create one (400).
func pushRuleTarget(r *http.Request) (pushrules.Kind, string, error) {
	v := httputil.Vars(r)
	if !pushrules.ValidKind(v["kind"]) {
		return "", "", httputil.NotFound("No push rule of the unknown kind %q", v["kind"])
	}
	if v["ruleId"] == "" {
		return "", "", httputil.InvalidParam("Empty rule ID")
	}
	return pushrules.Kind(v["kind"]), v["ruleId"], nil
}

// findPushRule reads the rule the path names.
func (rt *Routes) findPushRule(r *http.Request, dev *api.Device) (*pushrules.Rule, error) {
	kind, ruleID, err := pushRuleTarget(r)
	if err != nil {
		return nil, err
	}
	rs, err := rt.users.PushRules(r.Context(), dev.Localpart)
	if err != nil {
		return nil, err
	}
	rule, err := rs.Find(kind, ruleID)
	if err != nil {
		return nil, pushRuleError(err)
	}
	return rule, nil
}

// pushRuleError maps the user API's push rule errors to pushrules.yaml's
// answers.
func pushRuleError(err error) error {
	switch {
	case errors.Is(err, pushrules.ErrNotFound):
		return httputil.NotFound("The push rule was not found.")
	case errors.Is(err, pushrules.ErrBeforeAfter):
		return httputil.BadRequestUnknown("%s", err.Error())
	case errors.Is(err, pushrules.ErrInvalid):
		return httputil.InvalidParam("%s", err.Error())
	}
	return err
}

// GET /v3/pushrules/global/{kind}/{ruleId}
func (rt *Routes) getPushRule(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	rule, err := rt.findPushRule(r, dev)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, rule)
	return nil
}

// putPushRuleRequest is the body of PUT /pushrules/global/{kind}/{ruleId}.
type putPushRuleRequest struct {
	Actions    *[]pushrules.Action   `json:"actions"`
	Conditions []pushrules.Condition `json:"conditions"`
	Pattern    *string               `json:"pattern"`
}

// PUT /v3/pushrules/global/{kind}/{ruleId}?before=&after=
func (rt *Routes) putPushRule(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	if k := httputil.Vars(r)["kind"]; !pushrules.ValidKind(k) {
		return httputil.InvalidParam("Unknown push rule kind %q", k)
	}
	kind, ruleID, err := pushRuleTarget(r)
	if err != nil {
		return err
	}
	if err := pushrules.ValidateRuleID(ruleID); err != nil {
		return httputil.InvalidParam("%s", err.Error())
	}
	var req putPushRuleRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Actions == nil {
		return httputil.MissingParam("actions is required")
	}
	rule := pushrules.Rule{RuleID: ruleID, Actions: *req.Actions, Conditions: req.Conditions, Pattern: req.Pattern}
	q := r.URL.Query()
	err = rt.users.PutPushRule(r.Context(), dev.Localpart, kind, rule, q.Get("before"), q.Get("after"))
	if err != nil {
		return pushRuleError(err)
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// DELETE /v3/pushrules/global/{kind}/{ruleId}
func (rt *Routes) deletePushRule(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	kind, ruleID, err := pushRuleTarget(r)
	if err != nil {
		return err
	}
	if err := rt.users.DeletePushRule(r.Context(), dev.Localpart, kind, ruleID); err != nil {
		return pushRuleError(err)
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// GET /v3/pushrules/global/{kind}/{ruleId}/enabled
func (rt *Routes) getPushRuleEnabled(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	rule, err := rt.findPushRule(r, dev)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]bool{"enabled": rule.Enabled})
	return nil
}

// PUT /v3/pushrules/global/{kind}/{ruleId}/enabled
func (rt *Routes) putPushRuleEnabled(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	kind, ruleID, err := pushRuleTarget(r)
	if err != nil {
		return err
	}
	var req struct {
		Enabled *bool `json:"enabled"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Enabled == nil {
		return httputil.MissingParam("enabled is required")
	}
	if err := rt.users.SetPushRuleEnabled(r.Context(), dev.Localpart, kind, ruleID, *req.Enabled); err != nil {
		return pushRuleError(err)
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// GET /v3/pushrules/global/{kind}/{ruleId}/actions
func (rt *Routes) getPushRuleActions(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	rule, err := rt.findPushRule(r, dev)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"actions": rule.Actions})
	return nil
}

// PUT /v3/pushrules/global/{kind}/{ruleId}/actions
func (rt *Routes) putPushRuleActions(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	kind, ruleID, err := pushRuleTarget(r)
	if err != nil {
		return err
	}
	var req struct {
		Actions *[]pushrules.Action `json:"actions"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Actions == nil {
		return httputil.MissingParam("actions is required")
	}
	if err := rt.users.SetPushRuleActions(r.Context(), dev.Localpart, kind, ruleID, *req.Actions); err != nil {
		return pushRuleError(err)
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}
