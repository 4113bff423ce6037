package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dupbridge/dupbridge/ctlclient"
	"github.com/dupbridge/dupbridge/server"
)

// ctlFlags are the flags of every ctl subcommand.
type ctlFlags struct {
	addr     string
	token    string
	json     bool
	timeout  time.Duration
	attempts int
}

// exitError carries a process exit code out of a subcommand (main).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr is a ctl usage error (exit 2).
func usageErr(format string, a ...any) error {
	return &exitError{code: ctlclient.ExitUsage, err: fmt.Errorf(format, a...)}
}

// newCtlCmd is `dupbridge ctl`: the operator's commands against a running
// bridge's HTTP interface, in the words of Pegasus's admin-cli `dup` verbs.
func newCtlCmd() *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "ctl",
		Short: "Control a running bridge over its HTTP interface (status, pause, start, remove, fail-mode, log-level, reload)",
		Long: `ctl talks to a running bridge's HTTP interface (http_listen).

Exit codes: 0 done; 1 the bridge refused or failed the call (unknown table,
bad value, invalid configuration on reload, missing or wrong token); 2 usage
error; 3 the bridge could not be reached.`,
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.addr, "addr", "127.0.0.1:34602", "the bridge's HTTP address: HOST:PORT or http(s)://HOST:PORT")
	pf.StringVar(&f.token, "token", "", "admin_token (default $DUPBRIDGE_TOKEN)")
	pf.BoolVar(&f.json, "json", false, "print the bridge's JSON answer")
	pf.DurationVar(&f.timeout, "timeout", 30*time.Second, "timeout of the call")

	control := func(use, short, action string) *cobra.Command {
		return &cobra.Command{
			Use: use + " TABLE", Short: short, Args: exactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				return f.control(c, args[0], server.ControlRequest{Action: action})
			},
		}
	}
	failMode := &cobra.Command{
		Use:   "fail-mode TABLE slow|skip",
		Short: "Set a table's fail mode (Pegasus's set_dup_fail_mode): slow retries forever, skip drops a part after --attempts failures",
		Args:  exactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			if args[1] != "slow" && args[1] != "skip" {
				return usageErr("fail mode %q: want slow or skip", args[1])
			}
			return f.control(c, args[0], server.ControlRequest{Action: server.ActionFailMode, FailMode: args[1], SkipAfterAttempts: f.attempts})
		},
	}
	failMode.Flags().IntVar(&f.attempts, "attempts", 0, "skip: failed attempts before a part is dropped (default: the table's skip_after_attempts, or 10)")
	cmd.AddCommand(
		&cobra.Command{
			Use: "status [TABLE]", Short: "Show each table's state, fail mode, follower and follower partitions (like /meta/app/duplication)",
			Args: rangeArgs(0, 1),
			RunE: func(c *cobra.Command, args []string) error {
				table := ""
				if len(args) == 1 {
					table = args[0]
				}
				return f.status(c, table)
			},
		},
		control("pause", "Pause a table: masters get a retryable error, nothing is shipped (persisted)", server.ActionPause),
		control("start", "Start a paused or removed table again (persisted)", server.ActionStart),
		control("remove", "Remove a table from duplication on this bridge: further shipments are refused with a retryable error, its spool is dropped (persisted)", server.ActionRemove),
		failMode,
		&cobra.Command{
			Use: "log-level LEVEL", Short: "Change the bridge's log level now (debug, info, warn, error)", Args: exactArgs(1),
			RunE: func(c *cobra.Command, args []string) error { return f.logLevel(c, args[0]) },
		},
		&cobra.Command{
			Use: "reload", Short: "Re-read the bridge's configuration file (like SIGHUP); an invalid file changes nothing", Args: exactArgs(0),
			RunE: func(c *cobra.Command, _ []string) error { return f.reload(c) },
		},
	)
	return cmd
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("%s: want %d argument(s), got %d (usage: dupbridge ctl %s)", c.Name(), n, len(args), c.Use)
		}
		return nil
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usageErr("%s: want %d to %d argument(s), got %d (usage: dupbridge ctl %s)", c.Name(), lo, hi, len(args), c.Use)
		}
		return nil
	}
}

func (f *ctlFlags) client() (*ctlclient.Client, error) {
	tok := f.token
	if tok == "" {
		tok = os.Getenv("DUPBRIDGE_TOKEN")
	}
	return ctlclient.New(f.addr, ctlclient.Options{Token: tok, Timeout: f.timeout})
}

