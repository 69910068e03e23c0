package admin

// setupReports registers its routes (issue 20; filled in by its own change).
func (a *Admin) setupReports(p prefixed) {}
