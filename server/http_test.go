package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestAdminGuard: mutating calls need the bearer token when admin_token is
// set; without one, a JSON content type and no cross-origin markers, so that
// a browser page elsewhere cannot pause a table through a loopback bridge.
func TestAdminGuard(t *testing.T) {
	const token = "s3cret-token-0123456789"
	withToken := func(s string) string {
		return strings.Replace(s, "  event_loops = 2\n", "  event_loops = 2\n  admin_token = "+token+"\n", 1)
	}
	tests := []struct {
		name    string
		edit    func(string) string
		method  string
		headers map[string]string
		code    int
	}{
		{"loopback json", nil, http.MethodPost, map[string]string{"Content-Type": "application/json"}, 200},
		{"loopback json charset", nil, http.MethodPost, map[string]string{"Content-Type": "application/json; charset=utf-8"}, 200},
		{"loopback same origin", nil, http.MethodPost, map[string]string{"Content-Type": "application/json", "Origin": "http://example.com"}, 200},
		{"browser form text/plain cross-origin", nil, http.MethodPost, map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.test"}, 415},
		{"no content type", nil, http.MethodPost, nil, 415},
		{"form urlencoded", nil, http.MethodPost, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"json foreign origin", nil, http.MethodPost, map[string]string{"Content-Type": "application/json", "Origin": "http://evil.test"}, 403},
		{"json cross-site fetch", nil, http.MethodPost, map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403},
		{"get", nil, http.MethodGet, map[string]string{"Content-Type": "application/json"}, 405},
		{"token right", withToken, http.MethodPost, map[string]string{"Authorization": "Bearer " + token}, 200},
		{"token missing", withToken, http.MethodPost, map[string]string{"Content-Type": "application/json"}, 401},
		{"token wrong", withToken, http.MethodPost, map[string]string{"Authorization": "Bearer s3cret-token-0123456788"}, 401},
		{"token prefix", withToken, http.MethodPost, map[string]string{"Authorization": "Bearer " + token[:10]}, 401},
		{"token not bearer", withToken, http.MethodPost, map[string]string{"Authorization": "Basic " + token}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.WarnLevel)
			s, err := New(Options{Config: testConfig(t, tc.edit), Shipper: newFakeShipper(nil, true), Logger: zap.New(core)})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(tc.method, "http://example.com/tables/orders/pause", nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			s.HTTPHandler().ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Fatalf("code %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), tc.code)
			}
			paused := s.tabs().byName["orders"].paused.Load()
			if paused != (tc.code == 200) {
				t.Errorf("paused = %v after %d", paused, tc.code)
			}
			refused := logs.FilterMessage("admin HTTP call refused").Len()
			if want := tc.code == 401 || tc.code == 403 || tc.code == 415; (refused == 1) != want {
				t.Errorf("%d refusal logs, want refusal=%v", refused, want)
			}
			if tc.code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}
