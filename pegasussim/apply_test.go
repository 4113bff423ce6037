package pegasussim

import (
	"strconv"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/thrift"
)

// harness drives one table of a simulator over RDSN, routing each request
// to the primary of the partition its hash names.
type harness struct {
	t     *testing.T
	c     *Cluster
	clock *fakeClock
	conns map[string]*tconn
	appID int32
	count int
}

const testTable = "t"

func newHarness(t *testing.T, opts Options) *harness {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts.Now = clock.now
	if len(opts.Tables) == 0 {
		opts.Tables = []TableSpec{{Name: testTable, Partitions: 4}}
	}
	c := startSim(t, opts)
	tb := c.mustTable(t, testTable)
	return &harness{t: t, c: c, clock: clock, conns: map[string]*tconn{}, appID: tb.appID, count: len(tb.parts)}
}

func (h *harness) to(pidx int32) *tconn {
	addr := primaryOf(h.t, h.c, testTable, int(pidx))
	cn := h.conns[addr]
	if cn == nil {
		cn = dial(h.t, addr, codec.FramingRDSN)
		h.conns[addr] = cn
	}
	return cn
}

func (h *harness) do(rpc string, hash uint64, body []byte, schema map[int16]int) map[int16]any {
	h.t.Helper()
	pidx := int32(partitionOf(hash, h.count))
	r := h.to(pidx).call(rpc, h.appID, pidx, hash, body)
	if r.errName != codec.ErrorOK {
		h.t.Fatalf("%s: RPC error %s", rpc, r.errName)
	}
	return parseResult(h.t, r.body, schema)
}

func (h *harness) epoch() int32 { return int32(epochNow(h.clock.t)) }

func key(hk, sk string) []byte { return rawKey([]byte(hk), []byte(sk)) }

func (h *harness) put(hk, sk, v string, expire int32) {
	h.t.Helper()
	k := key(hk, sk)
	if f := h.do(rpcPut, keyHash(k), mutation.AppendPut(nil, 0, k, []byte(v), expire), updateRespSchema); f[1] != int32(0) {
		h.t.Fatalf("put: %v", f)
	}
}

// get returns (value, found).
func (h *harness) get(hk, sk string) (string, bool) {
	h.t.Helper()
	k := key(hk, sk)
	f := h.do(rpcGet, keyHash(k), blobArg(0, k), readRespSchema)
	return f[2].(string), f[1] == int32(StatusOK)
}

func (h *harness) ttl(hk, sk string) (errc, ttl int32) {
	h.t.Helper()
	k := key(hk, sk)
	f := h.do(rpcTTL, keyHash(k), blobArg(0, k), map[int16]int{1: kI32, 2: kI32, 3: kI32, 4: kI32, 6: kString})
	return f[1].(int32), f[2].(int32)
}

func (h *harness) record(hk, sk string) Record {
	h.t.Helper()
	r, ok, err := h.c.Get(testTable, []byte(hk), []byte(sk))
	if err != nil || !ok {
		h.t.Fatalf("record %s/%s: %v %v", hk, sk, ok, err)
	}
	return r
}

