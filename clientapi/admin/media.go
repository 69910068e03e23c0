package admin

// setupMedia registers its routes (issue 20; filled in by its own change).
func (a *Admin) setupMedia(p prefixed) {}
