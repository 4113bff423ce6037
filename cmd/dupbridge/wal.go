package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dupbridge/dupbridge/walreader"
	"github.com/dupbridge/dupbridge/walwriter"
)

// newWalCmd wires `dupbridge wal {dump,stat,gen}` to walreader and walwriter.
func newWalCmd(g *globalFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "wal",
		Short: "Read, summarise and generate Pegasus private-log (plog) files",
	}
	c.AddCommand(newWalDumpCmd(g), newWalStatCmd(g), newWalGenCmd(g))
	return c
}

type walReadFlags struct {
	fromDecree    int64
	committedOnly bool
	skipCorrupt   bool
}

// open opens paths and returns the stream to print: every copy as
// stored, or only committed mutations (storage.md §1.9).
func (f *walReadFlags) open(paths []string, stderr io.Writer) (*walreader.Reader, walreader.Source, error) {
	warn := func(w walreader.Warning) { fmt.Fprintln(stderr, "warning:", w.String()) }
	r, err := walreader.Open(paths, walreader.Options{FromDecree: f.fromDecree, SkipCorrupt: f.skipCorrupt, OnWarning: warn})
	if err != nil {
		return nil, nil, err
	}
	if !f.committedOnly {
		return r, r, nil
	}
	return r, walreader.NewCommitted(r, walreader.CommittedOptions{FromDecree: f.fromDecree, SkipCorrupt: f.skipCorrupt, OnWarning: warn}), nil
}

