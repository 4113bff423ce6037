package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/idl/gen/meta"
	"github.com/dupbridge/dupbridge/internal/wirevec"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/thrift"
)

// TestQueryConfigNotFoundGolden replays the worked example of wire.md §1.13:
// the request bytes go in, and the response must be the documented bytes
// exactly (the bridge advertises 10.0.0.2:34601, like the example's meta).
func TestQueryConfigNotFoundGolden(t *testing.T) {
	req := wirevec.Bytes(wirevec.RDSNQueryConfigRequest)
	want := wirevec.Bytes(wirevec.RDSNQueryConfigResponse)
	s := startServer(t, testConfig(t, nil), newFakeShipper(nil, true), nil)
	cl := dial(t, s, codec.FramingRDSN)
	cl.send(req)
	got := cl.recv()
	if !bytes.Equal(got.Raw, want) {
		t.Fatalf("response differs from wire.md §1.13:\n got %x\nwant %x", got.Raw, want)
	}
}

// partitionConfigGolden is one partition_configuration of table orders
// (app 5), partition 1, ballot 3, written field by field from wire.md §4.1
// with the special-type payloads of §3 (same layout as the §3 example).
func partitionConfigGolden(t testing.TB, hostPort bool) []byte {
	s := `
0c 0001 00000001 00000005
0a 0002 0000000000000003
08 0003 00000001
0c 0004 0a000002 8729 0001
0f 0005 0c 00000000
0f 0006 0c 00000000
0a 0007 0000000000000000
08 0008 00000000`
	if hostPort {
		s += `
0c 0009 0000000b 6272696467652e74657374 8729 01
0f 000a 0c 00000000
0f 000b 0c 00000000`
	}
	return wirevec.Bytes(s + "\n00")
}

func TestQueryConfigLayout(t *testing.T) {
	modes := []struct {
		name  string
		extra string // added to [dupbridge]
		hp    bool   // hp_* fields expected (the test peer is 127.0.0.1)
	}{
		{"host_port", "", true},
		{"no_host_port", "  send_host_port = false\n", false},
		{"legacy_peer", "  legacy_peers = 10.9.9.9, 127.0.0.0/8\n", false},
		{"other_legacy_peers", "  legacy_peers = 10.9.0.0/16\n", true},
	}
	for _, m := range modes {
		hp := m.hp
		for _, fr := range []codec.Framing{codec.FramingRDSN, codec.FramingTHFT} {
			t.Run(fr.String()+"/"+m.name, func(t *testing.T) {
				cfg := testConfig(t, func(s string) string {
					return strings.Replace(s, "  cluster_name = B\n", "  cluster_name = B\n"+m.extra, 1)
				})
				sh := newFakeShipper(map[string]int{"orders": 4}, true)
				s := startServer(t, cfg, sh, func(o *Options) { o.Ballot = 3 }) // fixed for the golden bytes
				cl := dial(t, s, fr)

				// One partition asked for: exact bytes.
				cl.send(cl.request(7, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(wrapperID(fr), "orders", 1, 99)))
				got := cl.recv()
				if string(got.ErrorName) != codec.ErrorOK || string(got.RPCName) != codec.RPCQueryPartitionConfigByIndex+"_ACK" || got.ID != 7 {
					t.Fatalf("header: err %q name %q id %d", got.ErrorName, got.RPCName, got.ID)
				}
				want := wirevec.Bytes(`0c 0000 0c 0001 00000006 4552525f4f4b 08 0002 00000005 08 0003 00000004 02 0004 01 0f 0005 0c 00000001`)
				want = append(want, partitionConfigGolden(t, hp)...)
				want = append(want, 0, 0)
				if !bytes.Equal(got.Body, want) {
					t.Fatalf("body:\n got %x\nwant %x", got.Body, want)
				}

				// All partitions: cross-check with the generated decoder.
				cl.send(cl.request(8, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(wrapperID(fr), "orders")))
				resp := decodeQueryCfg(t, cl.recv().Body)
				if resp.Err.String() != codec.ErrorOK || resp.AppID != 5 || resp.PartitionCount != 4 || !resp.IsStateful || len(resp.Partitions) != 4 {
					t.Fatalf("decoded: %+v", resp)
				}
				for i, p := range resp.Partitions {
					if p.Pid.PartitionIndex != int32(i) || p.Pid.Appid != 5 || p.Ballot < 1 || p.MaxReplicaCount != 1 ||
						p.Primary.String() != "10.0.0.2:34601" || len(p.Secondaries) != 0 {
						t.Errorf("partition %d: %+v", i, p)
					}
					if hp != (p.HpPrimary != nil) || (hp && (p.HpPrimary.Host != "bridge.test" || p.HpPrimary.Port != 34601 || p.HpSecondaries == nil)) {
						t.Errorf("partition %d hp_primary = %+v (want present=%v)", i, p.HpPrimary, hp)
					}
				}

				// Table with a configured advertised count; unknown table.
				cl.send(cl.request(9, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(wrapperID(fr), "open")))
				if r := decodeQueryCfg(t, cl.recv().Body); r.PartitionCount != 8 || len(r.Partitions) != 8 || r.AppID != 6 {
					t.Errorf("open: %+v", r)
				}
				cl.send(cl.request(10, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(wrapperID(fr), "nope")))
				if r := decodeQueryCfg(t, cl.recv().Body); r.Err.String() != codec.ErrorObjectNotFound || len(r.Partitions) != 0 {
					t.Errorf("unknown table: %+v", r)
				}
			})
		}
	}
}

