package walreader_test

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/walreader"
)

// mutation1 is mutation 1 of log.1.0.handle_real_private_log, file offsets
// 76..195, transcribed from the xxd dump and tables of storage.md §1.11.
var mutation1 = mustHex("" +
	"0000000000000000" + "0100000004000000" + "0300000000000000" + "0100000000000000" +
	"4c00000000000000" + "0000000000000000" + "b84e63d659670500" +
	"01000000" + "11000000" + hex.EncodeToString([]byte("RPC_RRDB_RRDB_PUT")) + "01000000" + "1f000000" +
	"0c00000c000100000004000161610c000200000001610800030000000000" + "00")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecodeMutationGolden(t *testing.T) {
	if len(mutation1) != 120 {
		t.Fatalf("transcription is %d bytes, want 120", len(mutation1))
	}
	var m walreader.Mutation
	n, err := walreader.DecodeMutation(mutation1, &m)
	if err != nil {
		t.Fatal(err)
	}
	if n != 120 || m.AppID != 1 || m.PartitionIndex != 4 || m.Ballot != 3 || m.Decree != 1 || m.LogOffset != 76 ||
		m.LastCommittedDecree != 0 || m.Timestamp != 1521010430135992 || len(m.Updates) != 1 {
		t.Fatalf("decoded %+v", m)
	}
	u := m.Updates[0]
	if u.Code != mutation.CodePut || string(u.Name) != "RPC_RRDB_RRDB_PUT" || u.SerializationType != 1 || len(u.Data) != 31 || u.Data[0] != 0x0c {
		t.Fatalf("update %+v", u)
	}
	// A mutation needs all its bytes: every shorter prefix is ErrBadMutation.
	for i := 0; i < len(mutation1); i++ {
		if _, err := walreader.DecodeMutation(mutation1[:i], &m); !errors.Is(err, walreader.ErrBadMutation) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
}

func TestDecodeMutationHeaders(t *testing.T) {
	with := func(version uint64) []byte {
		b := append([]byte(nil), mutation1...)
		binary.LittleEndian.PutUint64(b, version)
		return b
	}
	for _, c := range []struct {
		name    string
		in      []byte
		ok      bool
		version int64
		ts      int64
	}{
		{"current", with(0), true, 0, 1521010430135992},
		// storage.md §1.6: a first word > 64 is a legacy vtable pointer and
		// the header carries no timestamp.
		{"legacy vptr", with(0x7f0000001000), true, 0x7f0000001000, 0},
		{"version 1", with(1), false, 0, 0},
		{"version 64", with(64), false, 0, 0},
		{"negative", with(1 << 63), false, 0, 0},
	} {
		var m walreader.Mutation
		_, err := walreader.DecodeMutation(c.in, &m)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
			continue
		}
		if c.ok && (m.HeaderVersion != c.version || m.Timestamp != c.ts) {
			t.Errorf("%s: version %d ts %d", c.name, m.HeaderVersion, m.Timestamp)
		}
	}
}

// TestDecodeMutationUpdates: several updates keep descriptors first, then
// payloads (storage.md §1.6); an unknown name decodes as CodeUnknown.
func TestDecodeMutationUpdates(t *testing.T) {
	b := append([]byte(nil), mutation1[:56]...)
	b = binary.LittleEndian.AppendUint32(b, 3)
	for _, d := range []struct {
		name string
		n    int
	}{{"RPC_RRDB_RRDB_PUT", 2}, {"RPC_RRDB_RRDB_REMOVE", 0}, {"RPC_SOMETHING_ELSE", 3}} {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(d.name)))
		b = append(b, d.name...)
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = binary.LittleEndian.AppendUint32(b, uint32(d.n))
	}
	b = append(b, "xyzzz"...)
	b = append(b, "trailing bytes belong to the next mutation"...)
	var m walreader.Mutation
	n, err := walreader.DecodeMutation(b, &m)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(b)-len("trailing bytes belong to the next mutation") || m.Size != n {
		t.Errorf("size %d", n)
	}
	got := ""
	for _, u := range m.Updates {
		got += u.Code.String() + "=" + string(u.Data) + ";"
	}
	if want := "RPC_RRDB_RRDB_PUT=xy;RPC_RRDB_RRDB_REMOVE=;" + mutation.NameInvalid + "=zzz;"; got != want {
		t.Errorf("updates %q, want %q", got, want)
	}
	if strings.Count(string(m.Updates[2].Name), "ELSE") != 1 {
		t.Errorf("name %q", m.Updates[2].Name)
	}
	// The updates slice is reused by the next decode.
	c := cap(m.Updates)
	if _, err := walreader.DecodeMutation(mutation1, &m); err != nil || cap(m.Updates) != c || len(m.Updates) != 1 {
		t.Errorf("reuse: %v %d", err, cap(m.Updates))
	}
	// Clone owns its bytes.
	cl := m.Clone()
	mutation1[len(mutation1)-2] ^= 0xff
	defer func() { mutation1[len(mutation1)-2] ^= 0xff }()
	if cl.Updates[0].Data[29] == m.Updates[0].Data[29] {
		t.Error("clone aliases the source")
	}
}