func TestPutGetRemoveAndExpiry(t *testing.T) {
	h := newHarness(t, Options{Replicas: 2, ClusterID: 2, DupGroup: map[string]uint8{"m": 1, "f": 2}})
	now := h.epoch()
	h.put("a", "1", "v1", 0)
	h.put("a", "2", "v2", now+10)
	h.put("a", "3", "gone", now-1) // already expired at write
	h.put("", "sk", "empty hash key", 0)

	if v, ok := h.get("a", "1"); !ok || v != "v1" {
		t.Fatalf("get a/1: %q %v", v, ok)
	}
	if v, ok := h.get("", "sk"); !ok || v != "empty hash key" {
		t.Fatalf("get /sk: %q %v", v, ok)
	}
	if _, ok := h.get("a", "3"); ok {
		t.Fatal("expired value readable")
	}
	for _, tc := range []struct {
		sk       string
		errc, tt int32
	}{{"1", 0, -1}, {"2", 0, 10}, {"3", StatusNotFound, 0}, {"none", StatusNotFound, 0}} {
		if e, v := h.ttl("a", tc.sk); e != tc.errc || v != tc.tt {
			t.Fatalf("ttl a/%s = %d,%d want %d,%d", tc.sk, e, v, tc.errc, tc.tt)
		}
	}
	// Local writes: timetag = mutation µs timestamp, our cluster id (storage.md §4.4).
	r := h.record("a", "1")
	ts, cid, del := SplitTimetag(r.Timetag)
	if cid != 2 || del || ts != uint64(h.clock.t.UnixMicro()) {
		t.Fatalf("timetag %x: ts %d cid %d del %v", r.Timetag, ts, cid, del)
	}
	r2 := h.record("a", "2")
	if r2.ExpireTs != uint32(now+10) || r2.Timetag <= r.Timetag {
		t.Fatalf("a/2: %+v (timestamps must increase within a partition or at least differ)", r2)
	}

	h.clock.t = h.clock.t.Add(11 * time.Second)
	if _, ok := h.get("a", "2"); ok {
		t.Fatal("a/2 readable after expiry")
	}
	live, _ := h.c.Dump(testTable)
	all, _ := h.c.DumpAll(testTable)
	if len(live) != 2 || len(all) != 4 {
		t.Fatalf("dump: %d live, %d all", len(live), len(all))
	}
	// Key order: hash-key length first (storage.md §3.1), so "" sorts first.
	if string(live[0].SortKey) != "sk" || string(live[1].HashKey) != "a" {
		t.Fatalf("dump order: %+v", live)
	}

	k := key("a", "1")
	if f := h.do(rpcRemove, keyHash(k), mutation.AppendRemove(nil, 0, k), updateRespSchema); f[1] != int32(0) {
		t.Fatalf("remove: %v", f)
	}
	if _, ok := h.get("a", "1"); ok {
		t.Fatal("removed key readable")
	}
}

func TestDefaultTTLEnv(t *testing.T) {
	h := newHarness(t, Options{Replicas: 1, Tables: []TableSpec{{Name: testTable, Partitions: 2, Envs: map[string]string{"default_ttl": "100"}}}})
	h.put("a", "x", "v", 0)
	h.put("a", "y", "v", h.epoch()+5)
	if e, v := h.ttl("a", "x"); e != 0 || v != 100 {
		t.Fatalf("default_ttl not applied: %d %d", e, v)
	}
	if _, v := h.ttl("a", "y"); v != 5 {
		t.Fatalf("explicit expiry overridden: %d", v)
	}
}

