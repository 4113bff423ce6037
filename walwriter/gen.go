package walwriter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/walreader"
)

// Kind is a kind of synthetic write.
type Kind uint8

const (
	KindPut            Kind = iota + 1 // one PUT
	KindRemove                         // one REMOVE
	KindBatch                          // several PUT/REMOVE updates in one mutation (§1.6)
	KindMultiPut                       // MULTI_PUT
	KindMultiRemove                    // MULTI_REMOVE
	KindEmpty                          // empty write (§1.8)
	KindIncr                           // INCR (not idempotent)
	KindCheckAndSet                    // CHECK_AND_SET (not idempotent)
	KindCheckAndMutate                 // CHECK_AND_MUTATE (not idempotent)
)

var kindNames = [...]string{KindPut: "put", KindRemove: "remove", KindBatch: "batch", KindMultiPut: "multi_put",
	KindMultiRemove: "multi_remove", KindEmpty: "empty", KindIncr: "incr", KindCheckAndSet: "cas", KindCheckAndMutate: "cam"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// kindAliases are further accepted names.
var kindAliases = map[string]Kind{"batched": KindBatch, "write_empty": KindEmpty, "check_and_set": KindCheckAndSet, "check_and_mutate": KindCheckAndMutate}

// ParseKind maps a name of String (or an alias such as check_and_set) back
// to a Kind.
func ParseKind(s string) (Kind, bool) {
	for k, n := range kindNames {
		if n != "" && n == s {
			return Kind(k), true
		}
	}
	k, ok := kindAliases[s]
	return k, ok
}

// Weight is one entry of a write mix.
type Weight struct {
	Kind   Kind
	Weight int
}

// DefaultMix is the mix used when GenOptions.Mix is empty: idempotent
// writes only, mostly puts.
func DefaultMix() []Weight {
	return []Weight{{KindPut, 70}, {KindRemove, 10}, {KindBatch, 8}, {KindMultiPut, 6}, {KindMultiRemove, 3}, {KindEmpty, 3}}
}

// ParseMix parses "put=70,remove=10,..." (names as Kind.String).
func ParseMix(s string) ([]Weight, error) {
	var out []Weight
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		k, kok := ParseKind(strings.TrimSpace(name))
		w, err := strconv.Atoi(strings.TrimSpace(val))
		if !ok || !kok || err != nil || w < 0 {
			return nil, fmt.Errorf("walwriter: bad mix entry %q (want kind=weight, kinds %s)", part, strings.Join(kindNames[1:], ","))
		}
		out = append(out, Weight{k, w})
	}
	total := 0
	for _, w := range out {
		total += w.Weight
	}
	if total == 0 {
		return nil, fmt.Errorf("walwriter: mix %q has no positive weight", s)
	}
	return out, nil
}

// GenOptions configure Generate.
type GenOptions struct {
	// Dir is the root: partition p is written to
	// <Dir>/<AppID>.<p>.pegasus/plog (storage.md §1.1).
	Dir        string
	AppID      int32 // 0: 1
	Partitions int   // 0: 1
	// Mutations is the number of generated writes (before FinalEmpty).
	Mutations int
	// TargetBytes, if > 0, instead generates until the logs hold at least
	// this many bytes in total.
	TargetBytes int64
	Seed        uint64
	// Value sizes are uniform in [ValueMin, ValueMax] (0, 0: 1..256, or
	// 200..2000 for ValuesJSON).
	ValueMin, ValueMax int
	// Values is what values look like (default ValuesLetters). JSON
	// documents are at least 200 bytes: smaller sizes are raised.
	Values Values
	Mix    []Weight // empty: DefaultMix
	// TTLFraction of value-writing writes get an expire_ts (seconds since
	// 2016-01-01, §2.3) between 20 and 30 years after StartTimestamp.
	TTLFraction float64
	// RotateBytes is the per-replica file size that triggers a new file
	// (0: never).
	RotateBytes int64
	// FinalEmpty appends one empty write per partition so that every data
	// mutation is committed (§1.9).
	FinalEmpty bool
	// HashKeys distinct hash keys "hk%08d" (0: 1000) and SortKeys sort keys
	// "sk%06d" per hash key (0: 16).
	HashKeys, SortKeys int
	// MaxBatch is the most mutations one disk write holds (0: 8); the
	// batch size is uniform in 1..MaxBatch.
	MaxBatch int
	// MaxUpdates bounds updates per batched PUT/REMOVE mutation and kvs per
	// MULTI_* write (0: 4).
	MaxUpdates int
	// Ballot of every mutation (0: 1).
	Ballot int64
	// StartTimestamp is the first mutation's timestamp in µs (0:
	// 2025-01-01T00:00:00Z); each later one is 1..1000 µs after.
	StartTimestamp int64
	// WrapperID of the payloads' outer struct (0 C++, 1 Go/Java, §2.2).
	WrapperID int16
	// BlockBytes overrides the 1 MiB block threshold (tests).
	BlockBytes int
}

