package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/jsonfile"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/router"
)

const (
	masterID   = 1 // the master cluster's id in the follower's duplication group
	otherID    = 3 // another configured cluster
	unknownID  = 9 // a cluster the follower does not know
	masterPart = 8
)

// testRecords makes n records: most with a timetag of cluster masterID,
// some of otherID and unknownID, some schema v0 (timetag 0), some expired,
// some with a future expiry.
func testRecords(n int, now time.Time) []Record {
	recs := make([]Record, n)
	nowTs := mutation.ExpireTsFromUnix(now.Unix())
	for i := range recs {
		r := &recs[i]
		r.Key = mutation.AppendRawKey(nil, fmt.Appendf(nil, "hk%d", i%(n/3+1)), fmt.Appendf(nil, "sk%d", i))
		r.Value = bytes.Repeat([]byte{byte(i)}, i%50)
		id := uint8(masterID)
		switch i % 7 {
		case 1:
			id = otherID
		case 2:
			id = unknownID
		}
		r.Timetag = mutation.Timetag(uint64(1_700_000_000_000_000+i), id, false)
		switch i % 11 {
		case 3:
			r.Timetag = 0
		case 4:
			r.ExpireTs = nowTs - 10 // expired
		case 5:
			r.ExpireTs = nowTs + 3600
		}
	}
	return recs
}

// byPartition groups records as master partitions hold them.
func byPartition(recs []Record, count int) map[int][]Record {
	out := map[int][]Record{}
	for _, r := range recs {
		p := mutation.PartitionIndex(mutation.KeyHash(r.Key), count)
		out[p] = append(out[p], r)
	}
	return out
}

func memOpener(parts map[int][]Record, opened *atomic.Int64) Opener {
	return func(dir string, partition, count int, _ []byte) (Source, error) {
		if filepath.Base(dir) != fmt.Sprint(partition) || count != masterPart {
			return nil, fmt.Errorf("opener called with %s, %d, %d", dir, partition, count)
		}
		if opened != nil {
			opened.Add(1)
		}
		return NewMemorySource(parts[partition]), nil
	}
}

// stagedDir writes a complete manifest for a master table of count
// partitions (the files themselves are read by the opener).
func stagedDir(t testing.TB, count int) string {
	t.Helper()
	dir := t.TempDir()
	m := &Manifest{Version: manifestVersion, Table: "master", AppID: 1, PartitionCount: count}
	for i := 0; i < count; i++ {
		m.Partitions = append(m.Partitions, PartitionManifest{Index: i, Decree: 7, Complete: true})
	}
	if err := jsonfile.Write(filepath.Join(dir, ManifestName), m); err != nil {
		t.Fatal(err)
	}
	return dir
}

