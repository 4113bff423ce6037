// Command dupbridge is the one binary of the project: every tool is a
// subcommand. This file only wires flags to packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "dupbridge:", err)
		code := 1
		if ee := (*exitError)(nil); errors.As(err, &ee) {
			code = ee.code
		}
		os.Exit(code)
	}
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "dupbridge",
		Short:         "A bridge between Apache Pegasus duplication master and follower clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "console", "log format: console or json")
	root.AddCommand(
		newDecodeCmd(g),
		newWalCmd(g),
		newKeyCmd(g),
		newSimCmd(g),
		newReplayCmd(g),
		newServeCmd(g),
		newVerifyCmd(g),
		newDemoCmd(g),
		newRelayDictCmd(g),
		newVersionCmd(),
		newCtlCmd(),
		newCheckpointCmd(g),
		newProxyCmd(g),
	)
	return root
}
