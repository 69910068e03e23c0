-- Rooms an application service has published in the room directory of one
-- of its third-party networks (spec: PUT
-- /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}).
-- dialect: all
CREATE TABLE appservice_network_rooms (
	appservice_id TEXT NOT NULL,
	network_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	PRIMARY KEY (appservice_id, network_id, room_id)
);
