package mutation

import (
	"bytes"
	"errors"
	"github.com/dupbridge/dupbridge/internal/testfix"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/dupbridge/dupbridge/internal/wirevec"
	"github.com/dupbridge/dupbridge/thrift"
)

// REMOVE of (hash "a", sort "a"), storage.md §2.3: C++ wrapper id 0; the
// Go client writes the same with 0c 00 01.
func TestRemoveVector(t *testing.T) {
	for _, tc := range []struct {
		wid  int16
		want string
	}{
		{0, "0c 00 00 | 00 00 00 04 | 00 01 61 61 | 00"},
		{1, "0c 00 01 | 00 00 00 04 | 00 01 61 61 | 00"},
	} {
		want := hx(t, stripBars(tc.want))
		key := AppendRawKey(nil, []byte("a"), []byte("a"))
		if got := AppendRemove(nil, tc.wid, key); !bytes.Equal(got, want) {
			t.Errorf("AppendRemove wid %d = % x, want % x", tc.wid, got, want)
		}
		u, err := Decode(CodeRemove, want)
		if err != nil || u.WrapperID != tc.wid || !bytes.Equal(u.RemoveKey, key) {
			t.Errorf("Decode REMOVE = %+v, %v", u, err)
		}
		if h, err := PayloadHash(CodeRemove, want); err != nil || h != 0x8C2F8445B4CBFC3C {
			t.Errorf("PayloadHash REMOVE = %#x, %v", h, err)
		}
	}
}

// fixturePut is the 31-byte PUT payload of the real fixtures: storage.md
// §1.11 walks mutation 1 field by field (file offsets 165–195: wrapper
// 0c 00 00, key 00 01 61 61, value "a", expire 0, two STOPs) and prints
// mutation 2's payload (value "b") whole; §1.12 says every PUT there is the
// same with another one-byte value (decree 5 of the first file is "d", the
// table's "x" is any such byte).
func fixturePut(v byte) string {
	return "0c 00 00 0c 00 01 00 00 00 04 00 01 61 61 0c 00 02 00 00 00 01 " +
		string("0123456789abcdef"[v>>4]) + string("0123456789abcdef"[v&15]) +
		" 08 00 03 00 00 00 00 00 00"
}

func TestPutFixtureVector(t *testing.T) {
	// The bytes of mutation 2 exactly as printed in storage.md §1.11.
	doc := hx(t, "0c 00 00 0c 00 01 00 00 00 04 00 01 61 61 0c 00 02 00 00 00 01 62 08 00 03 00 00 00 00 00 00")
	if got := hx(t, fixturePut('b')); !bytes.Equal(got, doc) {
		t.Fatalf("fixturePut('b') disagrees with the doc")
	}
	for _, v := range []byte("abcdx") {
		want := hx(t, fixturePut(v))
		if len(want) != 31 {
			t.Fatalf("payload is %d bytes, want 31", len(want))
		}
		key := hx(t, "00 01 61 61")
		if got := AppendPut(nil, 0, key, []byte{v}, 0); !bytes.Equal(got, want) {
			t.Errorf("AppendPut(%q) = % x, want % x", v, got, want)
		}
		u, err := Decode(CodePut, want)
		if err != nil {
			t.Fatal(err)
		}
		wantReq := &UpdateRequest{Key: key, Value: []byte{v}}
		if u.WrapperID != 0 || !reflect.DeepEqual(u.Put, wantReq) {
			t.Errorf("Decode PUT %q = %+v", v, u.Put)
		}
		if h, err := PayloadHash(CodePut, want); err != nil || h != 0x8C2F8445B4CBFC3C || PartitionIndex(h, 8) != 4 {
			t.Errorf("PayloadHash PUT = %#x, %v (want 0x8C2F8445B4CBFC3C, partition 4 of 8, storage.md §1.12)", h, err)
		}
	}
}

// fixturesDir finds ../shared/fixtures relative to the repository root.
func fixturesDir(t *testing.T) string { return testfix.SharedOrSkip(t) }

// The payload of decree 1 sits at file offsets 165–195 of the first real
// file (storage.md §1.11); it must equal our encoding.
func TestPutFixtureFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixturesDir(t), "log.1.0.handle_real_private_log"))
	if err != nil {
		t.Skipf("fixture unreadable: %v", err)
	}
	for _, tc := range []struct {
		off int
		v   byte
	}{{165, 'a'}, {285, 'b'}} {
		if len(b) < tc.off+31 {
			t.Fatalf("fixture too short")
		}
		payload := b[tc.off : tc.off+31]
		if want := AppendPut(nil, 0, []byte{0, 1, 'a', 'a'}, []byte{tc.v}, 0); !bytes.Equal(payload, want) {
			t.Errorf("payload at %d = % x, want % x", tc.off, payload, want)
		}
		if name := b[tc.off-25 : tc.off-8]; ParseCode(name) != CodePut {
			t.Errorf("code name at %d = %q", tc.off-25, name)
		}
	}
}

