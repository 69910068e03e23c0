package config

import "time"

// Phone-number registration modes (Msisdn.Registration).
const (
	MsisdnRequired = "required"
	MsisdnOptional = "optional"
	MsisdnOff      = "off"
)

// Defaults of phone verification (ARCHITECTURE.md §7).
const (
	DefaultMsisdnRegistration = MsisdnOptional
	DefaultCodeLifetime       = 10 * time.Minute
	DefaultCodeMaxAttempts    = 5
	DefaultSendWindow         = time.Hour
	DefaultSendsPerNumber     = 5
	DefaultSendsPerIP         = 20
)

// Msisdn configures phone numbers: verification by SMS code, registration
// and login with them. The text messages go through the sms section's provider.
type Msisdn struct {
	// Registration is whether registering needs a verified phone number:
	// required, optional (default: the phone flow is offered beside the
	// others) or off (no phone numbers at registration).
	Registration string `yaml:"registration"`
	// CodeLifetime is how long a code (and then the verified session) is
	// good for. Default 10m, at least 1s.
	CodeLifetime Duration `yaml:"code_lifetime"`
	// MaxAttempts is how many codes may be submitted to one session before
	// it is dead. Default 5.
	MaxAttempts int `yaml:"max_attempts"`
	// SendWindow is the window of the send limits. Default 1h.
	SendWindow Duration `yaml:"send_window"`
	// SendsPerNumber and SendsPerIP bound the codes sent in one window to
	// one number and at the request of one client address. Defaults 5 and 20.
	SendsPerNumber int `yaml:"sends_per_number"`
	SendsPerIP     int `yaml:"sends_per_ip"`
}

// Defaults fills the zero fields of m.
func (m *Msisdn) Defaults() {
	setDefault(&m.Registration, DefaultMsisdnRegistration)
	setDefault(&m.CodeLifetime, Duration(DefaultCodeLifetime))
	setDefault(&m.MaxAttempts, DefaultCodeMaxAttempts)
	setDefault(&m.SendWindow, Duration(DefaultSendWindow))
	setDefault(&m.SendsPerNumber, DefaultSendsPerNumber)
	setDefault(&m.SendsPerIP, DefaultSendsPerIP)
}

// Verify records the problems of m in errs.
func (m *Msisdn) Verify(errs *Errors) {
	const section = "user_api.msisdn"
	checkOneOf(errs, section+".registration", m.Registration, []string{MsisdnRequired, MsisdnOptional, MsisdnOff})
	if time.Duration(m.CodeLifetime) < time.Second {
		errs.Add(section+".code_lifetime", "must be >= 1s (got %s)", m.CodeLifetime)
	}
	if time.Duration(m.SendWindow) < time.Second {
		errs.Add(section+".send_window", "must be >= 1s (got %s)", m.SendWindow)
	}
	for key, v := range map[string]int{"max_attempts": m.MaxAttempts, "sends_per_number": m.SendsPerNumber, "sends_per_ip": m.SendsPerIP} {
		if v < 1 {
			errs.Add(section+"."+key, "must be >= 1 (got %d)", v)
		}
	}
}

func init() {
	docs["user_api.msisdn"] = "Phone numbers: verified by a code sent by SMS (see sms), then used to " +
		"register, log in and as the account's bound number."
	docs["user_api.msisdn.registration"] = "required: registering needs a verified phone number; optional: " +
		"the phone flow is offered beside the others; off: no phone numbers at registration."
	docs["user_api.msisdn.code_lifetime"] = "How long a code, and then the verified session, is good for. At least 1s."
	docs["user_api.msisdn.max_attempts"] = "Codes that may be submitted to one session before it is dead."
	docs["user_api.msisdn.send_window"] = "The window over which the two send limits below count."
	docs["user_api.msisdn.sends_per_number"] = "Codes sent to one number per window."
	docs["user_api.msisdn.sends_per_ip"] = "Codes sent at the request of one client address per window."
}