func decodeQueryCfg(t testing.TB, body []byte) *meta.QueryCfgResponse {
	t.Helper()
	buf := athrift.NewTMemoryBuffer()
	buf.Write(body)
	res := meta.NewMetaQueryCfgResult()
	if err := res.Read(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		t.Fatalf("generated decoder: %v (body %x)", err, body)
	}
	if res.Success == nil {
		t.Fatalf("no success field in %x", body)
	}
	return res.Success
}

func TestQueryConfigLayoutUnknown(t *testing.T) {
	s := startServer(t, testConfig(t, nil), newFakeShipper(nil, true), nil)
	cl := dial(t, s, codec.FramingRDSN)
	cl.send(cl.request(1, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(0, "orders")))
	if r := decodeQueryCfg(t, cl.recv().Body); r.Err.String() != codec.ErrorBusyCreating {
		t.Fatalf("err = %v, want ERR_BUSY_CREATING while the follower layout is unknown", r.Err)
	}
}

func TestUnknownRPC(t *testing.T) {
	s := startServer(t, testConfig(t, nil), newFakeShipper(nil, true), nil)
	for _, fr := range []codec.Framing{codec.FramingRDSN, codec.FramingTHFT} {
		cl := dial(t, s, fr)
		cl.send(cl.request(42, "RPC_SOMETHING_ELSE", 0, 0, queryCfgBody(wrapperID(fr), "x")))
		got := cl.recv()
		if string(got.ErrorName) != codec.ErrorHandlerNotFound || string(got.RPCName) != "RPC_SOMETHING_ELSE_ACK" || got.ID != 42 || len(got.Body) != 0 {
			t.Errorf("%v: err %q name %q id %d body %x", fr, got.ErrorName, got.RPCName, got.ID, got.Body)
		}
	}
	if s.Stats().UnknownRPCs != 2 {
		t.Errorf("UnknownRPCs = %d", s.Stats().UnknownRPCs)
	}
}

