package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/pegasussim"
)

// newSimCmd runs the simulated follower Pegasus cluster standalone.
func newSimCmd(g *globalFlags) *cobra.Command {
	var (
		tables     string
		replicas   int
		listen     string
		httpAddr   string
		strict     bool
		clusterID  uint8
		dupGroup   string
		ignoreIDs  bool
		noHostPort bool
		hostName   string
		ckpts      string
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run a simulated follower Pegasus cluster (a simulator, for tests and demos)",
		Long: `Run a simulator of a follower Apache Pegasus cluster: one meta endpoint and
N replica endpoints on loopback, speaking RDSN and THFT, with in-memory tables
that apply writes (including RPC_RRDB_RRDB_DUPLICATE) with Pegasus's rules.
It is not Pegasus: nothing is persisted. It prints the meta and replica
addresses and runs until interrupted.`,
		Example: `  dupbridge sim --tables temp:8,other:4 --replicas 3 --cluster-id 2 --dup-group master=1,follower=2
  dupbridge sim --tables temp:8 --listen 127.0.0.1:34601 --http 127.0.0.1:8080 --strict
  dupbridge sim --tables master:8 --checkpoints master=/srv/ckpt   # serves /srv/ckpt/N as partition N's checkpoint`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			defer log.Sync()
			if replicas < 1 || replicas > maxSimReplicas {
				return fmt.Errorf("sim: --replicas %d: want 1..%d", replicas, maxSimReplicas)
			}
			specs, err := parseSimTables(tables, replicas)
			if err != nil {
				return err
			}
			group, err := parseDupGroup(dupGroup)
			if err != nil {
				return err
			}
			if err := setCheckpointDirs(specs, ckpts); err != nil {
				return err
			}
			opts := pegasussim.Options{
				Tables: specs, Replicas: replicas, HTTPAddr: httpAddr, Strict: strict,
				ClusterID: clusterID, DupGroup: group, DupIgnoreOtherClusterIDs: ignoreIDs,
				OmitHostPort: noHostPort, HostName: hostName, Logger: log,
			}
			if listen != "" {
				// --listen is the meta address; replicas take the ports after
				// it when it names a port, else ephemeral ports.
				opts.MetaAddr = listen
				opts.ReplicaAddrs, err = replicaAddrs(listen, replicas)
				if err != nil {
					return err
				}
			}
			sim, err := pegasussim.Start(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer sim.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "simulator meta %s\n", sim.MetaAddr())
			for i, a := range sim.ReplicaAddrs() {
				fmt.Fprintf(out, "simulator replica %d %s\n", i, a)
			}
			if a := sim.HTTPAddr(); a != "" {
				fmt.Fprintf(out, "simulator http %s\n", a)
			}
			for _, t := range sim.Tables() {
				fmt.Fprintf(out, "simulator table %s app_id %d partitions %d\n", t.Name, t.AppID, len(t.Partitions))
			}
			<-cmd.Context().Done()
			log.Info("pegasussim: simulator stopping", zap.Any("counters", sim.Counters()))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&tables, "tables", "", "tables to create, name:partitions[:replicas],... (e.g. temp:8,other:4)")
	f.IntVar(&replicas, "replicas", 3, "number of replica endpoints")
	f.StringVar(&listen, "listen", "127.0.0.1:0", "meta listen address (loopback); replicas use the following ports, or ephemeral ports with :0")
	f.StringVar(&httpAddr, "http", "", "JSON control endpoint address (loopback), empty for none")
	f.BoolVar(&strict, "strict", false, "reject writes whose keys belong to another partition with ERR_PARENT_PARTITION_MISUSED (default: apply and count them)")
	f.Uint8Var(&clusterID, "cluster-id", 0, "this follower's own duplication cluster id (0: none)")
	f.StringVar(&dupGroup, "dup-group", "", "[duplication-group] cluster ids, name=id,... (e.g. master=1,follower=2)")
	f.BoolVar(&ignoreIDs, "dup-ignore-other-cluster-ids", false, "accept any duplicate cluster id except our own (dup_ignore_other_cluster_ids)")
	f.BoolVar(&noHostPort, "no-host-port", false, "omit hp_* fields in query-config answers (peers older than Pegasus 2.6)")
	f.StringVar(&ckpts, "checkpoints", "", "master face: table=DIR,...; DIR/N is served as partition N's last checkpoint (full duplication)")
	f.StringVar(&hostName, "host-name", "", "host name in hp_* fields (default: the listen IP)")
	return cmd
}

// maxSimReplicas bounds --replicas (each is a listening endpoint).
const maxSimReplicas = 64

// parseSimTables parses --tables; a table's replica count cannot exceed the
// replica endpoints (Pegasus's create_app checks it against alive nodes).
func parseSimTables(s string, replicas int) ([]pegasussim.TableSpec, error) {
	var out []pegasussim.TableSpec
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
			return nil, fmt.Errorf("sim: --tables %q: want name:partitions[:replicas]", item)
		}
		n, err := strconv.Atoi(parts[1])
		if err != nil || n < 1 || n > maxPartitions {
			return nil, fmt.Errorf("sim: --tables %q: partition count: want 1..%d", item, maxPartitions)
		}
		spec := pegasussim.TableSpec{Name: parts[0], Partitions: n}
		if len(parts) == 3 {
			if spec.ReplicaCount, err = strconv.Atoi(parts[2]); err != nil || spec.ReplicaCount < 1 || spec.ReplicaCount > replicas {
				return nil, fmt.Errorf("sim: --tables %q: replica count: want 1..%d (--replicas)", item, replicas)
			}
		}
		out = append(out, spec)
	}
	return out, nil
}

func parseDupGroup(s string) (map[string]uint8, error) {
	out := map[string]uint8{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, id, ok := strings.Cut(item, "=")
		v, err := strconv.ParseUint(id, 10, 8)
		if !ok || name == "" || err != nil || v < 1 || v > 127 {
			return nil, fmt.Errorf("sim: --dup-group %q: want name=id with id 1..127", item)
		}
		out[name] = uint8(v)
	}
	return out, nil
}

func replicaAddrs(listen string, n int) ([]string, error) {
	host, port, err := splitHostPort(listen)
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		p := 0
		if port != 0 {
			p = port + 1 + i
		}
		out[i] = fmt.Sprintf("%s:%d", host, p)
	}
	return out, nil
}

func splitHostPort(a string) (string, int, error) {
	i := strings.LastIndexByte(a, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("sim: --listen %q: want host:port", a)
	}
	p, err := strconv.Atoi(a[i+1:])
	if err != nil || p < 0 || p+1 > 65535 {
		return "", 0, fmt.Errorf("sim: --listen %q: bad port", a)
	}
	return a[:i], p, nil
}

// setCheckpointDirs applies --checkpoints table=DIR,... to the table specs.
func setCheckpointDirs(specs []pegasussim.TableSpec, v string) error {
	for _, item := range splitAddrs(v) {
		name, dir, ok := strings.Cut(item, "=")
		i := slices.IndexFunc(specs, func(s pegasussim.TableSpec) bool { return s.Name == name })
		if !ok || dir == "" || i < 0 {
			return fmt.Errorf("sim: --checkpoints %q: want table=DIR for a table of --tables", item)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("sim: --checkpoints %q: %w", item, err)
		}
		specs[i].CheckpointDir = abs
	}
	return nil
}
