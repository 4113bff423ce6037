package pegasussim

import (
	"fmt"
	"testing"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
)

// hashKeysFor returns n hash keys routing to partition want (of count) and
// n routing elsewhere.
func hashKeysFor(want, count, n int) (in, out []string) {
	for i := 0; len(in) < n || len(out) < n; i++ {
		hk := fmt.Sprintf("k%d", i)
		if partitionOf(hashOf([]byte(hk)), count) == want {
			if len(in) < n {
				in = append(in, hk)
			}
		} else if len(out) < n {
			out = append(out, hk)
		}
	}
	return in, out
}

// TestMisplacedKeys sends a duplicate batch whose last entry names
// partition 0 while the others belong elsewhere (what a master with a
// different partition count does, duplication.md §3.6), plus a misrouted
// PUT, in both modes.
func TestMisplacedKeys(t *testing.T) {
	const count = 8
	in, out := hashKeysFor(0, count, 3)
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			h := newHarness(t, Options{Replicas: 2, Strict: strict, ClusterID: 2, DupGroup: map[string]uint8{"m": 1, "f": 2},
				Tables: []TableSpec{{Name: testTable, Partitions: count}}})
			body, _ := mutation.AppendDuplicate(nil, 0, &mutation.DuplicateRequest{Entries: []mutation.DupEntry{
				dupEnt(1, rpcPut, putRaw(out[0], "a", "1", 0), 1, false),
				dupEnt(2, rpcMultiPut, mutation.AppendMultiPut(nil, 0, &mutation.MultiPutRequest{HashKey: []byte(out[1]),
					Kvs: []mutation.KeyValue{{Key: []byte("x"), Value: []byte("2")}, {Key: []byte("y"), Value: []byte("3")}}}), 1, false),
				dupEnt(3, rpcPut, putRaw(in[0], "b", "4", 0), 1, false),
			}})
			last := key(in[0], "b")
			r := h.to(0).call(rpcDuplicate, h.appID, 0, keyHash(last), body)
			// A misrouted single PUT (header hash 0, so a real server would
			// not abort either).
			misKey := key(out[2], "p")
			wrong := (partitionOf(keyHash(misKey), count) + 1) % count
			r2 := h.to(int32(wrong)).call(rpcPut, h.appID, int32(wrong), 0, mutation.AppendPut(nil, 0, misKey, []byte("5"), 0))

			mis, _ := h.c.Misplaced(testTable)
			k := h.c.Counters()
			placed, _ := h.c.CheckPlacement(testTable)
			recs, _ := h.c.Dump(testTable)
			if k.Misplaced[testTable] != 4 || len(mis) != 4 {
				t.Fatalf("misplaced count %d, list %+v", k.Misplaced[testTable], mis)
			}
			for _, m := range mis {
				if m.Want == m.Partition || m.Want != partitionOf(hashOf(m.HashKey), count) {
					t.Fatalf("misplaced entry %+v", m)
				}
			}
			if !strict {
				if r.errName != codec.ErrorOK || parseResult(t, r.body, dupRespSchema)[1] != int32(0) || r2.errName != codec.ErrorOK {
					t.Fatalf("lenient: %s / %s", r.errName, r2.errName)
				}
				if len(recs) != 5 || len(placed) != 4 || mis[0].Written != 1 || k.MisplacedRejected[testTable] != 0 {
					t.Fatalf("lenient: %d records, %d misplaced, %+v", len(recs), len(placed), mis)
				}
				// A point read routed by hash does not see a misplaced key.
				if _, ok := h.get(out[0], "a"); ok {
					t.Fatal("misplaced key visible to a routed read")
				}
				return
			}
			if r.errName != codec.ErrorParentPartitionMisused || len(r.body) != 0 || r2.errName != codec.ErrorParentPartitionMisused {
				t.Fatalf("strict: %s / %s", r.errName, r2.errName)
			}
			if len(recs) != 0 || len(placed) != 0 || mis[0].Rejected != 1 || mis[0].Written != 0 || k.MisplacedRejected[testTable] != 4 {
				t.Fatalf("strict: %d records, %+v", len(recs), mis)
			}
		})
	}
}

// TestHeaderHashMismatchCounted: a real replica aborts on a PUT whose header
// hash differs from the key's (wire.md §7 item 6); the simulator counts it.
func TestHeaderHashMismatchCounted(t *testing.T) {
	h := newHarness(t, Options{Replicas: 1, Tables: []TableSpec{{Name: testTable, Partitions: 1}}})
	k := key("a", "b")
	h.to(0).call(rpcPut, h.appID, 0, keyHash(k)+1, mutation.AppendPut(nil, 0, k, nil, 0))
	h.to(0).call(rpcPut, h.appID, 0, keyHash(k), mutation.AppendPut(nil, 0, k, nil, 0))
	if n := h.c.Counters().HeaderHashMismatch; n != 1 {
		t.Fatalf("header hash mismatches %d", n)
	}
}

// TestValidatePartitionHashEnv: with replica.split.validate_partition_hash
// the header hash is checked with the partition mask (wire.md §6.3), for
// reads and writes alike.
func TestValidatePartitionHashEnv(t *testing.T) {
	h := newHarness(t, Options{Replicas: 1, Tables: []TableSpec{{Name: testTable, Partitions: 4,
		Envs: map[string]string{"replica.split.validate_partition_hash": "true"}}}})
	k := key("a", "b")
	p := pidxOf(k, 4)
	for _, tc := range []struct {
		hash uint64
		want string
	}{
		{keyHash(k), codec.ErrorOK},
		{keyHash(k) + 1, codec.ErrorParentPartitionMisused},
		{uint64(p), codec.ErrorOK}, // what full scans send
	} {
		if r := h.to(p).call(rpcGet, h.appID, p, tc.hash, blobArg(0, k)); r.errName != tc.want {
			t.Fatalf("hash %x: %s, want %s", tc.hash, r.errName, tc.want)
		}
	}
}
