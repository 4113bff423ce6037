package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dupbridge/dupbridge/verify"
	"github.com/dupbridge/dupbridge/walreader"
)

// newVerifyCmd is `dupbridge verify`: check a follower table against the
// plogs it was duplicated from, reading every key through the follower's
// own routing (package verify).
func newVerifyCmd(_ *globalFlags) *cobra.Command {
	var (
		metas    string
		table    string
		parallel int
		timeout  time.Duration
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "verify --follower META_ADDRS --table NAME PATH...",
		Short: "Check a follower table against plogs: every key the logs imply, read through the follower's routing",
		Long: `verify computes the final content the plogs imply (every committed
PUT, REMOVE, MULTI_PUT and MULTI_REMOVE applied in decree order, as a follower
applies duplicated writes) and reads every such key from the follower table
with RPC_RRDB_RRDB_GET, routed as a Pegasus client routes it (query config on
the follower meta, partition = key hash mod partition count). Keys the logs
delete, and values already expired, must read as absent.

PATH is a plog directory, a replica directory, a root holding
<app>.<partition>.pegasus/plog directories, or plog files. Keys written on the
follower by anything else than these logs are not checked, so run it on a
follower table fed only by them (after a replay, or a duplication's first
hours). Exits non-zero when a key differs.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, paths []string) error {
			if metas == "" || table == "" {
				return errors.New("verify: --follower and --table are required")
			}
			srcs, err := walreader.Discover(paths)
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			parts := make([][]string, len(srcs))
			for i, s := range srcs {
				parts[i] = s.Paths
			}
			want, err := verify.FromPlogs(parts)
			if err != nil {
				return err
			}
			rep, err := verify.Follower(cmd.Context(), splitAddrs(metas), table, want,
				verify.Options{Parallel: parallel, Timeout: timeout})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				if err := enc.Encode(map[string]any{
					"table": table, "partitions": len(srcs), "mutations": want.Mutations,
					"writes": want.Writes, "skipped_writes": want.Skipped, "keys": rep.Checked,
					"matched": rep.Matched, "mismatches": rep.Mismatches, "problems": rep.Problems,
					"elapsed_seconds": rep.Elapsed.Seconds(),
				}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "logs: %d partitions, %d committed mutations, %d writes applied, %d not duplicated by a master\n",
					len(srcs), want.Mutations, want.Writes, want.Skipped)
				fmt.Fprintf(out, "follower %s: %d of %d keys match (%s)\n", table, rep.Matched, rep.Checked, rep.Elapsed.Round(time.Millisecond))
				for _, p := range rep.Problems {
					fmt.Fprintf(out, "  %s\n", p)
				}
			}
			if !rep.OK() {
				return fmt.Errorf("verify: %d keys differ", rep.Mismatches)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&metas, "follower", "", "follower meta servers, host:port,... (required)")
	f.StringVar(&table, "table", "", "follower table (required)")
	f.IntVar(&parallel, "parallel", 64, "reads in flight")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "timeout of each read")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