func TestMultiPutRemoveGet(t *testing.T) {
	h := newHarness(t, Options{Replicas: 2})
	hk := []byte("h")
	hh := hashOf(hk)
	now := h.epoch()
	mp := &mutation.MultiPutRequest{HashKey: hk, ExpireTsSeconds: now + 50, Kvs: []mutation.KeyValue{
		{Key: []byte("a"), Value: []byte("1"), ExpireTsSeconds: now + 1, HasExpireTsSeconds: true},
		{Key: []byte("b"), Value: []byte("2")}, {Key: []byte("c"), Value: []byte("3")},
		{Key: []byte("d"), Value: []byte("4")}, {Key: []byte("e"), Value: []byte("5")},
	}}
	if f := h.do(rpcMultiPut, hh, mutation.AppendMultiPut(nil, 0, mp), updateRespSchema); f[1] != int32(0) {
		t.Fatalf("multi_put: %v", f)
	}
	// Per-kv expiry is ignored; the request's applies (pegasus_write_service_impl.h).
	if r := h.record("h", "a"); r.ExpireTs != uint32(now+50) {
		t.Fatalf("per-kv expiry applied: %d", r.ExpireTs)
	}
	if f := h.do(rpcMultiPut, hh, mutation.AppendMultiPut(nil, 0, &mutation.MultiPutRequest{HashKey: hk}), updateRespSchema); f[1] != int32(StatusInvalidArgument) {
		t.Fatalf("empty multi_put: %v", f)
	}

	mget := func(m multiGetRequest) (int32, string) {
		w := thrift.Writer{}
		w.WrapperBegin(thrift.STRUCT, 0)
		fBlob(&w, 1, hk)
		w.FieldHeader(thrift.LIST, 2)
		w.ListHeader(thrift.STRUCT, len(m.sortKeys))
		for _, sk := range m.sortKeys {
			w.Blob(sk)
		}
		fI32(&w, 3, m.maxKVCount)
		fI32(&w, 4, m.maxKVSize)
		fBool(&w, 5, m.noValue)
		fBlob(&w, 6, m.startSortKey)
		fBlob(&w, 7, m.stopSortKey)
		fBool(&w, 8, m.startInclusive)
		fBool(&w, 9, m.stopInclusive)
		fI32(&w, 10, m.filterType)
		fBlob(&w, 11, m.filterPattern)
		fBool(&w, 12, m.reverse)
		f := h.do(rpcMultiGet, hh, endResult(&w), mgetRespSchema)
		s := ""
		for _, kv := range f[2].([]keyValue) {
			s += string(kv.key) + "=" + string(kv.value) + " "
		}
		return f[1].(int32), s
	}
	for _, tc := range []struct {
		name string
		req  multiGetRequest
		errc int32
		want string
	}{
		{"all", multiGetRequest{startInclusive: true}, 0, "a=1 b=2 c=3 d=4 e=5 "},
		{"range exclusive", multiGetRequest{startSortKey: []byte("b"), stopSortKey: []byte("d")}, 0, "c=3 "},
		{"range inclusive", multiGetRequest{startSortKey: []byte("b"), stopSortKey: []byte("d"), startInclusive: true, stopInclusive: true}, 0, "b=2 c=3 d=4 "},
		{"limit", multiGetRequest{startInclusive: true, maxKVCount: 2}, StatusIncomplete, "a=1 b=2 "},
		{"reverse limit stays ascending", multiGetRequest{startInclusive: true, maxKVCount: 2, reverse: true}, StatusIncomplete, "d=4 e=5 "},
		{"no value", multiGetRequest{startSortKey: []byte("d"), startInclusive: true, noValue: true}, 0, "d= e= "},
		{"postfix filter", multiGetRequest{startInclusive: true, filterType: ftMatchPostfix, filterPattern: []byte("c")}, 0, "c=3 "},
		{"prefix filter", multiGetRequest{startInclusive: true, filterType: ftMatchPrefix, filterPattern: []byte("e")}, 0, "e=5 "},
		{"bad filter", multiGetRequest{filterType: 9}, StatusInvalidArgument, ""},
		{"sort keys in request order", multiGetRequest{sortKeys: [][]byte{[]byte("e"), []byte("zz"), []byte("a")}}, 0, "e=5 a=1 "},
		{"empty range", multiGetRequest{startSortKey: []byte("c"), stopSortKey: []byte("c")}, 0, ""},
	} {
		if errc, got := mget(tc.req); errc != tc.errc || got != tc.want {
			t.Errorf("multi_get %s: %d %q, want %d %q", tc.name, errc, got, tc.errc, tc.want)
		}
	}
	if f := h.do(rpcSortkeyCount, hh, blobArg(0, hk), map[int16]int{1: kI32, 2: kI64, 3: kI32, 4: kI32, 6: kString}); f[2] != int64(5) {
		t.Fatalf("sortkey_count: %v", f)
	}
	mrSchema := map[int16]int{1: kI32, 2: kI64, 3: kI32, 4: kI32, 5: kI64, 6: kString}
	mr := &mutation.MultiRemoveRequest{HashKey: hk, SortKeys: [][]byte{[]byte("a"), []byte("b"), []byte("missing")}}
	if f := h.do(rpcMultiRemove, hh, mutation.AppendMultiRemove(nil, 0, mr), mrSchema); f[1] != int32(0) || f[2] != int64(3) {
		t.Fatalf("multi_remove: count is the number of sort keys given: %v", f)
	}
	if f := h.do(rpcMultiRemove, hh, mutation.AppendMultiRemove(nil, 0, &mutation.MultiRemoveRequest{HashKey: hk}), mrSchema); f[1] != int32(StatusInvalidArgument) {
		t.Fatalf("empty multi_remove: %v", f)
	}
	h.clock.t = h.clock.t.Add(time.Minute) // everything expired
	if _, got := mget(multiGetRequest{startInclusive: true}); got != "" {
		t.Fatalf("expired values returned: %q", got)
	}
}

