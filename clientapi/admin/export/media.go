package export

import (
	"context"
	"errors"
	"io"
	"strings"

	mediaapi "github.com/myelin-im/myelin/mediaapi/api"
)

// MediaLine is one line of media.jsonl: a file the export references and
// where it is in the export ("" with Missing when this server has no copy).
type MediaLine struct {
	MXC         string `json:"mxc"`
	Path        string `json:"path,omitempty"`
	Missing     bool   `json:"missing,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	UploadName  string `json:"upload_name,omitempty"`
	Size        int64  `json:"size,omitempty"`
	Uploader    string `json:"uploader,omitempty"`
	CreatedTS   int64  `json:"created_ts,omitempty"`
}

// MediaPath is where an export keeps the file of mxc: media/<server>/<id>,
// the server name made safe as a directory name.
func MediaPath(mxc mediaapi.MXC) string {
	safe := strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, mxc.ServerName)
	return "media/" + safe + "/" + string(mxc.MediaID)
}

// copyMedia copies the files of uris (local uploads and other servers'
// media this server keeps; nothing is fetched) into the sink and lists
// them in media.jsonl. It returns the path of each (mxc -> path, "" when
// missing) and how many are missing.
func copyMedia(ctx context.Context, m mediaapi.Exporter, sink *Sink, uris []mediaapi.MXC) (map[string]string, int64, error) {
	lines, err := sink.createLines(MediaFile)
	if err != nil {
		return nil, 0, err
	}
	paths := make(map[string]string, len(uris))
	var missing int64
	for _, mxc := range uris {
		line, err := copyOne(ctx, m, sink, mxc)
		if err != nil {
			return nil, 0, closeAll(err, lines)
		}
		if line.Missing {
			missing++
		}
		paths[mxc.String()] = line.Path
		if err := lines.write(line); err != nil {
			return nil, 0, closeAll(err, lines)
		}
	}
	return paths, missing, closeAll(nil, lines)
}

func copyOne(ctx context.Context, m mediaapi.Exporter, sink *Sink, mxc mediaapi.MXC) (MediaLine, error) {
	line := MediaLine{MXC: mxc.String(), Missing: true}
	if m == nil {
		return line, nil
	}
	md, content, err := m.OpenStored(ctx, mxc, 0)
	if errors.Is(err, mediaapi.ErrNotFound) || errors.Is(err, mediaapi.ErrNotYetUploaded) {
		return line, nil
	}
	if err != nil {
		return line, err
	}
	defer func() { _ = content.Close() }()
	path := MediaPath(mxc)
	w, err := sink.Create(path)
	if err != nil {
		return line, err
	}
	if _, err := io.Copy(w, content); err != nil {
		return line, closeAll(err, w)
	}
	if err := w.Close(); err != nil {
		return line, err
	}
	return MediaLine{MXC: line.MXC, Path: path, ContentType: md.ContentType, UploadName: md.UploadName, Size: md.Size,
		Uploader: md.Uploader, CreatedTS: md.CreatedTS}, nil
}

// writeMedia copies the room's media.
func (x *roomExport) writeMedia(ctx context.Context) error {
	paths, missing, err := copyMedia(ctx, x.o.Media, x.sink, x.mediaList)
	if err != nil {
		return err
	}
	x.media = paths
	x.sum.Media, x.sum.MediaMissing = int64(len(x.mediaList))-missing, missing
	return nil
}
