package search

import (
	"reflect"
	"testing"
)

func TestAnalyze(t *testing.T) {
	tests := []struct {
		text         string
		words, chars []string
	}{
		{"Hello, World! It's 2026.", []string{"hello", "world", "it", "s", "2026"}, nil},
		{"我们明天见", []string{"我们", "们明", "明天", "天见"}, []string{"我", "们", "明", "天", "见"}},
		{"Meet 明天 at 9", []string{"meet", "明天", "at", "9"}, []string{"明", "天"}},
		{"iPhone15は高い", []string{"iphone15", "は高", "高い"}, []string{"は", "高", "い"}},
		{"猫", []string{"猫"}, []string{"猫"}},
		{"안녕하세요", []string{"안녕", "녕하", "하세", "세요"}, []string{"안", "녕", "하", "세", "요"}},
		{"Ünïcödé café", []string{"ünïcödé", "café"}, nil},
		{"天天", []string{"天天"}, []string{"天"}},
		{"", nil, nil},
	}
	for _, tt := range tests {
		got := Analyze(tt.text)
		if !reflect.DeepEqual(got.Words, tt.words) || !reflect.DeepEqual(got.Chars, tt.chars) {
			t.Errorf("Analyze(%q) = %q / %q, want %q / %q", tt.text, got.Words, got.Chars, tt.words, tt.chars)
		}
	}
}

func TestQueryPrecision(t *testing.T) {
	tests := []struct {
		term, text string
		want       bool
	}{
		{"明天", "我们明天见", true},
		{"天气", "明天见", false},
		{"明天见", "我们明天见", true},
		{"们见", "我们明天见", false},
		{"见", "我们明天见", true},
		{"雨", "我们明天见", false},
		{"hello", "Hello, world", true},
		{"HELLO world", "hello there, world", true},
		{"hello moon", "hello world", false},
		{"hel", "hello", false},
		{"会議", "明日の会議は10時から", true},
		{"会社", "明日の会議は10時から", false},
		{"iphone 高い", "iPhone15は高い", false},
		{"iphone15 高い", "iPhone15は高い", true},
		{"!!!", "anything", false},
	}
	for _, tt := range tests {
		if got := Match(ParseQuery(tt.term), Analyze(tt.text)); got != tt.want {
			t.Errorf("%q in %q: %v, want %v (query %q, text %+v)", tt.term, tt.text, got, tt.want, ParseQuery(tt.term), Analyze(tt.text))
		}
	}
}

func TestHighlights(t *testing.T) {
	if got, want := Highlights("Meet 明天 meet"), []string{"meet", "明天"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Highlights = %q, want %q", got, want)
	}
}