func TestDupWorkedExample(t *testing.T) {
	body := wirevec.Bytes(wirevec.DuplicateRequestBody) // wire.md §4.6
	raw := AppendPut(nil, 0, AppendRawKey(nil, []byte("hk1"), []byte("s")), []byte("v"), 0)
	if len(raw) != 33 {
		t.Fatalf("raw_message is %d bytes, doc says 33", len(raw))
	}
	it, err := NewDupIter(body)
	if err != nil {
		t.Fatal(err)
	}
	if it.Legacy() || it.Len() != 1 || it.WrapperID() != 0 {
		t.Fatalf("legacy %v len %d wrapper %d", it.Legacy(), it.Len(), it.WrapperID())
	}
	var e DupEntry
	if !it.Next(&e) {
		t.Fatalf("no entry: %v", it.Err())
	}
	want := DupEntry{Timestamp: 1700000000000000, TaskCode: []byte(NamePut), RawMessage: raw,
		ClusterID: 1, HasClusterID: true, Raw: body[0x0b:0x5b]}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("entry = %+v\nwant    %+v", e, want)
	}
	if it.Next(&e) || it.Err() != nil {
		t.Fatalf("second Next true or err %v", it.Err())
	}
	if h, err := e.Hash(); err != nil || h != 0xB136B82B96D0C625 {
		t.Errorf("entry hash = %#x, %v; want crc64(hk1) (wire.md App. A)", h, err)
	}
	if h, err := PayloadHash(CodeDuplicate, body); err != nil || h != 0xB136B82B96D0C625 {
		t.Errorf("PayloadHash DUPLICATE = %#x, %v", h, err)
	}

	// Re-encode: from fields, from the raw entry, and through Decode/Encode.
	var w DupRequestWriter
	w.Begin(nil, 0)
	w.AppendEntry(&e)
	if got := w.Finish(); !bytes.Equal(got, body) {
		t.Errorf("AppendEntry body\n% x\nwant\n% x", got, body)
	}
	w.Begin([]byte("prefix"), 0)
	w.AppendRaw(e.Raw)
	if w.Len() != 1 || w.Size() != len(body)-2 {
		t.Errorf("Len %d Size %d", w.Len(), w.Size())
	}
	if got := w.Finish(); !bytes.Equal(got, append([]byte("prefix"), body...)) {
		t.Errorf("AppendRaw body\n% x", got)
	}
	u, err := Decode(CodeDuplicate, body)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Encode(nil, 0, u); err != nil || !bytes.Equal(got, body) {
		t.Errorf("Encode(Decode) = % x, %v", got, err)
	}
}

func TestDupLegacyShape(t *testing.T) {
	raw := AppendRemove(nil, 1, AppendRawKey(nil, []byte("hk1"), []byte("s")))
	e := DupEntry{Timestamp: 42, TaskCode: []byte(NameRemove), RawMessage: raw, ClusterID: 3, HasClusterID: true,
		VerifyTimetag: true, HasVerifyTimetag: true}
	body := AppendDupLegacy(nil, 1, &e)
	// wrapper 0c 00 01, then the entry struct itself: field 1 is an I64.
	if !bytes.HasPrefix(body, []byte{0x0c, 0, 1, 0x0a, 0, 1}) {
		t.Fatalf("legacy body % x", body)
	}
	it, err := NewDupIter(body)
	if err != nil || !it.Legacy() || it.Len() != 1 || it.WrapperID() != 1 {
		t.Fatalf("NewDupIter: %v legacy %v len %d", err, it.Legacy(), it.Len())
	}
	var got DupEntry
	if !it.Next(&got) {
		t.Fatal(it.Err())
	}
	e.Raw = body[3 : len(body)-1]
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("entry %+v\nwant  %+v", got, e)
	}
	if it.Next(&got) || it.Err() != nil {
		t.Fatalf("end: %v", it.Err())
	}
	// A legacy entry's Raw is a valid entry of the new shape.
	var w DupRequestWriter
	w.Begin(nil, 0)
	w.AppendRaw(e.Raw)
	u, err := Decode(CodeDuplicate, w.Finish())
	if err != nil || u.Duplicate.Legacy || len(u.Duplicate.Entries) != 1 || u.Duplicate.Entries[0].Timestamp != 42 {
		t.Fatalf("re-wrapped legacy: %+v %v", u, err)
	}
	if h, err := PayloadHash(CodeDuplicate, body); err != nil || h != 0xB136B82B96D0C625 {
		t.Errorf("legacy hash %#x %v", h, err)
	}
	// Legacy without a timestamp: the first field is the task code.
	e2 := e
	e2.Raw = nil
	var tw thrift.Writer
	tw.WrapperBegin(thrift.STRUCT, 0)
	tw.FieldHeader(thrift.STRUCT, 2)
	tw.Binary(e2.TaskCode)
	tw.FieldHeader(thrift.STRUCT, 3)
	tw.Blob(e2.RawMessage)
	tw.Stop()
	tw.WrapperEnd()
	u, err = Decode(CodeDuplicate, tw.B)
	if err != nil || !u.Duplicate.Legacy || u.Duplicate.Entries[0].Timestamp != 0 || u.Duplicate.Entries[0].Code() != CodeRemove {
		t.Fatalf("legacy without timestamp: %+v %v", u, err)
	}
	if _, err := AppendDuplicate(nil, 0, &DuplicateRequest{Legacy: true}); err == nil {
		t.Error("legacy request with 0 entries must not encode")
	}
}

