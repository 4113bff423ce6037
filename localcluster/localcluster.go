package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/checkpoint"
	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/server"
	"github.com/dupbridge/dupbridge/server/follower"
	"github.com/dupbridge/dupbridge/verify"
)

// Cluster ids of the deployment ([duplication-group]).
const (
	MasterClusterID   = 1
	FollowerClusterID = 2
)

// Options configure Start.
type Options struct {
	Table              string // default "demo"
	FollowerPartitions int    // default 32
	// AdvertisedPartitions is what the bridge tells masters (0: the
	// follower's count).
	AdvertisedPartitions int
	// Strict makes the simulated follower reject misplaced keys.
	Strict bool
	// FailurePolicy of the table: "slow" (default) or "skip".
	FailurePolicy     string
	SkipAfterAttempts int
	// VerifyTimetag sets the table's verify_timetag: the bridge marks every
	// PUT and MULTI_PUT it forwards so that the follower keeps the newer
	// value of a key (duplication.md §4.4).
	VerifyTimetag bool
	// MaxInflightBytes of the bridge (default 64 MiB).
	MaxInflightBytes int64
	// LaggingWriteThreshold of the bridge (0: config's default).
	LaggingWriteThreshold time.Duration
	// HTTP serves the bridge's HTTP interface (/metrics, /status, ...) on
	// a loopback port (Env.HTTPAddr) that stays the same across bridge
	// restarts, as a scrape target does.
	HTTP bool
	// BridgeKeys are extra lines of the bridge's [dupbridge] section
	// (e.g. "frame_timeout = 2s\n").
	BridgeKeys string
	// StateDir is the bridge's state_dir (default: a temporary directory
	// that Close removes); restarts keep it.
	StateDir string
	// Full duplication (full_duplication = load): OpenCheckpoint reads a
	// staged master partition (nil: checkpoint loads fail); the copy rate
	// (bytes/s), load rate (keys/s), copy chunk size and load step bound
	// the job (0: the defaults).
	OpenCheckpoint     checkpoint.Opener
	CheckpointCopyRate int64
	CheckpointLoadRate float64
	CopyChunkBytes     int
	LoadStepKeys       int
	Logger             *zap.Logger
}

// Env is a running deployment.
type Env struct {
	Opts      Options
	Sim       *pegasussim.Cluster
	Config    *config.Config
	Followers *follower.Set
	Bridge    *server.Server
	// BridgeAddr is the bridge's meta and replica address.
	BridgeAddr string
	// HTTPAddr is where the bridge's HTTP interface is served (with
	// Options.HTTP; empty otherwise).
	HTTPAddr string

	cancel  context.CancelFunc
	done    chan error
	tempDir string // the default StateDir, removed by Close
	http    *http.Server
	handler atomic.Pointer[http.Handler] // the running bridge's
}

// Start starts the simulated follower, then the bridge, and waits until the
// bridge has opened the follower table.
func Start(ctx context.Context, o Options) (*Env, error) {
	if o.Table == "" {
		o.Table = "demo"
	}
	if o.FollowerPartitions == 0 {
		o.FollowerPartitions = 32
	}
	if o.FailurePolicy == "" {
		o.FailurePolicy = "slow"
	}
	if o.MaxInflightBytes == 0 {
		o.MaxInflightBytes = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	e := &Env{done: make(chan error, 1)}
	if o.StateDir == "" {
		d, err := os.MkdirTemp("", "dupbridge-state-")
		if err != nil {
			return nil, fmt.Errorf("localcluster: state_dir: %w", err)
		}
		o.StateDir, e.tempDir = d, d
	}
	e.Opts = o
	var err error
	e.Sim, err = pegasussim.Start(ctx, pegasussim.Options{
		Tables:    []pegasussim.TableSpec{{Name: o.Table, Partitions: o.FollowerPartitions}},
		Replicas:  3,
		Strict:    o.Strict,
		ClusterID: FollowerClusterID,
		DupGroup:  map[string]uint8{"master": MasterClusterID, "follower": FollowerClusterID},
		Logger:    o.Logger.Named("simulator"),
	})
	if err != nil {
		e.removeTemp()
		return nil, fmt.Errorf("localcluster: start simulated follower: %w", err)
	}
	if err := e.startBridge(ctx); err != nil {
		e.Sim.Close()
		e.removeTemp()
		return nil, err
	}
	if o.HTTP {
		if err := e.serveHTTP(); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// serveHTTP serves the HTTP interface of whichever bridge is running.
func (e *Env) serveHTTP() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("localcluster: http listen: %w", err)
	}
	e.HTTPAddr = ln.Addr().String()
	e.http = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := e.handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "bridge restarting", http.StatusServiceUnavailable)
	})}
	go func() { _ = e.http.Serve(ln) }()
	return nil
}

