package walreader_test

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/walreader"
	"github.com/dupbridge/dupbridge/walwriter"
)

type rec struct {
	decree, ballot, lcd int64
	value               string // "" = empty write
}

func recMutation(app, part int32, r rec) walreader.Mutation {
	m := walreader.Mutation{AppID: app, PartitionIndex: part, Ballot: r.ballot, Decree: r.decree, LastCommittedDecree: r.lcd, Timestamp: 1_700_000_000_000_000 + r.decree*1000 + r.ballot}
	if r.value == "" {
		m.Updates = []walreader.Update{walwriter.EmptyWrite()}
	} else {
		key := mutation.AppendRawKey(nil, []byte("h"), []byte("s"))
		m.Updates = []walreader.Update{walwriter.ThriftUpdate(mutation.CodePut, mutation.AppendPut(nil, 0, key, []byte(r.value), 0))}
	}
	return m
}

// writeRecs writes one mutation per batch into a fresh plog directory.
func writeRecs(t *testing.T, recs []rec) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plog")
	w, err := walwriter.Create(dir, walwriter.Options{AppID: 2, PartitionIndex: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.WriteBatch([]walreader.Mutation{recMutation(2, 3, r)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func valueOf(t *testing.T, m *walreader.Mutation) string {
	t.Helper()
	if m.IsEmptyWrite() {
		return ""
	}
	d, err := mutation.Decode(m.Updates[0].Code, m.Updates[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	return string(d.Put.Value)
}

func summary(t *testing.T, ms []*walreader.Mutation) string {
	s := ""
	for _, m := range ms {
		s += fmt.Sprintf("%d@%d=%s ", m.Decree, m.Ballot, valueOf(t, m))
	}
	return s
}

func TestCommitted(t *testing.T) {
	cases := []struct {
		name      string
		recs      []rec
		opts      walreader.CommittedOptions
		want      string // committed stream
		pending   int
		wantErr   error
		wantWarns int
	}{
		{
			name: "lcd lags by one; the last is uncommitted",
			recs: []rec{{1, 1, 0, "a"}, {2, 1, 1, "b"}, {3, 1, 2, "c"}},
			want: "1@1=a 2@1=b ", pending: 1,
		},
		{
			name: "re-proposed under a higher ballot: the highest ballot wins",
			recs: []rec{{1, 1, 0, "a"}, {2, 1, 1, "b"}, {3, 1, 2, "c"}, {3, 2, 2, "C"}, {4, 2, 3, "d"}, {5, 2, 4, ""}},
			want: "1@1=a 2@1=b 3@2=C 4@2=d ", pending: 1,
		},
		{
			name: "a lower or equal ballot copy after a higher one is ignored",
			recs: []rec{{1, 1, 0, "a"}, {2, 3, 1, "b"}, {2, 2, 1, "x"}, {2, 3, 1, "y"}, {3, 3, 2, ""}},
			want: "1@1=a 2@3=b ", pending: 1,
		},
		{
			name: "a re-proposal of a committed decree is ignored",
			recs: []rec{{1, 1, 0, "a"}, {2, 1, 1, "b"}, {1, 2, 0, "z"}, {3, 2, 2, ""}},
			want: "1@1=a 2@1=b ", pending: 1,
		},
		{
			name: "several uncommitted at once, committed together",
			recs: []rec{{1, 1, 0, "a"}, {2, 1, 0, "b"}, {3, 1, 0, "c"}, {4, 1, 3, ""}},
			want: "1@1=a 2@1=b 3@1=c ", pending: 1,
		},
		{
			name: "log starts after decree 1",
			recs: []rec{{10, 4, 9, "a"}, {11, 4, 10, "b"}, {12, 4, 11, ""}},
			want: "10@4=a 11@4=b ", pending: 1,
		},
		{
			name: "from decree",
			recs: []rec{{1, 1, 0, "a"}, {2, 1, 1, "b"}, {3, 1, 2, "c"}, {4, 1, 3, ""}},
			opts: walreader.CommittedOptions{FromDecree: 2},
			want: "2@1=b 3@1=c ", pending: 1,
		},
		{
			name:    "committed decree missing inside the window",
			recs:    []rec{{1, 1, 0, "a"}, {3, 1, 0, "c"}, {4, 1, 3, ""}},
			want:    "1@1=a ",
			wantErr: walreader.ErrMissingDecree,
		},
		{
			name: "committed decree missing, skipped",
			recs: []rec{{1, 1, 0, "a"}, {3, 1, 0, "c"}, {4, 1, 3, ""}},
			opts: walreader.CommittedOptions{SkipCorrupt: true},
			want: "1@1=a 3@1=c ", pending: 1, wantWarns: 1,
		},
		{
			// prepare_list::prepare (PS_INACTIVE) resets when
			// last_committed_decree is past every buffered decree: decree 2
			// was never committed under this log and is dropped.
			name: "reset past the window drops the uncommitted",
			recs: []rec{{1, 1, 0, "a"}, {2, 1, 1, "b"}, {7, 2, 6, "g"}, {8, 2, 7, ""}},
			want: "1@1=a 7@2=g ", pending: 1, wantWarns: 1,
		},
		{
			name:    "window bounded",
			recs:    []rec{{1, 1, 0, "a"}, {2, 1, 0, "b"}, {3, 1, 0, "c"}, {4, 1, 0, "d"}},
			opts:    walreader.CommittedOptions{MaxPending: 3},
			wantErr: walreader.ErrWindowFull,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeRecs(t, c.recs)
			// The dump shows every copy as stored.
			all, _, err := readAll(t, []string{dir}, walreader.Options{})
			if err != nil || len(all) != len(c.recs) {
				t.Fatalf("dump: %d mutations, %v", len(all), err)
			}
			r, err := walreader.Open([]string{dir}, walreader.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			warns := 0
			c.opts.OnWarning = func(w walreader.Warning) {
				if w.Kind == walreader.WarnMissingDecree || w.Kind == walreader.WarnReset {
					warns++
				}
			}
			cm := walreader.NewCommitted(r, c.opts)
			got, err := drain(t, cm)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if s := summary(t, got); s != c.want {
				t.Errorf("committed %q, want %q", s, c.want)
			}
			if c.wantErr == nil && len(cm.Pending()) != c.pending {
				t.Errorf("pending %d, want %d", len(cm.Pending()), c.pending)
			}
			if warns != c.wantWarns {
				t.Errorf("%d warnings, want %d", warns, c.wantWarns)
			}
		})
	}
}

// TestCommittedFixtures matches what Pegasus's load_from_private_log test
// expects of the three captured files (storage.md §1.12): puts and the
// committed decree.
func TestCommittedFixtures(t *testing.T) {
	dir := t.TempDir()
	want := map[string][2]int64{
		"log.1.0.handle_real_private_log":      {4, 6},
		"log.1.0.handle_real_private_log2":     {1, 2},
		"log.1.0.all_loaded_are_write_empties": {0, 2},
	}
	for _, fx := range walwriter.Fixtures() {
		p, err := walwriter.WriteFixture(dir, fx.Name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := walreader.Open([]string{p}, walreader.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cm := walreader.NewCommitted(r, walreader.CommittedOptions{})
		ms, err := drain(t, cm)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		var puts int64
		for _, m := range ms {
			if !m.IsEmptyWrite() {
				puts++
			}
		}
		if got := [2]int64{puts, cm.LastCommitted(fx.AppID, fx.PartitionIndex)}; got != want[fx.Name] {
			t.Errorf("%s: puts, committed = %v, want %v", fx.Name, got, want[fx.Name])
		}
	}
}

// fakeSource interleaves partitions to check per-partition tracking.
type fakeSource struct {
	ms []walreader.Mutation
	i  int
}

func (f *fakeSource) Next() (*walreader.Mutation, error) {
	if f.i >= len(f.ms) {
		return nil, io.EOF
	}
	f.i++
	return &f.ms[f.i-1], nil
}

func TestCommittedPerPartition(t *testing.T) {
	src := &fakeSource{}
	for d := int64(1); d <= 5; d++ {
		src.ms = append(src.ms, recMutation(1, 0, rec{d, 1, d - 1, "p0"}), recMutation(1, 1, rec{d, 1, d - 2, "p1"}))
	}
	cm := walreader.NewCommitted(src, walreader.CommittedOptions{})
	got, err := drain(t, cm)
	if err != nil {
		t.Fatal(err)
	}
	per := map[int32][]int64{}
	for _, m := range got {
		per[m.PartitionIndex] = append(per[m.PartitionIndex], m.Decree)
	}
	if fmt.Sprint(per[0]) != "[1 2 3 4]" || fmt.Sprint(per[1]) != "[1 2 3]" {
		t.Errorf("per partition %v", per)
	}
	if cm.LastCommitted(1, 0) != 4 || cm.LastCommitted(1, 1) != 3 || len(cm.Pending()) != 3 {
		t.Errorf("last committed %d %d pending %d", cm.LastCommitted(1, 0), cm.LastCommitted(1, 1), len(cm.Pending()))
	}
}
