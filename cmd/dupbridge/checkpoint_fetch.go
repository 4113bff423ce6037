package main

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/dupbridge/dupbridge/checkpoint"
	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/router"
)

// `dupbridge checkpoint fetch` and `checkpoint load` are for operators who
// copy a table between clusters by hand.

func newCheckpointFetchCmd(g *globalFlags) *cobra.Command {
	var o checkpoint.FetchOptions
	var from, rateStr string
	c := &cobra.Command{
		Use:   "fetch --from META_ADDRS --table NAME --out DIR",
		Short: "Copy a master table's last checkpoint (every partition) into a directory",
		Long: `Copy the last checkpoint of every partition of a master table the way a follower replica
copies its own partition's in Pegasus's full duplication: RPC_QUERY_LAST_CHECKPOINT_INFO to each
primary, then RPC_NFS_GET_FILE_SIZE and RPC_NFS_COPY chunks, each checked for offset and size,
each file for size and (from Pegasus 2.6 on) MD5. DIR/N holds partition N; DIR/manifest.json
records what is complete, so running the same command again resumes an interrupted copy.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			defer log.Sync()
			if o.BytesPerSecond, err = parseRate(rateStr); err != nil {
				return err
			}
			o.Metas, o.Logger = splitAddrs(from), log
			var n atomic.Int64
			bar := newProgressBar(cmd.ErrOrStderr(), "fetch", true)
			o.Progress = func(b int64) {
				if bar != nil {
					_ = bar.Add64(b)
				}
				n.Add(b)
			}
			start := time.Now()
			m, err := checkpoint.Fetch(cmd.Context(), o)
			finishBar(bar, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			total, _ := m.Bytes()
			files := 0
			for _, p := range m.Partitions {
				files += len(p.Files)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "fetched %s: %d partitions, %d files, %s (%s copied now) in %s into %s\n",
				m.Table, m.PartitionCount, files, humanBytes(total), humanBytes(n.Load()), time.Since(start).Round(time.Millisecond), o.Dir)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&from, "from", "", "master meta servers, comma-separated host:port list (required)")
	f.StringVar(&o.Table, "table", "", "master table (required)")
	f.StringVar(&o.Dir, "out", "", "staging directory; an interrupted fetch into it resumes (required)")
	f.IntVar(&o.Parallel, "parallel", checkpoint.DefaultFetchParallel, "files copied at once")
	f.IntVar(&o.ChunkBytes, "chunk-bytes", checkpoint.DefaultChunkBytes, "bytes per RPC_NFS_COPY (nfs_copy_block_bytes)")
	f.StringVar(&rateStr, "rate", "0", "copy rate limit per second, such as 50MiB (0: none)")
	f.BoolVar(&o.NoMD5, "no-md5", false, "do not ask the master for MD5s")
	for _, n := range []string{"from", "table", "out"} {
		_ = c.MarkFlagRequired(n)
	}
	return c
}

// newCheckpointLoadCmd is `checkpoint load`; open reads the fetched files
// (checkpoint.OpenSST).
func newCheckpointLoadCmd(g *globalFlags, open checkpoint.Opener) *cobra.Command {
	var o checkpoint.LoadOptions
	var to, table string
	var clusterID uint8
	c := &cobra.Command{
		Use:   "load DIR --to META_ADDRS --table NAME --cluster-id ID",
		Short: "Write every live key of a fetched checkpoint to a follower table of any partition count",
		Long: `Load a checkpoint that 'dupbridge checkpoint fetch' copied into DIR: every live key (newest
version, not deleted, not expired) is written to the follower table as a PUT duplicate entry
with the value's own timestamp, cluster id and expiry, and verify_timetag, so that the incremental
duplication that follows keeps the newer value either way. Keys are routed by the follower's own
partition count. DIR/load.json records the position; running the same command again resumes.
--cluster-id stamps values that carry no cluster id (or one the follower does not know): the
master cluster's id in the follower's [duplication-group].`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			defer log.Sync()
			if clusterID < 1 || clusterID > 127 {
				return fmt.Errorf("--cluster-id %d: want 1..127", clusterID)
			}
			rt, err := router.New(cmd.Context(), router.Options{Metas: splitAddrs(to), Table: table, Logger: log})
			if err != nil {
				return err
			}
			defer rt.Close()
			o.Dir, o.To, o.Open, o.Logger, o.MasterClusterID = args[0], rt, open, log, int8(clusterID)
			bar := newProgressBar(cmd.ErrOrStderr(), "load", false)
			if bar != nil {
				o.Progress = func(n int64) { _ = bar.Add64(n) }
			}
			start := time.Now()
			st, err := checkpoint.Load(cmd.Context(), o)
			finishBar(bar, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			el := time.Since(start)
			fmt.Fprintf(cmd.OutOrStdout(), "loaded into %s (%d partitions): %d keys in %s (%.0f keys/s), %d expired, %d already loaded before\n",
				table, rt.PartitionCount(), st.Keys, el.Round(time.Millisecond), perSec(st.Keys, el), st.Expired, st.Resumed)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&to, "to", "", "follower meta servers, comma-separated host:port list (required)")
	f.StringVar(&table, "table", "", "follower table (required)")
	f.Uint8Var(&clusterID, "cluster-id", 0, "the master cluster's duplication cluster id, 1..127 (required)")
	f.Float64Var(&o.KeysPerSecond, "rate", 0, "load rate limit in keys per second (0: none)")
	f.IntVar(&o.Parallel, "parallel", checkpoint.DefaultLoadParallel, "master partitions loaded at once")
	f.IntVar(&o.BatchBytes, "batch-bytes", checkpoint.DefaultBatchBytes, "largest duplicate request body")
	f.IntVar(&o.StepKeys, "step-keys", checkpoint.DefaultStepKeys, "keys per partition between position updates")
	for _, n := range []string{"to", "table", "cluster-id"} {
		_ = c.MarkFlagRequired(n)
	}
	return c
}

func parseRate(s string) (int64, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	n, err := config.ParseSize(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--rate %q: want a size per second such as 50MiB", s)
	}
	return n, nil
}

// newProgressBar returns a bar on a terminal stderr, nil otherwise.
func newProgressBar(stderr io.Writer, desc string, bytes bool) *progressbar.ProgressBar {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionShowBytes(bytes),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionFullWidth(),
	)
}

func finishBar(bar *progressbar.ProgressBar, stderr io.Writer) {
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(stderr)
	}
}