// TestFramingErrorClosesOnlyThatConnection: bad magic, an oversized frame
// and a THFT header with a bad hdr_length each close their own connection;
// a healthy connection opened before keeps working.
func TestFramingErrorClosesOnlyThatConnection(t *testing.T) {
	sh := newFakeShipper(map[string]int{"orders": 4}, true)
	s := startServer(t, testConfig(t, nil), sh, nil)
	good := dial(t, s, codec.FramingRDSN)
	good.send(good.request(1, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(0, "orders")))
	good.recv()

	oversized := func(cl *client) []byte {
		b := cl.request(1, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("h", "s", "v", 1, 1)))
		binary.LittleEndian.PutUint32(b[16:], 1<<20) // body_length beyond max_frame_size (256 KiB)
		return b[:192]
	}
	badTHFT := func(cl *client) []byte {
		b := cl.request(1, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(1, "orders"))
		binary.BigEndian.PutUint32(b[8:], 47) // hdr_length must be 48 (wire.md §2.1)
		return b
	}
	cases := []struct {
		name string
		fr   codec.Framing
		data func(*client) []byte
	}{
		{"bad magic", codec.FramingRDSN, func(*client) []byte { return []byte("HELLO WORLD, THIS IS NOT RDSN") }},
		{"http", codec.FramingRDSN, func(*client) []byte { return []byte("GET / HTTP/1.1\r\n\r\n") }},
		{"oversized", codec.FramingRDSN, oversized},
		{"thft hdr_length", codec.FramingTHFT, badTHFT},
		{"garbage after a good frame", codec.FramingRDSN, func(cl *client) []byte {
			return append(cl.request(1, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(0, "orders")), "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"...)
		}},
	}
	before := s.Stats().FramingErrors
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := dial(t, s, tc.fr)
			bad.send(tc.data(bad))
			bad.expectClosed()
		})
	}
	if got := s.Stats().FramingErrors - before; got != int64(len(cases)) {
		t.Errorf("FramingErrors = %d, want %d", got, len(cases))
	}
	good.send(good.request(2, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(0, "orders")))
	if f := good.recv(); f.ID != 2 || string(f.ErrorName) != codec.ErrorOK {
		t.Fatalf("healthy connection after the others' errors: id %d err %q", f.ID, f.ErrorName)
	}
}

// TestPipelinedAnsweredByID: three duplicate requests in one write; the
// follower acks them in reverse order; each answer carries its id.
func TestPipelinedAnsweredByID(t *testing.T) {
	for _, fr := range []codec.Framing{codec.FramingRDSN, codec.FramingTHFT} {
		t.Run(fr.String(), func(t *testing.T) {
			sh := newFakeShipper(map[string]int{"orders": 1}, false)
			s := startServer(t, testConfig(t, nil), sh, nil)
			cl := dial(t, s, fr)
			var all []byte
			for id := uint64(1); id <= 3; id++ {
				all = append(all, cl.request(id, codec.RPCDuplicate, 5, 0, dupBody(wrapperID(fr), putEntry("hk", "s", "v", int64(id), 1)))...)
			}
			cl.send(all)
			sh.waitParts(t, 3)
			if _, err := cl.tryRecv(100 * time.Millisecond); err == nil {
				t.Fatal("answered before the follower acknowledged")
			}
			sh.ackPending(PartResult{Status: PartAcked}, true)
			var ids []uint64
			for i := 0; i < 3; i++ {
				f := cl.recv()
				r, err := mutation.ParseDupResponse(f.Body)
				if err != nil || r.Error != 0 || string(f.ErrorName) != codec.ErrorOK || string(f.RPCName) != codec.RPCDuplicate+"_ACK" {
					t.Fatalf("reply %d: %+v %v %q", f.ID, r, err, f.ErrorName)
				}
				ids = append(ids, f.ID)
			}
			seen := map[uint64]bool{}
			for _, id := range ids {
				seen[id] = true
			}
			if len(seen) != 3 || !seen[1] || !seen[2] || !seen[3] {
				t.Fatalf("ids = %v", ids)
			}
		})
	}
}

