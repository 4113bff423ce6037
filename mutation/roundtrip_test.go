package mutation

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/dupbridge/dupbridge/internal/wirevec"
	"github.com/dupbridge/dupbridge/thrift"
)

func bs(s string) []byte { return []byte(s) }

// sampleUpdates is one update per code, every field set to something
// distinguishable. Empty slices are non-nil, as the decoder returns them.
func sampleUpdates() []Update {
	key := AppendRawKey(nil, bs("hk"), bs("sk"))
	dupRaw := AppendPut(nil, 1, key, bs("v"), 9)
	return []Update{
		{Code: CodePut, Put: &UpdateRequest{Key: key, Value: bs("value"), ExpireTsSeconds: 315619200}},
		{Code: CodePut, Put: &UpdateRequest{Key: key, Value: []byte{}, ExpireTsSeconds: -1,
			Type: UpdateTypeCheckAndMutateRemove, HasType: true, CheckValueReturned: true, HasCheckValueReturned: true,
			CheckValueExist: false, HasCheckValueExist: true, CheckValue: bs("old"), HasCheckValue: true}},
		{Code: CodeRemove, RemoveKey: key},
		{Code: CodeMultiPut, MultiPut: &MultiPutRequest{HashKey: bs("hk"), ExpireTsSeconds: 77, Kvs: []KeyValue{
			{Key: bs("a"), Value: bs("1")},
			{Key: []byte{}, Value: []byte{}, ExpireTsSeconds: 5, HasExpireTsSeconds: true},
		}}},
		{Code: CodeMultiPut, MultiPut: &MultiPutRequest{HashKey: bs("hk"), Kvs: []KeyValue{}}},
		{Code: CodeMultiRemove, MultiRemove: &MultiRemoveRequest{HashKey: bs("hk"), SortKeys: [][]byte{bs("a"), {}, bs("c")}, MaxCount: 3}},
		{Code: CodeIncr, Incr: &IncrRequest{Key: key, Increment: -42, ExpireTsSeconds: -1}},
		{Code: CodeCheckAndSet, CheckAndSet: &CheckAndSetRequest{HashKey: bs("hk"), CheckSortKey: bs("c"), CheckType: 17,
			CheckOperand: bs("10"), SetDiffSortKey: true, SetSortKey: bs("s"), SetValue: bs("v"), SetExpireTsSeconds: 3, ReturnCheckValue: true}},
		{Code: CodeCheckAndMutate, CheckAndMutate: &CheckAndMutateRequest{HashKey: bs("hk"), CheckSortKey: bs("c"), CheckType: 5,
			CheckOperand: bs("x"), ReturnCheckValue: true, MutateList: []Mutate{
				{Operation: MutatePut, SortKey: bs("s1"), Value: bs("v1"), SetExpireTsSeconds: 8},
				{Operation: MutateDelete, SortKey: bs("s2"), Value: []byte{}},
			}}},
		{Code: CodeDuplicate, Duplicate: &DuplicateRequest{Entries: []DupEntry{
			{Timestamp: 1700000000000000, TaskCode: bs(NamePut), RawMessage: dupRaw, ClusterID: 2, HasClusterID: true},
			{Timestamp: 1700000000000001, TaskCode: bs(NameRemove), RawMessage: AppendRemove(nil, 0, key),
				ClusterID: -1, HasClusterID: true, VerifyTimetag: true, HasVerifyTimetag: true},
		}}},
		{Code: CodeDuplicate, Duplicate: &DuplicateRequest{Legacy: true, Entries: []DupEntry{
			{Timestamp: 5, TaskCode: bs(NamePut), RawMessage: dupRaw},
		}}},
		{Code: CodeBulkLoad, BulkLoad: &IngestionRequest{AppName: "temp", IngestBehind: true, Ballot: 3, VerifyBeforeIngest: true,
			Metadata: BulkLoadMetadata{FileTotalSize: 30, Files: []FileMeta{{Name: "1.sst", Size: 10, MD5: "abc"}, {Name: "2.sst", Size: 20}}}}},
		{Code: CodeWriteEmpty},
	}
}

