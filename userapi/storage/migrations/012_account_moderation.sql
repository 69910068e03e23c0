-- Account moderation (spec: "Account locking", "Account suspension") and
-- erasure (the admin API's deactivate with erase): reversible locks and
-- suspensions, and the mark that a deactivated user asked to be forgotten.
ALTER TABLE userapi_accounts ADD COLUMN locked BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE userapi_accounts ADD COLUMN suspended BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE userapi_accounts ADD COLUMN erased BOOLEAN NOT NULL DEFAULT FALSE;
