package config

import (
	"net/url"

	"github.com/myelin-im/myelin/internal/mxid"
)

// ServerNotices configures the server-notices user (as Synapse's
// server_notices section): admins send notices to users through
// /_synapse/admin/v1/send_server_notice, each user's notices arriving in a
// room this user owns. An empty SystemMXIDLocalpart turns notices off.
type ServerNotices struct {
	// SystemMXIDLocalpart is the localpart of the user notices come from.
	SystemMXIDLocalpart string `yaml:"system_mxid_localpart"`
	// SystemMXIDDisplayName and SystemMXIDAvatarURL are that user's profile.
	SystemMXIDDisplayName string `yaml:"system_mxid_display_name"`
	SystemMXIDAvatarURL   string `yaml:"system_mxid_avatar_url"`
	// RoomName names the notices rooms.
	RoomName string `yaml:"room_name"`
}

// DefaultServerNoticesRoomName names the notices rooms by default (Synapse's).
const DefaultServerNoticesRoomName = "Server Notices"

// Defaults fills the zero fields of s.
func (s *ServerNotices) Defaults() {
	setDefault(&s.RoomName, DefaultServerNoticesRoomName)
}

// Enabled reports whether server notices are on.
func (s *ServerNotices) Enabled() bool { return s.SystemMXIDLocalpart != "" }

// UserID is the server-notices user on serverName ("" when off).
func (s *ServerNotices) UserID(serverName string) string {
	if !s.Enabled() {
		return ""
	}
	return "@" + s.SystemMXIDLocalpart + ":" + serverName
}

// Verify records the problems of s in errs.
func (s *ServerNotices) Verify(errs *Errors) {
	if s.SystemMXIDLocalpart != "" {
		if err := mxid.ValidateUserID("@" + s.SystemMXIDLocalpart + ":localhost"); err != nil {
			errs.Add("server_notices.system_mxid_localpart", "must be a valid localpart: %v (got %q)",
				err, s.SystemMXIDLocalpart)
		}
	}
	if s.SystemMXIDAvatarURL != "" {
		if u, err := url.Parse(s.SystemMXIDAvatarURL); err != nil || u.Scheme != "mxc" {
			errs.Add("server_notices.system_mxid_avatar_url", "must be an mxc:// URI (got %q)", s.SystemMXIDAvatarURL)
		}
	}
}

func init() {
	docs["server_notices"] = "Server notices: messages admins send to users through " +
		"/_synapse/admin/v1/send_server_notice, delivered in a room per user owned by the " +
		"server-notices user. Off while system_mxid_localpart is empty."
	docs["server_notices.system_mxid_localpart"] = "Localpart of the user notices come from, " +
		"for example server (notices then come from @server:<server_name>). Choose one no user has. " +
		"Empty turns server notices off."
	docs["server_notices.system_mxid_display_name"] = "Display name of the server-notices user."
	docs["server_notices.system_mxid_avatar_url"] = "Avatar of the server-notices user: an mxc:// URI."
	docs["server_notices.room_name"] = "Name of the server-notices rooms."
}
