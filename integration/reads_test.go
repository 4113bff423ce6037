package integration

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/rpcclient"
	"github.com/dupbridge/dupbridge/thrift"
)

// readResult is the part of read_response / count_response / ttl_response
// (idl/rrdb.thrift) the test checks: field 1 error, field 2 the value
// (get), the count (sortkey_count) or the seconds left (ttl).
type readResult struct {
	err   int32
	value []byte
	count int64
}

func decodeRead(body []byte) (readResult, error) {
	var rr readResult
	r := thrift.NewReader(body)
	if _, _, err := r.ReadWrapperBegin(); err != nil {
		return rr, err
	}
	err := r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && typ == thrift.I32:
			rr.err, err = r.ReadI32()
		case id == 2 && (typ == thrift.STRING || typ == thrift.STRUCT):
			// dsn.blob travels with the STRUCT type byte and a string
			// payload (wire.md §3).
			rr.value, err = r.ReadBinary()
		case id == 2 && typ == thrift.I64:
			rr.count, err = r.ReadI64()
		case id == 2 && typ == thrift.I32: // ttl_response.ttl_seconds
			var v int32
			v, err = r.ReadI32()
			rr.count = int64(v)
		default:
			return false, nil
		}
		return true, err
	})
	return rr, err
}

// blobArgs is the args of get(1: blob key) and sortkey_count(1: blob
// hash_key): one blob in the wrapper (wire.md §1.9, §3).
func blobArgs(b []byte) []byte {
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, 0)
	w.Binary(b)
	w.WrapperEnd()
	return w.B
}

