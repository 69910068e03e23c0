package admin

// setupRooms registers its routes (issue 20; filled in by its own change).
func (a *Admin) setupRooms(p prefixed) {}
