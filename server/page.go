package server

import (
	_ "embed"
	"net/http"
)

// statusPage is GET /: one self-contained HTML page (no external assets)
// that polls /duplication every two seconds and shows
// each table's state, throughput and lag.
//
//go:embed page.html
var statusPage []byte

func (s *Server) servePage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
	_, _ = w.Write(statusPage)
}