// TestDuplicateSplit: entries are re-routed by their own key hash to the
// follower's partitions (PayloadHash % count), order kept per partition,
// raw bytes copied verbatim, master answered only after every part's ack.
func TestDuplicateSplit(t *testing.T) {
	const count = 4
	sh := newFakeShipper(map[string]int{"orders": count}, false)
	s := startServer(t, testConfig(t, nil), sh, nil)
	for round, fr := range []codec.Framing{codec.FramingRDSN, codec.FramingTHFT} {
		// Each round writes newer timestamps: the same writes again would be
		// superseded by the first round's (keyorder) and not shipped.
		base := int64(round * 10_000)
		t.Run(fr.String(), func(t *testing.T) {
			already := len(sh.snapshot())
			cl := dial(t, s, fr)
			var es []mutation.DupEntry
			for i := 0; i < 40; i++ {
				es = append(es, putEntry("user"+string(rune('a'+i%13)), "s", "v", base+int64(1000+i), 1))
			}
			// a multi-put and a remove route by hash key / key.
			mp := mutation.AppendMultiPut(nil, 0, &mutation.MultiPutRequest{HashKey: []byte("userb"), Kvs: []mutation.KeyValue{{Key: []byte("x"), Value: []byte("y")}}})
			es = append(es, mutation.DupEntry{Timestamp: base + 2000, TaskCode: []byte(codec.RPCMultiPut), RawMessage: mp, ClusterID: 1, HasClusterID: true})
			rm := mutation.AppendRemove(nil, 0, mutation.AppendRawKey(nil, []byte("userc"), []byte("s")))
			es = append(es, mutation.DupEntry{Timestamp: base + 2001, TaskCode: []byte(codec.RPCRemove), RawMessage: rm, ClusterID: 1, HasClusterID: true})

			movedBefore := s.Stats().DupMoved
			cl.send(cl.request(77, codec.RPCDuplicate, 5, 3, dupBody(wrapperID(fr), es...)))
			// Expected per partition: the entries' bytes in request order.
			want := map[int][]byte{}
			moved := 0
			for _, e := range es {
				h, err := e.Hash()
				if err != nil {
					t.Fatal(err)
				}
				p := mutation.PartitionIndex(h, count)
				want[p] = append(want[p], entryBytes(e)...)
				if p != 3 {
					moved++
				}
			}
			parts := sh.waitParts(t, already+len(want))[already:]
			got := map[int][]byte{}
			n := 0
			for _, p := range parts {
				if p.PartitionCount != count || p.Table != "orders" {
					t.Errorf("part %+v", p)
				}
				it, err := mutation.NewDupIter(p.Body)
				if err != nil {
					t.Fatal(err)
				}
				var e mutation.DupEntry
				k := 0
				for it.Next(&e) {
					h, _ := e.Hash()
					if k >= len(p.Hashes) || p.Hashes[k] != h {
						t.Errorf("part %d entry %d: Hashes %v, want the entry's hash %#x", p.PartitionIndex, k, p.Hashes, h)
					}
					k++
					if mutation.PartitionIndex(h, count) != p.PartitionIndex {
						t.Errorf("entry in partition %d belongs to %d", p.PartitionIndex, mutation.PartitionIndex(h, count))
					}
					got[p.PartitionIndex] = append(got[p.PartitionIndex], e.Raw...)
					n++
				}
				if it.Err() != nil || it.Len() != p.Entries {
					t.Errorf("part body: %v, %d entries vs %d", it.Err(), it.Len(), p.Entries)
				}
			}
			if n != len(es) {
				t.Fatalf("shipped %d entries, want %d", n, len(es))
			}
			if got := s.Stats().DupMoved - movedBefore; got != int64(moved) {
				t.Errorf("DupMoved = %d, want %d (entries not of the request's partition 3)", got, moved)
			}
			for p, w := range want {
				if !bytes.Equal(got[p], w) {
					t.Errorf("partition %d: entries differ from the request's bytes/order", p)
				}
			}
			if _, err := cl.tryRecv(100 * time.Millisecond); err == nil {
				t.Fatal("answered before the follower acknowledged")
			}
			sh.ackPending(PartResult{Status: PartAcked}, false)
			f := cl.recv()
			if r, err := mutation.ParseDupResponse(f.Body); err != nil || r.Error != 0 || f.ID != 77 {
				t.Fatalf("reply: %+v %v id %d", r, err, f.ID)
			}
		})
	}
}

