package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
)

// maxLine bounds one line of a JSON-lines file an export wrote (an event
// is at most 64 KiB; its redacted original beside it).
const maxLine = 1 << 20

// ReadLines reloads one of an export's JSON-lines files (EventsFile,
// MembershipFile, RedactionsFile, MediaFile, MessagesFile) from fsys (a
// directory as os.DirFS, or a zip as zip.Reader) into values of T
// (EventLine, MembershipLine, …): what an auditor's tool, or a test, does
// with an export.
func ReadLines[T any](fsys fs.FS, name string) ([]T, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer func() { _ = f.Close() }()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, maxLine)
	for n := 1; sc.Scan(); n++ {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("export: %s line %d: %w", name, n, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("export: reading %s: %w", name, err)
	}
	return out, nil
}