func newWalDumpCmd(_ *globalFlags) *cobra.Command {
	var rf walReadFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "dump [flags] PATH...",
		Short: "Print every mutation of plog directories or files",
		Long: `Print the mutations of one or more plogs (a plog directory, or log.<index>.<offset> files).
With --json, one JSON object per mutation (byte strings base64). Warnings (torn tail,
skipped bytes) go to stderr; the exit status is non-zero only when reading failed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, src, err := rf.open(args, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer r.Close()
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			defer out.Flush()
			var tw *tabwriter.Writer
			if !asJSON {
				tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "FILE\tOFFSET\tGPID\tBALLOT\tDECREE\tLAST_COMMITTED\tTIME (UTC)\tBYTES\tUPDATES")
			}
			enc := json.NewEncoder(out)
			for n := 0; ; n++ {
				if n&1023 == 0 && cmd.Context().Err() != nil {
					return cmd.Context().Err()
				}
				m, err := src.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					if tw != nil {
						tw.Flush()
					}
					return err
				}
				if asJSON {
					if err := enc.Encode(walreader.View(m)); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(tw, "%s\t%d\t%d.%d\t%d\t%d\t%d\t%s\t%d\t%s\n", filepath.Base(m.File), m.FileOffset, m.AppID, m.PartitionIndex,
					m.Ballot, m.Decree, m.LastCommittedDecree, fmtTimeUs(m.Timestamp), m.Size, summarize(m))
			}
			if tw != nil {
				return tw.Flush()
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "one JSON object per mutation")
	rf.register(c)
	return c
}

func (f *walReadFlags) register(c *cobra.Command) {
	c.Flags().Int64Var(&f.fromDecree, "from-decree", 0, "skip decrees below N")
	c.Flags().BoolVar(&f.committedOnly, "committed-only", false, "only committed mutations, highest ballot per decree (storage.md §1.9)")
	c.Flags().BoolVar(&f.skipCorrupt, "skip-corrupt", false, "resynchronise after corrupt data instead of failing (warnings on stderr)")
}

func fmtTimeUs(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.000000")
}

// summarize renders the updates of m on one line.
func summarize(m *walreader.Mutation) string {
	parts := make([]string, 0, len(m.Updates))
	for i := range m.Updates {
		v := walreader.ViewUpdate(&m.Updates[i])
		s := strings.TrimPrefix(strings.TrimPrefix(v.Code, "RPC_RRDB_RRDB_"), "RPC_REPLICATION_")
		switch {
		case v.Error != "":
			s += " (" + v.Error + ")"
		case v.Kvs != nil:
			s += " " + quote(deref(v.HashKey)) + fmt.Sprintf(" %d kvs", len(*v.Kvs))
		case v.SortKeys != nil:
			s += " " + quote(deref(v.HashKey)) + fmt.Sprintf(" %d sort keys", len(*v.SortKeys))
		case v.MutateList != nil:
			s += " " + quote(deref(v.HashKey)) + fmt.Sprintf(" %d mutates", len(*v.MutateList))
		case v.SortKey != nil:
			s += " " + quote(deref(v.HashKey)) + "/" + quote(deref(v.SortKey))
			if v.Value != nil {
				s += "=" + quote(deref(v.Value))
			}
			if v.Increment != nil {
				s += fmt.Sprintf(" +%d", *v.Increment)
			}
		case v.HashKey != nil:
			s += " " + quote(deref(v.HashKey))
		case v.Raw != nil:
			s += fmt.Sprintf(" %d bytes", len(*v.Raw))
		}
		if v.ExpireTsSeconds != nil && *v.ExpireTsSeconds != 0 {
			s += fmt.Sprintf(" ttl@%d", *v.ExpireTsSeconds)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func deref(b *[]byte) []byte {
	if b == nil {
		return nil
	}
	return *b
}

func quote(b []byte) string {
	const max = 32
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + fmt.Sprintf("…(%dB)", len(b))
	}
	return strconv.Quote(string(b))
}

func newWalStatCmd(_ *globalFlags) *cobra.Command {
	var rf walReadFlags
	c := &cobra.Command{
		Use:   "stat [flags] PATH...",
		Short: "Summarise plogs: mutations and bytes by write kind and partition, decree and time ranges",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, src, err := rf.open(args, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer r.Close()
			var st walreader.Stats
			for n := 0; ; n++ {
				if n&1023 == 0 && cmd.Context().Err() != nil {
					return cmd.Context().Err()
				}
				m, err := src.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return err
				}
				st.Add(m)
			}
			return printStats(cmd.OutOrStdout(), r, &st)
		},
	}
	rf.register(c)
	return c
}

func printStats(w io.Writer, r *walreader.Reader, st *walreader.Stats) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var files, bytes int64
	for _, f := range r.Files() {
		files++
		bytes += f.Size
	}
	fmt.Fprintf(tw, "files: %d, %d bytes\n", files, bytes)
	for _, p := range st.Partitions() {
		fmt.Fprintf(tw, "\ngpid %d.%d: %d mutations, %d bytes\n", p.AppID, p.PartitionIndex, p.Mutations, p.Bytes)
		fmt.Fprintf(tw, "  decrees %d..%d, highest last_committed_decree %d\n", p.MinDecree, p.MaxDecree, p.MaxLastCommitted)
		fmt.Fprintf(tw, "  time %s .. %s UTC\n", fmtTimeUs(p.MinTimestamp), fmtTimeUs(p.MaxTimestamp))
		fmt.Fprintln(tw, "  MUTATION KIND\tCOUNT\tBYTES")
		for _, k := range sortedKeys(p.ByKind) {
			fmt.Fprintf(tw, "  %s\t%d\t%d\n", k, p.ByKind[k].Count, p.ByKind[k].Bytes)
		}
		fmt.Fprintln(tw, "  UPDATE CODE\tCOUNT\tPAYLOAD BYTES")
		for _, k := range sortedKeys(p.Updates) {
			fmt.Fprintf(tw, "  %s\t%d\t%d\n", k, p.Updates[k].Count, p.Updates[k].Bytes)
		}
	}
	torn := "none"
	var skipped int64
	for _, wn := range r.Warnings() {
		switch wn.Kind {
		case walreader.WarnTornTail:
			torn = fmt.Sprintf("%s at offset %d (%d bytes)", wn.File, wn.Offset, wn.Bytes)
		case walreader.WarnSkipped:
			skipped += wn.Bytes
		}
	}
	fmt.Fprintf(tw, "\ntorn tail: %s\n", torn)
	if skipped > 0 {
		fmt.Fprintf(tw, "skipped corrupt bytes: %d\n", skipped)
	}
	return tw.Flush()
}

func sortedKeys(m map[string]*walreader.KindStats) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func newWalGenCmd(_ *globalFlags) *cobra.Command {
	var (
		o           walwriter.GenOptions
		valueSize   string
		mix         string
		fixture     string
		noFinal     bool
		targetBytes int64
		values      string
	)
	c := &cobra.Command{
		Use:   "gen --out DIR [flags]",
		Short: "Write synthetic plogs (<out>/<app>.<partition>.pegasus/plog/), or re-create a captured fixture",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Dir == "" {
				return errors.New("--out is required")
			}
			out := cmd.OutOrStdout()
			if fixture != "" {
				p, err := walwriter.WriteFixtureTree(o.Dir, fixture)
				if err != nil {
					var names []string
					for _, f := range walwriter.Fixtures() {
						names = append(names, f.Name)
					}
					return fmt.Errorf("%w (fixtures: %s)", err, strings.Join(names, ", "))
				}
				fmt.Fprintln(out, p)
				return nil
			}
			if valueSize != "" {
				a, b, ok := strings.Cut(valueSize, ":")
				lo, err1 := strconv.Atoi(a)
				hi, err2 := strconv.Atoi(b)
				if !ok || err1 != nil || err2 != nil || lo < 0 || hi < lo {
					return fmt.Errorf("--value-size: want min:max, got %q", valueSize)
				}
				o.ValueMin, o.ValueMax = lo, hi
			}
			if mix != "" {
				w, err := walwriter.ParseMix(mix)
				if err != nil {
					return fmt.Errorf("--mix: %w", err)
				}
				o.Mix = w
			}
			v, err := walwriter.ParseValues(values)
			if err != nil {
				return fmt.Errorf("--values: %w", err)
			}
			o.Values = v
			o.FinalEmpty = !noFinal
			o.TargetBytes = targetBytes
			res, err := walwriter.Generate(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "wrote %d mutations, %d bytes, app %d, %d partitions\n", res.Mutations, res.Bytes, res.AppID, len(res.Partitions))
			for _, p := range res.Partitions {
				fmt.Fprintf(out, "  %s: %d files, decrees 1..%d, %d bytes\n", p.Dir, len(p.Files), p.LastDecree, p.Bytes)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.Dir, "out", "", "output root directory")
	f.IntVar(&o.Mutations, "mutations", 1000, "number of generated writes")
	f.Int64Var(&targetBytes, "bytes", 0, "generate until the logs hold this many bytes (overrides --mutations)")
	f.IntVar(&o.Partitions, "partitions", 1, "number of partitions")
	var appID int
	f.IntVar(&appID, "app-id", 1, "app id")
	f.Uint64Var(&o.Seed, "seed", 1, "random seed (output is deterministic by seed)")
	f.StringVar(&valueSize, "value-size", "", "value size range min:max (default 1:256; 200:2000 with --values json)")
	f.StringVar(&values, "values", "letters", "letters (random lowercase letters) or json (JSON documents of repeated field names, numbers and short strings that compress like real user data)")
	f.StringVar(&mix, "mix", "", "write mix, e.g. put=70,remove=10,batch=8,multi_put=6,multi_remove=3,empty=3,incr=0,cas=0,cam=0")
	f.Float64Var(&o.TTLFraction, "ttl-fraction", 0, "fraction of writes with a TTL")
	f.Int64Var(&o.RotateBytes, "rotate-bytes", 0, "start a new log file once one reaches this size (0: never)")
	f.IntVar(&o.HashKeys, "hash-keys", 1000, "distinct hash keys")
	f.IntVar(&o.SortKeys, "sort-keys", 16, "sort keys per hash key")
	f.BoolVar(&noFinal, "no-final-empty", false, "do not end each partition with an empty write (leaves the last mutation uncommitted)")
	f.StringVar(&fixture, "fixture", "", "re-create the captured fixture NAME instead, as <out>/<app>.<partition>.pegasus/plog/log.1.0")
	c.PreRun = func(*cobra.Command, []string) { o.AppID = int32(appID) }
	return c
}