// clearRaw drops DupEntry.Raw (set by the decoder only) for comparison.
func clearRaw(u *Update) {
	if u.Duplicate != nil {
		for i := range u.Duplicate.Entries {
			u.Duplicate.Entries[i].Raw = nil
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, u := range sampleUpdates() {
		for _, wid := range []int16{0, 1} {
			t.Run(u.Code.Name(), func(t *testing.T) {
				b, err := Encode(nil, wid, &u)
				if err != nil {
					t.Fatal(err)
				}
				got, err := Decode(u.Code, b)
				if err != nil {
					t.Fatalf("Decode: %v\n% x", err, b)
				}
				clearRaw(got)
				want := u
				if u.Code != CodeWriteEmpty {
					want.WrapperID = wid
				}
				if !reflect.DeepEqual(got, &want) {
					t.Fatalf("round trip\n got %+v\nwant %+v", got, &want)
				}
				again, err := Encode(nil, wid, got)
				if err != nil || !bytes.Equal(again, b) {
					t.Fatalf("re-encode differs: %v\n% x\n% x", err, again, b)
				}
				// The routing hash agrees with the decoded key.
				h, err := PayloadHash(u.Code, b)
				switch u.Code {
				case CodePut:
					assertHash(t, h, err, KeyHash(u.Put.Key))
				case CodeRemove:
					assertHash(t, h, err, KeyHash(u.RemoveKey))
				case CodeIncr:
					assertHash(t, h, err, KeyHash(u.Incr.Key))
				case CodeMultiPut:
					assertHash(t, h, err, HashKeyHash(u.MultiPut.HashKey))
				case CodeMultiRemove:
					assertHash(t, h, err, HashKeyHash(u.MultiRemove.HashKey))
				case CodeCheckAndSet:
					assertHash(t, h, err, HashKeyHash(u.CheckAndSet.HashKey))
				case CodeCheckAndMutate:
					assertHash(t, h, err, HashKeyHash(u.CheckAndMutate.HashKey))
				case CodeDuplicate:
					assertHash(t, h, err, KeyHash(AppendRawKey(nil, bs("hk"), bs("sk"))))
				case CodeBulkLoad, CodeWriteEmpty:
					if !errors.Is(err, ErrNotRoutable) {
						t.Fatalf("PayloadHash err %v, want ErrNotRoutable", err)
					}
				}
			})
		}
	}
}

func assertHash(t *testing.T, h uint64, err error, want uint64) {
	t.Helper()
	if err != nil || h != want {
		t.Fatalf("PayloadHash = %#x, %v; want %#x", h, err, want)
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, c := range []Code{CodePut, CodeMultiPut, CodeMultiRemove, CodeIncr, CodeCheckAndSet, CodeCheckAndMutate, CodeDuplicate, CodeBulkLoad} {
		if _, err := Encode(nil, 0, &Update{Code: c}); err == nil {
			t.Errorf("%s without request encoded", c)
		}
	}
	if _, err := Encode(nil, 0, &Update{Code: CodeUnknown}); !errors.Is(err, ErrUnknownCode) {
		t.Errorf("unknown code: %v", err)
	}
	if _, err := Decode(CodeUnknown, []byte{0x0c, 0, 0, 0}); !errors.Is(err, ErrUnknownCode) {
		t.Errorf("Decode unknown: %v", err)
	}
	if _, err := Decode(CodeWriteEmpty, []byte{0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Decode empty write with payload: %v", err)
	}
	if _, err := PayloadHash(CodeUnknown, nil); !errors.Is(err, ErrUnknownCode) {
		t.Errorf("PayloadHash unknown: %v", err)
	}
}

// build makes a wrapped struct with f writing its fields.
func build(wid int16, f func(w *thrift.Writer)) []byte {
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, wid)
	f(&w)
	w.Stop()
	w.WrapperEnd()
	return w.B
}

// Java omits null non-optional object fields (storage.md §2.3): missing
// fields decode as zero/empty. Known ids with another type byte and unknown
// ids are skipped, as C++'s generated readers do.
func TestMissingAndForeignFields(t *testing.T) {
	key := AppendRawKey(nil, bs("a"), bs("b"))
	tests := []struct {
		name    string
		code    Code
		payload []byte
		check   func(u *Update) bool
		hash    uint64
		hashErr error
	}{
		{"put key only", CodePut, build(1, func(w *thrift.Writer) { blobField(w, 1, key) }),
			func(u *Update) bool {
				return bytes.Equal(u.Put.Key, key) && u.Put.Value == nil && u.Put.ExpireTsSeconds == 0 && !u.Put.HasType
			}, KeyHash(key), nil},
		{"put without key", CodePut, build(1, func(w *thrift.Writer) { blobField(w, 2, bs("v")) }),
			func(u *Update) bool { return u.Put.Key == nil && string(u.Put.Value) == "v" }, 0, ErrBadKey},
		{"put key as STRING is skipped", CodePut, build(0, func(w *thrift.Writer) {
			w.FieldHeader(thrift.STRING, 1)
			w.Binary(key)
		}), func(u *Update) bool { return u.Put.Key == nil }, 0, ErrBadKey},
		{"put with unknown fields", CodePut, build(0, func(w *thrift.Writer) {
			w.FieldHeader(thrift.DOUBLE, 20)
			w.Double(1.5)
			blobField(w, 1, key)
			w.FieldHeader(thrift.STRUCT, 21) // a real nested struct
			w.FieldHeader(thrift.I32, 1)
			w.I32(3)
			w.Stop()
			w.FieldHeader(thrift.SET, 22)
			w.SetHeader(thrift.STRING, 1)
			w.String("x")
		}), func(u *Update) bool { return bytes.Equal(u.Put.Key, key) }, KeyHash(key), nil},
		{"multi_put without kvs and expire", CodeMultiPut, build(1, func(w *thrift.Writer) { blobField(w, 1, bs("hk")) }),
			func(u *Update) bool { return string(u.MultiPut.HashKey) == "hk" && u.MultiPut.Kvs == nil }, CRC64(bs("hk")), nil},
		{"multi_put kv without value", CodeMultiPut, build(1, func(w *thrift.Writer) {
			blobField(w, 1, bs("hk"))
			w.FieldHeader(thrift.LIST, 2)
			w.ListHeader(thrift.STRUCT, 1)
			blobField(w, 1, bs("s"))
			w.Stop()
		}), func(u *Update) bool {
			return len(u.MultiPut.Kvs) == 1 && string(u.MultiPut.Kvs[0].Key) == "s" && u.MultiPut.Kvs[0].Value == nil
		}, CRC64(bs("hk")), nil},
		{"multi_put without hash key", CodeMultiPut, build(1, func(w *thrift.Writer) { i32Field(w, 3, 1) }),
			func(u *Update) bool { return u.MultiPut.HashKey == nil && u.MultiPut.ExpireTsSeconds == 1 }, 0, nil},
		{"multi_remove sort keys only", CodeMultiRemove, build(1, func(w *thrift.Writer) {
			w.FieldHeader(thrift.LIST, 2)
			w.ListHeader(thrift.STRING, 1) // element type is not checked, as in C++
			w.Blob(bs("s"))
		}), func(u *Update) bool { return len(u.MultiRemove.SortKeys) == 1 && u.MultiRemove.MaxCount == 0 }, 0, nil},
		{"incr key only", CodeIncr, build(1, func(w *thrift.Writer) { blobField(w, 1, key) }),
			func(u *Update) bool { return bytes.Equal(u.Incr.Key, key) && u.Incr.Increment == 0 }, KeyHash(key), nil},
		{"check_and_set hash key only", CodeCheckAndSet, build(1, func(w *thrift.Writer) { blobField(w, 1, bs("hk")) }),
			func(u *Update) bool { return string(u.CheckAndSet.HashKey) == "hk" && u.CheckAndSet.SetValue == nil }, CRC64(bs("hk")), nil},
		{"check_and_mutate mutate without sort key", CodeCheckAndMutate, build(1, func(w *thrift.Writer) {
			blobField(w, 1, bs("hk"))
			w.FieldHeader(thrift.LIST, 5)
			w.ListHeader(thrift.STRUCT, 1)
			i32Field(w, 1, 1)
			w.Stop()
		}), func(u *Update) bool {
			m := u.CheckAndMutate.MutateList
			return len(m) == 1 && m[0].Operation == MutateDelete && m[0].SortKey == nil
		}, CRC64(bs("hk")), nil},
		{"bulk load name only", CodeBulkLoad, build(0, func(w *thrift.Writer) {
			w.FieldHeader(thrift.STRING, 1)
			w.String("t")
		}), func(u *Update) bool { return u.BulkLoad.AppName == "t" && u.BulkLoad.Metadata.Files == nil }, 0, ErrNotRoutable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := Decode(tc.code, tc.payload)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !tc.check(u) {
				t.Fatalf("decoded %+v", u)
			}
			h, err := PayloadHash(tc.code, tc.payload)
			if tc.hashErr != nil {
				if !errors.Is(err, tc.hashErr) {
					t.Fatalf("PayloadHash err %v, want %v", err, tc.hashErr)
				}
				return
			}
			assertHash(t, h, err, tc.hash)
		})
	}
}

// Every proper prefix of every sample payload is an error wrapping
// ErrMalformed and a thrift sentinel; never a panic.
func TestTruncatedEverywhere(t *testing.T) {
	for _, u := range sampleUpdates() {
		if u.Code == CodeWriteEmpty {
			continue
		}
		b, err := Encode(nil, 0, &u)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(b); i++ {
			p := b[:i:i]
			if _, err := Decode(u.Code, p); !errors.Is(err, ErrMalformed) || !isThriftErr(err) {
				t.Fatalf("%s truncated at %d/%d: Decode err %v", u.Code, i, len(b), err)
			}
			if u.Code == CodeBulkLoad {
				continue
			}
			if _, err := PayloadHash(u.Code, p); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s truncated at %d/%d: PayloadHash err %v", u.Code, i, len(b), err)
			}
		}
		if u.Code == CodeDuplicate {
			for i := 0; i < len(b); i++ {
				it, err := NewDupIter(b[:i])
				if err == nil {
					var e DupEntry
					for it.Next(&e) {
					}
					err = it.Err()
				}
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("DupIter truncated at %d: %v", i, err)
				}
			}
		}
	}
}