func startFollower(t testing.TB, partitions int, now time.Time) (*pegasussim.Cluster, *router.Table) {
	t.Helper()
	c, err := pegasussim.Start(context.Background(), pegasussim.Options{
		Tables: []pegasussim.TableSpec{{Name: "follower", Partitions: partitions}},
		Strict: true, ClusterID: 2, DupGroup: map[string]uint8{"master": masterID, "other": otherID, "follower": 2},
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rt, err := router.New(context.Background(), router.Options{Metas: []string{c.MetaAddr()}, Table: "follower"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return c, rt
}

// checkFollower compares the follower table with the live records: every
// key at its own partition, with its value, expiry and timetag (cluster id
// replaced by masterID where the follower does not know the value's).
func checkFollower(t *testing.T, c *pegasussim.Cluster, recs []Record, now time.Time) {
	t.Helper()
	got, err := c.Dump("follower")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Record{}
	for _, r := range recs {
		if r.ExpireTs != 0 && mutation.Expired(r.ExpireTs, now.Unix()) {
			continue
		}
		ts, id, _ := mutation.SplitTimetag(r.Timetag)
		if id == 0 || id == unknownID {
			id = masterID
		}
		r.Timetag = mutation.Timetag(ts, id, false)
		want[string(r.Key)] = r
	}
	if len(got) != len(want) {
		t.Fatalf("follower holds %d keys, want %d", len(got), len(want))
	}
	for _, g := range got {
		k := mutation.AppendRawKey(nil, g.HashKey, g.SortKey)
		w, ok := want[string(k)]
		switch {
		case !ok:
			t.Fatalf("unexpected key %q", k)
		case g.Misplaced:
			t.Fatalf("key %q at partition %d, not its own", k, g.Partition)
		case !bytes.Equal(g.Value, w.Value) || g.ExpireTs != w.ExpireTs || g.Timetag != w.Timetag:
			t.Fatalf("key %q: value %x expire %d timetag %x, want %x %d %x", k, g.Value, g.ExpireTs, g.Timetag, w.Value, w.ExpireTs, w.Timetag)
		}
	}
}

func loadOpts(dir string, parts map[int][]Record, to Shipper, now time.Time) LoadOptions {
	return LoadOptions{Dir: dir, Open: memOpener(parts, nil), To: to, MasterClusterID: masterID, StepKeys: 300,
		BatchBytes: 8 << 10, Now: func() time.Time { return now },
		AllowClusterID: func(id int8) bool { return id == masterID || id == otherID }}
}

func TestLoadIntoDifferentPartitionCounts(t *testing.T) {
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	recs := testRecords(3000, now)
	parts := byPartition(recs, masterPart)
	for _, follower := range []int{4, 8, 32} {
		t.Run(fmt.Sprintf("8 into %d", follower), func(t *testing.T) {
			c, rt := startFollower(t, follower, now)
			var progress atomic.Int64
			o := loadOpts(stagedDir(t, masterPart), parts, rt, now)
			o.Progress = func(n int64) { progress.Add(n) }
			st, err := Load(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			checkFollower(t, c, recs, now)
			if st.Keys+st.Expired != int64(len(recs)) || st.Expired == 0 || progress.Load() != int64(len(recs)) {
				t.Fatalf("stats %+v, progress %d, for %d records", st, progress.Load(), len(recs))
			}
			if done, err := Done(o.Dir); !done || err != nil {
				t.Fatalf("Done = %v, %v", done, err)
			}
		})
	}
}

// failingShipper fails every shipment after the first ok ones.
type failingShipper struct {
	Shipper
	ok atomic.Int64
}

func (f *failingShipper) Ship(p int, s *router.Shipment, done func(router.Result)) {
	if f.ok.Add(-1) < 0 {
		go done(router.Result{Status: router.StatusClosed, Err: router.ErrClosed})
		return
	}
	f.Shipper.Ship(p, s, done)
}

// A load that fails midway resumes from its position: nothing acknowledged
// is loaded twice beyond the step in flight.
func TestLoadResumes(t *testing.T) {
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	recs := testRecords(4000, now)
	parts := byPartition(recs, masterPart)
	c, rt := startFollower(t, 32, now)
	dir := stagedDir(t, masterPart)
	fs := &failingShipper{Shipper: rt}
	fs.ok.Store(60)
	o := loadOpts(dir, parts, fs, now)
	o.Parallel = 2
	first, err := Load(context.Background(), o)
	if !errors.Is(err, router.ErrClosed) {
		t.Fatalf("first load: %v", err)
	}
	if done, _ := Done(dir); done {
		t.Fatal("position says done after a failed load")
	}
	o.To = rt
	second, err := Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkFollower(t, c, recs, now)
	if second.Resumed == 0 || second.Resumed > first.Keys+first.Expired {
		t.Fatalf("resumed %d after a first run that loaded %+v", second.Resumed, first)
	}
	if sent := second.Keys + second.Expired; sent+second.Resumed != int64(len(recs)) {
		t.Fatalf("second run handled %d + resumed %d, want %d", sent, second.Resumed, len(recs))
	}
	// A third run has nothing left.
	third, err := Load(context.Background(), o)
	if err != nil || third.Keys != 0 {
		t.Fatalf("third run: %+v, %v", third, err)
	}
}

// Admit says which keys a newer write already covers: they are skipped.
func TestLoadAdmit(t *testing.T) {
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	recs := testRecords(500, now)
	_, rt := startFollower(t, 4, now)
	o := loadOpts(stagedDir(t, masterPart), byPartition(recs, masterPart), rt, now)
	var locked atomic.Int64
	o.Lock = lockCounter{&locked}
	o.Admit = func(key []byte, tt uint64) bool { return key[len(key)-1] != '7' }
	st, err := Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if st.Superseded == 0 || st.Keys+st.Superseded+st.Expired != int64(len(recs)) || locked.Load() == 0 {
		t.Fatalf("stats %+v, locked %d", st, locked.Load())
	}
}

type lockCounter struct{ n *atomic.Int64 }

func (l lockCounter) Lock()   { l.n.Add(1) }
func (l lockCounter) Unlock() {}

func TestLoadRefuses(t *testing.T) {
	now := time.Now()
	_, rt := startFollower(t, 4, now)
	incomplete := t.TempDir()
	m := &Manifest{Version: manifestVersion, Table: "master", PartitionCount: 1, Partitions: []PartitionManifest{{Index: 0}}}
	if err := jsonfile.Write(filepath.Join(incomplete, ManifestName), m); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		o    LoadOptions
		want string
	}{
		{"no cluster id", LoadOptions{Dir: t.TempDir(), Open: memOpener(nil, nil), To: rt}, "cluster id"},
		{"no manifest", LoadOptions{Dir: t.TempDir(), Open: memOpener(nil, nil), To: rt, MasterClusterID: 1}, "no manifest.json"},
		{"incomplete fetch", LoadOptions{Dir: incomplete, Open: memOpener(nil, nil), To: rt, MasterClusterID: 1}, "incomplete fetch"},
		{"source error", LoadOptions{Dir: stagedDir(t, masterPart), To: rt, MasterClusterID: 1,
			Open: func(string, int, int, []byte) (Source, error) { return errSource{}, nil }}, "reading partition"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(context.Background(), tc.o)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			var pe *PartitionError
			if isSource := tc.name == "source error"; errors.As(err, &pe) != isSource {
				t.Fatalf("PartitionError %v for %v", !isSource, err)
			}
		})
	}
}

type errSource struct{}

func (errSource) Next(*Record) bool { return false }
func (errSource) Err() error {
	return errors.New("block checksum mismatch in 000009.sst at offset 4096")
}
func (errSource) Close() error { return nil }
