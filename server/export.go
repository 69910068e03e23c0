package server

import mediaapi "github.com/myelin-im/myelin/mediaapi/api"

// mediaExporter is the media component as room exports read it; nil when
// it does not run in this process (a nil *MediaAPI must not become a
// non-nil interface).
func (s *Server) mediaExporter() mediaapi.Exporter {
	if s.Media == nil {
		return nil
	}
	return s.Media
}
