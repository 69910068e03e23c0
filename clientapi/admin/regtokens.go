package admin

// setupRegistrationTokens registers its routes (issue 20; filled in by its own change).
func (a *Admin) setupRegistrationTokens(p prefixed) {}
