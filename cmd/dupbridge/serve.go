package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/metaproxy"
	"github.com/dupbridge/dupbridge/server"
	"github.com/dupbridge/dupbridge/server/follower"
)

// newServeCmd is `dupbridge serve --config FILE [--check]`: config →
// follower routers → server. Shutdown on SIGINT/SIGTERM is graceful: the
// server stops taking requests, waits up to shutdown_timeout for in-flight
// acks, then the routers close.
func newServeCmd(g *globalFlags) *cobra.Command {
	var path string
	var check bool
	cmd := &cobra.Command{
		Use:   "serve --config FILE [--check]",
		Short: "Run the bridge: answer a duplication master as its follower cluster and forward to the real follower (and the meta-proxy of a [meta-proxy] section)",
		Long: `serve runs dupbridge: masters see it as their follower cluster's meta server
and as the primary of every partition; it re-routes every duplicated write by
its own key hash to the real follower's partitions.

--check validates the configuration file, prints every problem with its line
number, and exits (non-zero when the file is invalid). See examples/dupbridge.ini.

A [meta-proxy] section runs the meta-proxy in the same process, on its own
port; a file with only that section runs the meta-proxy alone (as
"dupbridge proxy serve"). See docs/metaproxy.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return errors.New("serve: --config FILE is required")
			}
			cfg, err := config.Load(path)
			if check {
				return reportCheck(cmd, path, cfg, err)
			}
			if err != nil {
				return err
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			return runServe(cmd.Context(), cfg, log)
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "configuration file (INI, see examples/dupbridge.ini)")
	cmd.Flags().BoolVar(&check, "check", false, "validate the configuration file and exit")
	return cmd
}

func reportCheck(cmd *cobra.Command, path string, cfg *config.Config, err error) error {
	out := cmd.OutOrStdout()
	var ce *config.Error
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Fprintf(out, "%s:%s\n", path, p)
		}
		return fmt.Errorf("serve --check: %s: %d problem(s)", path, len(ce.Problems))
	}
	if err != nil {
		return err
	}
	if m := cfg.MetaProxy; m != nil {
		fmt.Fprintf(out, "%s: ok: meta-proxy on %s, zk %s, root %s, session timeout %s, cache %d table(s)\n",
			path, m.Listen, strings.Join(m.ZK, ","), m.Root, m.SessionTimeout, m.CacheTables)
		if !cfg.HasBridge() {
			return nil
		}
	}
	fmt.Fprintf(out, "%s: ok: %d table(s), %d follower cluster(s), listen %s, advertised %s\n",
		path, len(cfg.Tables), len(cfg.Clusters), cfg.Bridge.Listen, cfg.Bridge.AdvertisedAddr)
	for _, t := range cfg.Tables {
		fmt.Fprintf(out, "  table %s (app %d) -> %s/%s, failure policy %s\n",
			t.Name, t.AppID, t.FollowerCluster, t.FollowerTable, t.FailurePolicy)
	}
	return nil
}

func runServe(ctx context.Context, cfg *config.Config, log *zap.Logger) error {
	if cfg.MetaProxy != nil && !cfg.HasBridge() { // a [meta-proxy] file alone
		p, err := metaproxy.New(metaproxy.Options{Config: cfg.MetaProxy, Logger: log})
		if err != nil {
			return err
		}
		return p.Run(ctx)
	}
	fs, err := follower.New(cfg, follower.Options{Logger: log})
	if err != nil {
		return err
	}
	openCtx, stopOpening := context.WithCancel(ctx)
	defer stopOpening()
	fs.Open(openCtx)

	opts := server.Options{Config: cfg, Logger: log}
	fs.Wire(&opts)
	var proxyDone <-chan error
	if cfg.MetaProxy != nil {
		// The meta-proxy beside the bridge: its own port; its status and
		// metrics on the bridge's HTTP unless it has an http_listen.
		p, err := metaproxy.New(metaproxy.Options{Config: cfg.MetaProxy, Logger: log})
		if err != nil {
			_ = fs.Close()
			return err
		}
		if cfg.MetaProxy.HTTPListen == "" {
			opts.ExtraStatus = func() any { return p.Status() }
			opts.Collectors = append(opts.Collectors, p.Collector())
		}
		proxyCtx, stopProxy := context.WithCancel(ctx)
		defer func() {
			stopProxy()
			<-proxyDone
		}()
		proxyDone = runMetaProxy(proxyCtx, p, log)
	}
	srv, err := server.New(opts)
	if err != nil {
		stopOpening()
		_ = fs.Close()
		return err
	}
	runErr := srv.Run(ctx) // returns after the graceful drain
	stopOpening()
	_ = fs.Close()
	if runErr != nil {
		return runErr
	}
	log.Info("dupbridge stopped", zap.Any("counters", srv.Stats()))
	return nil
}
