package pegasussim

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/thrift"
)

// fuzzCluster is a simulator that is never started: its endpoints get
// addresses but no listeners, and sessions are driven in memory.
func fuzzCluster(t testing.TB) *Cluster {
	c, err := New(Options{Replicas: 2, ClusterID: 2, DupGroup: map[string]uint8{"m": 1, "f": 2},
		Tables: []TableSpec{{Name: "temp", AppID: 2, Partitions: 8, ReplicaCount: 1, CheckpointDir: "/nonexistent/dupbridge-fuzz"}}})
	if err != nil {
		t.Fatal(err)
	}
	c.meta.setAddr(netip.MustParseAddrPort("127.0.0.1:34601"))
	for i, ep := range c.replicas {
		ep.setAddr(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(34801+i)))
	}
	c.hostName = "127.0.0.1"
	return c
}

// seedRequests are well-formed requests of every RPC the simulator serves,
// in both framings, for the fuzz corpus.
func seedRequests() (seeds [][]byte) {
	k := rawKey([]byte("hk1"), []byte("s"))
	for _, fr := range []codec.Framing{codec.FramingRDSN, codec.FramingTHFT} {
		wid := int16(0)
		if fr == codec.FramingTHFT {
			wid = 1
		}
		dup, _ := mutation.AppendDuplicate(nil, wid, &mutation.DuplicateRequest{Entries: []mutation.DupEntry{
			dupEnt(1, rpcPut, mutation.AppendPut(nil, 0, k, []byte("v"), 0), 1, true),
			dupEnt(2, rpcMultiPut, mutation.AppendMultiPut(nil, 0, &mutation.MultiPutRequest{HashKey: []byte("hk1"), Kvs: []mutation.KeyValue{{Key: []byte("a")}}}), 1, false),
		}})
		gs := thrift.Writer{}
		gs.WrapperBegin(thrift.STRUCT, wid)
		fBlob(&gs, 1, k)
		fBlob(&gs, 2, rawKey([]byte("hk1"), []byte{0xff}))
		fBool(&gs, 3, true)
		fI32(&gs, 5, 1)
		create := thrift.Writer{}
		create.WrapperBegin(thrift.STRUCT, wid)
		create.FieldHeader(thrift.STRING, 1)
		create.String("new")
		create.FieldHeader(thrift.STRUCT, 2)
		fI32(&create, 1, 4)
		fI32(&create, 2, 3)
		create.FieldHeader(thrift.MAP, 6)
		create.MapHeader(thrift.STRING, thrift.STRING, 2)
		create.String(envMasterCluster)
		create.String("m")
		create.String(envFollowerAppStatus)
		create.String(followerCreating)
		create.Stop()
		learn := thrift.Writer{}
		learn.WrapperBegin(thrift.STRUCT, wid)
		learn.FieldHeader(thrift.STRUCT, 1)
		learn.Gpid(2, 5)
		learn.FieldHeader(thrift.STRUCT, 2)
		learn.RPCAddress(0)
		learn.FieldHeader(thrift.I32, 9)
		learn.I32(cstMD5)
		learn.Stop()
		size := thrift.Writer{}
		size.WrapperBegin(thrift.STRUCT, wid)
		size.FieldHeader(thrift.STRUCT, 1)
		size.RPCAddress(0)
		size.FieldHeader(thrift.LIST, 3)
		size.ListHeader(thrift.STRING, 1)
		size.String("1.sst")
		size.FieldHeader(thrift.STRING, 4)
		size.String("/nonexistent/dupbridge-fuzz/5")
		size.Stop()
		cp := thrift.Writer{}
		cp.WrapperBegin(thrift.STRUCT, wid)
		cp.FieldHeader(thrift.STRING, 2)
		cp.String("/nonexistent/dupbridge-fuzz/5")
		cp.FieldHeader(thrift.STRING, 4)
		cp.String("1.sst")
		fI32(&cp, 6, 4096)
		cp.Stop()
		for _, r := range []struct {
			name        string
			appID, pidx int32
			body        []byte
		}{
			{rpcGet, 2, 5, blobArg(wid, k)},
			{rpcPut, 2, 5, mutation.AppendPut(nil, wid, k, []byte("v"), 0)},
			{rpcIncr, 2, 5, mutation.AppendIncr(nil, wid, &mutation.IncrRequest{Key: k, Increment: 1})},
			{rpcCheckAndSet, 2, 5, mutation.AppendCheckAndSet(nil, wid, &mutation.CheckAndSetRequest{HashKey: []byte("hk1"), CheckType: 1})},
			{rpcDuplicate, 2, 5, dup},
			{rpcGetScanner, 2, 5, endResult(&gs)},
			{rpcClearScanner, 2, 5, i64Arg(wid, 1)},
			{rpcQueryConfig, 0, 0, queryCfgArgs(wid, "temp")},
			{rpcCreateApp, 0, 0, endResult(&create)},
			{codec.RPCQueryLastCheckpointInfo, 0, 0, endResult(&learn)},
			{codec.RPCNFSGetFileSize, 0, 0, endResult(&size)},
			{codec.RPCNFSCopy, 0, 0, endResult(&cp)},
		} {
			h := codec.RequestHeader{ID: 1, RPCName: r.name, AppID: r.appID, PartitionIndex: r.pidx, TimeoutMs: 1000}
			seeds = append(seeds, codec.AppendRequest(nil, fr, &h, r.body))
		}
	}
	return seeds
}

