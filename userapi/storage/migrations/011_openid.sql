-- OpenID tokens (spec: POST /user/{userId}/openid/request_token and the
-- federation API's GET /openid/userinfo). A token proves to another service
-- who its owner is and is good for nothing else; it is kept as its hex
-- SHA-256, like access tokens, until expires_ts (milliseconds since the
-- epoch). Expired rows are deleted when new tokens are made.
CREATE TABLE userapi_openid_tokens (
	token_hash TEXT NOT NULL PRIMARY KEY,
	localpart TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	expires_ts BIGINT NOT NULL
);
CREATE INDEX userapi_openid_tokens_expires ON userapi_openid_tokens (expires_ts);
CREATE INDEX userapi_openid_tokens_localpart ON userapi_openid_tokens (localpart);
