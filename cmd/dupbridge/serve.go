package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/checkpoint"
	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/logging"
	"github.com/dupbridge/dupbridge/metaproxy"
	"github.com/dupbridge/dupbridge/relay"
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
		Short: "Run the bridge (role direct, edge or sink): answer a duplication master as its follower cluster and forward to the real follower (and the meta-proxy of a [meta-proxy] section)",
		Long: `serve runs dupbridge: masters see it as their follower cluster's meta server
and as the primary of every partition; it re-routes every duplicated write by
its own key hash to the real follower's partitions.

--check validates the configuration file, prints every problem with its line
number, and exits (non-zero when the file is invalid). See examples/dupbridge.ini.

[dupbridge] role = edge runs the master-side end of a WAN link (spool, then
shipments to relay_sink); role = sink runs the follower-side end (accepts
edges on relay_listen). See docs/relay.md and examples/edge.ini, sink.ini.

A [meta-proxy] section runs the meta-proxy in the same process, on its own
port; a file with only that section runs the meta-proxy alone (as
"dupbridge proxy serve"). See docs/metaproxy.md. Beside an edge or a sink
the meta-proxy reports on its own http_listen only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return errors.New("serve: --config FILE is required")
			}
			cfg, err := config.LoadContext(cmd.Context(), path)
			if check {
				return reportCheck(cmd, path, cfg, err)
			}
			if err != nil {
				return err
			}
			log, err := g.serveLogger(cmd, cfg.Bridge.Log)
			if err != nil {
				return err
			}
			defer func() { _ = log.Close() }()
			return runServe(cmd.Context(), path, cfg, log)
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
	b := &cfg.Bridge
	if b.Role != config.RoleDirect {
		if err := relay.CheckFiles(cfg); err != nil {
			fmt.Fprintf(out, "%s: %v\n", path, err)
			return fmt.Errorf("serve --check: %s: %w", path, err)
		}
	}
	switch b.Role {
	case config.RoleEdge:
		fmt.Fprintf(out, "%s: ok: edge, %d table(s), listen %s, advertised %s, ships to sink %s (tls %v), spool in %s\n",
			path, len(cfg.Tables), b.Listen, b.AdvertisedAddr, b.Relay.Sink, b.Relay.TLS(), b.StateDir)
		for _, t := range cfg.Tables {
			fmt.Fprintf(out, "  table %s (app %d), source table %s, ack = %s\n", t.Name, t.AppID, t.SourceTable, t.Ack)
		}
		return nil
	case config.RoleSink:
		fmt.Fprintf(out, "%s: ok: sink, %d table(s), %d follower cluster(s), edges connect to %s (tls %v)\n",
			path, len(cfg.Tables), len(cfg.Clusters), b.Relay.Listen, b.Relay.TLS())
	default:
		fmt.Fprintf(out, "%s: ok: %d table(s), %d follower cluster(s), listen %s, advertised %s\n",
			path, len(cfg.Tables), len(cfg.Clusters), b.Listen, b.AdvertisedAddr)
	}
	for _, t := range cfg.Tables {
		fmt.Fprintf(out, "  table %s (app %d) -> %s/%s, failure policy %s\n",
			t.Name, t.AppID, t.FollowerCluster, t.FollowerTable, t.FailurePolicy)
	}
	return nil
}

// memoryHeadroom is what the Go runtime may use above the bridge's own
// budgets (max_inflight_bytes and the waiting room) before the GC works
// harder and returns memory sooner: without a limit GOGC=100 lets the heap
// reach twice what is live. The target is max_inflight_bytes +
// 256 MiB of RSS; the waiting room takes 128 MiB of it.
const memoryHeadroom = 64 << 20

func runServe(ctx context.Context, path string, cfg *config.Config, ll *logging.Logger) (err error) {
	log := ll.Logger
	defer func() {
		// Every stop other than a clean shutdown exits non-zero (main),
		// with its cause logged here: systemd's Restart=on-failure
		// restarts the bridge.
		if err != nil {
			log.Error("dupbridge serve failed", zap.Error(err))
		}
	}()
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.Bridge.MaxInflightBytes + server.WaitRoom + memoryHeadroom)
	}
	if cfg.MetaProxy != nil && !cfg.HasBridge() { // a [meta-proxy] file alone
		p, err := metaproxy.New(metaproxy.Options{Config: cfg.MetaProxy, Logger: log})
		if err != nil {
			return err
		}
		return p.Run(ctx)
	}
	if cfg.Bridge.Role != config.RoleDirect {
		return runRelayNode(ctx, cfg, ll)
	}
	fs, err := follower.New(cfg, follower.Options{Logger: log, OpenCheckpoint: checkpoint.OpenSST,
		Fetch: checkpoint.FetchOptions{BytesPerSecond: cfg.Bridge.CheckpointCopyRate, Parallel: cfg.Bridge.CheckpointCopyParallel},
		Load:  checkpoint.LoadOptions{KeysPerSecond: cfg.Bridge.CheckpointLoadRate},
	})
	if err != nil {
		return err
	}
	openCtx, stopOpening := context.WithCancel(ctx)
	defer stopOpening()
	fs.Open(openCtx)

	var srv *server.Server
	rl := &reloader{path: path, log: log, apply: func(c *config.Config) ([]string, error) {
		changes, err := srv.Reload(c)
		if err != nil {
			return nil, err
		}
		return append(changes, fs.Reconfigure(openCtx, c)...), nil
	}}
	so := server.Options{Config: cfg, Logger: log, LogLevel: &ll.Level, Reload: rl.reload}
	fs.Wire(&so)
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
			so.ExtraStatus = func() any { return p.Status() }
			so.Collectors = append(so.Collectors, p.Collector())
		}
		proxyCtx, stopProxy := context.WithCancel(ctx)
		defer func() {
			stopProxy()
			<-proxyDone
		}()
		proxyDone = runMetaProxy(proxyCtx, p, log)
	}
	srv, err = server.New(so)
	if err != nil {
		stopOpening()
		_ = fs.Close()
		return err
	}
	stopHUP := rl.onSIGHUP(ctx)
	defer stopHUP()
	runErr := srv.Run(ctx) // returns after the graceful drain
	stopOpening()
	_ = fs.Close()
	if runErr != nil {
		return runErr
	}
	log.Info("dupbridge stopped", zap.Any("counters", srv.Stats()))
	return nil
}

// runRelayNode runs an edge or a sink (docs/relay.md), with the meta-proxy
// of a [meta-proxy] section beside it (its status and metrics on its own
// http_listen: the edge's and sink's HTTP do not carry them).
func runRelayNode(ctx context.Context, cfg *config.Config, ll *logging.Logger) error {
	log := ll.Logger
	if cfg.MetaProxy != nil {
		p, err := metaproxy.New(metaproxy.Options{Config: cfg.MetaProxy, Logger: log})
		if err != nil {
			return err
		}
		proxyCtx, stopProxy := context.WithCancel(ctx)
		proxyDone := runMetaProxy(proxyCtx, p, log)
		defer func() {
			stopProxy()
			<-proxyDone
		}()
	}
	if cfg.Bridge.Role == config.RoleEdge {
		n, err := relay.StartEdge(ctx, cfg, relay.NodeOptions{Logger: log, LogLevel: &ll.Level})
		if err != nil {
			return err
		}
		err = n.Wait() // the server drains when ctx ends; the spool stays
		log.Info("dupbridge edge stopped", zap.Any("counters", n.Server.Stats()), zap.Any("link", n.Edge.Stats()))
		return err
	}
	n, err := relay.StartSink(ctx, cfg, relay.NodeOptions{Logger: log, LogLevel: &ll.Level})
	if err != nil {
		return err
	}
	err = n.Wait()
	log.Info("dupbridge sink stopped")
	return err
}
