package config

// UserDirectory configures the user directory (spec: client-server API,
// "User directory", POST /user_directory/search): which users a search
// may find.
type UserDirectory struct {
	// SearchAllUsers makes every local user searchable by every user, as
	// the product needs for finding people to befriend. Default true.
	// Defaults never changes it, since false is meaningful: only Default
	// sets it to true. False narrows searches to what the spec requires at
	// least (and Synapse does by default): users who share a room with the
	// searcher, and users joined to public or world-readable rooms. Remote
	// users seen in rooms this server is in are searchable either way,
	// within the same rule when false.
	SearchAllUsers bool `yaml:"search_all_users"`
}

func init() {
	docs["user_directory"] = "The user directory (POST /user_directory/search): who can find whom " +
		"by user ID, display name and signature."
	docs["user_directory.search_all_users"] = "true: every local user is searchable by every user " +
		"(people find each other to become friends). false: only users who share a room with the " +
		"searcher or are joined to a public or world-readable room, as Synapse does by default."
}
