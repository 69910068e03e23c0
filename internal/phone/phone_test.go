package phone

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, country, number string
		want                  Number
	}{
		{"china mobile, national form", "CN", "138 0013 8000",
			Number{MSISDN: "8613800138000", E164: "+8613800138000", International: "+86 138 0013 8000"}},
		{"lowercase country", "cn", "13800138000",
			Number{MSISDN: "8613800138000", E164: "+8613800138000", International: "+86 138 0013 8000"}},
		{"uk with trunk zero", "GB", "07400 123456",
			Number{MSISDN: "447400123456", E164: "+447400123456", International: "+44 7400 123456"}},
		{"international form needs no country", "", "+1 (201) 555-0123",
			Number{MSISDN: "12015550123", E164: "+12015550123", International: "+1 201-555-0123"}},
		{"international form wins over country", "CN", "+44 7400 123456",
			Number{MSISDN: "447400123456", E164: "+447400123456", International: "+44 7400 123456"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.country, tt.number)
			if err != nil {
				t.Fatalf("Parse(%q, %q): %v", tt.country, tt.number, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q, %q) = %+v, want %+v", tt.country, tt.number, got, tt.want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct{ name, country, number string }{
		{"empty", "CN", ""},
		{"letters", "CN", "call me"},
		{"too short", "CN", "1380"},
		{"too long for the plan", "CN", "138001380001234"},
		{"no country and no plus", "", "13800138000"},
		{"unknown country", "XX", "13800138000"},
		{"country too long", "CHN", "13800138000"},
		{"huge input", "CN", "1" + string(make([]byte, 100))},
		{"unassigned country code", "", "+999 123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Parse(tt.country, tt.number); !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%q, %q) = %+v, %v; want ErrInvalid", tt.country, tt.number, got, err)
			}
		})
	}
}

func TestParseMSISDN(t *testing.T) {
	got, err := ParseMSISDN("8613800138000")
	if err != nil || got.E164 != "+8613800138000" {
		t.Fatalf("ParseMSISDN = %+v, %v", got, err)
	}
	if got, err := ParseMSISDN("+8613800138000"); err != nil || got.MSISDN != "8613800138000" {
		t.Errorf("ParseMSISDN with '+' = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "86 138", "86-13800138000", "abc", "+"} {
		if _, err := ParseMSISDN(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseMSISDN(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
