package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"golang.org/x/term"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/replay"
)

// newReplayCmd wires `dupbridge replay` to package replay.
func newReplayCmd(g *globalFlags) *cobra.Command {
	var (
		to, table, discipline, framing, from, progressFile string
		clusterID                                          uint8
		window, batchBytes, maxWrite                       int
		rate                                               float64
		fromDecree                                         int64
		retryDelay, timeout                                time.Duration
		jsonSummary, skipCorrupt                           bool
	)
	c := &cobra.Command{
		Use:   "replay --to META_ADDRS --table NAME --cluster-id ID [flags] PATH...",
		Short: "Ship plog files to a follower cluster as a master replica's duplicator does",
		Long: `Replay Pegasus plogs into a follower table over RPC_RRDB_RRDB_DUPLICATE, exactly as a
duplication master ships them: committed mutations only (empty, non-idempotent, DUPLICATE and
BULK_LOAD writes skipped), batches of duplicate_log_batch_bytes in timestamp order, each routed
by the hash of its last entry, one batch in flight per hash, retries after --retry-delay, configuration
refreshed from the follower meta on routing and connection errors.

PATH is a plog directory, a replica directory, a root holding several partitions' plog
directories (<app>.<partition>.pegasus/plog), or plog files; partitions replay in parallel.
The follower is anything that speaks the protocol: a real Pegasus cluster, a dupbridge, or
'dupbridge sim'.

With --progress-file an interrupted replay resumes where it stopped. The summary goes to
stdout (JSON with --json-summary); progress goes to stderr.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			defer log.Sync()
			d, err := replay.ParseDiscipline(discipline)
			if err != nil {
				return err
			}
			o := replay.Options{
				MetaAddrs:    splitAddrs(to),
				Table:        table,
				ClusterID:    clusterID,
				Paths:        args,
				Discipline:   d,
				Window:       window,
				BatchBytes:   batchBytes,
				MaxWriteSize: maxWrite,
				RetryDelay:   retryDelay,
				RPCTimeout:   timeout,
				FromDecree:   fromDecree,
				Rate:         rate,
				ProgressFile: progressFile,
				SkipCorrupt:  skipCorrupt,
				Logger:       log,
			}
			switch strings.ToLower(framing) {
			case "rdsn", "":
				o.Client.Framing = codec.FramingRDSN
			case "thft":
				o.Client.Framing = codec.FramingTHFT
			default:
				return fmt.Errorf("--framing: want rdsn or thft, got %q", framing)
			}
			if from != "" {
				if o.Client.FromAddress, err = codec.ParseAddress(from); err != nil {
					return fmt.Errorf("--from: %w", err)
				}
			}
			stopProgress := attachProgress(&o, log, cmd.ErrOrStderr())
			sum, runErr := replay.Run(cmd.Context(), o)
			stopProgress()
			if runErr != nil && len(sum.Partitions) == 0 {
				return runErr // options, discovery or the follower's meta: nothing ran
			}
			if jsonSummary {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(&sum); err != nil {
					return err
				}
			} else {
				printSummary(cmd.OutOrStdout(), &sum)
			}
			return runErr
		},
	}
	f := c.Flags()
	f.StringVar(&to, "to", "", "follower meta servers, comma-separated host:port list (required)")
	f.StringVar(&table, "table", "", "follower table (required)")
	f.Uint8Var(&clusterID, "cluster-id", 0, "the master's duplication cluster id put in every entry, 1..127 (required)")
	f.StringVar(&discipline, "discipline", string(replay.DisciplinePegasus), "pegasus (one batch in flight per hash, rounds one after the other, as a master) or pipelined (a window of RPCs per follower partition across rounds, order per key kept)")
	f.IntVar(&window, "window", replay.DefaultWindow, "pipelined discipline: RPCs in flight per follower partition (key-disjoint)")
	f.IntVar(&batchBytes, "batch-bytes", replay.DefaultBatchBytes, "duplicate_log_batch_bytes")
	f.IntVar(&maxWrite, "max-write-size", replay.DefaultMaxWriteSize, "dup_max_allowed_write_size")
	f.DurationVar(&retryDelay, "retry-delay", replay.DefaultRetryDelay, "pause before a failed batch is resent")
	f.DurationVar(&timeout, "timeout", replay.DefaultRPCTimeout, "timeout of one duplicate RPC")
	f.Float64Var(&rate, "rate", 0, "limit in mutations per second over all partitions (0: none)")
	f.Int64Var(&fromDecree, "from-decree", 0, "ship decrees from this one on")
	f.StringVar(&progressFile, "progress-file", "", "resume state file (per partition: last decree acknowledged)")
	f.StringVar(&framing, "framing", "rdsn", "request framing: rdsn (as C++ masters) or thft")
	f.StringVar(&from, "from", "", "from_address put in RDSN headers, ip:port (default: none)")
	f.BoolVar(&jsonSummary, "json-summary", false, "print the summary as JSON")
	f.BoolVar(&skipCorrupt, "skip-corrupt", false, "resynchronise after corrupt plog data instead of failing the partition (counted per partition in the summary)")
	for _, n := range []string{"to", "table", "cluster-id"} {
		_ = c.MarkFlagRequired(n)
	}
	return c
}

func splitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// attachProgress shows progress: a bar when stderr is a terminal, periodic
// log lines otherwise. It returns a function that ends the display.
func attachProgress(o *replay.Options, log *zap.Logger, stderr io.Writer) func() {
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetDescription("replay"),
			progressbar.OptionFullWidth(),
		)
		sized := false
		o.ProgressInterval = 200 * time.Millisecond
		o.OnProgress = func(p replay.Progress) {
			if !sized && p.LogBytesTotal > 0 {
				bar.ChangeMax64(p.LogBytesTotal)
				sized = true
			}
			bar.Describe(fmt.Sprintf("%d mutations, %s shipped, %.0f mut/s, %d/%d partitions",
				p.Mutations, humanBytes(p.Bytes), perSec(p.Mutations, p.Elapsed), p.PartitionsDone, p.Partitions))
			_ = bar.Set64(p.LogBytesRead)
		}
		return func() { _ = bar.Finish(); fmt.Fprintln(stderr) }
	}
	o.ProgressInterval = 5 * time.Second
	o.OnProgress = func(p replay.Progress) {
		eta := "unknown"
		if p.LogBytesRead > 0 && p.LogBytesTotal > p.LogBytesRead {
			left := time.Duration(float64(p.Elapsed) * float64(p.LogBytesTotal-p.LogBytesRead) / float64(p.LogBytesRead))
			eta = left.Round(time.Second).String()
		}
		log.Info("replay progress",
			zap.Int64("mutations", p.Mutations), zap.Int64("entries", p.Entries), zap.Int64("bytes", p.Bytes),
			zap.Float64("mutations_per_second", perSec(p.Mutations, p.Elapsed)),
			zap.Int64("log_bytes_read", p.LogBytesRead), zap.Int64("log_bytes_total", p.LogBytesTotal),
			zap.Int64("retries", p.Retries), zap.Int64("errors", p.Errors),
			zap.Int("partitions_done", p.PartitionsDone), zap.Int("partitions", p.Partitions), zap.String("eta", eta))
	}
	return func() {}
}

func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func printSummary(w io.Writer, s *replay.Summary) {
	fmt.Fprintf(w, "replay into %s (app_id %d, %d partitions), discipline %s\n", s.Table, s.RemoteAppID, s.RemotePartitions, s.Discipline)
	fmt.Fprintf(w, "  shipped:  %d mutations, %d entries, %s raw (%s in requests), %d batches\n",
		s.Mutations, s.Entries, humanBytes(s.Bytes), humanBytes(s.RequestBytes), s.Batches)
	fmt.Fprintf(w, "  skipped:  %d empty, %d non-idempotent, %d duplicate/bulk-load, %d unknown, %d uncommitted tail\n",
		s.Skipped.Empty, s.Skipped.NonIdempotent, s.Skipped.DuplicateOrBulkLoad, s.Skipped.Unknown, s.Skipped.Uncommitted)
	fmt.Fprintf(w, "  failures: %d errors, %d retries, %d config refreshes\n", s.Errors, s.Retries, s.Refreshes)
	fmt.Fprintf(w, "  time:     %s, %.0f mutations/s, %.2f MB/s, batch latency p50 %s p99 %s\n",
		s.Elapsed.Round(time.Millisecond), s.MutationsPerSec, s.MBPerSec, s.LatencyP50.Round(time.Microsecond), s.LatencyP99.Round(time.Microsecond))
	fmt.Fprintf(w, "  lag:      p50 %s p99 %s (round scheduled to batch acknowledged, per entry)\n",
		s.LagP50.Round(time.Microsecond), s.LagP99.Round(time.Microsecond))
	if s.Corrupt != (replay.Corrupt{}) {
		fmt.Fprintf(w, "  corrupt:  %s\n", corruptLine(s.Corrupt))
	}
	for _, p := range s.Partitions {
		status := "ok"
		if p.Err != "" {
			status = "FAILED: " + p.Err
		}
		if p.Corrupt != (replay.Corrupt{}) {
			status += "; corrupt: " + corruptLine(p.Corrupt)
		}
		fmt.Fprintf(w, "  %d.%d %s: decrees %d..%d, %d mutations, %d batches: %s\n",
			p.AppID, p.PartitionIndex, p.Path, p.StartDecree, p.LastDecree, p.Mutations, p.Batches, status)
	}
}

// corruptLine is what --skip-corrupt let through, as `wal stat` words it.
func corruptLine(c replay.Corrupt) string {
	return fmt.Sprintf("%d region(s), %d bytes skipped; %d gap(s); %d missing decree(s); %d commit reset(s)",
		c.Regions, c.Bytes, c.Gaps, c.MissingDecrees, c.Resets)
}