func isThriftErr(err error) bool {
	var te *thrift.Error
	return errors.As(err, &te)
}

func TestMalformed(t *testing.T) {
	key := AppendRawKey(nil, bs("a"), bs("b"))
	put := AppendPut(nil, 0, key, bs("v"), 0)
	negBlob := append([]byte(nil), put...)
	copy(negBlob[6:10], []byte{0xff, 0xff, 0xff, 0xfe}) // key length -2
	mr := AppendMultiRemove(nil, 0, &MultiRemoveRequest{HashKey: bs("h"), SortKeys: [][]byte{bs("a")}})
	negList := append([]byte(nil), mr...)
	// wrapper(3) + field1 hdr(3) + len(4) + "h"(1) + list field hdr(3) + elem type(1) → count at 15
	copy(negList[15:19], []byte{0x80, 0, 0, 0})
	hugeList := append([]byte(nil), mr...)
	copy(hugeList[15:19], []byte{0x00, 0xff, 0, 0})
	dup := wirevec.Bytes(wirevec.DuplicateRequestBody)
	negDup := append([]byte(nil), dup...)
	copy(negDup[7:11], []byte{0xff, 0xff, 0xff, 0xff}) // entries count -1
	negRaw := append([]byte(nil), dup...)
	copy(negRaw[0x31:0x35], []byte{0xff, 0xff, 0xff, 0xff}) // raw_message length -1

	tests := []struct {
		name string
		code Code
		b    []byte
		want error // thrift sentinel
	}{
		{"empty", CodePut, nil, thrift.ErrShort},
		{"wrapper STOP", CodePut, []byte{0}, thrift.ErrBadType},
		{"wrapper not STRUCT", CodePut, []byte{0x0b, 0, 0, 0, 0, 0, 0, 0}, thrift.ErrBadType},
		{"bad field type", CodePut, []byte{0x0c, 0, 0, 0x01, 0, 1, 0}, thrift.ErrBadType},
		{"missing wrapper STOP", CodePut, put[:len(put)-1], thrift.ErrShort},
		{"wrapper end not STOP", CodePut, append(put[:len(put)-1:len(put)-1], 0x08), thrift.ErrBadType},
		{"negative key length", CodePut, negBlob, thrift.ErrNegativeLength},
		{"negative list count", CodeMultiRemove, negList, thrift.ErrNegativeLength},
		{"list count beyond data", CodeMultiRemove, hugeList, thrift.ErrTooLong},
		{"negative entries count", CodeDuplicate, negDup, thrift.ErrNegativeLength},
		{"negative raw_message length", CodeDuplicate, negRaw, thrift.ErrNegativeLength},
		{"negative remove key", CodeRemove, []byte{0x0c, 0, 0, 0x80, 0, 0, 0, 0}, thrift.ErrNegativeLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.code, tc.b); !errors.Is(err, ErrMalformed) || !errors.Is(err, tc.want) {
				t.Errorf("Decode err %v, want ErrMalformed and %v", err, tc.want)
			}
			if _, err := PayloadHash(tc.code, tc.b); !errors.Is(err, ErrMalformed) || !errors.Is(err, tc.want) {
				t.Errorf("PayloadHash err %v, want ErrMalformed and %v", err, tc.want)
			}
		})
	}
	// Deeply nested unknown fields hit the depth limit, not the stack.
	deep := build(0, func(w *thrift.Writer) {
		for i := 0; i < 200; i++ {
			w.FieldHeader(thrift.STRUCT, 9)
		}
		for i := 0; i < 200; i++ {
			w.Stop()
		}
	})
	if _, err := Decode(CodePut, deep); !errors.Is(err, thrift.ErrDepth) {
		t.Errorf("deep nesting: %v", err)
	}
	// Bytes after the wrapper are ignored, as Pegasus does.
	if _, err := Decode(CodePut, append(put[:len(put):len(put)], 1, 2, 3)); err != nil {
		t.Errorf("trailing bytes: %v", err)
	}
}

