package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
)

// TestGracefulShutdown: after ctx is cancelled the server takes no new
// connection, waits for the in-flight request's ack, answers it, then
// stops.
func TestGracefulShutdown(t *testing.T) {
	sh := newFakeShipper(map[string]int{"orders": 2}, false)
	s, err := New(Options{Config: testConfig(t, nil), Shipper: sh, Listen: "127.0.0.1:0", HTTPListen: "-"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-s.Ready()
	cl := dial(t, s, codec.FramingRDSN)
	cl.send(cl.request(9, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("k", "s", "v", 1, 1))))
	sh.waitParts(t, 1)

	cancel()
	// Draining: /healthz says so, and a new connection is closed at once.
	deadline := time.Now().Add(5 * time.Second)
	for !s.draining.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	rec := httptest.NewRecorder()
	s.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/healthz while draining: %d", rec.Code)
	}
	if c, err := net.Dial("tcp", s.Addr().String()); err == nil {
		late := &client{t: t, c: c}
		late.expectClosed()
		_ = c.Close()
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned before the in-flight ack: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	sh.ackPending(PartResult{Status: PartAcked}, false)
	f := cl.recv()
	if r, _ := mutation.ParseDupResponse(f.Body); f.ID != 9 || r.Error != 0 {
		t.Fatalf("in-flight reply: id %d %+v", f.ID, r)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}

func TestHTTPStatus(t *testing.T) {
	sh := newFakeShipper(map[string]int{"orders": 4}, true)
	s := startServer(t, testConfig(t, nil), sh, func(o *Options) {
		o.FollowerStatus = func() any { return map[string]int{"queued": 0} }
	})
	cl := dial(t, s, codec.FramingRDSN)
	cl.send(cl.request(1, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("k", "s", "v", 1, 1))))
	cl.recv()
	rec := httptest.NewRecorder()
	s.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
	var st Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != 200 {
		t.Fatalf("status: %d %v %s", rec.Code, err, rec.Body)
	}
	if len(st.Tables) != 2 || st.Tables[0].Name != "orders" || st.Tables[0].FollowerPartitionCount != 4 ||
		st.Tables[1].AdvertisedPartitionCount != 8 || st.Counters.DupAcked != 1 || st.AdvertisedAddr != "10.0.0.2:34601" || st.Follower == nil {
		t.Errorf("status: %+v", st)
	}
	rec = httptest.NewRecorder()
	s.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Errorf("healthz: %d %q", rec.Code, rec.Body)
	}
}