func TestIncr(t *testing.T) {
	h := newHarness(t, Options{Replicas: 1})
	now := h.epoch()
	schema := map[int16]int{1: kI32, 2: kI64, 3: kI32, 4: kI32, 5: kI64, 6: kString}
	incr := func(sk string, inc int64, exp int32) (int32, int64) {
		k := key("i", sk)
		f := h.do(rpcIncr, keyHash(k), mutation.AppendIncr(nil, 0, &mutation.IncrRequest{Key: k, Increment: inc, ExpireTsSeconds: exp}), schema)
		return f[1].(int32), f[2].(int64)
	}
	h.put("i", "num", "10", now+100)
	h.put("i", "empty", "", 0)
	h.put("i", "text", "abc", 0)
	h.put("i", "ws", "  7", 0)
	h.put("i", "max", strconv.FormatInt(1<<63-1, 10), 0)
	h.put("i", "old", "5", now-1)
	for _, tc := range []struct {
		name      string
		sk        string
		inc       int64
		exp       int32
		errc      int32
		nv        int64
		wantValue string
		wantTTL   int32
	}{
		{"missing key starts at 0", "new", 3, 0, 0, 3, "3", -1},
		{"missing key takes a positive expiry", "new2", 1, now + 20, 0, 1, "1", 20},
		{"existing keeps its expiry", "num", 5, 0, 0, 15, "15", 100},
		{"negative expiry removes the ttl", "num", 1, -1, 0, 16, "16", -1},
		{"positive expiry replaces it", "num", 1, now + 7, 0, 17, "17", 7},
		{"empty value counts as 0", "empty", 2, 0, 0, 2, "2", -1},
		{"leading whitespace parses (strtoll)", "ws", 1, 0, 0, 8, "8", -1},
		{"expired value counts as missing", "old", 2, 0, 0, 2, "2", -1},
		{"not an integer", "text", 1, 0, StatusInvalidArgument, 0, "abc", -1},
		{"overflow returns the old value", "max", 1, 0, StatusInvalidArgument, 1<<63 - 1, strconv.FormatInt(1<<63-1, 10), -1},
	} {
		errc, nv := incr(tc.sk, tc.inc, tc.exp)
		v, _ := h.get("i", tc.sk)
		_, ttl := h.ttl("i", tc.sk)
		if errc != tc.errc || nv != tc.nv || v != tc.wantValue || ttl != tc.wantTTL {
			t.Errorf("%s: incr = %d,%d value %q ttl %d; want %d,%d %q %d", tc.name, errc, nv, v, ttl, tc.errc, tc.nv, tc.wantValue, tc.wantTTL)
		}
	}
	// Atomic writes carry no timestamp in their timetag (storage.md §4.4).
	if r := h.record("i", "new"); r.Timetag != 0 {
		t.Fatalf("incr timetag %x, want 0 (no cluster id configured)", r.Timetag)
	}
}