// A Pegasus client pointed at the bridge reads the follower's data through
// it (get, sortkey_count and ttl go to the follower partition owning the key,
// also when the bridge advertises another partition count than the
// follower's) and has its writes refused at once with
// ERR_DISK_INSUFFICIENT, which the Go and Java clients do not retry.
func TestClientReadsThroughBridge(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		follower, advertised int
	}{{"same count", 8, 0}, {"advertised 16 over 4", 4, 16}} {
		t.Run(tc.name, func(t *testing.T) {
			env := start(t, localcluster.Options{FollowerPartitions: tc.follower, AdvertisedPartitions: tc.advertised, Strict: true})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			call, appID := dupCaller(t, ctx, env)
			const keys = 40
			var es []mutation.DupEntry
			for i := 0; i < keys; i++ {
				raw := mutation.AppendPut(nil, 0, mutation.AppendRawKey(nil, []byte(fmt.Sprintf("h%d", i)), []byte("s")), []byte(fmt.Sprintf("v%d", i)), 0)
				es = append(es, mutation.DupEntry{Timestamp: int64(100 + i), TaskCode: []byte(codec.RPCPut), RawMessage: raw,
					ClusterID: localcluster.MasterClusterID, HasClusterID: true})
			}
			if resp, err := call(dupRequestBody(es...)); err != nil || !resp.OK() {
				t.Fatalf("duplicate: %v %v", resp, err)
			}
			adv := tc.advertised
			if adv == 0 {
				adv = tc.follower
			}
			for _, fr := range []rpcclient.Options{{}, {Framing: codec.FramingTHFT, THFTVersion: 1}} {
				conn := rpcclient.NewConn(env.BridgeAddr, fr)
				defer conn.Close()
				clientCall := func(rpc string, hk []byte, body []byte) (*rpcclient.Response, error) {
					h := mutation.HashKeyHash(hk)
					return conn.Call(ctx, &rpcclient.Request{RPCName: rpc, AppID: appID,
						PartitionIndex: int32(mutation.PartitionIndex(h, adv)), PartitionHash: h, Body: body})
				}
				for i := 0; i < keys; i++ {
					hk := []byte(fmt.Sprintf("h%d", i))
					resp, err := clientCall(codec.RPCGet, hk, blobArgs(mutation.AppendRawKey(nil, hk, []byte("s"))))
					if err != nil || !resp.OK() {
						t.Fatalf("get %s: %v %v", hk, resp, err)
					}
					rr, err := decodeRead(resp.Body)
					if err != nil || rr.err != 0 || string(rr.value) != fmt.Sprintf("v%d", i) {
						t.Fatalf("get %s: %+v %v %x", hk, rr, err, resp.Body)
					}
					resp, err = clientCall(codec.RPCSortkeyCount, hk, blobArgs(hk))
					if rr, derr := decodeRead(resp.Body); err != nil || !resp.OK() || derr != nil || rr.count != 1 {
						t.Fatalf("sortkey_count %s: %v %+v %v %v", hk, resp, rr, err, derr)
					}
					// ttl: -1, the key has no expiry (pegasus_server_impl::on_ttl).
					resp, err = clientCall(codec.RPCTTL, hk, blobArgs(mutation.AppendRawKey(nil, hk, []byte("s"))))
					if rr, derr := decodeRead(resp.Body); err != nil || !resp.OK() || derr != nil || rr.err != 0 || rr.count != -1 {
						t.Fatalf("ttl %s: %v %+v %v %v", hk, resp, rr, err, derr)
					}
				}
				// A missing key: the follower's own "not found" (RocksDB 1).
				resp, err := clientCall(codec.RPCGet, []byte("nope"), blobArgs(mutation.AppendRawKey(nil, []byte("nope"), []byte("s"))))
				if rr, derr := decodeRead(resp.Body); err != nil || derr != nil || rr.err != 1 {
					t.Errorf("missing key: %+v %v %v", rr, err, derr)
				}
				put := mutation.AppendPut(nil, 0, mutation.AppendRawKey(nil, []byte("w"), []byte("s")), []byte("x"), 0)
				start := time.Now()
				resp, err = clientCall(codec.RPCPut, []byte("w"), put)
				if err != nil || resp.Err != codec.ErrorDiskInsufficient || time.Since(start) > 5*time.Second {
					t.Errorf("write: %v %v", resp, err)
				}
				// An app id the bridge does not advertise: like a replica
				// not serving the gpid, so clients refresh their config.
				resp, err = conn.Call(ctx, &rpcclient.Request{RPCName: codec.RPCGet, AppID: appID + 100, Body: blobArgs([]byte("k"))})
				if err != nil || resp.Err != codec.ErrorObjectNotFound {
					t.Errorf("unknown app: %v %v", resp, err)
				}
			}
			recs, err := env.Sim.Dump(env.Opts.Table)
			if err != nil || len(recs) != keys {
				t.Errorf("follower holds %d records (%v), want %d: a refused write got through?", len(recs), err, keys)
			}
			st := env.Bridge.Stats()
			if st.ReadsForwarded != 2*(3*keys+1) || st.WritesRefused != 2 || st.ReadsFailed != 2 {
				t.Errorf("stats: forwarded %d, refused %d, failed %d", st.ReadsForwarded, st.WritesRefused, st.ReadsFailed)
			}
		})
	}
}

// scanResult is scan_response (idl/rrdb.thrift): error, the kvs, the
// context id (-1: done), the partition that answered.
type scanResult struct {
	err       int32
	kvs       int
	contextID int64
	pidx      int32
}

func decodeScan(body []byte) (scanResult, error) {
	var sr scanResult
	r := thrift.NewReader(body)
	if _, _, err := r.ReadWrapperBegin(); err != nil {
		return sr, err
	}
	err := r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && typ == thrift.I32:
			sr.err, err = r.ReadI32()
		case id == 2 && typ == thrift.LIST:
			var n int
			if _, n, err = r.ReadListHeader(); err != nil {
				return true, err
			}
			for i := 0; i < n && err == nil; i++ {
				// key_value {1: blob key, 2: blob value, 3: optional i32}
				err = r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
					if t == thrift.STRUCT || t == thrift.STRING {
						_, err := r.ReadBinary()
						return true, err
					}
					return false, nil
				})
			}
			sr.kvs = n
		case id == 3 && typ == thrift.I64:
			sr.contextID, err = r.ReadI64()
		case id == 5 && typ == thrift.I32:
			sr.pidx, err = r.ReadI32()
		default:
			return false, nil
		}
		return true, err
	})
	return sr, err
}

