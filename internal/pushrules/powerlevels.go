package pushrules

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// PowerLevels is what sender_notification_permission reads of a room's
// m.room.power_levels content.
type PowerLevels struct {
	Users         map[string]int64
	UsersDefault  int64
	Notifications map[string]int64
	// Creators have unlimited power (room version 12: "the room creators
	// ... have infinite power level"); the caller fills it for such rooms.
	Creators []string
}

// defaultNotificationLevel is the level a notification key needs when the
// power levels do not say (spec, m.room.power_levels: notifications.room
// defaults to 50).
const defaultNotificationLevel = 50

// ParsePowerLevels reads m.room.power_levels content. Levels may be
// integers or, as room versions before 10 allowed, strings of integers.
func ParsePowerLevels(content []byte) (*PowerLevels, error) {
	var raw struct {
		Users         map[string]json.RawMessage `json:"users"`
		UsersDefault  json.RawMessage            `json:"users_default"`
		Notifications map[string]json.RawMessage `json:"notifications"`
	}
	if err := json.Unmarshal(content, &raw); err != nil {
		return nil, fmt.Errorf("pushrules: power levels: %w", err)
	}
	pl := &PowerLevels{Users: levels(raw.Users), Notifications: levels(raw.Notifications)}
	if n, ok := level(raw.UsersDefault); ok {
		pl.UsersDefault = n
	}
	return pl, nil
}

func levels(m map[string]json.RawMessage) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		if n, ok := level(v); ok {
			out[k] = n
		}
	}
	return out
}

// level reads an integer or a string holding one; ok is false otherwise.
func level(v json.RawMessage) (int64, bool) {
	s := strings.TrimSpace(string(v))
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, false
		}
		s = strings.TrimSpace(s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// senderMay reports whether sender's level reaches the level notification
// key needs. With no power levels every user is at 0.
func (pl *PowerLevels) senderMay(sender, key string) bool {
	need := int64(defaultNotificationLevel)
	if pl == nil {
		return need <= 0
	}
	if n, ok := pl.Notifications[key]; ok {
		need = n
	}
	return pl.userLevel(sender) >= need
}

func (pl *PowerLevels) userLevel(user string) int64 {
	for _, c := range pl.Creators {
		if c == user {
			return math.MaxInt64
		}
	}
	if n, ok := pl.Users[user]; ok {
		return n
	}
	return pl.UsersDefault
}