// Entries carry unknown fields (skipped, kept in Raw); the request carries
// unknown fields before and after the list; an empty request has no entries.
func TestDupUnknownFields(t *testing.T) {
	var w thrift.Writer
	w.WrapperBegin(thrift.STRUCT, 1)
	w.FieldHeader(thrift.STRING, 7) // unknown, before the list
	w.String("x")
	w.FieldHeader(thrift.LIST, 1)
	w.ListHeader(thrift.STRUCT, 2)
	entryStart := len(w.B)
	w.FieldHeader(thrift.I32, 9) // unknown
	w.I32(5)
	w.FieldHeader(thrift.I64, 1)
	w.I64(7)
	w.FieldHeader(thrift.LIST, 8) // unknown list of i32
	w.ListHeader(thrift.I32, 2)
	w.I32(1)
	w.I32(2)
	w.FieldHeader(thrift.STRING, 2) // known id, wrong type: skipped as C++ does
	w.String("RPC_RRDB_RRDB_PUT")
	w.FieldHeader(thrift.STRUCT, 2)
	w.String(NameMultiRemove)
	w.FieldHeader(thrift.STRUCT, 3)
	w.Blob(AppendMultiRemove(nil, 0, &MultiRemoveRequest{HashKey: []byte("hk1"), SortKeys: [][]byte{[]byte("a")}}))
	w.Stop()
	entryEnd := len(w.B)
	w.FieldHeader(thrift.I64, 1) // second entry: timestamp only
	w.I64(8)
	w.Stop()
	w.FieldHeader(thrift.MAP, 5) // unknown, after the list
	w.MapHeader(thrift.I32, thrift.I32, 1)
	w.I32(1)
	w.I32(2)
	w.Stop()
	w.WrapperEnd()
	it, err := NewDupIter(w.B)
	if err != nil || it.Len() != 2 || it.Legacy() {
		t.Fatalf("NewDupIter %v len %d", err, it.Len())
	}
	var e DupEntry
	if !it.Next(&e) || e.Timestamp != 7 || e.Code() != CodeMultiRemove || !bytes.Equal(e.Raw, w.B[entryStart:entryEnd]) {
		t.Fatalf("entry 1 %+v, %v", e, it.Err())
	}
	if h, err := e.Hash(); err != nil || h != CRC64([]byte("hk1")) {
		t.Errorf("hash %#x %v", h, err)
	}
	if !it.Next(&e) || e.Timestamp != 8 || e.TaskCode != nil || e.RawMessage != nil {
		t.Fatalf("entry 2 %+v, %v", e, it.Err())
	}
	if it.Next(&e) || it.Err() != nil {
		t.Fatalf("end %v", it.Err())
	}
	// The second entry has no task code: not routable.
	if _, err := PayloadHash(CodeDuplicate, w.B); !errors.Is(err, ErrUnknownCode) {
		t.Errorf("hash of a codeless entry: %v", err)
	}

	empty := []byte{0x0c, 0, 0, 0, 0}
	it, err = NewDupIter(empty)
	if err != nil || it.Len() != 0 || it.Next(&e) || it.Err() != nil {
		t.Fatalf("empty request: %v %v", err, it.Err())
	}
	if _, err := PayloadHash(CodeDuplicate, empty); !errors.Is(err, ErrNotRoutable) {
		t.Errorf("empty request hash err %v", err)
	}
	// An entry naming DUPLICATE is never routed (duplication.md §3.5).
	var d DupRequestWriter
	d.Begin(nil, 0)
	d.AppendEntry(&DupEntry{TaskCode: []byte(NameDuplicate), RawMessage: empty})
	if _, err := PayloadHash(CodeDuplicate, d.Finish()); !errors.Is(err, ErrNotRoutable) {
		t.Errorf("nested duplicate err %v", err)
	}
}

