-- Server notices (Synapse's send_server_notice): the room of each user's
-- notices, owned by the server-notices user, so a later notice goes to the
-- same room (the user re-invited if they left it); and the notices sent
-- with a transaction ID, so a retransmission of the PUT form answers the
-- first event ID instead of sending again. A transaction ID is the admin's
-- device's, as a client's PUT /send/{txnId} is.
-- dialect: all
CREATE TABLE admin_server_notice_rooms (
	user_id TEXT NOT NULL PRIMARY KEY,
	room_id TEXT NOT NULL
);
CREATE TABLE admin_server_notice_txns (
	admin_user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	txn_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	PRIMARY KEY (admin_user_id, device_id, txn_id)
);
