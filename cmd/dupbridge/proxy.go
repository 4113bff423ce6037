package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/metaproxy"
)

// proxyFlags locate the mapping in ZooKeeper: --zk/--root, or the
// [meta-proxy] section of --config (flags win over the file).
type proxyFlags struct {
	zk, root, config string
	cfg              *config.Config // loaded --config, if any
}

func (f *proxyFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.zk, "zk", "", "ZooKeeper servers, host:port,host:port")
	cmd.Flags().StringVar(&f.root, "root", "", "ZooKeeper root of the table nodes (default "+config.DefaultProxyRoot+")")
	cmd.Flags().StringVar(&f.config, "config", "", "configuration file whose [meta-proxy] section gives zk and root")
}

// store opens the mapping.
func (f *proxyFlags) store() (*metaproxy.Store, error) {
	zkList, root, timeout := f.zk, f.root, config.DefaultProxySessionTimeout
	if f.config != "" {
		cfg, err := config.Load(f.config)
		if err != nil {
			return nil, err
		}
		f.cfg = cfg
		if m := cfg.MetaProxy; m != nil {
			if zkList == "" {
				zkList = strings.Join(m.ZK, ",")
			}
			if root == "" {
				root = m.Root
			}
			timeout = m.SessionTimeout
		}
	}
	if zkList == "" {
		return nil, errors.New("proxy: give --zk HOSTS (or --config FILE with a [meta-proxy] section)")
	}
	if root == "" {
		root = config.DefaultProxyRoot
	}
	var servers []string
	for _, s := range strings.Split(zkList, ",") {
		if s = strings.TrimSpace(s); s != "" {
			servers = append(servers, s)
		}
	}
	return metaproxy.Dial(servers, root, metaproxy.StoreOptions{SessionTimeout: timeout})
}

// newProxyCmd is `dupbridge proxy ...`: the meta-proxy and its mapping.
func newProxyCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "The meta-proxy: clients find each table's cluster through ZooKeeper (docs/metaproxy.md)",
		Long: `proxy serves as the meta server of Pegasus clients and forwards each table's
query to the cluster ZooKeeper maps it to (<root>/<table> holds
{"cluster_name": ..., "meta_addrs": "host:port,..."}, as pegasus-kv/meta-proxy).
The other subcommands read and write that mapping; switch moves a table safely.`,
	}
	cmd.AddCommand(newProxyServeCmd(g), newProxySetCmd(), newProxyGetCmd(), newProxyListCmd(), newProxyDeleteCmd(),
		newProxySwitchCmd())
	return cmd
}

func newProxyServeCmd(g *globalFlags) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the meta-proxy of the file's [meta-proxy] section (alone; `serve` runs it beside a bridge)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return errors.New("proxy serve: --config FILE is required")
			}
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			if cfg.MetaProxy == nil {
				return fmt.Errorf("proxy serve: %s has no [%s] section", path, config.SectionMetaProxy)
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			p, err := metaproxy.New(metaproxy.Options{Config: cfg.MetaProxy, Logger: log})
			if err != nil {
				return err
			}
			return p.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "configuration file with a [meta-proxy] section")
	return cmd
}

func newProxySetCmd() *cobra.Command {
	var cluster, metas string
	cmd := mappingCmd("set TABLE --cluster NAME --metas LIST",
		"Map TABLE to a cluster (creates or overwrites <root>/TABLE; use switch to move a duplicated table safely)",
		cobra.ExactArgs(1), func(cmd *cobra.Command, st *metaproxy.Store, _ *proxyFlags, args []string) error {
			v, err := st.Put(args[0], metaproxy.Record{ClusterName: cluster, MetaAddrs: metas}, metaproxy.AnyVersion)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s -> %s (%s), version %d\n", args[0], cluster, metas, v)
			return nil
		})
	cmd.Flags().StringVar(&cluster, "cluster", "", "cluster name")
	cmd.Flags().StringVar(&metas, "metas", "", "the cluster's meta servers, host:port,host:port")
	_ = cmd.MarkFlagRequired("cluster")
	_ = cmd.MarkFlagRequired("metas")
	return cmd
}

// mappingJSON is how get and list print a mapping.
type mappingJSON struct {
	Table string `json:"table"`
	metaproxy.Record
	Version int32  `json:"version"`
	Error   string `json:"error,omitempty"`
}

func newProxyGetCmd() *cobra.Command {
	return mappingCmd("get TABLE", "Print TABLE's mapping as JSON", cobra.ExactArgs(1),
		func(cmd *cobra.Command, st *metaproxy.Store, _ *proxyFlags, args []string) error {
			r, v, err := st.Get(args[0])
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(mappingJSON{Table: args[0], Record: r, Version: v})
		})
}

func newProxyListCmd() *cobra.Command {
	return mappingCmd("list", "Print every mapping, one JSON object a line (malformed ones with their error)", cobra.NoArgs,
		func(cmd *cobra.Command, st *metaproxy.Store, _ *proxyFlags, _ []string) error {
			names, err := st.List()
			if err != nil {
				return err
			}
			slices.Sort(names)
			enc := json.NewEncoder(cmd.OutOrStdout())
			for _, n := range names {
				r, v, err := st.Get(n)
				m := mappingJSON{Table: n, Record: r, Version: v}
				if err != nil {
					m.Error = err.Error()
				}
				if err := enc.Encode(m); err != nil {
					return err
				}
			}
			return nil
		})
}

