package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dupbridge/dupbridge/checkpoint"
	"github.com/dupbridge/dupbridge/checkpoint/sst"
)

// newCheckpointCmd is the `checkpoint` group: tools for Pegasus
// checkpoints (RocksDB checkpoint directories of one partition). Each
// subcommand is one constructor listed in checkpointSubcommands.
func newCheckpointCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Inspect and dump Pegasus checkpoints (RocksDB checkpoint directories)",
	}
	for _, sub := range checkpointSubcommands() {
		cmd.AddCommand(sub(g))
	}
	return cmd
}

// checkpointSubcommands lists the constructors of the group's subcommands;
// a new one (fetch, load) is one more line here.
func checkpointSubcommands() []func(*globalFlags) *cobra.Command {
	return []func(*globalFlags) *cobra.Command{
		newCheckpointInspectCmd,
		newCheckpointDumpCmd,
		newCheckpointFetchCmd,
		func(g *globalFlags) *cobra.Command { return newCheckpointLoadCmd(g, checkpoint.OpenSST) },
	}
}

// liveFlags select the keys both inspect and dump read.
type liveFlags struct {
	now         int64 // Unix seconds; 0 = the current time
	noExpiry    bool
	partition   int
	partitions  int
	dataVersion int // -1: the checkpoint's own
}

func (f *liveFlags) register(cmd *cobra.Command) {
	cmd.Flags().Int64Var(&f.now, "now", 0, "judge expiry at this Unix time in seconds (default: the current time)")
	cmd.Flags().BoolVar(&f.noExpiry, "keep-expired", false, "keep values whose TTL has passed")
	cmd.Flags().IntVar(&f.partition, "partition", 0, "with --partitions: keep only the keys of this partition index")
	cmd.Flags().IntVar(&f.partitions, "partitions", 0, "partition count for --partition (a split partition's checkpoint still holds its sibling's keys)")
	cmd.Flags().IntVar(&f.dataVersion, "data-version", -1, "value schema of values without the v2 marker (0 or 1; default: the checkpoint's pegasus_data_version, else 1)")
}

// open opens path and starts a Live iteration as the flags say.
func (f *liveFlags) open(path string) (*sst.Checkpoint, *sst.Live, error) {
	if f.partitions < 0 || f.partitions > 0 && (f.partition < 0 || f.partition >= f.partitions) {
		return nil, nil, fmt.Errorf("--partition %d is not an index of %d partitions", f.partition, f.partitions)
	}
	c, err := sst.OpenCheckpoint(path)
	if err != nil {
		return nil, nil, err
	}
	switch f.dataVersion {
	case -1:
	case 0, 1:
		c.DataVersion = f.dataVersion
	default:
		c.Close()
		return nil, nil, fmt.Errorf("--data-version %d: Pegasus data versions are 0 and 1", f.dataVersion)
	}
	opt := sst.LiveOptions{PartitionIndex: f.partition, PartitionCount: f.partitions}
	if !f.noExpiry {
		opt.Now = f.nowTime()
	}
	return c, c.Live(opt), nil
}

func (f *liveFlags) nowTime() time.Time {
	if f.now != 0 {
		return time.Unix(f.now, 0)
	}
	return time.Now()
}

