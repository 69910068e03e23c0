package admin

// setupNotices registers its routes (issue 20; filled in by its own change).
func (a *Admin) setupNotices(p prefixed) {}
