package federationapi

import (
	"hash/fnv"
	"sync"
)

// outsideLocks serialise what changes a local user's membership of a room
// this server is not in (a knock made through another server, and the
// other server's leave or ban that ends a knock or invite), per room and
// user. Without them a kick of an earlier knock, checked against the
// recorded knock while a new knock was being made, was delivered after the
// new one and left the user out.
type outsideLocks [64]sync.Mutex

// lock locks the pair's stripe and returns its unlock.
func (l *outsideLocks) lock(roomID, userID string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(roomID))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(userID))
	m := &l[h.Sum32()%uint32(len(l))]
	m.Lock()
	return m.Unlock
}