// TestDuplicateWriteLimit: a partition's entries are cut into bodies under
// the write limit; an entry larger than the limit travels alone.
func TestDuplicateWriteLimit(t *testing.T) {
	sh := newFakeShipper(map[string]int{"orders": 1}, true)
	s := startServer(t, testConfig(t, nil), sh, func(o *Options) { o.WriteLimit = 4096 })
	cl := dial(t, s, codec.FramingRDSN)
	big := strings.Repeat("x", 5000)
	var es []mutation.DupEntry
	for i := 0; i < 10; i++ {
		es = append(es, putEntry("k", "s", strings.Repeat("v", 1000), int64(i), 1))
	}
	es = append(es, putEntry("k", "s", big, 100, 1))
	es = append(es, putEntry("k", "s", "tail", 101, 1))
	cl.send(cl.request(1, codec.RPCDuplicate, 5, 0, dupBody(0, es...)))
	f := cl.recv()
	if r, _ := mutation.ParseDupResponse(f.Body); r.Error != 0 {
		t.Fatalf("error %d", r.Error)
	}
	var ts []int64
	for _, p := range sh.snapshot() {
		if len(p.Body) > 4096-bodySlack && p.Entries != 1 {
			t.Errorf("part of %d bytes with %d entries exceeds the limit", len(p.Body), p.Entries)
		}
		it, _ := mutation.NewDupIter(p.Body)
		var e mutation.DupEntry
		for it.Next(&e) {
			ts = append(ts, e.Timestamp)
		}
	}
	want := []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 101}
	if len(ts) != len(want) {
		t.Fatalf("timestamps %v", ts)
	}
	for i := range want {
		if ts[i] != want[i] {
			t.Fatalf("order: %v", ts)
		}
	}
	if len(sh.snapshot()) < 4 {
		t.Errorf("expected the batch cut in several parts, got %d", len(sh.snapshot()))
	}
}

// TestDuplicateRefusals: everything a master must simply resend gets
// duplicate_response.error 13 (TryAgain) with a hint, never 4, and nothing
// of the request is shipped.
func TestDuplicateRefusals(t *testing.T) {
	legacy := func(e mutation.DupEntry) []byte { return mutation.AppendDupLegacy(nil, 0, &e) }
	incr := mutation.DupEntry{Timestamp: 1, TaskCode: []byte(codec.RPCIncr), RawMessage: mutation.AppendIncr(nil, 0, &mutation.IncrRequest{Key: []byte{0, 1, 'k'}}), ClusterID: 1, HasClusterID: true}
	truncated := putEntry("k", "s", "v", 1, 1)
	truncated.RawMessage = truncated.RawMessage[:len(truncated.RawMessage)-5]
	noID := putEntry("k", "s", "v", 1, 1)
	noID.HasClusterID = false
	cases := []struct {
		name    string
		app     int32
		body    []byte
		counter func(Stats) int64
		hint    string
	}{
		{"foreign id on master-only table", 5, dupBody(0, putEntry("k", "s", "v", 1, 1), putEntry("k", "s", "v", 2, 3)), func(s Stats) int64 { return s.ClusterIDRej }, "cluster id 3"},
		{"own id", 6, dupBody(0, putEntry("k", "s", "v", 1, 2)), func(s Stats) int64 { return s.ClusterIDRej }, "cluster id 2"},
		{"unconfigured id", 6, dupBody(0, putEntry("k", "s", "v", 1, 9)), func(s Stats) int64 { return s.ClusterIDRej }, "cluster id 9"},
		{"missing id", 6, dupBody(0, noID), func(s Stats) int64 { return s.ClusterIDRej }, "cluster id"},
		{"legacy foreign id", 5, legacy(putEntry("k", "s", "v", 1, 3)), func(s Stats) int64 { return s.ClusterIDRej }, "cluster id 3"},
		{"unknown task code", 6, dupBody(0, putEntry("k", "s", "v", 1, 1), incr), func(s Stats) int64 { return s.BadTaskCode }, "unrecognized task code"},
		{"truncated raw message", 6, dupBody(0, putEntry("k", "s", "v", 1, 1), truncated), func(s Stats) int64 { return s.Malformed }, "malformed entry"},
		{"truncated request", 6, dupBody(0, putEntry("k", "s", "v", 1, 1))[:30], func(s Stats) int64 { return s.Malformed }, "malformed"},
		{"not a struct", 6, []byte{0x08, 0, 0, 0, 0, 0, 1, 0}, func(s Stats) int64 { return s.Malformed }, "malformed"},
	}
	sh := newFakeShipper(map[string]int{"orders": 4, "open": 4}, true)
	s := startServer(t, testConfig(t, nil), sh, nil)
	cl := dial(t, s, codec.FramingRDSN)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.counter(s.Stats())
			cl.send(cl.request(uint64(i), codec.RPCDuplicate, tc.app, 0, tc.body))
			f := cl.recv()
			r, err := mutation.ParseDupResponse(f.Body)
			if err != nil || string(f.ErrorName) != codec.ErrorOK {
				t.Fatalf("reply: %v %q", err, f.ErrorName)
			}
			if r.Error != ErrTryAgain || r.Error == 4 {
				t.Fatalf("error = %d, want %d (never 4)", r.Error, ErrTryAgain)
			}
			if !strings.Contains(string(r.ErrorHint), tc.hint) {
				t.Errorf("hint %q lacks %q", r.ErrorHint, tc.hint)
			}
			if got := tc.counter(s.Stats()) - before; got != 1 {
				t.Errorf("counter moved by %d", got)
			}
		})
	}
	if n := len(sh.snapshot()); n != 0 {
		t.Fatalf("%d parts shipped for refused requests", n)
	}
}

