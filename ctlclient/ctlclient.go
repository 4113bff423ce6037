package ctlclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dupbridge/dupbridge/server"
)

// Kind classifies an Error.
type Kind int

const (
	// KindRefused: the bridge answered and refused or failed the call.
	KindRefused Kind = iota + 1
	// KindUsage: the call is malformed (bad address, argument).
	KindUsage
	// KindUnreachable: no answer from the bridge.
	KindUnreachable
)

// Exit codes of `dupbridge ctl` (documented in docs/operations.md).
const (
	ExitOK          = 0
	ExitRefused     = 1
	ExitUsage       = 2
	ExitUnreachable = 3
)

// ExitCode maps an error of this package (or nil) to the exit code.
func ExitCode(err error) int {
	var e *Error
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &e) && e.Kind == KindUsage:
		return ExitUsage
	case errors.As(err, &e) && e.Kind == KindUnreachable:
		return ExitUnreachable
	}
	return ExitRefused
}

// Error is a failed call.
type Error struct {
	Kind Kind
	// Status is the HTTP status of a refused call.
	Status   int
	Msg      string
	Problems []string
}

func (e *Error) Error() string {
	var b strings.Builder
	switch e.Kind {
	case KindUnreachable:
		b.WriteString("bridge unreachable: ")
	case KindRefused:
		fmt.Fprintf(&b, "refused (HTTP %d): ", e.Status)
	}
	b.WriteString(e.Msg)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p)
	}
	return b.String()
}

// Client talks to one bridge.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
}

// Options configure New.
type Options struct {
	// Token is the admin_token (bearer).
	Token string
	// Timeout of one call (default 30 s).
	Timeout time.Duration
	// TLS configures https (nil: system roots).
	TLS *tls.Config
}

// New makes a client for addr: HOST:PORT (http) or an http:// or https://
// URL.
func New(addr string, opts Options) (*Client, error) {
	if addr == "" {
		return nil, &Error{Kind: KindUsage, Msg: "no bridge address (--addr HOST:PORT)"}
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{Kind: KindUsage, Msg: fmt.Sprintf("bridge address %q: want HOST:PORT or http(s)://HOST:PORT", addr)}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = opts.TLS
	tr.Proxy = nil // an operator's call goes to the bridge, never a proxy
	return &Client{base: u, token: opts.Token, hc: &http.Client{Timeout: opts.Timeout, Transport: tr}}, nil
}

// Duplication is GET /duplication (table "" for every table).
func (c *Client) Duplication(ctx context.Context, table string) (server.Duplication, error) {
	var d server.Duplication
	path := "/duplication"
	if table != "" {
		path += "?table=" + url.QueryEscape(table)
	}
	return d, c.call(ctx, http.MethodGet, path, nil, &d)
}

// Control is POST /tables/TABLE/control.
func (c *Client) Control(ctx context.Context, table string, req server.ControlRequest) (server.ControlResult, error) {
	var r server.ControlResult
	if table == "" {
		return r, &Error{Kind: KindUsage, Msg: "no table"}
	}
	return r, c.call(ctx, http.MethodPost, "/tables/"+url.PathEscape(table)+"/control", req, &r)
}

// LogLevel is POST /log-level.
func (c *Client) LogLevel(ctx context.Context, level string) (server.LogLevelRequest, error) {
	var r server.LogLevelRequest
	return r, c.call(ctx, http.MethodPost, "/log-level", server.LogLevelRequest{Level: level}, &r)
}

// Reload is POST /reload.
func (c *Client) Reload(ctx context.Context) (server.ReloadResult, error) {
	var r server.ReloadResult
	return r, c.call(ctx, http.MethodPost, "/reload", struct{}{}, &r)
}

// maxAnswer bounds what is read of an answer.
const maxAnswer = 16 << 20

func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return &Error{Kind: KindUsage, Msg: err.Error()}
		}
		rd = bytes.NewReader(b)
	}
	u := *c.base
	ref, _ := url.Parse(path)
	req, err := http.NewRequestWithContext(ctx, method, u.ResolveReference(ref).String(), rd)
	if err != nil {
		return &Error{Kind: KindUsage, Msg: err.Error()}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return &Error{Kind: KindUnreachable, Msg: err.Error()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return &Error{Kind: KindUnreachable, Msg: fmt.Sprintf("%s %s: reading the answer: %v", method, path, err)}
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Kind: KindRefused, Status: resp.StatusCode}
		var ea server.ErrorAnswer
		if json.Unmarshal(data, &ea) == nil && ea.Error != "" {
			e.Msg, e.Problems = ea.Error, ea.Problems
		} else {
			e.Msg = strings.TrimSpace(string(data))
		}
		return e
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &Error{Kind: KindRefused, Status: resp.StatusCode, Msg: fmt.Sprintf("%s %s: answer is not the expected JSON: %v", method, path, err)}
	}
	return nil
}