func TestCheckAndSetAndMutate(t *testing.T) {
	h := newHarness(t, Options{Replicas: 1})
	hk := []byte("c")
	hh := hashOf(hk)
	casSchema := map[int16]int{1: kI32, 2: kBool, 3: kBool, 4: kBlob, 5: kI32, 6: kI32, 7: kI64, 8: kString}
	h.put("c", "int", "15", 0)
	h.put("c", "str", "hello", 0)
	h.put("c", "empty", "", 0)
	for _, tc := range []struct {
		ct        mutation.CheckType
		checkSK   string
		operand   string
		errc      int32
		wantExist bool
	}{
		{ctNoCheck, "none", "", 0, false},
		{ctValueNotExist, "none", "", 0, false},
		{ctValueNotExist, "str", "", StatusTryAgain, true},
		{ctValueNotExistOrEmpty, "empty", "", 0, true},
		{ctValueExist, "str", "", 0, true},
		{ctValueExist, "none", "", StatusTryAgain, false},
		{ctValueNotEmpty, "empty", "", StatusTryAgain, true},
		{ctMatchAnywhere, "str", "ell", 0, true},
		{ctMatchAnywhere, "str", "", 0, true},
		{ctMatchAnywhere, "none", "", StatusTryAgain, false},
		{ctMatchPrefix, "str", "he", 0, true},
		{ctMatchPrefix, "str", "lo", StatusTryAgain, true},
		{ctMatchPostfix, "str", "lo", 0, true},
		{ctMatchPostfix, "str", "hello!", StatusTryAgain, true},
		{ctBytesLess, "str", "world", 0, true},
		{ctBytesLessOrEqual, "str", "hello", 0, true},
		{ctBytesEqual, "str", "hello", 0, true},
		{ctBytesGreaterOrEqual, "str", "hello", 0, true},
		{ctBytesGreater, "str", "hello", StatusTryAgain, true},
		{ctIntLess, "int", "16", 0, true},
		{ctIntLessOrEqual, "int", "15", 0, true},
		{ctIntEqual, "int", "15", 0, true},
		{ctIntEqual, "int", "14", StatusTryAgain, true},
		{ctIntGreaterOrEqual, "int", "15", 0, true},
		{ctIntGreater, "int", "-3", 0, true},
		{ctIntGreater, "str", "1", StatusInvalidArgument, true},
		{ctIntGreater, "int", "x", StatusInvalidArgument, true},
		{ctIntGreater, "empty", "1", StatusInvalidArgument, true},
		{ctIntGreater, "none", "1", StatusTryAgain, false},
		{18, "int", "", StatusInvalidArgument, false},
	} {
		req := &mutation.CheckAndSetRequest{HashKey: hk, CheckSortKey: []byte(tc.checkSK), CheckType: tc.ct,
			CheckOperand: []byte(tc.operand), SetDiffSortKey: true, SetSortKey: []byte("target"), SetValue: []byte("set"), ReturnCheckValue: true}
		p := h.c.mustTable(t, testTable).parts[partitionOf(hh, h.count)]
		p.mu.Lock()
		p.st.del(key("c", "target"))
		p.mu.Unlock()
		f := h.do(rpcCheckAndSet, hh, mutation.AppendCheckAndSet(nil, 0, req), casSchema)
		_, set := h.get("c", "target")
		if f[1] != tc.errc || f[3] != tc.wantExist || set != (tc.errc == 0) {
			t.Errorf("check type %d on %s with %q: %v, target set %v", tc.ct, tc.checkSK, tc.operand, f, set)
		}
		if tc.ct <= ctIntGreater && f[2] != true {
			t.Errorf("check value not returned: %v", f)
		}
	}
	// Without set_diff_sort_key the check key itself is set.
	req := &mutation.CheckAndSetRequest{HashKey: hk, CheckSortKey: []byte("str"), CheckType: ctValueExist, SetValue: []byte("new"), SetExpireTsSeconds: h.epoch() + 9}
	h.do(rpcCheckAndSet, hh, mutation.AppendCheckAndSet(nil, 0, req), casSchema)
	if v, _ := h.get("c", "str"); v != "new" {
		t.Fatalf("cas same key: %q", v)
	}
	if _, ttl := h.ttl("c", "str"); ttl != 9 {
		t.Fatalf("cas expiry: %d", ttl)
	}

	cam := func(ct mutation.CheckType, ops ...mutation.Mutate) int32 {
		r := &mutation.CheckAndMutateRequest{HashKey: hk, CheckSortKey: []byte("int"), CheckType: ct, MutateList: ops}
		return h.do(rpcCheckAndMutate, hh, mutation.AppendCheckAndMutate(nil, 0, r), casSchema)[1].(int32)
	}
	if e := cam(ctValueExist, mutation.Mutate{Operation: mutation.MutatePut, SortKey: []byte("m1"), Value: []byte("x")},
		mutation.Mutate{Operation: mutation.MutateDelete, SortKey: []byte("empty")}); e != 0 {
		t.Fatalf("cam: %d", e)
	}
	if v, ok := h.get("c", "m1"); !ok || v != "x" {
		t.Fatal("cam put not applied")
	}
	if _, ok := h.get("c", "empty"); ok {
		t.Fatal("cam delete not applied")
	}
	if e := cam(ctValueNotExist, mutation.Mutate{Operation: mutation.MutatePut, SortKey: []byte("m2")}); e != StatusTryAgain {
		t.Fatalf("cam failing check: %d", e)
	}
	if e := cam(ctValueExist); e != StatusInvalidArgument {
		t.Fatalf("cam empty list: %d", e)
	}
	if e := cam(ctValueExist, mutation.Mutate{Operation: 7, SortKey: []byte("m3")}); e != StatusInvalidArgument {
		t.Fatalf("cam bad operation: %d", e)
	}
	if _, ok := h.get("c", "m2"); ok {
		t.Fatal("cam applied despite failing check")
	}
}

