package sstgen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/dupbridge/dupbridge/mutation"
)

// Data is a generated Pegasus write history: batches of ops in write order
// (each becomes one L0 table) over keys of every shape, with values of the
// schema versions a DB of DataVersion can hold (DataVersion itself and v2,
// which Pegasus recognises by its first byte), TTLs in the past and the
// future, overwrites and deletions across batches.
type Data struct {
	DataVersion int
	Now         int64 // Unix seconds at which Live decides expiry
	Batches     [][]Op
}

// Spec sizes a Data.
type Spec struct {
	Seed        uint64
	Keys        int   // distinct keys in the first batch
	Batches     int   // ≥ 1; later batches overwrite and delete
	DataVersion int   // 0 or 1
	Now         int64 // Unix seconds
	ValueLen    int   // user data up to this length (0: 64)
}

// Generate makes a deterministic history from spec.
func Generate(spec Spec) Data {
	r := rand.New(rand.NewPCG(spec.Seed, 0x5eed))
	if spec.ValueLen == 0 {
		spec.ValueLen = 64
	}
	d := Data{DataVersion: spec.DataVersion, Now: spec.Now}
	keys := make([][]byte, spec.Keys)
	for i := range keys {
		keys[i] = genKey(r, i)
	}
	first := make([]Op, 0, len(keys)+1)
	first = append(first, Op{Key: []byte{0x07}, Value: []byte("short key")}) // < 2 bytes: skipped by readers
	for _, k := range keys {
		first = append(first, Op{Key: k, Value: genValue(r, spec)})
	}
	d.Batches = append(d.Batches, first)
	for b := 1; b < spec.Batches; b++ {
		var ops []Op
		for _, k := range keys {
			switch x := r.IntN(10); {
			case x < 3:
				ops = append(ops, Op{Key: k, Value: genValue(r, spec)})
			case x < 4:
				ops = append(ops, Op{Key: k, Delete: true})
			}
		}
		d.Batches = append(d.Batches, ops)
	}
	return d
}

// genKey gives key i a hash key (sometimes empty, routed by the sort key,
// storage.md §3.3) and a sort key (sometimes empty).
func genKey(r *rand.Rand, i int) []byte {
	hk := fmt.Appendf(nil, "user%d", r.IntN(1+i/4+1))
	sk := fmt.Appendf(nil, "sk%06d", i)
	switch i % 17 {
	case 3:
		hk = nil
	case 5:
		sk = nil
		hk = fmt.Appendf(nil, "solo%d", i)
	case 7:
		hk = bytes.Repeat([]byte{0xff, byte(i)}, 40) // binary, long
	}
	return mutation.AppendRawKey(nil, hk, sk)
}

// genValue picks a schema version, an expiry (a third never, some already
// expired at spec.Now, the rest in the future) and a timetag.
func genValue(r *rand.Rand, spec Spec) []byte {
	version := spec.DataVersion
	if r.IntN(4) == 0 {
		version = mutation.ValueV2
	}
	var expire uint32
	switch r.IntN(6) {
	case 0, 1:
		expire = 0
	case 2:
		expire = mutation.ExpireTsFromUnix(spec.Now - 1 - int64(r.IntN(86400)))
	case 3:
		expire = mutation.ExpireTsFromUnix(spec.Now) // expire_ts <= now: expired
	default:
		expire = mutation.ExpireTsFromUnix(spec.Now + 1 + int64(r.IntN(30*86400)))
	}
	ts := uint64(spec.Now)*1e6 - uint64(r.IntN(1e9))
	tag := mutation.Timetag(ts, uint8(1+r.IntN(127)), false)
	user := make([]byte, r.IntN(spec.ValueLen+1))
	word := []byte("pegasus-value-")
	for i := range user {
		user[i] = word[(i+r.IntN(2))%len(word)]
	}
	v, err := mutation.AppendValue(nil, version, expire, tag, user)
	if err != nil {
		panic(err) // versions come from the fixed set above
	}
	return v
}

// LiveKV is one key a reader must report.
type LiveKV struct{ Key, Value []byte }

// Live is the oracle: the newest op per key wins; deletions, keys shorter
// than 2 bytes and values expired at d.Now are dropped; the rest sorted by
// raw key bytes. partition/count, when count > 0, keep only keys of that
// partition (storage.md §3.4).
func (d Data) Live(partition, count int) ([]LiveKV, error) {
	last := map[string]Op{}
	for _, b := range d.Batches {
		for _, op := range b {
			last[string(op.Key)] = op
		}
	}
	var out []LiveKV
	for k, op := range last {
		if op.Delete || len(k) < 2 {
			continue
		}
		if count > 0 && mutation.PartitionIndex(mutation.KeyHash([]byte(k)), count) != partition {
			continue
		}
		v, err := mutation.ParseValue(op.Value, d.DataVersion)
		if err != nil {
			return nil, err
		}
		if mutation.Expired(v.ExpireTs, d.Now) {
			continue
		}
		out = append(out, LiveKV{Key: []byte(k), Value: op.Value})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out, nil
}
