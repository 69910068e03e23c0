package internal

// inbox is what the notifier knows of one device's to-device inbox.
type inbox struct {
	// latest is a position no newer message of the device's is at or
	// below: its newest message announced or read.
	latest int64
	// acked is the position up to which the device's messages are known to
	// be deleted (0: none known).
	acked int64
}

func inboxKey(userID, deviceID string) string { return userID + "\x00" + deviceID }

// inboxLocked returns the device's inbox state, creating it.
func (n *Notifier) inboxLocked(userID, deviceID string) *inbox {
	k := inboxKey(userID, deviceID)
	in := n.inboxes[k]
	if in == nil {
		in = &inbox{}
		n.inboxes[k] = in
	}
	return in
}

// OnToDevice records a to-device message stored at pos for the device and
// wakes its user.
func (n *Notifier) OnToDevice(userID, deviceID string, pos int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	in := n.inboxLocked(userID, deviceID)
	in.latest = max(in.latest, pos)
	n.wakeLocked(userID)
}

// NoteToDevicePos records the device's latest to-device position as read
// from the user API (it never moves back).
func (n *Notifier) NoteToDevicePos(userID, deviceID string, pos int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	in := n.inboxLocked(userID, deviceID)
	in.latest = max(in.latest, pos)
}

// ToDevicePos returns the device's latest to-device position, when known
// (an announcement or a read since start-up).
func (n *Notifier) ToDevicePos(userID, deviceID string) (int64, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	in, ok := n.inboxes[inboxKey(userID, deviceID)]
	if !ok {
		return 0, false
	}
	return in.latest, true
}

// ToDeviceAcked reports whether the device's messages up to upTo are
// known to be deleted already, so a sync need not delete them again.
func (n *Notifier) ToDeviceAcked(userID, deviceID string, upTo int64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	in, ok := n.inboxes[inboxKey(userID, deviceID)]
	return ok && in.acked >= upTo
}

// SetToDeviceAcked records that the device's messages up to upTo are
// deleted.
func (n *Notifier) SetToDeviceAcked(userID, deviceID string, upTo int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	in := n.inboxLocked(userID, deviceID)
	in.acked = max(in.acked, upTo)
}
