package walreader_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/walreader"
	"github.com/dupbridge/dupbridge/walwriter"
)

// checkFixture asserts that the plog file at path decodes to exactly the
// facts of storage.md §1.12 (held in walwriter.Fixtures).
func checkFixture(t *testing.T, fx walwriter.Fixture, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != fx.Size {
		t.Errorf("size %d, want %d", len(data), fx.Size)
	}
	blocks := blocksOf(t, data)
	if len(blocks) != len(fx.Blocks) {
		t.Fatalf("%d blocks, want %d", len(blocks), len(fx.Blocks))
	}
	for i, b := range blocks {
		w := fx.Blocks[i]
		if b.Offset != w.Offset || b.Length != w.Length || b.CRC != w.CRC {
			t.Errorf("block %d: @%d len %d crc 0x%08X, want @%d len %d crc 0x%08X", i, b.Offset, b.Length, b.CRC, w.Offset, w.Length, w.CRC)
		}
	}
	ms, warns, err := readAll(t, []string{path}, walreader.Options{})
	if err != nil || len(warns) != 0 {
		t.Fatalf("read: %v, warnings %v", err, warns)
	}
	want := fx.Mutations()
	if len(ms) != len(want) {
		t.Fatalf("%d mutations, want %d", len(ms), len(want))
	}
	for i, m := range ms {
		w := want[i]
		if m.FileOffset != w.Offset || m.LogOffset != w.Offset || m.Size != w.Size || m.Decree != w.Decree ||
			m.LastCommittedDecree != w.LastCommitted || m.Timestamp != w.Timestamp || m.Ballot != fx.Ballot ||
			m.AppID != fx.AppID || m.PartitionIndex != fx.PartitionIndex || m.HeaderVersion != 0 {
			t.Errorf("mutation %d: got %+v, want %+v", i, *m, w)
		}
		if len(m.Updates) != 1 {
			t.Fatalf("mutation %d: %d updates, want 1", i, len(m.Updates))
		}
		u := m.Updates[0]
		if w.Value == "" {
			if u.Code != mutation.CodeWriteEmpty || u.SerializationType != 0 || len(u.Data) != 0 || !m.IsEmptyWrite() {
				t.Errorf("decree %d: want an empty write, got %s st %d %d bytes", m.Decree, u.Name, u.SerializationType, len(u.Data))
			}
			continue
		}
		if u.Code != mutation.CodePut || u.SerializationType != 1 || len(u.Data) != 31 {
			t.Errorf("decree %d: got %s st %d %d bytes, want a 31-byte thrift PUT", m.Decree, u.Name, u.SerializationType, len(u.Data))
			continue
		}
		d, err := mutation.Decode(u.Code, u.Data)
		if err != nil {
			t.Fatalf("decree %d: %v", m.Decree, err)
		}
		hk, sk, _ := mutation.SplitRawKey(d.Put.Key)
		if d.WrapperID != 0 || string(hk) != "a" || string(sk) != "a" || string(d.Put.Value) != w.Value || d.Put.ExpireTsSeconds != 0 {
			t.Errorf("decree %d: wrapper %d key %q/%q value %q ttl %d, want 0 a/a %q 0", m.Decree, d.WrapperID, hk, sk, d.Put.Value, d.Put.ExpireTsSeconds, w.Value)
		}
		// storage.md §1.12: every key here hashes to 0x8C2F8445B4CBFC3C, partition 4 of 8.
		if h := mutation.KeyHash(d.Put.Key); h != 0x8C2F8445B4CBFC3C {
			t.Errorf("key hash 0x%X", h)
		}
	}
}

// reencode writes the decoded mutations of path again, one disk write per
// block as read, and returns the bytes.
func reencode(t *testing.T, path string) []byte {
	t.Helper()
	ms, _, err := readAll(t, []string{path}, walreader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := walreader.Open([]string{path}, walreader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	h := r.Header()
	r.Close()
	dir := t.TempDir()
	w, err := walwriter.Create(dir, walwriter.Options{AppID: h.Replicas[0].AppID, PartitionIndex: h.Replicas[0].PartitionIndex,
		StartOffset: h.StartGlobalOffset, MaxDecree: h.Replicas[0].MaxDecree, ValidStartOffset: h.Replicas[0].ValidStartOffset, FileName: "out"})
	if err != nil {
		t.Fatal(err)
	}
	var batch []walreader.Mutation
	for i, m := range ms {
		batch = append(batch, *m)
		if i+1 == len(ms) || ms[i+1].BlockOffset != m.BlockOffset {
			if err := w.WriteBatch(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRealFixtures decodes the three captured files (../shared/fixtures)
// and re-encodes them byte for byte.
func TestRealFixtures(t *testing.T) {
	dir := sharedFixtures(t)
	for _, fx := range walwriter.Fixtures() {
		t.Run(fx.Name, func(t *testing.T) {
			p := filepath.Join(dir, fx.Name)
			checkFixture(t, fx, p)
			orig, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := reencode(t, p); !bytes.Equal(got, orig) {
				t.Errorf("re-encoding differs from the captured file")
			}
			regen, err := walwriter.WriteFixture(t.TempDir(), fx.Name)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(regen)
			if !bytes.Equal(got, orig) {
				t.Errorf("walwriter.WriteFixture differs from the captured file")
			}
		})
	}
}

// TestRegeneratedFixtures needs no captured file: the files walwriter
// re-creates from the facts must show the sizes, block offsets and CRCs
// storage.md §1.12 lists, decode to its mutations, and re-encode identically.
func TestRegeneratedFixtures(t *testing.T) {
	dir := t.TempDir()
	for _, fx := range walwriter.Fixtures() {
		t.Run(fx.Name, func(t *testing.T) {
			p, err := walwriter.WriteFixture(dir, fx.Name)
			if err != nil {
				t.Fatal(err)
			}
			checkFixture(t, fx, p)
			orig, _ := os.ReadFile(p)
			if got := reencode(t, p); !bytes.Equal(got, orig) {
				t.Errorf("re-encoding differs")
			}
		})
	}
}

// TestFixtureWalkthrough checks single bytes of storage.md §1.11.
func TestFixtureWalkthrough(t *testing.T) {
	p, err := walwriter.WriteFixture(t.TempDir(), "log.1.0.handle_real_private_log")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	for _, c := range []struct {
		off  int
		want []byte
	}{
		{0x00, []byte{0xef, 0xbe, 0xad, 0xde, 0x2c, 0, 0, 0, 0xbc, 0x2a, 0x8f, 0x54, 0, 0, 0, 0}},
		{0x3C, []byte{0xef, 0xbe, 0xad, 0xde, 0x68, 0x01, 0, 0, 0x4a, 0xdf, 0x32, 0x42, 0x3c, 0, 0, 0}},
		{0x7C, []byte{0xb8, 0x4e, 0x63, 0xd6, 0x59, 0x67, 0x05, 0x00}},
		{0xA5, []byte{0x0c, 0, 0, 0x0c, 0, 1, 0, 0, 0, 4, 0, 1, 0x61, 0x61, 0x0c, 0, 2, 0, 0, 0, 1, 0x61, 0x08, 0, 3, 0, 0, 0, 0, 0, 0}},
	} {
		if got := data[c.off : c.off+len(c.want)]; !bytes.Equal(got, c.want) {
			t.Errorf("@0x%X: % x, want % x", c.off, got, c.want)
		}
	}
}
