package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/walreader"
	"github.com/dupbridge/dupbridge/walwriter"
)

// corruptLog writes n PUTs of distinct keys (gpid 1.0, decree d, lcd d-1),
// plus one more that commits the n-th, in many small blocks, then flips a
// byte inside a block in the middle of the file. It returns the plog
// directory and the decrees of the corrupted block.
func corruptLog(t *testing.T, n int) (string, map[int64]bool) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "1.0.pegasus", "plog")
	w, err := walwriter.Create(dir, walwriter.Options{AppID: 1, BlockBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	for d := 1; d <= n+1; d++ {
		key := mutation.AppendRawKey(nil, []byte(fmt.Sprintf("hk%04d", d)), []byte("s"))
		m := walreader.Mutation{AppID: 1, Ballot: 1, Decree: int64(d), LastCommittedDecree: int64(d - 1), Timestamp: 1_700_000_000_000_000 + int64(d),
			Updates: []walreader.Update{walwriter.ThriftUpdate(mutation.CodePut, mutation.AppendPut(nil, 0, key, []byte(fmt.Sprint("v", d)), 0))}}
		if err := w.WriteBatch([]walreader.Mutation{m}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rd, err := walreader.Open([]string{dir}, walreader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	byBlock := map[int64][]int64{}
	var blocks []int64
	var file string
	for {
		m, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := byBlock[m.BlockOffset]; !ok {
			blocks = append(blocks, m.BlockOffset)
		}
		byBlock[m.BlockOffset] = append(byBlock[m.BlockOffset], m.Decree)
		file = m.File
	}
	rd.Close()
	if len(blocks) < 10 {
		t.Fatalf("only %d blocks", len(blocks))
	}
	mid := blocks[len(blocks)/2]
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data[mid+16+20] ^= 0x40 // inside the body: the chained CRC fails
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	lost := map[int64]bool{}
	for _, d := range byBlock[mid] {
		lost[d] = true
	}
	// The decree before the block stays uncommitted: the mutation that
	// committed it is in the block, and the next one's
	// last_committed_decree lies beyond every logged decree, which drops
	// the buffered ones (a commit-point reset, walreader.Committed).
	lost[byBlock[mid][0]-1] = true
	return dir, lost
}

// TestReplaySkipCorrupt: without SkipCorrupt, a mid-file corruption stops
// the partition; with it, everything but the corrupted block's mutations
// (and the one it committed) ships, and the summary counts the skipped
// region and the commit-point reset.
func TestReplaySkipCorrupt(t *testing.T) {
	const n = 200
	dir, lost := corruptLog(t, n)
	want := map[string]string{}
	for d := 1; d <= n; d++ {
		if !lost[int64(d)] {
			want[string(mutation.AppendRawKey(nil, []byte(fmt.Sprintf("hk%04d", d)), []byte("s")))] = fmt.Sprint("v", d)
		}
	}

	t.Run("without", func(t *testing.T) {
		c := startSim(t, 1, true) // the plog is a one-partition master's
		sum, err := Run(context.Background(), testOptions(c, dir))
		if !errors.Is(err, walreader.ErrCorrupt) || len(sum.Partitions) != 1 || sum.Partitions[0].Err == "" {
			t.Fatalf("err %v, partitions %+v", err, sum.Partitions)
		}
		if got := len(dumpValues(t, c)); got >= len(want) {
			t.Errorf("follower holds %d keys, want at most those before the corruption", got)
		}
	})
	t.Run("with", func(t *testing.T) {
		c := startSim(t, 1, true)
		o := testOptions(c, dir)
		o.SkipCorrupt = true
		sum, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		diffValues(t, dumpValues(t, c), want)
		p := sum.Partitions[0]
		if p.Err != "" || p.Corrupt.Regions != 1 || p.Corrupt.Bytes <= 16 || p.Corrupt.Resets != 1 ||
			p.LastDecree != n || sum.Corrupt != p.Corrupt {
			t.Errorf("summary: partition %+v, total corrupt %+v; %d decrees lost", p, sum.Corrupt, len(lost))
		}
	})
}