// PartitionLog describes what Generate wrote for one partition.
type PartitionLog struct {
	Index      int32
	Dir        string   // the plog directory
	Files      []string // in order
	Mutations  int      // including empty writes
	LastDecree int64
	Bytes      int64
}

// GenResult summarises a Generate run.
type GenResult struct {
	AppID      int32
	Partitions []PartitionLog
	Kinds      map[Kind]int // generated writes per kind (FinalEmpty ones excluded)
	Mutations  int          // all mutations written
	Bytes      int64        // all bytes written
}

// PlogDir is where partition p's plog lives under root (storage.md §1.1).
func PlogDir(root string, appID int32, partition int) string {
	return filepath.Join(root, fmt.Sprintf("%d.%d.pegasus", appID, partition), "plog")
}

type genPart struct {
	w      *Writer
	decree int64
	batch  []walreader.Mutation
	// batchBytes is the encoded size of batch's mutations, counted in
	// generator.bytes already.
	batchBytes int64
	want       int
	arena      []byte
	keys       [][]byte // hash keys routed to this partition
}

// Generate writes synthetic plogs: Mutations writes (or TargetBytes) spread
// over Partitions partitions, each routed by Pegasus's key hash (§3.3,
// §3.4), deterministic by Seed. Decrees are consecutive per partition from
// 1, last_committed_decree = decree-1, timestamps increase.
func Generate(ctx context.Context, o GenOptions) (*GenResult, error) {
	if o.AppID == 0 {
		o.AppID = 1
	}
	if o.Partitions <= 0 {
		o.Partitions = 1
	}
	if o.ValueMin == 0 && o.ValueMax == 0 {
		o.ValueMin, o.ValueMax = 1, 256
		if o.Values == ValuesJSON {
			o.ValueMin, o.ValueMax = DefaultJSONValueMin, DefaultJSONValueMax
		}
	}
	if o.ValueMin < 0 || o.ValueMax < o.ValueMin {
		return nil, fmt.Errorf("walwriter: bad value size range %d:%d", o.ValueMin, o.ValueMax)
	}
	if len(o.Mix) == 0 {
		o.Mix = DefaultMix()
	}
	total := 0
	for _, w := range o.Mix {
		if w.Weight < 0 || w.Kind < KindPut || w.Kind > KindCheckAndMutate {
			return nil, fmt.Errorf("walwriter: bad mix entry %v=%d", w.Kind, w.Weight)
		}
		total += w.Weight
	}
	if total == 0 {
		return nil, fmt.Errorf("walwriter: empty mix")
	}
	if o.HashKeys <= 0 {
		o.HashKeys = 1000
	}
	if o.SortKeys <= 0 {
		o.SortKeys = 16
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 8
	}
	if o.MaxUpdates <= 0 {
		o.MaxUpdates = 4
	}
	if o.Ballot == 0 {
		o.Ballot = 1
	}
	if o.StartTimestamp == 0 {
		o.StartTimestamp = 1735689600 * 1_000_000
	}
	g := &generator{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9E3779B97F4A7C15)), mixTotal: total,
		res: &GenResult{AppID: o.AppID, Kinds: map[Kind]int{}}, ts: o.StartTimestamp}
	if o.Values == ValuesLetters {
		// Random bytes to slice values from: cheap and deterministic.
		g.pool = make([]byte, 1<<16+o.ValueMax)
		for i := range g.pool {
			g.pool[i] = byte('a' + g.rng.IntN(26))
		}
	}
	g.parts = make([]*genPart, o.Partitions)
	for p := range g.parts {
		w, err := Create(PlogDir(o.Dir, o.AppID, p), Options{AppID: o.AppID, PartitionIndex: int32(p), RotateBytes: o.RotateBytes, BlockBytes: o.BlockBytes})
		if err != nil {
			g.closeAll()
			return nil, err
		}
		g.parts[p] = &genPart{w: w, want: 1 + g.rng.IntN(o.MaxBatch)}
	}
	// Route every hash key to its partition once (§3.3: the hash of a
	// non-empty hash key decides, for single keys and hash-key-wide writes).
	for i := 0; i < o.HashKeys; i++ {
		hk := []byte(fmt.Sprintf("hk%08d", i))
		p := mutation.PartitionIndex(mutation.HashKeyHash(hk), o.Partitions)
		g.parts[p].keys = append(g.parts[p].keys, hk)
		g.allKeys = append(g.allKeys, hk)
	}
	err := g.run(ctx)
	if cerr := g.closeAll(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	for p, gp := range g.parts {
		pl := PartitionLog{Index: int32(p), Dir: PlogDir(o.Dir, o.AppID, p), Files: gp.w.Files(), LastDecree: gp.decree,
			Mutations: int(gp.decree), Bytes: gp.w.EndOffset()}
		g.res.Partitions = append(g.res.Partitions, pl)
		g.res.Mutations += pl.Mutations
		g.res.Bytes += pl.Bytes
	}
	return g.res, nil
}