func TestDuplicateTableStates(t *testing.T) {
	sh := newFakeShipper(map[string]int{"orders": 4}, true)
	s := startServer(t, testConfig(t, nil), sh, nil)
	cl := dial(t, s, codec.FramingRDSN)

	// Unknown app id: like a replica not hosting the gpid (wire.md §4.5).
	cl.send(cl.request(1, codec.RPCDuplicate, 99, 0, dupBody(0, putEntry("k", "s", "v", 1, 1))))
	if f := cl.recv(); string(f.ErrorName) != codec.ErrorObjectNotFound || len(f.Body) != 0 {
		t.Errorf("unknown app: %q %x", f.ErrorName, f.Body)
	}
	// Follower layout unknown (table open has no count yet).
	cl.send(cl.request(2, codec.RPCDuplicate, 6, 0, dupBody(0, putEntry("k", "s", "v", 1, 1))))
	if r, _ := mutation.ParseDupResponse(cl.recv().Body); r.Error != ErrTryAgain {
		t.Errorf("no layout: %+v", r)
	}
	// Paused.
	s.SetPaused("orders", true)
	cl.send(cl.request(3, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("k", "s", "v", 1, 1))))
	if r, _ := mutation.ParseDupResponse(cl.recv().Body); r.Error != ErrTryAgain || !strings.Contains(string(r.ErrorHint), "paused") {
		t.Errorf("paused: %+v", r)
	}
	s.SetPaused("orders", false)
	// Empty request: nothing to ship, success.
	cl.send(cl.request(4, codec.RPCDuplicate, 5, 0, dupBody(0)))
	if r, _ := mutation.ParseDupResponse(cl.recv().Body); r.Error != 0 {
		t.Errorf("empty: %+v", r)
	}
	// Follower failure → retryable; skip → success.
	sh.mu.Lock()
	sh.result = PartResult{Status: PartFailed, Err: context.Canceled}
	sh.mu.Unlock()
	cl.send(cl.request(5, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("k", "s", "v", 1, 1))))
	if r, _ := mutation.ParseDupResponse(cl.recv().Body); r.Error != ErrTryAgain {
		t.Errorf("failed part: %+v", r)
	}
	sh.mu.Lock()
	sh.result = PartResult{Status: PartSkipped}
	sh.mu.Unlock()
	cl.send(cl.request(6, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("k", "s", "v", 1, 1))))
	if r, _ := mutation.ParseDupResponse(cl.recv().Body); r.Error != 0 {
		t.Errorf("skipped part: %+v", r)
	}
	st := s.Stats()
	if st.UnknownTable != 1 || st.NoLayout != 1 || st.Paused != 1 || st.PartsFailed != 1 || st.PartsSkipped != 1 {
		t.Errorf("stats: %+v", st)
	}
	// Legacy (≤ v2.3) one-entry request over THFT is shipped in the new shape.
	th := dial(t, s, codec.FramingTHFT)
	e := putEntry("k", "s", "v", 77, 1)
	n := len(sh.snapshot())
	sh.mu.Lock()
	sh.result = PartResult{}
	sh.mu.Unlock()
	th.send(th.request(7, codec.RPCDuplicate, 5, 0, mutation.AppendDupLegacy(nil, 1, &e)))
	if r, _ := mutation.ParseDupResponse(th.recv().Body); r.Error != 0 {
		t.Errorf("legacy: %+v", r)
	}
	p := sh.snapshot()[n]
	want := dupBody(0, e)
	if !bytes.Equal(p.Body, want) {
		t.Errorf("legacy shipped as %x, want %x", p.Body, want)
	}
}

