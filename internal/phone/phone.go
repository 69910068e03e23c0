// Package phone parses telephone numbers as users type them into the forms
// Matrix and the SMS providers need (spec appendices, "PSTN Phone numbers":
// a 3PID of medium msisdn is the E.164 number without its leading '+').
package phone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// MSISDN is a telephone number in the form Matrix stores it: the E.164 digits
// without '+' ("8613800138000").
type MSISDN string

// Number is one parsed, valid telephone number.
type Number struct {
	// MSISDN is the Matrix 3PID address.
	MSISDN MSISDN
	// E164 is the number with its '+' ("+8613800138000"), as SMS providers take it.
	E164 string
	// International is the number written for people ("+86 138 0013 8000").
	International string
}

// ErrInvalid is a number that cannot be parsed or is not a valid number of
// any numbering plan.
var ErrInvalid = errors.New("phone: invalid telephone number")

// maxInput bounds what is parsed: no real number needs more.
const maxInput = 64

// Parse reads number as dialled from country (an ISO 3166-1 alpha-2 code,
// "" when number starts with '+'), and reports ErrInvalid for anything that is
// not a valid number.
func Parse(country, number string) (Number, error) {
	number = strings.TrimSpace(number)
	if number == "" || len(number) > maxInput || len(country) > 2 {
		return Number{}, ErrInvalid
	}
	region := strings.ToUpper(country)
	if region == "" && !strings.HasPrefix(number, "+") {
		return Number{}, fmt.Errorf("%w: a country is needed for a number without '+'", ErrInvalid)
	}
	if region == "" {
		region = "ZZ" // the library's "unknown region": the number carries its country code
	}
	n, err := phonenumbers.Parse(number, region)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return Number{}, ErrInvalid
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	return Number{
		MSISDN:        MSISDN(strings.TrimPrefix(e164, "+")),
		E164:          e164,
		International: phonenumbers.Format(n, phonenumbers.INTERNATIONAL),
	}, nil
}

// ParseMSISDN reads a number already in MSISDN form (digits, optionally with
// a leading '+'), as the m.id.thirdparty identifier and stored 3PIDs give it.
func ParseMSISDN(msisdn string) (Number, error) {
	digits := strings.TrimPrefix(strings.TrimSpace(msisdn), "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return Number{}, ErrInvalid
	}
	return Parse("", "+"+digits)
}