func TestScanner(t *testing.T) {
	h := newHarness(t, Options{Replicas: 1, Tables: []TableSpec{{Name: testTable, Partitions: 1}}})
	for i := 0; i < 5; i++ {
		h.put("s", strconv.Itoa(i), "v"+strconv.Itoa(i), 0)
	}
	h.put("s", "9", "old", h.epoch()-1)
	h.put("t", "0", "other hash key", 0)
	getScanner := func(m getScannerRequest) map[int16]any {
		w := thrift.Writer{}
		w.WrapperBegin(thrift.STRUCT, 0)
		fBlob(&w, 1, m.startKey)
		fBlob(&w, 2, m.stopKey)
		fBool(&w, 3, m.startInclusive)
		fBool(&w, 4, m.stopInclusive)
		fI32(&w, 5, m.batchSize)
		fBool(&w, 6, m.noValue)
		fI32(&w, 7, m.hashFilterType)
		fBlob(&w, 8, m.hashFilterPattern)
		fI32(&w, 9, m.sortFilterType)
		fBlob(&w, 10, m.sortFilterPattern)
		if m.returnExpireTs {
			fBool(&w, 12, true)
		}
		if m.onlyReturnCount {
			fBool(&w, 14, true)
		}
		return h.do(rpcGetScanner, 0, endResult(&w), scanRespSchema)
	}
	scan := func(id int64) map[int16]any {
		w := thrift.Writer{}
		w.WrapperBegin(thrift.STRUCT, 0)
		fI64(&w, 1, id)
		return h.do(rpcScan, 0, endResult(&w), scanRespSchema)
	}
	keys := func(f map[int16]any) (s string) {
		for _, kv := range f[2].([]keyValue) {
			_, sk, _ := splitRawKey(kv.key)
			s += string(sk) + ","
		}
		return s
	}
	start, stop := key("s", ""), rawKey([]byte("s"), []byte{0xff})
	f := getScanner(getScannerRequest{startKey: start, stopKey: stop, startInclusive: true, batchSize: 2})
	got := keys(f)
	for f[3].(int64) >= 0 {
		f = scan(f[3].(int64))
		got += keys(f)
	}
	if got != "0,1,2,3,4," || f[3] != int64(scanContextCompleted) {
		t.Fatalf("scan: %q, last context %v", got, f[3])
	}
	if f := scan(424242); f[1] != int32(StatusNotFound) {
		t.Fatalf("scan of a missing context: %v", f)
	}
	f = getScanner(getScannerRequest{startKey: key("s", "1"), stopKey: key("s", "3"), stopInclusive: true, batchSize: 10, returnExpireTs: true})
	if keys(f) != "2,3," || f[2].([]keyValue)[0].hasExpire != true {
		t.Fatalf("exclusive start: %q %+v", keys(f), f[2])
	}
	f = getScanner(getScannerRequest{startKey: key("", ""), stopKey: key("zz", ""), startInclusive: true, onlyReturnCount: true})
	if f[7] != int32(6) || len(f[2].([]keyValue)) != 0 {
		t.Fatalf("only_return_count: %v", f)
	}
	f = getScanner(getScannerRequest{startKey: key("", ""), stopKey: key("zz", ""), startInclusive: true, hashFilterType: ftMatchPrefix, hashFilterPattern: []byte("t")})
	if keys(f) != "0," {
		t.Fatalf("hash key prefix filter: %q", keys(f))
	}
	// An empty range answers OK with the default context id 0, as C++ does.
	if f := getScanner(getScannerRequest{startKey: stop, stopKey: start}); f[1] != int32(0) || f[3] != int64(0) {
		t.Fatalf("empty range: %v", f)
	}
}

func TestBatchGet(t *testing.T) {
	h := newHarness(t, Options{Replicas: 1, Tables: []TableSpec{{Name: testTable, Partitions: 1}}})
	h.put("a", "1", "x", 0)
	h.put("b", "2", "y", 0)
	h.put("c", "3", "old", h.epoch()-1)
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, 0)
	w.FieldHeader(thrift.LIST, 1)
	w.ListHeader(thrift.STRUCT, 4)
	for _, k := range [][2]string{{"b", "2"}, {"c", "3"}, {"zz", ""}, {"a", "1"}} {
		fBlob(&w, 1, []byte(k[0]))
		fBlob(&w, 2, []byte(k[1]))
		w.Stop()
	}
	r := h.to(0).call(rpcBatchGet, h.appID, 0, 0, endResult(&w))
	var got string
	err := unwrapStruct(r.body, "batch_get_response", func(r *thrift.Reader, typ thrift.Type, id int16) (bool, error) {
		if id != 2 {
			return false, nil
		}
		return true, readList(r, func(r *thrift.Reader) error {
			return r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
				b, err := r.ReadBlob()
				got += string(b) + ","
				return true, err
			})
		})
	})
	if err != nil || got != "b,2,y,a,1,x," {
		t.Fatalf("batch_get: %q %v", got, err)
	}
}