// TestBackpressure: with a follower that never acks, the server stops
// decoding once the in-flight cap is reached (requests stay in the socket
// and gnet's buffer), memory stays under the cap, and everything proceeds
// once acks free memory.
func TestBackpressure(t *testing.T) {
	const capBytes = 256 << 10
	cfg := testConfig(t, func(s string) string {
		return strings.Replace(s, "max_inflight_bytes = 64MiB", "max_inflight_bytes = 256KiB", 1)
	})
	sh := newFakeShipper(map[string]int{"orders": 2}, false)
	s := startServer(t, cfg, sh, nil)
	cl := dial(t, s, codec.FramingRDSN)
	val := strings.Repeat("v", 30<<10)
	const total = 20
	var all []byte
	for i := 0; i < total; i++ {
		all = append(all, cl.request(uint64(i+1), codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("hk"+string(rune('a'+i)), "s", val, int64(i), 1)))...)
	}
	go cl.send(all)

	// Wait until shipping stops growing.
	var shipped int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		n := len(sh.snapshot())
		time.Sleep(100 * time.Millisecond)
		if n > 0 && n == len(sh.snapshot()) {
			shipped = n
			break
		}
	}
	st := s.Stats()
	if shipped == 0 || shipped >= total {
		t.Fatalf("shipped %d of %d requests with no ack: back-pressure did not stop decoding", shipped, total)
	}
	if st.InflightBytes > capBytes {
		t.Errorf("in-flight %d bytes above the cap %d", st.InflightBytes, capBytes)
	}
	if st.Stalls == 0 {
		t.Errorf("no stall counted")
	}
	// Ack as parts arrive until every request is answered.
	answered := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for answered < total {
			f, err := cl.tryRecv(5 * time.Second)
			if err != nil {
				return
			}
			if r, _ := mutation.ParseDupResponse(f.Body); r.Error == 0 {
				answered++
			}
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		sh.ackPending(PartResult{Status: PartAcked}, false)
		if s.Stats().InflightBytes > capBytes {
			t.Errorf("in-flight %d bytes above the cap", s.Stats().InflightBytes)
		}
		select {
		case <-done:
			deadline = time.Time{}
		case <-time.After(20 * time.Millisecond):
		}
	}
	<-done
	if answered != total {
		t.Fatalf("answered %d of %d", answered, total)
	}
	if st := s.Stats(); st.InflightBytes != 0 || st.InflightRequests != 0 {
		t.Errorf("after all acks: %+v", st)
	}
}