func newProxyDeleteCmd() *cobra.Command {
	return mappingCmd("delete TABLE", "Remove TABLE's mapping (the proxy then answers ERR_OBJECT_NOT_FOUND for it)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, st *metaproxy.Store, _ *proxyFlags, args []string) error {
			if err := st.Delete(args[0], metaproxy.AnyVersion); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", st.Path(args[0]))
			return nil
		})
}

func newProxySwitchCmd() *cobra.Command {
	var o metaproxy.SwitchOptions
	var to, metas string
	bridge := ctlFlags{timeout: 5 * time.Second}
	edge := ctlFlags{timeout: 5 * time.Second}
	cmd := mappingCmd("switch TABLE --to CLUSTER --bridge ADMIN_ADDR [--edge EDGE_ADMIN] [--max-lag 5s] [--wait DURATION] [--pause] [--force]",
		"Move TABLE to CLUSTER once the bridge duplicating it there is caught up (versioned compare-and-set)",
		cobra.ExactArgs(1), func(cmd *cobra.Command, st *metaproxy.Store, f *proxyFlags, args []string) error {
			if metas == "" && f.cfg != nil {
				metas = strings.Join(f.cfg.Clusters[to], ",")
			}
			if metas == "" {
				return fmt.Errorf("proxy switch: no meta servers for %q: give --metas (or list it in [%s] of --config)", to, config.SectionClusters)
			}
			o.Table, o.To, o.Out = args[0], metaproxy.Record{ClusterName: to, MetaAddrs: metas}, cmd.OutOrStdout()
			bridge.addr = o.Bridge
			if o.Bridge != "" {
				cl, err := bridge.client()
				if err != nil {
					return err
				}
				o.Client = cl
			}
			if edge.addr = o.Edge; o.Edge != "" {
				if edge.token == "" {
					edge.token = bridge.token
				}
				cl, err := edge.client()
				if err != nil {
					return err
				}
				o.EdgeClient = cl
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), o.Wait+time.Minute)
			defer cancel()
			_, err := metaproxy.Switch(ctx, st, o)
			return err
		})
	cmd.Long = `switch asks the bridge (its admin HTTP address; with the WAN link, the sink)
that duplicates TABLE from its current cluster to CLUSTER how far behind
CLUSTER is: the newest acknowledged master timestamp and the entries in
flight or spooled. It refuses above --max-lag unless --force; --wait polls
until the lag is under the bound (--pause pauses the table on the bridge
first, so that what is in flight drains). A forced switch prints what it may
lose. The write is a compare-and-set on the node version read at the start:
of two switches racing, exactly one wins.

--bridge is HOST:PORT or an http(s):// URL; the calls are those of
dupbridge ctl (GET /duplication?table=TABLE, POST /tables/TABLE/control),
with --token (or $DUPBRIDGE_TOKEN) for a bridge with admin_token.

With the WAN link, --bridge is the sink (the follower's acknowledged
timestamp) and --edge the edge's admin HTTP: the pause goes to the edge
(masters connect there; a sink refuses table controls) and the entries the
edge has received and still spools are the pending part of the lag (a sink
alone cannot see them). --edge-token is the edge's admin_token (default:
the sink's --token, then $DUPBRIDGE_TOKEN).

CLUSTER's meta servers come from --metas, or from [pegasus.clusters] of --config.`
	cmd.Flags().StringVar(&to, "to", "", "target cluster name")
	cmd.Flags().StringVar(&metas, "metas", "", "target cluster's meta servers, host:port,... (default: [pegasus.clusters] of --config)")
	cmd.Flags().StringVar(&o.Bridge, "bridge", "", "admin HTTP address of the bridge duplicating TABLE to CLUSTER")
	cmd.Flags().StringVar(&bridge.token, "token", "", "the bridge's admin_token (default $DUPBRIDGE_TOKEN)")
	cmd.Flags().StringVar(&o.Edge, "edge", "", "WAN link: admin HTTP address of the edge in front of the sink given as --bridge (takes the pause, reports the spool)")
	cmd.Flags().StringVar(&edge.token, "edge-token", "", "the edge's admin_token (default --token, then $DUPBRIDGE_TOKEN)")
	cmd.Flags().DurationVar(&o.MaxLag, "max-lag", 5*time.Second, "largest lag accepted")
	cmd.Flags().DurationVar(&o.Wait, "wait", 0, "wait up to this long for the lag to fall under --max-lag")
	cmd.Flags().BoolVar(&o.Pause, "pause", false, "pause TABLE on the bridge (the --edge, when given) before waiting (masters retry, in-flight entries drain)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "switch even above --max-lag or without a bridge, printing what may be lost")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// mappingCmd builds a subcommand that works on the mapping: it opens the
// store from the shared flags, runs run, and closes the store.
func mappingCmd(use, short string, args cobra.PositionalArgs, run func(cmd *cobra.Command, st *metaproxy.Store, f *proxyFlags, args []string) error) *cobra.Command {
	f := &proxyFlags{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := f.store()
			if err != nil {
				return err
			}
			defer st.Close()
			return run(cmd, st, f, args)
		},
	}
	f.add(cmd)
	return cmd
}

// runMetaProxy runs a meta-proxy beside a bridge (serve with a
// [meta-proxy] section) until ctx ends. Without its own http_listen, its
// status and metrics are served by the bridge's HTTP (wired by the caller
// through Status and Collector).
func runMetaProxy(ctx context.Context, p *metaproxy.Proxy, log *zap.Logger) <-chan error {
	done := make(chan error, 1)
	go func() {
		err := p.Run(ctx)
		if err != nil {
			log.Error("meta-proxy stopped", zap.Error(err))
		}
		done <- err
	}()
	return done
}
