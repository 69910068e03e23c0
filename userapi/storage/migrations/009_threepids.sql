-- Third-party identifiers bound to accounts (spec: "Adding Account
-- Administrative Contact Information"). Myelin binds phone numbers itself
-- (medium 'msisdn', address the E.164 number without '+', as the spec's
-- msisdn form), verified by an SMS code; one address belongs to at most one
-- account. Times are milliseconds since the epoch.
CREATE TABLE userapi_threepids (
	medium TEXT NOT NULL,
	address TEXT NOT NULL,
	localpart TEXT NOT NULL,
	added_ts BIGINT NOT NULL,
	validated_ts BIGINT NOT NULL,
	PRIMARY KEY (medium, address)
);
CREATE INDEX userapi_threepids_localpart ON userapi_threepids (localpart);