func TestListApps(t *testing.T) {
	sh := newFakeShipper(map[string]int{"orders": 4}, true)
	s := startServer(t, testConfig(t, nil), sh, nil)
	cl := dial(t, s, codec.FramingTHFT)
	body := func(status int32, pattern string, mt int32) []byte {
		w := thrift.Writer{}
		w.WrapperBegin(thrift.STRUCT, 1)
		w.FieldHeader(thrift.I32, 1)
		w.I32(status)
		if pattern != "" {
			w.FieldHeader(thrift.STRING, 2)
			w.String(pattern)
			w.FieldHeader(thrift.I32, 3)
			w.I32(mt)
		}
		w.Stop()
		w.WrapperEnd()
		return w.B
	}
	decode := func(b []byte) *meta.ConfigurationListAppsResponse {
		buf := athrift.NewTMemoryBuffer()
		buf.Write(b)
		res := meta.NewMetaListAppsResult()
		if err := res.Read(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); err != nil || res.Success == nil {
			t.Fatalf("decode: %v %x", err, b)
		}
		return res.Success
	}
	cl.send(cl.request(1, codec.RPCListApps, 0, 0, body(0, "", 0)))
	r := decode(cl.recv().Body)
	if r.Err.String() != codec.ErrorOK || len(r.Infos) != 2 {
		t.Fatalf("list: %+v", r)
	}
	o := r.Infos[0]
	if o.AppName != "orders" || o.AppID != 5 || o.PartitionCount != 4 || o.Status != meta.AppStatus_AS_AVAILABLE || !o.IsStateful || o.AppType != "pegasus" || o.MaxReplicaCount != 1 {
		t.Errorf("orders: %+v", o)
	}
	if r.Infos[1].AppName != "open" || r.Infos[1].PartitionCount != 8 {
		t.Errorf("open: %+v", r.Infos[1])
	}
	cl.send(cl.request(2, codec.RPCListApps, 0, 0, body(0, "ord", 4)))
	if r := decode(cl.recv().Body); len(r.Infos) != 1 || r.Infos[0].AppName != "orders" {
		t.Errorf("prefix: %+v", r)
	}
	cl.send(cl.request(3, codec.RPCListApps, 0, 0, body(4, "", 0)))
	if r := decode(cl.recv().Body); len(r.Infos) != 0 {
		t.Errorf("AS_DROPPING filter: %+v", r)
	}
}

// TestManyConnections: several masters pipeline duplicate and meta
// requests at once over both framings while acks arrive on other
// goroutines; every request is answered by id, and the counters add up.
func TestManyConnections(t *testing.T) {
	sh := newFakeShipper(map[string]int{"orders": 8}, true)
	s := startServer(t, testConfig(t, nil), sh, nil)
	const conns, perConn = 8, 40
	errc := make(chan error, conns)
	for c := 0; c < conns; c++ {
		fr := codec.FramingRDSN
		if c%2 == 1 {
			fr = codec.FramingTHFT
		}
		cl := dial(t, s, fr)
		go func(cl *client, c int) {
			var all []byte
			for i := 0; i < perConn; i++ {
				id := uint64(i + 1)
				if i%5 == 0 {
					all = append(all, cl.request(id, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(wrapperID(cl.fr), "orders"))...)
					continue
				}
				all = append(all, cl.request(id, codec.RPCDuplicate, 5, 0, dupBody(wrapperID(cl.fr),
					putEntry("k"+string(rune('a'+c)), "s", "v", int64(i), 1), putEntry("q"+string(rune('a'+i%26)), "s", "v", int64(i), 1)))...)
			}
			if _, err := cl.c.Write(all); err != nil {
				errc <- err
				return
			}
			seen := map[uint64]bool{}
			for len(seen) < perConn {
				f, err := cl.tryRecv(10 * time.Second)
				if err != nil {
					errc <- err
					return
				}
				if string(f.ErrorName) != codec.ErrorOK || seen[f.ID] {
					errc <- &testError{f: f}
					return
				}
				seen[f.ID] = true
			}
			errc <- nil
		}(cl, c)
	}
	for c := 0; c < conns; c++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.DupAcked != conns*perConn*4/5 || st.QueryConfig != conns*perConn/5 || st.InflightBytes != 0 {
		t.Errorf("stats: %+v", st)
	}
}

type testError struct{ f codec.Frame }

func (e *testError) Error() string {
	return fmt.Sprintf("unexpected or repeated reply %s id %d", e.f.ErrorName, e.f.ID)
}