func (e *Env) startBridge(ctx context.Context) error {
	o := e.Opts
	if e.BridgeAddr == "" { // a restart keeps the address masters know
		port, err := freePort()
		if err != nil {
			return err
		}
		e.BridgeAddr = fmt.Sprintf("127.0.0.1:%d", port)
	}
	skip := ""
	if o.FailurePolicy == "skip" {
		skip = fmt.Sprintf("skip_after_attempts = %d\n", max(o.SkipAfterAttempts, 1))
	}
	lagging := ""
	if o.LaggingWriteThreshold > 0 {
		lagging = fmt.Sprintf("lagging_write_threshold = %s\n", o.LaggingWriteThreshold)
	}
	ini := fmt.Sprintf(`[pegasus.clusters]
follower = %s
[duplication-group]
master = %d
follower = %d
[dupbridge]
listen = %s
advertised_address = %s
max_inflight_bytes = %d
shutdown_timeout = 5s
state_dir = %s
checkpoint_copy_rate = %d
checkpoint_load_rate = %g
%s[table.%s]
follower_cluster = follower
follower_table = %s
advertised_partition_count = %d
failure_policy = %s
verify_timetag = %v
%smaster_cluster = master
`, e.Sim.MetaAddr(), MasterClusterID, FollowerClusterID, e.BridgeAddr, e.BridgeAddr,
		o.MaxInflightBytes, o.StateDir, o.CheckpointCopyRate, o.CheckpointLoadRate, lagging+o.BridgeKeys, o.Table, o.Table, o.AdvertisedPartitions, o.FailurePolicy, o.VerifyTimetag, skip)
	cfg, err := config.Parse([]byte(ini), "localcluster.ini")
	if err != nil {
		return fmt.Errorf("localcluster: bridge configuration: %w", err)
	}
	e.Config = cfg
	e.Followers, err = follower.New(cfg, follower.Options{Logger: o.Logger.Named("follower"),
		OpenCheckpoint: o.OpenCheckpoint,
		Fetch: checkpoint.FetchOptions{BytesPerSecond: cfg.Bridge.CheckpointCopyRate, ChunkBytes: o.CopyChunkBytes,
			Parallel: cfg.Bridge.CheckpointCopyParallel},
		Load: checkpoint.LoadOptions{KeysPerSecond: cfg.Bridge.CheckpointLoadRate, StepKeys: o.LoadStepKeys},
	})
	if err != nil {
		return fmt.Errorf("localcluster: follower routers: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	e.cancel = cancel
	e.Followers.Open(runCtx)
	e.Bridge, err = e.newBridge()
	if err != nil {
		cancel()
		e.Followers.Close()
		return fmt.Errorf("localcluster: bridge: %w", err)
	}
	if err := e.runBridge(ctx, runCtx); err != nil {
		cancel()
		e.Followers.Close()
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.Followers.PartitionCount(o.Table) == 0 {
		if time.Now().After(deadline) {
			e.Close()
			return errors.New("localcluster: the bridge did not open the follower table within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// newBridge wires a bridge as `dupbridge serve` does (follower.Set.Wire);
// its HTTP interface is served by serveHTTP, whose port outlives restarts.
func (e *Env) newBridge() (*server.Server, error) {
	so := server.Options{Config: e.Config, Logger: e.Opts.Logger.Named("bridge"), HTTPListen: "-"}
	e.Followers.Wire(&so)
	b, err := server.New(so)
	if err != nil {
		return nil, err
	}
	h := b.HTTPHandler()
	e.handler.Store(&h)
	return b, nil
}

// runBridge starts the server; a restart may find the port still held for
// a moment, so listening is retried for a few seconds.
func (e *Env) runBridge(ctx, runCtx context.Context) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		go func() { e.done <- e.Bridge.Run(runCtx) }()
		select {
		case <-e.Bridge.Ready():
			return nil
		case err := <-e.done:
			if time.Now().After(deadline) || err == nil {
				return fmt.Errorf("localcluster: bridge stopped at start: %w", err)
			}
			time.Sleep(100 * time.Millisecond)
			e.Bridge, err = e.newBridge()
			if err != nil {
				return fmt.Errorf("localcluster: bridge: %w", err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Replay plays the master: it ships the plogs under paths to the bridge as
// a master replica's duplicator does.
func (e *Env) Replay(ctx context.Context, paths []string, o replay.Options) (replay.Summary, error) {
	o.MetaAddrs = []string{e.BridgeAddr}
	o.Table = e.Opts.Table
	o.ClusterID = MasterClusterID
	o.Paths = paths
	if o.RetryDelay == 0 {
		o.RetryDelay = 100 * time.Millisecond
	}
	return replay.Run(ctx, o)
}

// Check is what Env.Check found on the follower.
type Check struct {
	Want      *verify.State  // what the logs imply
	Report    *verify.Report // every key read back through the follower's routing
	Held      int            // live keys the follower holds
	Misplaced []pegasussim.MisplacedKey
	// Outside are records stored outside the partition their hash names.
	Outside []pegasussim.Record
}

// Err is nil when the follower holds exactly what the logs imply (which
// may be nothing), each key where its hash says and no misplaced write seen.
func (c *Check) Err() error {
	switch {
	case !c.Report.OK():
		return fmt.Errorf("%d of %d keys wrong on the follower (Report.Problems lists the first)", c.Report.Mismatches, c.Report.Checked)
	case len(c.Misplaced) > 0:
		return fmt.Errorf("%d misplaced keys on the follower, first %+v", len(c.Misplaced), c.Misplaced[0])
	case c.Held != len(c.Want.Keys):
		return fmt.Errorf("follower holds %d keys, the logs imply %d", c.Held, len(c.Want.Keys))
	case len(c.Outside) > 0:
		return fmt.Errorf("%d records outside the partition their hash names", len(c.Outside))
	}
	return nil
}

// Check verifies the follower table against the plogs of parts (one list
// per master partition, as verify.FromPlogs) through the follower's own
// routing, and collects what the simulator saw: held keys, misplaced keys,
// records outside their partition. The error is about reading; c.Err()
// says whether the follower is right.
func (e *Env) Check(ctx context.Context, parts [][]string) (*Check, error) {
	c := &Check{}
	var err error
	if c.Want, err = verify.FromPlogs(parts); err != nil {
		return nil, err
	}
	if c.Report, err = verify.Follower(ctx, e.FollowerMetas(), e.Opts.Table, c.Want, verify.Options{}); err != nil {
		return nil, err
	}
	held, err := e.Sim.Dump(e.Opts.Table)
	if err != nil {
		return nil, err
	}
	c.Held = len(held)
	if c.Misplaced, err = e.Sim.Misplaced(e.Opts.Table); err != nil {
		return nil, err
	}
	if c.Outside, err = e.Sim.CheckPlacement(e.Opts.Table); err != nil {
		return nil, err
	}
	return c, nil
}

// RestartBridge stops the bridge gracefully and starts a new one on another
// port (the follower keeps its data).
func (e *Env) RestartBridge(ctx context.Context) error {
	e.stopBridge()
	e.done = make(chan error, 1)
	return e.startBridge(ctx)
}

func (e *Env) stopBridge() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.Followers.Close()
		e.cancel = nil
	}
}

// Close stops the HTTP interface and the bridge, then the simulator.
func (e *Env) Close() {
	if e.http != nil {
		_ = e.http.Close()
	}
	e.stopBridge()
	e.Sim.Close()
	e.removeTemp()
}

// removeTemp removes the default state_dir.
func (e *Env) removeTemp() {
	if e.tempDir != "" {
		_ = os.RemoveAll(e.tempDir)
	}
}

// FollowerMetas are the follower's meta addresses (for reading through its
// own routing).
func (e *Env) FollowerMetas() []string { return []string{e.Sim.MetaAddr()} }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("localcluster: pick a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
