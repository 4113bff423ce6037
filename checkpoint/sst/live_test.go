package sst_test

import (
	"bytes"
	"testing"

	"github.com/dupbridge/dupbridge/checkpoint/sst"
	"github.com/dupbridge/dupbridge/internal/sstgen"
	"github.com/dupbridge/dupbridge/mutation"
)

// TestLiveEqualsHistory merges each generated checkpoint and requires
// exactly the keys the write history leaves alive (sstgen.Data.Live: the
// last op per key wins; deletions, short keys and values expired at the
// history's "now" are gone), in raw-key order, with the right decoded
// fields. Each history spreads overwrites and deletions over 3 tables.
func TestLiveEqualsHistory(t *testing.T) {
	for _, o := range matrix() {
		t.Run(o.Name(), func(t *testing.T) {
			dir, data := build(t, o)
			want, err := data.Live(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			c := openCheckpoint(t, dir)
			if !c.DataVersionFound || c.DataVersion != data.DataVersion {
				t.Fatalf("data version %d (found %v), want %d from the meta CF", c.DataVersion, c.DataVersionFound, data.DataVersion)
			}
			got, st := collect(t, c, sst.LiveOptions{Now: genNow})
			compareLive(t, got, want, data.DataVersion)
			if st.Live != uint64(len(want)) || st.Shadowed == 0 || st.Deleted == 0 || st.Expired == 0 || st.ShortKeys != 2 {
				t.Errorf("stats %+v: want %d live and some shadowed, deleted and expired keys, 2 short keys (the empty-write record and a 1-byte key)", st, len(want))
			}
		})
	}
}

// TestLivePartitionFilter splits one checkpoint into 4 and 8 partitions:
// each part holds exactly the keys of its partition (storage.md §3.4), and
// the parts together are the whole.
func TestLivePartitionFilter(t *testing.T) {
	o := sstgen.Options{Compression: "lz4", Checksum: "xxh3", FormatVersion: 5}
	dir, data := build(t, o)
	c := openCheckpoint(t, dir)
	all, _ := collect(t, c, sst.LiveOptions{Now: genNow})
	for _, n := range []int{4, 8} {
		total := 0
		for i := range n {
			want, err := data.Live(i, n)
			if err != nil {
				t.Fatal(err)
			}
			got, st := collect(t, c, sst.LiveOptions{Now: genNow, PartitionIndex: i, PartitionCount: n})
			compareLive(t, got, want, data.DataVersion)
			if len(want) == 0 || st.OtherPartition == 0 {
				t.Errorf("partition %d of %d: %d keys, %d of other partitions: the data does not exercise the filter", i, n, len(want), st.OtherPartition)
			}
			total += len(got)
		}
		if total != len(all) {
			t.Errorf("%d partitions hold %d keys together, the whole has %d", n, total, len(all))
		}
	}
}

// TestLiveWithoutNowKeepsExpired: a zero Now judges no expiry.
func TestLiveWithoutNowKeepsExpired(t *testing.T) {
	dir, data := build(t, sstgen.Options{Compression: "zstd", Checksum: "crc32c", FormatVersion: 2})
	c := openCheckpoint(t, dir)
	got, st := collect(t, c, sst.LiveOptions{})
	live, _ := data.Live(0, 0)
	data.Now = 0 // nothing expires at the epoch
	forever, err := data.Live(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	compareLive(t, got, forever, data.DataVersion)
	if st.Expired != 0 || len(forever) <= len(live) {
		t.Errorf("expired %d; %d keys without expiry vs %d with it", st.Expired, len(forever), len(live))
	}
}

type liveKV struct {
	key, value, hashKey, sortKey, user []byte
	expire                             uint32
	ts                                 uint64
	cluster                            uint8
}

func openCheckpoint(t *testing.T, dir string) *sst.Checkpoint {
	t.Helper()
	c, err := sst.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func collect(t *testing.T, c *sst.Checkpoint, opt sst.LiveOptions) ([]liveKV, sst.Stats) {
	t.Helper()
	l := c.Live(opt)
	defer l.Close()
	var out []liveKV
	for l.Next() {
		out = append(out, liveKV{
			key: bytes.Clone(l.Key()), value: bytes.Clone(l.Value()), hashKey: bytes.Clone(l.HashKey()),
			sortKey: bytes.Clone(l.SortKey()), user: bytes.Clone(l.UserData()),
			expire: l.ExpireTs(), ts: l.TimestampUs(), cluster: l.ClusterID(),
		})
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return out, l.Stats()
}

// compareLive checks keys, raw values and every decoded field, the latter
// against mutation's own decoders.
func compareLive(t *testing.T, got []liveKV, want []sstgen.LiveKV, dataVersion int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d live keys, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if !bytes.Equal(g.key, w.Key) || !bytes.Equal(g.value, w.Value) {
			t.Fatalf("key %d: got %x=%x, want %x=%x", i, g.key, g.value, w.Key, w.Value)
		}
		hk, sk, err := mutation.SplitRawKey(w.Key)
		if err != nil {
			t.Fatal(err)
		}
		v, err := mutation.ParseValue(w.Value, dataVersion)
		if err != nil {
			t.Fatal(err)
		}
		ts, cluster, _ := mutation.SplitTimetag(v.Timetag)
		if !bytes.Equal(g.hashKey, hk) || !bytes.Equal(g.sortKey, sk) || !bytes.Equal(g.user, v.UserData) ||
			g.expire != v.ExpireTs || g.ts != ts || g.cluster != cluster {
			t.Fatalf("key %x: decoded %+v, want hash key %x sort key %x %+v", w.Key, g, hk, sk, v)
		}
	}
}

// TestLiveStart resumes a merge at keys taken from the full run (and at
// keys between them): the resumed run is exactly the full run's tail.
// Covers binary-search, two-level and first-key indexes, user-key and
// internal-key separators (format_version 2 vs ≥ 3).
func TestLiveStart(t *testing.T) {
	for _, o := range []sstgen.Options{
		{Compression: "lz4", Checksum: "crc32c", FormatVersion: 2},
		{Compression: "zstd", Checksum: "xxh3", FormatVersion: 5},
		{Compression: "zstd", Checksum: "xxh3", FormatVersion: 5, IndexType: "two_level", BlockSize: 512},
		{Compression: "snappy", Checksum: "crc32c", FormatVersion: 4, IndexType: "two_level", BlockSize: 512},
		{Compression: "lz4", Checksum: "xxh3", FormatVersion: 5, IndexType: "first_key"},
	} {
		t.Run(o.Name(), func(t *testing.T) {
			dir, _ := build(t, o)
			c := openCheckpoint(t, dir)
			all, _ := collect(t, c, sst.LiveOptions{Now: genNow})
			for _, i := range []int{0, 1, len(all) / 3, len(all) / 2, len(all) - 1} {
				for _, start := range [][]byte{all[i].key, append(bytes.Clone(all[i].key), 0)} {
					got, _ := collect(t, c, sst.LiveOptions{Now: genNow, Start: start})
					from := i
					if len(start) > len(all[i].key) {
						from = i + 1
					}
					if len(got) != len(all)-from || len(got) > 0 && !bytes.Equal(got[0].key, all[from].key) {
						t.Fatalf("start %x: %d keys, want %d from %x", start, len(got), len(all)-from, all[from].key)
					}
				}
			}
			got, _ := collect(t, c, sst.LiveOptions{Now: genNow, Start: []byte{0xff, 0xff}})
			if len(got) != 0 {
				t.Fatalf("start past every key gave %d keys", len(got))
			}
		})
	}
}

// TestLiveProgress: BytesRead grows to DataBytes.
func TestLiveProgress(t *testing.T) {
	dir, _ := build(t, sstgen.Options{Compression: "lz4", Checksum: "crc32c", FormatVersion: 2})
	c := openCheckpoint(t, dir)
	l := c.Live(sst.LiveOptions{})
	defer l.Close()
	var last int64
	for l.Next() {
		n := l.BytesRead()
		if n < last || n > c.DataBytes() {
			t.Fatalf("progress %d after %d (of %d)", n, last, c.DataBytes())
		}
		last = n
	}
	if l.Err() != nil || l.BytesRead() != c.DataBytes() {
		t.Fatalf("ended at %d of %d, err %v", l.BytesRead(), c.DataBytes(), l.Err())
	}
}

// TestSeekReadsOneBlock: SeekGE finds its block through the index; it
// reads the one data block (plus, for a two-level index, one partition)
// instead of scanning up to the key.
func TestSeekReadsOneBlock(t *testing.T) {
	for _, o := range []sstgen.Options{
		{Compression: "lz4", Checksum: "crc32c", FormatVersion: 2},
		{Compression: "zstd", Checksum: "xxh3", FormatVersion: 5, IndexType: "two_level", BlockSize: 512},
	} {
		dir, _ := build(t, o)
		c := openCheckpoint(t, dir)
		tab := c.Data[0]
		for _, d := range c.Data {
			if d.Properties().NumDataBlocks > tab.Properties().NumDataBlocks {
				tab = d
			}
		}
		var keys [][]byte
		it := tab.NewIter()
		for it.Next() {
			keys = append(keys, bytes.Clone(it.Key()))
		}
		it.Close()
		target := keys[len(keys)*2/3]
		it = tab.NewIter()
		it.SeekGE(target)
		read, _ := it.Blocks()
		if !it.Next() || !bytes.Equal(it.Key(), target) || read > 2 || tab.Properties().NumDataBlocks < 5 {
			t.Errorf("%s: seek to %x read %d of %d blocks and found %x", o.Name(), target, read, tab.Properties().NumDataBlocks, it.Key())
		}
		it.Close()
	}
}