// The hot path allocates nothing: PayloadHash for every routed code, the
// dup iterator per entry, entry hashes, the request writer into a reused
// buffer and the response encoder.
func TestZeroAllocs(t *testing.T) {
	for _, u := range sampleUpdates() {
		b, _ := Encode(nil, 0, &u)
		// Measure the path that is meant: success, or the unroutable codes.
		if _, err := PayloadHash(u.Code, b); err != nil && !errors.Is(err, ErrNotRoutable) {
			t.Fatalf("PayloadHash(%s): %v", u.Code, err)
		}
		if n := testing.AllocsPerRun(200, func() { _, _ = PayloadHash(u.Code, b) }); n != 0 {
			t.Errorf("PayloadHash(%s) allocs %v", u.Code, n)
		}
	}
	// Failures on a bad key or unroutable code do not allocate either.
	badKey := AppendPut(nil, 0, []byte{0}, nil, 0)
	if _, err := PayloadHash(CodePut, badKey); !errors.Is(err, ErrBadKey) {
		t.Fatalf("PayloadHash(bad key): %v, want ErrBadKey", err)
	}
	if n := testing.AllocsPerRun(200, func() { _, _ = PayloadHash(CodePut, badKey) }); n != 0 {
		t.Errorf("PayloadHash(bad key) allocs %v", n)
	}
	body := manyEntries(64)
	buf := make([]byte, 0, 2*len(body))
	var (
		it DupIter
		e  DupEntry
		w  DupRequestWriter
	)
	n := testing.AllocsPerRun(100, func() {
		if err := it.Reset(body); err != nil {
			t.Fatal(err)
		}
		w.Begin(buf[:0], 0)
		for it.Next(&e) {
			if _, err := e.Hash(); err != nil {
				t.Fatal(err)
			}
			w.AppendRaw(e.Raw)
		}
		buf = w.Finish()
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
	})
	if n != 0 {
		t.Errorf("dup iterate+hash+rewrite allocs %v per request", n)
	}
	if !bytes.Equal(buf, body) {
		t.Error("rewritten body differs")
	}
	rbuf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { rbuf = AppendDupResponse(rbuf[:0], 0, 13, "busy") }); n != 0 {
		t.Errorf("AppendDupResponse allocs %v", n)
	}
}

