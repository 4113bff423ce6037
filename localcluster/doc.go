// Package localcluster runs a whole dupbridge deployment in one process on
// loopback ports: a simulated follower cluster (pegasussim — a simulator,
// not Pegasus), the bridge in front of it, wired as `dupbridge serve` wires
// it (server, follower routers, their metrics), and the replay tool playing
// the master. `dupbridge demo` and the end-to-end tests build on it.
//
// What it guarantees: Start returns once the bridge serves and has opened
// the follower table; Replay ships plogs through the bridge with Pegasus's
// discipline; Check reads every key back through the follower's own routing
// and reports what the simulator saw (held, misplaced, outside keys);
// RestartBridge stops the bridge gracefully and starts a fresh one on the
// same address; with Options.HTTP the bridge's HTTP interface (/metrics,
// /status) is served on a loopback port that survives restarts. StartWAN
// runs the WAN link instead of a direct bridge: a sink beside the simulated
// follower and an edge in front of it (relay.StartSink, relay.StartEdge),
// each restartable; EdgeINI and SinkINI write their configuration files for
// runs with real processes.
//
// How: the simulator and the bridge listen on 127.0.0.1 ports picked by
// the kernel; the bridge's configuration is generated INI text parsed by
// config.Parse, so the demo runs the same validation as a real file.
//
// Why a package of its own: the demo is part of the binary, and the binary
// must not link test code (integration tests, internal/wirevec). No product
// package imports it: the bridge itself never links the simulator.
package localcluster
