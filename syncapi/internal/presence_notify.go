package internal

// WakePeers wakes userID and every user sharing a joined room with them:
// the users who see userID's presence (spec: "Presence": presence events
// are sent to users who share a room).
func (n *Notifier) WakePeers(userID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for u := range n.peersLocked(userID) {
		n.wakeLocked(u)
	}
}

// SharesRoom reports whether a and b share a joined room (or are the same
// user).
func (n *Notifier) SharesRoom(a, b string) bool {
	if a == b {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for roomID, m := range n.userRooms[a] {
		if m.Membership != "join" {
			continue
		}
		if _, ok := n.members[roomID][b]; ok {
			return true
		}
	}
	return false
}
