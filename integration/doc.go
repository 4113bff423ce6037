// Package integration holds the end-to-end tests: the replay tool playing a
// master, the bridge, and the simulated follower cluster (pegasussim), all
// over real loopback sockets, wired by localcluster.
package integration
