package coded

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestError(t *testing.T) {
	a := New("room not found", http.StatusNotFound, "M_NOT_FOUND")
	b := New("room not found", http.StatusNotFound, "M_NOT_FOUND")
	wrapped := fmt.Errorf("load room: %w", a)
	if !errors.Is(wrapped, a) || errors.Is(wrapped, b) {
		t.Error("errors.Is must find the sentinel itself and not an equal one")
	}
	if status, code := a.MatrixCode(); status != http.StatusNotFound || code != "M_NOT_FOUND" || a.Error() != "room not found" {
		t.Errorf("MatrixCode = %d %q, Error = %q", status, code, a.Error())
	}
	if a.MatrixExtra() != nil {
		t.Errorf("MatrixExtra of New = %v, want nil", a.MatrixExtra())
	}
	f := WithFields("expired", http.StatusUnauthorized, "M_UNKNOWN_TOKEN", map[string]any{"soft_logout": true})
	extra := f.MatrixExtra()
	extra["soft_logout"] = false
	if f.MatrixExtra()["soft_logout"] != true {
		t.Error("MatrixExtra must return a copy: a caller changed the sentinel's fields")
	}
}
