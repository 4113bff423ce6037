package pegasussim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
)

func TestInjectErrors(t *testing.T) {
	h := newHarness(t, Options{Replicas: 1, ClusterID: 2, DupGroup: map[string]uint8{"m": 1, "f": 2}, Tables: []TableSpec{{Name: testTable, Partitions: 1}}})
	k := key("a", "b")
	cn := h.to(0)
	if err := h.c.InjectError(rpcGet, codec.ErrorBusy, 2); err != nil {
		t.Fatal(err)
	}
	if err := h.c.InjectError(rpcGet, codec.ErrorOK, 1); !errors.Is(err, ErrBadArgument) {
		t.Fatalf("ERR_OK injection accepted: %v", err)
	}
	var got []string
	for i := 0; i < 3; i++ {
		got = append(got, cn.call(rpcGet, h.appID, 0, 0, blobArg(0, k)).errName)
	}
	if strings.Join(got, ",") != "ERR_BUSY,ERR_BUSY,ERR_OK" {
		t.Fatalf("got %v", got)
	}
	// AllRPCs applies to the meta too.
	h.c.InjectError(AllRPCs, codec.ErrorTimeout, 1)
	meta := dial(t, h.c.MetaAddr(), codec.FramingRDSN)
	if r := meta.call(rpcQueryConfig, 0, 0, 0, queryCfgArgs(0, testTable)); r.errName != codec.ErrorTimeout || len(r.body) != 0 {
		t.Fatalf("meta: %s", r.errName)
	}
	// A duplicate_response error is answered without applying.
	h.c.InjectDuplicateError(StatusTryAgain, "simulated", 1)
	hh := keyHash(k)
	if f := h.dup(hh, false, dupEnt(1, rpcPut, putRaw("a", "b", "v", 0), 1, false)); f[1] != int32(StatusTryAgain) || f[2] != "simulated" {
		t.Fatalf("dup injection: %v", f)
	}
	if _, ok := h.get("a", "b"); ok {
		t.Fatal("injected failure applied the batch")
	}
	if f := h.dup(hh, false, dupEnt(1, rpcPut, putRaw("a", "b", "v", 0), 1, false)); f[1] != int32(0) {
		t.Fatalf("after injection: %v", f)
	}
	if n := h.c.Counters().ErrorsInjected; n != 4 {
		t.Fatalf("errors injected %d", n)
	}
}

// TestDelayReordersReplies: a delayed reply is written after later,
// undelayed ones (replies go out in order of completion).
func TestDelayReordersReplies(t *testing.T) {
	h := newHarness(t, Options{Replicas: 1, Tables: []TableSpec{{Name: testTable, Partitions: 1}}})
	h.c.SetDelay(rpcGet, 100*time.Millisecond)
	cn := h.to(0)
	k := key("a", "b")
	idGet := cn.send(rpcGet, h.appID, 0, 0, blobArg(0, k))
	idPut := cn.send(rpcPut, h.appID, 0, 0, mutation.AppendPut(nil, 0, k, []byte("v"), 0))
	first, second := cn.recv(), cn.recv()
	if first.id != idPut || second.id != idGet {
		t.Fatalf("reply order %d, %d; want put %d then get %d", first.id, second.id, idPut, idGet)
	}
	// The GET was handled on arrival, before the PUT.
	if f := parseResult(t, second.body, readRespSchema); f[1] != int32(StatusNotFound) {
		t.Fatalf("delayed get: %v", f)
	}
	h.c.SetDelay(rpcGet, 0)
	if _, ok := h.get("a", "b"); !ok {
		t.Fatal("put lost")
	}
	if n := h.c.Counters().DelaysInjected; n != 1 {
		t.Fatalf("delays %d", n)
	}
}

func TestUnavailableAndMovePrimary(t *testing.T) {
	h := newHarness(t, Options{Replicas: 3, Tables: []TableSpec{{Name: testTable, Partitions: 2, ReplicaCount: 2}}})
	k := key("a", "b")
	p := pidxOf(k, 2)
	get := func(addr string) string {
		return dial(t, addr, codec.FramingRDSN).call(rpcGet, h.appID, p, 0, blobArg(0, k)).errName
	}
	old := primaryOf(t, h.c, testTable, int(p))
	for _, tc := range []struct{ errName, want string }{{"", codec.ErrorInvalidState}, {codec.ErrorObjectNotFound, codec.ErrorObjectNotFound}} {
		if err := h.c.MakeUnavailable(testTable, int(p), time.Hour, tc.errName); err != nil {
			t.Fatal(err)
		}
		if got := get(old); got != tc.want {
			t.Fatalf("unavailable: %s, want %s", got, tc.want)
		}
	}
	h.clock.t = h.clock.t.Add(2 * time.Hour)
	if got := get(old); got != codec.ErrorOK {
		t.Fatalf("after the window: %s", got)
	}
	h.c.MakeUnavailable(testTable, int(p), time.Hour, "")
	h.c.ClearFaults()
	if got := get(old); got != codec.ErrorOK {
		t.Fatalf("after ClearFaults: %s", got)
	}

	to := -1
	for i, a := range h.c.ReplicaAddrs() {
		if a != old {
			to = i
			break
		}
	}
	ballot, err := h.c.MovePrimary(testTable, int(p), to)
	if err != nil || ballot != 2 {
		t.Fatalf("move: %d %v", ballot, err)
	}
	if got := get(old); got != codec.ErrorInvalidState {
		t.Fatalf("old primary answers %s", got)
	}
	if got := get(h.c.ReplicaAddrs()[to]); got != codec.ErrorOK {
		t.Fatalf("new primary answers %s", got)
	}
	meta := dial(t, h.c.MetaAddr(), codec.FramingRDSN)
	q := decodeQueryCfgResp(t, meta.call(rpcQueryConfig, 0, 0, 0, queryCfgArgs(0, testTable, p)).body)
	want, _ := codec.ParseAddress(h.c.ReplicaAddrs()[to])
	if pc := q.parts[0]; pc.primary != want || pc.ballot != 2 || int(pc.maxReplicas) != 1+len(pc.secondaries) || pc.secondaries[0] == want {
		t.Fatalf("config after move: %+v", pc)
	}
	if _, err := h.c.MovePrimary("nope", 0, 0); !errors.Is(err, ErrUnknownTable) {
		t.Fatalf("unknown table: %v", err)
	}
	if _, err := h.c.MovePrimary(testTable, 0, 7); !errors.Is(err, ErrBadArgument) {
		t.Fatalf("bad endpoint: %v", err)
	}
}

