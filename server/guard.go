package server

import (
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
)

// AdminGuard is the admin HTTP's one guard, shared by every role that
// serves it (a direct bridge and an edge through Server.HTTPHandler, a
// sink through relay.SinkNode): admin_token as a bearer token, or, without
// one, the cross-site request guard. Any goroutine.
type AdminGuard struct {
	token []byte
	log   *zap.Logger
	csrf  *http.CrossOriginProtection
}

// NewAdminGuard guards with token (admin_token; "" for none) and logs
// refusals on log.
func NewAdminGuard(token string, log *zap.Logger) *AdminGuard {
	return &AdminGuard{token: []byte(token), log: log, csrf: http.NewCrossOriginProtection()}
}

// TokenOnly guards a reading call that exposes the process (pprof): with
// admin_token set the request must carry it; without one the HTTP port is
// loopback or declared trusted (admin_insecure), and a cross-site page can
// start a profile but never read it.
func (g *AdminGuard) TokenOnly(h http.Handler) http.Handler {
	if len(g.token) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.tokenOK(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	})
}

// AdminOnly guards a mutating call. With admin_token set, the request must
// carry it as a bearer token (compared in constant time). Without one (the
// configuration allows that on loopback, or with admin_insecure), a browser
// must not be able to forge the call from another site's page: the request
// must declare a JSON body, which a cross-site form or no-cors fetch cannot
// send without a CORS preflight that is never answered, and carry no
// cross-origin Origin or Sec-Fetch-Site (net/http's CrossOriginProtection).
func (g *AdminGuard) AdminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(g.token) > 0 {
			if g.tokenOK(w, r) {
				h.ServeHTTP(w, r)
			}
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			g.refuse(w, r, http.StatusUnsupportedMediaType, "send Content-Type: application/json (cross-site request guard)")
			return
		}
		if err := g.csrf.Check(r); err != nil {
			g.refuse(w, r, http.StatusForbidden, "cross-origin request refused")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Pprof serves /debug/pprof/ on mux behind TokenOnly.
func (g *AdminGuard) Pprof(mux *http.ServeMux) {
	mux.Handle("/debug/pprof/", g.TokenOnly(http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/cmdline", g.TokenOnly(http.HandlerFunc(pprof.Cmdline)))
	mux.Handle("/debug/pprof/profile", g.TokenOnly(http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/symbol", g.TokenOnly(http.HandlerFunc(pprof.Symbol)))
	mux.Handle("/debug/pprof/trace", g.TokenOnly(http.HandlerFunc(pprof.Trace)))
}

// tokenOK checks the bearer token (in constant time) and answers 401 when
// it is missing or wrong.
func (g *AdminGuard) tokenOK(w http.ResponseWriter, r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), g.token) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="dupbridge"`)
	g.refuse(w, r, http.StatusUnauthorized, "missing or wrong bearer token (admin_token)")
	return false
}

// refuse answers a refused admin call and logs who tried it (sampled like
// every repeated warning).
func (g *AdminGuard) refuse(w http.ResponseWriter, r *http.Request, code int, reason string) {
	g.log.Warn("admin HTTP call refused", zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr),
		zap.String("origin", r.Header.Get("Origin")), zap.String("reason", reason))
	http.Error(w, reason, code)
}

// ServeHealth serves GET /healthz (liveness: "ok", or 503 while draining
// says so) and GET /readyz (the Readiness ready returns, 503 when not
// ready) on mux: the same answers for every role.
func ServeHealth(mux *http.ServeMux, draining func() bool, ready func(time.Time) Readiness) {
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		r := ready(time.Now())
		code := http.StatusOK
		if !r.Ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, r)
	})
	// Liveness only: the process serves HTTP and is not draining. A dead
	// follower is /readyz's business, not a reason to restart the process.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if draining() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}

// DuplicationHandler serves GET /duplication[?table=NAME] from dup (404
// when it fails: the table is not configured).
func DuplicationHandler(dup func(table string) (Duplication, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d, err := dup(r.URL.Query().Get("table"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, ErrorAnswer{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, d)
	}
}

// ListenAdmin listens on addr for the admin HTTP, behind TLS when
// http_tls_cert is set (loaded now, so that a bad certificate fails the
// start).
func ListenAdmin(addr string, b *config.Bridge) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http listen on %s: %w", addr, err)
	}
	if b.HTTPTLSCert == "" {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(b.HTTPTLSCert, b.HTTPTLSKey)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("http_tls_cert %s, http_tls_key %s: %w", b.HTTPTLSCert, b.HTTPTLSKey, err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}
