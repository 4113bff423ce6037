package ctlclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewAddresses(t *testing.T) {
	cases := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:34680", true}, {"http://127.0.0.1:34680", true}, {"https://bridge:443", true},
		{"", false}, {"ftp://x:1", false}, {"http://", false},
	}
	for _, c := range cases {
		_, err := New(c.addr, Options{})
		if (err == nil) != c.ok || (err != nil && ExitCode(err) != ExitUsage) {
			t.Errorf("New(%q) = %v, want ok=%v (usage error otherwise)", c.addr, err, c.ok)
		}
	}
}

// TestAnswers: what a bridge answers maps to the Kind and exit code.
func TestAnswers(t *testing.T) {
	cases := []struct {
		code int
		body string
		exit int
		msg  string
	}{
		{200, `{"tables":[]}`, ExitOK, ""},
		{404, `{"error":"unknown table \"x\""}`, ExitRefused, `unknown table "x"`},
		{401, "missing or wrong bearer token\n", ExitRefused, "missing or wrong bearer token"},
		{422, `{"error":"reload: 1 problem(s)","problems":["f.ini:line 3: bad"]}`, ExitRefused, "f.ini:line 3: bad"},
		{200, `not json`, ExitRefused, "not the expected JSON"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.code, c.msg), func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.code)
				_, _ = w.Write([]byte(c.body))
			}))
			defer hs.Close()
			cl, err := New(hs.URL, Options{Token: "t"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = cl.Duplication(context.Background(), "")
			var e *Error
			if ExitCode(err) != c.exit || (err != nil && (!errors.As(err, &e) || e.Status != c.code || !strings.Contains(err.Error(), c.msg))) {
				t.Errorf("error %v (exit %d), want exit %d with %q", err, ExitCode(err), c.exit, c.msg)
			}
		})
	}
}
