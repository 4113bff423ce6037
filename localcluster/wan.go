package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/relay"
)

// Token is the relay_token of the deployments localcluster writes.
const Token = "localcluster-relay-token-0123456789"

// LinkOptions describe an edge and a sink (docs/relay.md §3).
type LinkOptions struct {
	Table string
	// Ack of the edge's table: "spool" (default) or "follower".
	Ack string
	// EdgeAddr and SinkAddr: where the edge takes masters and the sink takes
	// edges; RelaySink is where the edge dials (SinkAddr, or a proxy in
	// front of it).
	EdgeAddr, SinkAddr, RelaySink string
	// StateDir of the edge (its spool).
	StateDir string
	// FollowerMeta is the follower's meta address (sink).
	FollowerMeta string
	// EdgeExtra and SinkExtra are added to [dupbridge] (TLS, tuning).
	EdgeExtra, SinkExtra string
	// AdvertisedPartitions: the edge's advertised_partition_count (0: the
	// follower's, learned from the sink).
	AdvertisedPartitions int
	// EdgeHTTP is where the edge serves its HTTP interface (/metrics,
	// /status, ...); empty: not served.
	EdgeHTTP string
}

// EdgeINI is the configuration file of an edge.
func EdgeINI(o LinkOptions) string {
	if o.Ack == "" {
		o.Ack = "spool"
	}
	return fmt.Sprintf(`[duplication-group]
master = %d
follower = %d
[dupbridge]
role = edge
listen = %s
advertised_address = %s
relay_sink = %s
relay_token = %s
state_dir = %s
max_inflight_bytes = 64MiB
shutdown_timeout = 5s
%s
[table.%s]
advertised_partition_count = %d
master_cluster = master
ack = %s
`, MasterClusterID, FollowerClusterID, o.EdgeAddr, o.EdgeAddr, o.RelaySink, Token, o.StateDir, o.EdgeExtra,
		o.Table, o.AdvertisedPartitions, o.Ack)
}

// SinkINI is the configuration file of a sink.
func SinkINI(o LinkOptions) string {
	return fmt.Sprintf(`[pegasus.clusters]
follower = %s
[duplication-group]
master = %d
follower = %d
[dupbridge]
role = sink
relay_listen = %s
relay_token = %s
shutdown_timeout = 5s
%s
[table.%s]
follower_cluster = follower
follower_table = %s
master_cluster = master
`, o.FollowerMeta, MasterClusterID, FollowerClusterID, o.SinkAddr, Token, o.SinkExtra, o.Table, o.Table)
}

// WAN is a running WAN deployment in one process: the simulated follower,
// a sink beside it and an edge in front of it. The embedded Env replays
// into the edge (BridgeAddr) and checks the follower.
type WAN struct {
	*Env
	Link LinkOptions
	Edge *relay.EdgeNode
	Sink *relay.SinkNode

	edgeDial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// WANOptions configure StartWAN.
type WANOptions struct {
	Options
	Link LinkOptions // Table, addresses, StateDir and FollowerMeta are filled in when empty
	// EdgeDial opens the edge's connections to the sink (nil: direct);
	// benchmarks count the link's bytes with it.
	EdgeDial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// StartWAN starts the simulated follower, a sink and an edge, and waits
// until the edge has learned the follower's layout.
func StartWAN(ctx context.Context, o WANOptions) (*WAN, error) {
	if o.Table == "" {
		o.Table = "demo"
	}
	if o.FollowerPartitions == 0 {
		o.FollowerPartitions = 32
	}
	w := &WAN{Env: &Env{Opts: o.Options}, Link: o.Link, edgeDial: o.EdgeDial}
	w.Link.Table = o.Table
	if w.Link.StateDir == "" {
		return nil, errors.New("localcluster: WANOptions.Link.StateDir is required")
	}
	var err error
	w.Sim, err = pegasussim.Start(ctx, pegasussim.Options{
		Tables:   []pegasussim.TableSpec{{Name: o.Table, Partitions: o.FollowerPartitions}},
		Replicas: 3, Strict: o.Strict, ClusterID: FollowerClusterID,
		DupGroup: map[string]uint8{"master": MasterClusterID, "follower": FollowerClusterID},
		Logger:   o.logger().Named("simulator"),
	})
	if err != nil {
		return nil, fmt.Errorf("localcluster: start simulated follower: %w", err)
	}
	w.Link.FollowerMeta = w.Sim.MetaAddr()
	for _, a := range []*string{&w.Link.EdgeAddr, &w.Link.SinkAddr} {
		if *a == "" {
			port, err := freePort()
			if err != nil {
				w.Close()
				return nil, err
			}
			*a = fmt.Sprintf("127.0.0.1:%d", port)
		}
	}
	if w.Link.RelaySink == "" {
		w.Link.RelaySink = w.Link.SinkAddr
	}
	w.BridgeAddr = w.Link.EdgeAddr
	if err := w.StartSink(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := w.StartEdge(ctx); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

func (o *Options) logger() *zap.Logger {
	if o.Logger == nil {
		return zap.NewNop()
	}
	return o.Logger
}

// StartSink starts the sink (again) on Link.SinkAddr.
func (w *WAN) StartSink(ctx context.Context) error {
	cfg, err := config.Parse([]byte(SinkINI(w.Link)), "sink.ini")
	if err != nil {
		return fmt.Errorf("localcluster: sink configuration: %w", err)
	}
	return retryListen(func() error {
		w.Sink, err = relay.StartSink(ctx, cfg, relay.NodeOptions{Logger: w.Opts.logger().Named("sink")})
		return err
	})
}

// StartEdge starts the edge (again) on Link.EdgeAddr with its spool in
// Link.StateDir and waits until it knows the follower's layout.
func (w *WAN) StartEdge(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Clean(w.Link.StateDir), 0o700); err != nil {
		return err
	}
	cfg, err := config.Parse([]byte(EdgeINI(w.Link)), "edge.ini")
	if err != nil {
		return fmt.Errorf("localcluster: edge configuration: %w", err)
	}
	if err := retryListen(func() error {
		httpListen := w.Link.EdgeHTTP
		if httpListen == "" {
			httpListen = "-"
		}
		w.Edge, err = relay.StartEdge(ctx, cfg, relay.NodeOptions{Logger: w.Opts.logger().Named("edge"), HTTPListen: httpListen, Dial: w.edgeDial})
		return err
	}); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for w.Edge.Edge.PartitionCount(w.Link.Table) == 0 {
		if time.Now().After(deadline) {
			return errors.New("localcluster: the edge did not learn the follower layout within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// retryListen retries a start for a few seconds: a restarted node may find
// its port still held for a moment.
func retryListen(start func() error) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := start()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StopEdge stops the edge gracefully (its spool stays).
func (w *WAN) StopEdge() {
	if w.Edge != nil {
		_ = w.Edge.Stop()
		w.Edge = nil
	}
}

// StopSink stops the sink.
func (w *WAN) StopSink() {
	if w.Sink != nil {
		_ = w.Sink.Stop()
		w.Sink = nil
	}
}

// Close stops the edge, the sink and the simulator.
func (w *WAN) Close() {
	w.StopEdge()
	w.StopSink()
	if w.Sim != nil {
		w.Sim.Close()
	}
}