// manyEntries is a duplicate_request of n PUT/REMOVE/MULTI_* entries.
func manyEntries(n int) []byte {
	var w DupRequestWriter
	w.Begin(nil, 0)
	for i := 0; i < n; i++ {
		hk := []byte{'h', byte('a' + i%26), byte('0' + i%10)}
		key := AppendRawKey(nil, hk, bs("sortkey"))
		var raw []byte
		code := NamePut
		switch i % 4 {
		case 0:
			raw = AppendPut(nil, 0, key, bytes.Repeat(bs("v"), 100), 0)
		case 1:
			raw, code = AppendRemove(nil, 0, key), NameRemove
		case 2:
			raw, code = AppendMultiPut(nil, 0, &MultiPutRequest{HashKey: hk, Kvs: []KeyValue{{Key: bs("a"), Value: bs("1")}, {Key: bs("b"), Value: bs("2")}}}), NameMultiPut
		case 3:
			raw, code = AppendMultiRemove(nil, 0, &MultiRemoveRequest{HashKey: hk, SortKeys: [][]byte{bs("a"), bs("b")}}), NameMultiRemove
		}
		w.AppendEntry(&DupEntry{Timestamp: int64(1700000000000000 + i), TaskCode: bs(code), RawMessage: raw, ClusterID: 1, HasClusterID: true})
	}
	return w.Finish()
}
