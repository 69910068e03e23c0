package admin

// setupRetention registers its routes (issue 20; filled in by its own change).
func (a *Admin) setupRetention(p prefixed) {}