type generator struct {
	o        GenOptions
	rng      *rand.Rand
	mixTotal int
	parts    []*genPart
	allKeys  [][]byte
	pool     []byte
	res      *GenResult
	ts       int64
	bytes    int64
}

func (g *generator) closeAll() error {
	var first error
	for _, p := range g.parts {
		if p == nil {
			continue
		}
		if err := p.w.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (g *generator) run(ctx context.Context) error {
	for i := 0; ; i++ {
		if g.o.TargetBytes > 0 {
			if g.bytes >= g.o.TargetBytes {
				break
			}
		} else if i >= g.o.Mutations {
			break
		}
		if i&1023 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		k := g.pickKind()
		g.res.Kinds[k]++
		hk := g.allKeys[g.rng.IntN(len(g.allKeys))]
		p := mutation.PartitionIndex(mutation.HashKeyHash(hk), g.o.Partitions)
		if err := g.add(p, g.build(g.parts[p], k, hk)); err != nil {
			return err
		}
	}
	for p, gp := range g.parts {
		if g.o.FinalEmpty {
			if err := g.add(p, []walreader.Update{EmptyWrite()}); err != nil {
				return err
			}
		}
		if err := g.flush(gp); err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) pickKind() Kind {
	n := g.rng.IntN(g.mixTotal)
	for _, w := range g.o.Mix {
		if n < w.Weight {
			return w.Kind
		}
		n -= w.Weight
	}
	return g.o.Mix[len(g.o.Mix)-1].Kind
}

// add appends a mutation with the next decree to partition p's batch and
// writes the batch once it has its chosen size.
func (g *generator) add(p int, ups []walreader.Update) error {
	gp := g.parts[p]
	gp.decree++
	g.ts += 1 + int64(g.rng.IntN(1000))
	m := walreader.Mutation{AppID: g.o.AppID, PartitionIndex: int32(p), Ballot: g.o.Ballot, Decree: gp.decree,
		LastCommittedDecree: gp.decree - 1, Timestamp: g.ts, Updates: ups}
	n := int64(MutationSize(&m))
	g.bytes += n
	gp.batchBytes += n
	gp.batch = append(gp.batch, m)
	if len(gp.batch) >= gp.want {
		return g.flush(gp)
	}
	return nil
}

func (g *generator) flush(gp *genPart) error {
	if len(gp.batch) == 0 {
		return nil
	}
	before := gp.w.EndOffset()
	if err := gp.w.WriteBatch(gp.batch); err != nil {
		return err
	}
	g.bytes += gp.w.EndOffset() - before - gp.batchBytes // block headers, file headers
	clear(gp.batch)
	gp.batch, gp.batchBytes = gp.batch[:0], 0
	gp.arena = gp.arena[:0]
	gp.want = 1 + g.rng.IntN(g.o.MaxBatch)
	return nil
}

func (g *generator) sortKey(i int) []byte { return fmt.Appendf(nil, "sk%06d", i) }

func (g *generator) value() []byte {
	n := g.o.ValueMin
	if g.o.ValueMax > g.o.ValueMin {
		n += g.rng.IntN(g.o.ValueMax - g.o.ValueMin + 1)
	}
	if g.o.Values == ValuesJSON {
		return jsonValue(make([]byte, 0, max(n, jsonMinSize)), g.rng, n, g.ts)
	}
	s := g.rng.IntN(len(g.pool) - n + 1)
	return g.pool[s : s+n]
}

func (g *generator) ttl() int32 {
	if g.o.TTLFraction <= 0 || g.rng.Float64() >= g.o.TTLFraction {
		return 0
	}
	base := g.o.StartTimestamp/1_000_000 - mutation.EpochBegin
	const year = 365 * 24 * 3600
	return int32(base + 20*year + g.rng.Int64N(10*year))
}

// payload appends to the partition's arena, which lives until the batch is
// written (payload bytes are referenced by the batch's mutations).
func (gp *genPart) payload(f func([]byte) []byte) []byte {
	s := len(gp.arena)
	if cap(gp.arena)-s < 4096 {
		// A new arena: the old one stays referenced by earlier mutations.
		gp.arena = make([]byte, 0, 256<<10)
		s = 0
	}
	gp.arena = f(gp.arena)
	return gp.arena[s:len(gp.arena):len(gp.arena)]
}

func (g *generator) build(gp *genPart, k Kind, hk []byte) []walreader.Update {
	wid := g.o.WrapperID
	rawKey := func(hk []byte) []byte {
		return mutation.AppendRawKey(nil, hk, g.sortKey(g.rng.IntN(g.o.SortKeys)))
	}
	switch k {
	case KindPut:
		key, v, ttl := rawKey(hk), g.value(), g.ttl()
		return []walreader.Update{ThriftUpdate(mutation.CodePut, gp.payload(func(b []byte) []byte { return mutation.AppendPut(b, wid, key, v, ttl) }))}
	case KindRemove:
		key := rawKey(hk)
		return []walreader.Update{ThriftUpdate(mutation.CodeRemove, gp.payload(func(b []byte) []byte { return mutation.AppendRemove(b, wid, key) }))}
	case KindBatch:
		n := 2 + g.rng.IntN(g.o.MaxUpdates)
		ups := make([]walreader.Update, 0, n)
		pkeys := gp.keys
		for i := 0; i < n; i++ {
			h := hk
			if i > 0 {
				h = pkeys[g.rng.IntN(len(pkeys))]
			}
			key := rawKey(h)
			if g.rng.IntN(4) == 0 {
				ups = append(ups, ThriftUpdate(mutation.CodeRemove, gp.payload(func(b []byte) []byte { return mutation.AppendRemove(b, wid, key) })))
			} else {
				v, ttl := g.value(), g.ttl()
				ups = append(ups, ThriftUpdate(mutation.CodePut, gp.payload(func(b []byte) []byte { return mutation.AppendPut(b, wid, key, v, ttl) })))
			}
		}
		return ups
	case KindMultiPut:
		r := mutation.MultiPutRequest{HashKey: hk, ExpireTsSeconds: g.ttl()}
		for _, sk := range g.distinctSortKeys(1 + g.rng.IntN(g.o.MaxUpdates)) {
			r.Kvs = append(r.Kvs, mutation.KeyValue{Key: sk, Value: g.value()})
		}
		return []walreader.Update{ThriftUpdate(mutation.CodeMultiPut, gp.payload(func(b []byte) []byte { return mutation.AppendMultiPut(b, wid, &r) }))}
	case KindMultiRemove:
		r := mutation.MultiRemoveRequest{HashKey: hk, SortKeys: g.distinctSortKeys(1 + g.rng.IntN(g.o.MaxUpdates))}
		return []walreader.Update{ThriftUpdate(mutation.CodeMultiRemove, gp.payload(func(b []byte) []byte { return mutation.AppendMultiRemove(b, wid, &r) }))}
	case KindIncr:
		// Counters live under their own sort keys so that they stay numeric.
		r := mutation.IncrRequest{Key: mutation.AppendRawKey(nil, hk, fmt.Appendf(nil, "ctr%02d", g.rng.IntN(4))), Increment: 1 + g.rng.Int64N(100)}
		return []walreader.Update{ThriftUpdate(mutation.CodeIncr, gp.payload(func(b []byte) []byte { return mutation.AppendIncr(b, wid, &r) }))}
	case KindCheckAndSet:
		sk := g.sortKey(g.rng.IntN(g.o.SortKeys))
		// check_type 0 (CT_NO_CHECK): the set always happens.
		r := mutation.CheckAndSetRequest{HashKey: hk, CheckSortKey: sk, SetSortKey: sk, SetValue: g.value(), SetExpireTsSeconds: g.ttl()}
		return []walreader.Update{ThriftUpdate(mutation.CodeCheckAndSet, gp.payload(func(b []byte) []byte { return mutation.AppendCheckAndSet(b, wid, &r) }))}
	case KindCheckAndMutate:
		r := mutation.CheckAndMutateRequest{HashKey: hk, CheckSortKey: g.sortKey(0)}
		for _, sk := range g.distinctSortKeys(1 + g.rng.IntN(g.o.MaxUpdates)) {
			if g.rng.IntN(3) == 0 {
				r.MutateList = append(r.MutateList, mutation.Mutate{Operation: mutation.MutateDelete, SortKey: sk})
			} else {
				r.MutateList = append(r.MutateList, mutation.Mutate{Operation: mutation.MutatePut, SortKey: sk, Value: g.value(), SetExpireTsSeconds: g.ttl()})
			}
		}
		return []walreader.Update{ThriftUpdate(mutation.CodeCheckAndMutate, gp.payload(func(b []byte) []byte { return mutation.AppendCheckAndMutate(b, wid, &r) }))}
	default: // KindEmpty
		return []walreader.Update{EmptyWrite()}
	}
}

// distinctSortKeys returns n distinct sort keys (at most SortKeys), sorted.
func (g *generator) distinctSortKeys(n int) [][]byte {
	if n > g.o.SortKeys {
		n = g.o.SortKeys
	}
	seen := map[int]bool{}
	var idx []int
	for len(idx) < n {
		i := g.rng.IntN(g.o.SortKeys)
		if !seen[i] {
			seen[i] = true
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	out := make([][]byte, n)
	for j, i := range idx {
		out[j] = g.sortKey(i)
	}
	return out
}