// done turns a ctlclient error into the exit code it stands for.
func done(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: ctlclient.ExitCode(err), err: err}
}

// ctlCall is every ctl command: make the client, call the bridge, print
// its answer as JSON (--json) or for a human, and map errors to exit codes.
func ctlCall[T any](f *ctlFlags, c *cobra.Command, call func(context.Context, *ctlclient.Client) (T, error), human func(io.Writer, T)) error {
	cl, err := f.client()
	if err != nil {
		return done(err)
	}
	r, err := call(c.Context(), cl)
	if err != nil {
		return done(err)
	}
	if f.json {
		enc := json.NewEncoder(c.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	human(c.OutOrStdout(), r)
	return nil
}

func (f *ctlFlags) status(c *cobra.Command, table string) error {
	return ctlCall(f, c, func(ctx context.Context, cl *ctlclient.Client) (server.Duplication, error) {
		return cl.Duplication(ctx, table)
	}, writeStatus)
}

// writeStatus prints /duplication for a human: one block per table.
func writeStatus(w io.Writer, d server.Duplication) {
	now := d.Time
	for i, t := range d.Tables {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fm := t.FailMode
		if t.SkipAfterAttempts > 0 && fm == "skip" {
			fm += " after " + strconv.Itoa(t.SkipAfterAttempts) + " attempts"
		}
		fmt.Fprintf(w, "table %s (app %d, master table %s): %s, fail mode %s\n", t.Name, t.AppID, t.SourceTable, t.State, fm)
		fmt.Fprintf(w, "  follower %s/%s, %d partitions; received %d entries, refused %d requests, oldest unacknowledged %.1fs\n",
			t.FollowerCluster, t.FollowerTable, t.FollowerPartitionCount, t.ReceivedEntries, t.RefusedRequests, t.OldestUnackedSecond)
		if t.FollowerError != "" {
			fmt.Fprintf(w, "  follower failing: %s\n", t.FollowerError)
		}
		if len(t.Partitions) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  partition\tlast acked (master time)\tlag\tin flight\tqueued\tspooled\tshipped\tretries\tskipped\tlast error\t")
		for _, p := range t.Partitions {
			acked, lag := "-", "-"
			if p.LastAckedTimestampUs > 0 {
				at := time.UnixMicro(p.LastAckedTimestampUs).UTC()
				acked = at.Format("2006-01-02T15:04:05.000Z")
				lag = now.Sub(at).Round(time.Millisecond).String()
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%v\t%d\t%d\t%d\t%d\t%d\t%s\t\n", p.Partition, acked, lag, yesNo(p.InFlight),
				p.Queued, p.SpooledBytes, p.ShippedEntries, p.Retries, p.SkippedEntries, orDash(p.LastError))
		}
		_ = tw.Flush()
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (f *ctlFlags) control(c *cobra.Command, table string, req server.ControlRequest) error {
	return ctlCall(f, c, func(ctx context.Context, cl *ctlclient.Client) (server.ControlResult, error) {
		return cl.Control(ctx, table, req)
	}, func(w io.Writer, r server.ControlResult) {
		msg := fmt.Sprintf("table %s: %s (was %s), fail mode %s", r.Table, r.State, r.WasState, r.FailMode)
		if r.FailMode == "skip" && r.SkipAfterAttempts > 0 {
			msg += " after " + strconv.Itoa(r.SkipAfterAttempts) + " attempts"
		}
		if r.Note != "" {
			msg += "; " + r.Note
		}
		fmt.Fprintln(w, msg)
	})
}

func (f *ctlFlags) logLevel(c *cobra.Command, level string) error {
	return ctlCall(f, c, func(ctx context.Context, cl *ctlclient.Client) (server.LogLevelRequest, error) {
		return cl.LogLevel(ctx, level)
	}, func(w io.Writer, r server.LogLevelRequest) {
		fmt.Fprintf(w, "log level %s (was %s)\n", r.Level, r.Was)
	})
}

func (f *ctlFlags) reload(c *cobra.Command) error {
	return ctlCall(f, c, func(ctx context.Context, cl *ctlclient.Client) (server.ReloadResult, error) {
		return cl.Reload(ctx)
	}, func(w io.Writer, r server.ReloadResult) {
		if len(r.Changes) == 0 {
			fmt.Fprintln(w, "reloaded: no change")
			return
		}
		fmt.Fprintln(w, "reloaded:\n  "+strings.Join(r.Changes, "\n  "))
	})
}