func TestDupResponse(t *testing.T) {
	tests := []struct {
		wid  int16
		code int32
		hint string
		want string
	}{
		{0, 0, "", "0c 00 00 | 08 00 01 00 00 00 00 | 00 | 00"},
		{0, 13, "", "0c 00 00 | 08 00 01 00 00 00 0d | 00 | 00"},
		{0, 4, "self-duplicating", "0c 00 00 | 08 00 01 00 00 00 04 | 0b 00 02 00 00 00 10 73 65 6c 66 2d 64 75 70 6c 69 63 61 74 69 6e 67 | 00 | 00"},
	}
	for _, tc := range tests {
		want := hx(t, stripBars(tc.want))
		got := AppendDupResponse(nil, tc.wid, tc.code, tc.hint)
		if !bytes.Equal(got, want) {
			t.Errorf("AppendDupResponse = % x, want % x", got, want)
		}
		r, err := ParseDupResponse(want)
		if err != nil || !r.HasError || r.Error != tc.code || r.HasErrorHint != (tc.hint != "") || string(r.ErrorHint) != tc.hint {
			t.Errorf("ParseDupResponse = %+v, %v", r, err)
		}
	}
	// C++ leaves both fields unset when a request has no entries.
	r, err := ParseDupResponse([]byte{0x0c, 0, 0, 0, 0})
	if err != nil || r.HasError || r.Error != 0 {
		t.Errorf("empty response = %+v, %v", r, err)
	}
	// Unknown fields are skipped.
	r, err = ParseDupResponse(hx(t, "0c 00 00 0a 00 09 00 00 00 00 00 00 00 01 08 00 01 00 00 00 0b 00 00"))
	if err != nil || r.Error != 11 {
		t.Errorf("response with unknown field = %+v, %v", r, err)
	}
	for i := 0; i < len(tests[2].want)/3; i++ {
		b := hx(t, stripBars(tests[2].want))
		if i >= len(b) {
			break
		}
		if _, err := ParseDupResponse(b[:i]); !errors.Is(err, ErrMalformed) {
			t.Errorf("truncated response at %d: %v", i, err)
		}
	}
}

func TestCodes(t *testing.T) {
	tests := []struct {
		c                                Code
		name                             string
		idem, batch, dup, del, hashByKey bool
	}{
		{CodePut, "RPC_RRDB_RRDB_PUT", true, true, true, false, true},
		{CodeRemove, "RPC_RRDB_RRDB_REMOVE", true, true, true, true, true},
		{CodeMultiPut, "RPC_RRDB_RRDB_MULTI_PUT", true, false, true, false, false},
		{CodeMultiRemove, "RPC_RRDB_RRDB_MULTI_REMOVE", true, false, true, true, false},
		{CodeIncr, "RPC_RRDB_RRDB_INCR", false, false, false, false, true},
		{CodeCheckAndSet, "RPC_RRDB_RRDB_CHECK_AND_SET", false, false, false, false, false},
		{CodeCheckAndMutate, "RPC_RRDB_RRDB_CHECK_AND_MUTATE", false, false, false, false, false},
		{CodeDuplicate, "RPC_RRDB_RRDB_DUPLICATE", true, false, false, false, false},
		{CodeBulkLoad, "RPC_RRDB_RRDB_BULK_LOAD", true, false, false, false, false},
		{CodeWriteEmpty, "RPC_REPLICATION_WRITE_EMPTY", true, false, false, false, false},
		{CodeUnknown, "TASK_CODE_INVALID", false, false, false, false, false},
	}
	for _, tc := range tests {
		if tc.c.Name() != tc.name || tc.c.String() != tc.name {
			t.Errorf("%d: name %q", tc.c, tc.c.Name())
		}
		if tc.c != CodeUnknown && ParseCode([]byte(tc.name)) != tc.c {
			t.Errorf("ParseCode(%q) = %v", tc.name, ParseCode([]byte(tc.name)))
		}
		if tc.c.Idempotent() != tc.idem || tc.c.Batchable() != tc.batch || tc.c.Duplicated() != tc.dup || tc.c.IsDelete() != tc.del {
			t.Errorf("%s: idempotent %v batchable %v duplicated %v delete %v", tc.name,
				tc.c.Idempotent(), tc.c.Batchable(), tc.c.Duplicated(), tc.c.IsDelete())
		}
	}
	for _, s := range []string{"", "RPC_RRDB_RRDB_GET", "rpc_rrdb_rrdb_put", "TASK_CODE_INVALID"} {
		if ParseCode([]byte(s)) != CodeUnknown {
			t.Errorf("ParseCode(%q) not unknown", s)
		}
	}
	if Code(200).Name() != NameInvalid {
		t.Error("out of range code name")
	}
	if n := testing.AllocsPerRun(100, func() { _ = ParseCode([]byte("RPC_RRDB_RRDB_MULTI_REMOVE")) }); n != 0 {
		t.Errorf("ParseCode allocs %v", n)
	}
}