// FuzzHandle feeds arbitrary bytes to a connection handler of the meta
// (meta = true) or of a replica endpoint: it must never panic, whatever the
// framing, the header or the body.
func FuzzHandle(f *testing.F) {
	for i, s := range seedRequests() {
		f.Add(i%2 == 0, s)
	}
	f.Fuzz(func(t *testing.T, meta bool, data []byte) {
		c := fuzzCluster(t)
		ep := c.replicas[0]
		if meta {
			ep = c.meta
		}
		s := session{ep: ep, later: func(time.Duration, []byte) {}}
		_, n, _ := s.feed(data, nil)
		if n < 0 || n > len(data) {
			t.Fatalf("consumed %d of %d", n, len(data))
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzHandle from
// seedRequests when PEGASUSSIM_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("PEGASUSSIM_WRITE_CORPUS") != "1" {
		t.Skip("set PEGASUSSIM_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzHandle")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seedRequests() {
		body := fmt.Sprintf("go test fuzz v1\nbool(%v)\n[]byte(%q)\n", i%2 == 0, s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSeedRequestsAnswered: every seed is a complete request the simulator
// answers (or, for CLEAR_SCANNER, deliberately does not).
func TestSeedRequestsAnswered(t *testing.T) {
	c := fuzzCluster(t)
	for i, s := range seedRequests() {
		var d codec.Decoder
		fr, _, err := d.Decode(s)
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		name := string(fr.RPCName)
		// Meta seeds go to the meta, storage seeds to the primary of (2, 5).
		ep := c.meta
		if !metaRPCs[name] {
			ep = c.replicas[c.byID[2].configs[5].primary]
		}
		ss := session{ep: ep}
		out, n, err := ss.feed(s, nil)
		if err != nil || n != len(s) {
			t.Fatalf("seed %d (%s): consumed %d of %d: %v", i, name, n, len(s), err)
		}
		var rd codec.Decoder
		rd.Role = codec.RoleClient
		resp, _, err := rd.Decode(out)
		if name == rpcClearScanner {
			if len(out) != 0 {
				t.Fatalf("clear_scanner answered")
			}
			continue
		}
		if err != nil || string(resp.ErrorName) != codec.ErrorOK {
			t.Fatalf("seed %d (%s): %v %q", i, name, err, resp.ErrorName)
		}
	}
}