// newCheckpointDumpCmd prints one JSON line per live key.
func newCheckpointDumpCmd(_ *globalFlags) *cobra.Command {
	var (
		lf       liveFlags
		jsonLine bool
	)
	cmd := &cobra.Command{
		Use:   "dump DIR|FILE.sst --json",
		Short: "Print the live keys of a checkpoint, one JSON line each, in RocksDB's raw-key order",
		Long: `Prints one line per live key (the newest version across all tables; deletions,
expired values and Pegasus's empty-write records left out):

  {"hash_key":B64,"sort_key":B64,"value":B64,"expire_ts_seconds":N,"timestamp_us":N,"cluster_id":N}

value is the user data without Pegasus's value header; expire_ts_seconds is
Pegasus's expire_ts (seconds since 2016-01-01T00:00:00Z, 0 = no TTL, the
unit of expire_ts_seconds in Pegasus's requests); timestamp_us and
cluster_id come from the value's timetag (0 for value schema v0).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !jsonLine {
				return fmt.Errorf("checkpoint dump: --json is the only output format")
			}
			c, l, err := lf.open(args[0])
			if err != nil {
				return fmt.Errorf("checkpoint dump: %w", err)
			}
			defer c.Close()
			defer l.Close()
			if err := dumpJSON(cmd.OutOrStdout(), l); err != nil {
				return fmt.Errorf("checkpoint dump %s: %w", args[0], err)
			}
			return nil
		},
	}
	lf.register(cmd)
	cmd.Flags().BoolVar(&jsonLine, "json", false, "print JSON lines (required; the only format)")
	return cmd
}

// dumpJSON writes the lines by hand: base64 and integers appended to one
// reused buffer, no reflection per key.
func dumpJSON(out io.Writer, l *sst.Live) error {
	w := bufio.NewWriterSize(out, 256<<10)
	var line []byte
	b64 := base64.StdEncoding
	for l.Next() {
		line = append(line[:0], `{"hash_key":"`...)
		line = b64.AppendEncode(line, l.HashKey())
		line = append(line, `","sort_key":"`...)
		line = b64.AppendEncode(line, l.SortKey())
		line = append(line, `","value":"`...)
		line = b64.AppendEncode(line, l.UserData())
		line = append(line, `","expire_ts_seconds":`...)
		line = strconv.AppendUint(line, uint64(l.ExpireTs()), 10)
		line = append(line, `,"timestamp_us":`...)
		line = strconv.AppendUint(line, l.TimestampUs(), 10)
		line = append(line, `,"cluster_id":`...)
		line = strconv.AppendUint(line, uint64(l.ClusterID()), 10)
		line = append(line, "}\n"...)
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	if err := l.Err(); err != nil {
		return err
	}
	return w.Flush()
}

// ttlBuckets are the upper bounds (remaining time) of the TTL histogram.
var ttlBuckets = []struct {
	name  string
	upper time.Duration
}{
	{"<=1h", time.Hour}, {"<=1d", 24 * time.Hour}, {"<=7d", 7 * 24 * time.Hour},
	{"<=30d", 30 * 24 * time.Hour}, {"<=365d", 365 * 24 * time.Hour}, {">365d", 1<<63 - 1},
}

// inspectReport is what inspect prints (as JSON with --json).
type inspectReport struct {
	Path             string         `json:"path"`
	DataVersion      int            `json:"data_version"`
	DataVersionFound bool           `json:"data_version_found"`
	Tables           []tableReport  `json:"tables"`
	Skipped          []string       `json:"skipped_files"`
	Stats            sst.Stats      `json:"stats"`
	TTL              map[string]int `json:"ttl_histogram"`
	Sample           []sampleKey    `json:"sample"`
}

type tableReport struct {
	File          string `json:"file"`
	ColumnFamily  string `json:"column_family"`
	Bytes         int64  `json:"bytes"`
	Entries       uint64 `json:"entries"`
	Deletions     uint64 `json:"deletions"`
	FormatVersion uint32 `json:"format_version"`
	Checksum      string `json:"checksum"`
	Compression   string `json:"compression"`
}

type sampleKey struct {
	HashKey     string `json:"hash_key"`
	SortKey     string `json:"sort_key"`
	ValueBytes  int    `json:"value_bytes"`
	ExpireUnix  int64  `json:"expire_unix"`
	TimestampUs uint64 `json:"timestamp_us"`
	ClusterID   uint8  `json:"cluster_id"`
}

// newCheckpointInspectCmd summarises a checkpoint.
func newCheckpointInspectCmd(_ *globalFlags) *cobra.Command {
	var (
		lf     liveFlags
		sample int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "inspect DIR|FILE.sst",
		Short: "Summarise a checkpoint: tables, key counts, sizes, sequence range, TTL histogram, a sample",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, l, err := lf.open(args[0])
			if err != nil {
				return fmt.Errorf("checkpoint inspect: %w", err)
			}
			defer c.Close()
			defer l.Close()
			rep, err := inspect(c, l, lf.nowTime(), sample)
			if err != nil {
				return fmt.Errorf("checkpoint inspect %s: %w", args[0], err)
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(rep)
			}
			return rep.print(cmd.OutOrStdout())
		},
	}
	lf.register(cmd)
	cmd.Flags().IntVar(&sample, "sample", 5, "how many live keys to show")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	return cmd
}

func inspect(c *sst.Checkpoint, l *sst.Live, now time.Time, sample int) (inspectReport, error) {
	rep := inspectReport{Path: c.Path, DataVersion: c.DataVersion, DataVersionFound: c.DataVersionFound,
		Skipped: c.Skipped, TTL: map[string]int{"none": 0}}
	for _, b := range ttlBuckets {
		rep.TTL[b.name] = 0
	}
	for _, t := range append(append([]*sst.Table(nil), c.Data...), c.Meta...) {
		p := t.Properties()
		rep.Tables = append(rep.Tables, tableReport{File: filepath.Base(t.Path()), ColumnFamily: p.ColumnFamily,
			Bytes: p.FileSize, Entries: p.NumEntries, Deletions: p.NumDeletions, FormatVersion: p.FormatVersion,
			Checksum: p.Checksum.String(), Compression: p.Compression})
	}
	for l.Next() {
		rep.TTL[ttlBucket(l.ExpireUnix(), now)]++
		if len(rep.Sample) < sample {
			rep.Sample = append(rep.Sample, sampleKey{HashKey: string(l.HashKey()), SortKey: string(l.SortKey()),
				ValueBytes: len(l.UserData()), ExpireUnix: l.ExpireUnix(), TimestampUs: l.TimestampUs(), ClusterID: l.ClusterID()})
		}
	}
	rep.Stats = l.Stats()
	return rep, l.Err()
}

// ttlBucket names the histogram bucket of a key expiring at expireUnix
// (0 = never), by its remaining time at now.
func ttlBucket(expireUnix int64, now time.Time) string {
	if expireUnix == 0 {
		return "none"
	}
	left := time.Unix(expireUnix, 0).Sub(now)
	for _, b := range ttlBuckets {
		if left <= b.upper {
			return b.name
		}
	}
	return ttlBuckets[len(ttlBuckets)-1].name
}

func (r inspectReport) print(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "checkpoint\t%s\n", r.Path)
	fmt.Fprintf(w, "data version\t%d (found in meta CF: %v)\n", r.DataVersion, r.DataVersionFound)
	fmt.Fprintf(w, "skipped files\t%v\n", r.Skipped)
	fmt.Fprintln(w, "\nTABLE\tCF\tBYTES\tENTRIES\tDELETIONS\tFORMAT\tCHECKSUM\tCOMPRESSION")
	for _, t := range r.Tables {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", t.File, t.ColumnFamily, t.Bytes, t.Entries, t.Deletions, t.FormatVersion, t.Checksum, t.Compression)
	}
	s := r.Stats
	fmt.Fprintf(w, "\nentries read\t%d\n", s.Entries)
	fmt.Fprintf(w, "live keys\t%d\n", s.Live)
	fmt.Fprintf(w, "live key bytes\t%d\n", s.LiveKeyBytes)
	fmt.Fprintf(w, "live value bytes\t%d\n", s.LiveValueBytes)
	fmt.Fprintf(w, "older versions\t%d\n", s.Shadowed)
	fmt.Fprintf(w, "deleted keys\t%d\n", s.Deleted)
	fmt.Fprintf(w, "expired keys\t%d\n", s.Expired)
	fmt.Fprintf(w, "empty-write/short keys\t%d\n", s.ShortKeys)
	fmt.Fprintf(w, "other partitions' keys\t%d\n", s.OtherPartition)
	fmt.Fprintf(w, "sequence range\t%d..%d\n", s.MinSeq, s.MaxSeq)
	fmt.Fprintln(w, "\nTTL LEFT\tLIVE KEYS")
	fmt.Fprintf(w, "none\t%d\n", r.TTL["none"])
	for _, b := range ttlBuckets {
		fmt.Fprintf(w, "%s\t%d\n", b.name, r.TTL[b.name])
	}
	fmt.Fprintln(w, "\nHASH KEY\tSORT KEY\tVALUE BYTES\tEXPIRES (UNIX)\tTIMESTAMP US\tCLUSTER")
	for _, k := range r.Sample {
		fmt.Fprintf(w, "%q\t%q\t%d\t%d\t%d\t%d\n", k.HashKey, k.SortKey, k.ValueBytes, k.ExpireUnix, k.TimestampUs, k.ClusterID)
	}
	return w.Flush()
}