func TestCloseConnections(t *testing.T) {
	c := startSim(t, Options{Replicas: 2})
	a := dial(t, c.ReplicaAddrs()[0], codec.FramingRDSN)
	b := dial(t, c.ReplicaAddrs()[1], codec.FramingRDSN)
	// Make sure both are accepted before closing.
	a.call(rpcGet, 0, 0, 0, nil)
	b.call(rpcGet, 0, 0, 0, nil)
	n, err := c.CloseConnections(c.ReplicaAddrs()[0])
	if err != nil || n != 1 {
		t.Fatalf("closed %d, %v", n, err)
	}
	if _, err := a.recvTimeout(2 * time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("closed connection reads %v", err)
	}
	if r := b.call(rpcGet, 0, 0, 0, nil); r.errName != codec.ErrorHandlerNotFound {
		t.Fatalf("other endpoint: %s", r.errName)
	}
	// The endpoint still accepts connections.
	dial(t, c.ReplicaAddrs()[0], codec.FramingTHFT).call(rpcGet, 0, 0, 0, nil)
	if n, _ := c.CloseConnections(""); n != 2 {
		t.Fatalf("close all: %d", n)
	}
	if _, err := c.CloseConnections("127.0.0.1:1"); !errors.Is(err, ErrBadArgument) {
		t.Fatalf("unknown endpoint: %v", err)
	}
}

func TestHTTPControl(t *testing.T) {
	h := newHarness(t, Options{Replicas: 2, HTTPAddr: "127.0.0.1:0", ClusterID: 2, DupGroup: map[string]uint8{"m": 1, "f": 2}})
	base := "http://" + h.c.HTTPAddr()
	post := func(path, body string) (int, map[string]any) {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	getJSON := func(path string, v any) int {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(v)
		return resp.StatusCode
	}
	h.put("a", "b", "v", 0)
	var addrs struct {
		Meta     string   `json:"meta"`
		Replicas []string `json:"replicas"`
	}
	if getJSON("/addresses", &addrs); addrs.Meta != h.c.MetaAddr() || len(addrs.Replicas) != 2 {
		t.Fatalf("addresses %+v", addrs)
	}
	var recs []Record
	if code := getJSON("/dump?table="+testTable, &recs); code != 200 || len(recs) != 1 || string(recs[0].Value) != "v" {
		t.Fatalf("dump %d %+v", code, recs)
	}
	var e map[string]string
	if code := getJSON("/dump?table=nope", &e); code != 404 || e["error"] == "" {
		t.Fatalf("unknown table: %d %v", code, e)
	}
	if code, _ := post("/fault/error", `{"rpc":"RPC_RRDB_RRDB_GET","error":"ERR_BUSY","count":1}`); code != 200 {
		t.Fatalf("fault/error %d", code)
	}
	k := key("a", "b")
	p := pidxOf(k, h.count)
	if r := h.to(p).call(rpcGet, h.appID, p, 0, blobArg(0, k)); r.errName != codec.ErrorBusy {
		t.Fatalf("injected over HTTP: %s", r.errName)
	}
	if code, v := post("/fault/move", `{"table":"t","partition":0,"to":1}`); code != 200 || v["ballot"] != float64(2) {
		t.Fatalf("fault/move %d %v", code, v)
	}
	if code, _ := post("/fault/unavailable", `{"table":"t","partition":0,"duration":"bogus"}`); code != 400 {
		t.Fatalf("bad duration accepted: %d", code)
	}
	if code, v := post("/fault/close", `{}`); code != 200 || v["closed"] == nil {
		t.Fatalf("fault/close %d %v", code, v)
	}
	for _, path := range []string{"/fault/delay", "/fault/dup-error", "/fault/clear"} {
		if code, _ := post(path, `{"rpc":"*","delay":"1ms","code":13,"count":1}`); code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
	}
	var k2 Counters
	if getJSON("/counters", &k2); k2.ErrorsInjected != 1 || k2.Requests[rpcGet] != 1 {
		t.Fatalf("counters %+v", k2)
	}
}
