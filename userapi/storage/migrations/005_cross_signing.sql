-- Cross-signing (spec: "Cross-signing"): each user's three cross-signing
-- keys, and the signatures users upload on keys (spec: "POST
-- /keys/signatures/upload"), which /keys/query merges into the keys it
-- returns. Keys are kept as uploaded, like device keys.

-- One key per user and usage (master, self_signing, user_signing); key_id
-- is its one key name, "ed25519:<public key>". An upload replaces the row.
CREATE TABLE userapi_cross_signing_keys (
	localpart TEXT NOT NULL,
	key_usage TEXT NOT NULL,
	key_id TEXT NOT NULL,
	key_json TEXT NOT NULL,
	PRIMARY KEY (localpart, key_usage)
);

-- A signature by signer_user's key signer_key_id ("ed25519:<device ID or
-- public key>") on target_user's key target_key_id: a device ID, or a
-- master key's public key (the names POST /keys/signatures/upload uses).
-- Keyed by target first: /keys/query reads a user's signatures at once.
CREATE TABLE userapi_cross_signing_sigs (
	target_user TEXT NOT NULL,
	target_key_id TEXT NOT NULL,
	signer_user TEXT NOT NULL,
	signer_key_id TEXT NOT NULL,
	signature TEXT NOT NULL,
	PRIMARY KEY (target_user, target_key_id, signer_user, signer_key_id)
);
