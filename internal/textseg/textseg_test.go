package textseg

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		text string
		max  int
		want []Run
	}{
		{"Hello, World!", 0, []Run{{"hello", false}, {"world", false}}},
		{"iPhone15は高い", 0, []Run{{"iphone15", false}, {"は高い", true}}},
		{"Meet 明天 at 9", 0, []Run{{"meet", false}, {"明天", true}, {"at", false}, {"9", false}}},
		{"コーヒー", 0, []Run{{"コーヒー", true}}},
		{"café-crème", 0, []Run{{"café", false}, {"crème", false}}},
		{"abcdef", 3, []Run{{"abc", false}}},
		{"  ", 0, nil},
	}
	for _, tt := range tests {
		if got := Split(tt.text, tt.max); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Split(%q, %d) = %+v, want %+v", tt.text, tt.max, got, tt.want)
		}
	}
}