// A whole-table scan through the bridge (advertised count = the
// follower's): get_scanner per partition, then scan with the context it
// returned until the follower says done; the context lives on the follower
// partition, so scan must reach the same one. Every key comes back once.
func TestClientScanThroughBridge(t *testing.T) {
	env := start(t, localcluster.Options{FollowerPartitions: 4})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call, appID := dupCaller(t, ctx, env)
	const keys = 30
	var es []mutation.DupEntry
	for i := 0; i < keys; i++ {
		raw := mutation.AppendPut(nil, 0, mutation.AppendRawKey(nil, []byte(fmt.Sprintf("h%d", i)), []byte("s")), []byte("v"), 0)
		es = append(es, mutation.DupEntry{Timestamp: int64(100 + i), TaskCode: []byte(codec.RPCPut), RawMessage: raw,
			ClusterID: localcluster.MasterClusterID, HasClusterID: true})
	}
	if resp, err := call(dupRequestBody(es...)); err != nil || !resp.OK() {
		t.Fatalf("duplicate: %v %v", resp, err)
	}
	conn := rpcclient.NewConn(env.BridgeAddr, rpcclient.Options{})
	defer conn.Close()
	total, scans := 0, 0
	for pidx := int32(0); pidx < 4; pidx++ {
		w := thrift.Writer{}
		w.WrapperBegin(thrift.STRUCT, 0)
		w.FieldHeader(thrift.STRUCT, 1) // start_key: blob
		w.Binary(mutation.AppendRawKey(nil, nil, nil))
		w.FieldHeader(thrift.STRUCT, 2) // stop_key: past every hash key of the test
		w.Binary(mutation.AppendRawKey(nil, bytes.Repeat([]byte{0xff}, 100), nil))
		w.FieldHeader(thrift.BOOL, 3)
		w.Bool(true)
		w.FieldHeader(thrift.I32, 5) // batch_size
		w.I32(4)
		w.FieldHeader(thrift.BOOL, 13) // full_scan
		w.Bool(true)
		w.Stop()
		w.WrapperEnd()
		resp, err := conn.Call(ctx, &rpcclient.Request{RPCName: codec.RPCGetScanner, AppID: appID, PartitionIndex: pidx,
			PartitionHash: uint64(pidx), Body: w.B})
		for rounds := 0; ; rounds++ {
			if err != nil || !resp.OK() {
				t.Fatalf("partition %d round %d: %v %v", pidx, rounds, resp, err)
			}
			sr, err := decodeScan(resp.Body)
			if err != nil || sr.err != 0 || sr.pidx != pidx {
				t.Fatalf("partition %d round %d: %+v %v", pidx, rounds, sr, err)
			}
			total += sr.kvs
			if sr.contextID < 0 || rounds > keys {
				break
			}
			s := thrift.Writer{}
			s.WrapperBegin(thrift.STRUCT, 0)
			s.FieldHeader(thrift.I64, 1)
			s.I64(sr.contextID)
			s.Stop()
			s.WrapperEnd()
			resp, err = conn.Call(ctx, &rpcclient.Request{RPCName: codec.RPCScan, AppID: appID, PartitionIndex: pidx,
				PartitionHash: uint64(pidx), Body: s.B})
			scans++
		}
	}
	if total != keys || scans < 4 {
		t.Errorf("scanned %d keys in %d scan calls, want %d keys and a scan call per partition at least (batches of 4)", total, scans, keys)
	}
}
