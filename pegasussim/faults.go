package pegasussim

import (
	"fmt"
	"sync"
	"time"

	"github.com/dupbridge/dupbridge/codec"
)

// AllRPCs in the fault API means "every RPC".
const AllRPCs = "*"

// faults holds the injected faults; RPC names, or AllRPCs.
type faults struct {
	mu      sync.Mutex
	delays  map[string]time.Duration
	rpcErrs map[string][]*rpcInjection
	dupErrs []*dupInjection
}

type rpcInjection struct {
	errName string
	left    int
}

type dupInjection struct {
	code int32
	hint string
	left int
}

func (f *faults) init() {
	f.delays = map[string]time.Duration{}
	f.rpcErrs = map[string][]*rpcInjection{}
}

func (f *faults) delay(name string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.delays[name]; ok {
		return d
	}
	return f.delays[AllRPCs]
}

// takeRPC consumes one injected RPC-level error for name (the name's own
// queue first, then AllRPCs).
func (f *faults) takeRPC(name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range [2]string{name, AllRPCs} {
		q := f.rpcErrs[k]
		if len(q) == 0 {
			continue
		}
		inj := q[0]
		inj.left--
		if inj.left <= 0 {
			q = q[1:]
			if len(q) == 0 {
				delete(f.rpcErrs, k)
			} else {
				f.rpcErrs[k] = q
			}
		}
		return inj.errName, true
	}
	return "", false
}

func (f *faults) takeDup() (int32, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.dupErrs) == 0 {
		return 0, "", false
	}
	inj := f.dupErrs[0]
	inj.left--
	if inj.left <= 0 {
		f.dupErrs = f.dupErrs[1:]
	}
	return inj.code, inj.hint, true
}

// SetDelay delays every reply to rpc (an RPC name such as
// "RPC_RRDB_RRDB_DUPLICATE", or AllRPCs) by d; d = 0 removes the delay.
// The request is still handled at once; only its reply waits.
func (c *Cluster) SetDelay(rpc string, d time.Duration) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	if d <= 0 {
		delete(c.faults.delays, rpc)
		return
	}
	c.faults.delays[rpc] = d
}

// InjectError answers the next n calls of rpc (or AllRPCs) with the
// RPC-level error errName and an empty body, without handling them.
func (c *Cluster) InjectError(rpc, errName string, n int) error {
	if n < 1 || errName == "" || errName == codec.ErrorOK || len(errName) > codec.MaxNameLen {
		return fmt.Errorf("pegasussim: inject %q × %d: %w", errName, n, ErrBadArgument)
	}
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.rpcErrs[rpc] = append(c.faults.rpcErrs[rpc], &rpcInjection{errName: errName, left: n})
	c.logger.Sugar().Infof("pegasussim: simulator will answer the next %d %s with %s", n, rpc, errName)
	return nil
}

// InjectDuplicateError answers the next n well-formed duplicate requests
// with duplicate_response{error: code, error_hint: hint} (RPC-level ERR_OK)
// without applying them. Beware that code 4 makes a real master abort
// (wire.md §4.6).
func (c *Cluster) InjectDuplicateError(code int32, hint string, n int) error {
	if n < 1 {
		return fmt.Errorf("pegasussim: inject duplicate error × %d: %w", n, ErrBadArgument)
	}
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.dupErrs = append(c.faults.dupErrs, &dupInjection{code: code, hint: hint, left: n})
	return nil
}

// ClearFaults removes every injected delay and pending error, and the
// checkpoint-copy fault, and makes every partition available again.
func (c *Cluster) ClearFaults() {
	c.faults.mu.Lock()
	c.faults.init()
	c.faults.dupErrs = nil
	c.faults.mu.Unlock()
	c.clearNFSFault()
	c.mu.Lock()
	for _, t := range c.tables {
		for i := range t.configs {
			t.configs[i].unavailableUntil = time.Time{}
		}
	}
	c.mu.Unlock()
}

// CloseConnections closes the open connections of one endpoint (its
// host:port as reported by MetaAddr/ReplicaAddrs) or, with "", of all
// endpoints; it returns how many it closed. The endpoints keep listening.
func (c *Cluster) CloseConnections(endpoint string) (int, error) {
	n, found := 0, endpoint == ""
	for _, ep := range c.endpoints() {
		if endpoint == "" || ep.hostPort == endpoint {
			found = true
			n += ep.closeConns()
		}
	}
	if !found {
		return 0, fmt.Errorf("pegasussim: no endpoint %q: %w", endpoint, ErrBadArgument)
	}
	c.logger.Sugar().Infof("pegasussim: simulator closed %d connections of %q", n, endpoint)
	return n, nil
}

// MakeUnavailable makes the primary of table/partition answer errName
// (ERR_INVALID_STATE when empty; ERR_OBJECT_NOT_FOUND also makes sense) to
// every storage request for d. The meta keeps reporting the same
// configuration, as a meta does before it notices.
func (c *Cluster) MakeUnavailable(tableName string, pidx int, d time.Duration, errName string) error {
	if errName == "" {
		errName = codec.ErrorInvalidState
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.tableLocked(tableName, pidx)
	if err != nil {
		return err
	}
	t.configs[pidx].unavailableUntil = c.opts.Now().Add(d)
	t.configs[pidx].unavailableErr = errName
	return nil
}

// MovePrimary moves the primary of table/partition to the replica endpoint
// with index to and bumps the ballot. The old primary becomes a secondary
// (it then answers ERR_INVALID_STATE, as a real non-primary does); the
// secondaries are otherwise kept. It returns the new ballot.
func (c *Cluster) MovePrimary(tableName string, pidx, to int) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.tableLocked(tableName, pidx)
	if err != nil {
		return 0, err
	}
	if to < 0 || to >= len(c.replicas) {
		return 0, fmt.Errorf("pegasussim: replica endpoint %d of %d: %w", to, len(c.replicas), ErrBadArgument)
	}
	cfg := &t.configs[pidx]
	if cfg.primary != to {
		old := cfg.primary
		cfg.primary = to
		// A fresh slice: handlers hold copies of the old configuration.
		secs := append([]int(nil), cfg.secondaries...)
		if i := indexOf(secs, to); i >= 0 {
			secs[i] = old
		} else if len(secs) > 0 {
			// Keep max_replica_count consistent: the old primary replaces
			// the last secondary.
			secs[len(secs)-1] = old
		}
		cfg.secondaries = secs
	}
	cfg.ballot++
	c.logger.Sugar().Infof("pegasussim: simulator moved primary of %s.%d to replica %d, ballot %d", tableName, pidx, to, cfg.ballot)
	return cfg.ballot, nil
}

func indexOf(s []int, v int) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func (c *Cluster) tableLocked(name string, pidx int) (*table, error) {
	t := c.tables[name]
	if t == nil {
		return nil, fmt.Errorf("pegasussim: table %q: %w", name, ErrUnknownTable)
	}
	if pidx < 0 || pidx >= len(t.parts) {
		return nil, fmt.Errorf("pegasussim: table %q partition %d of %d: %w", name, pidx, len(t.parts), ErrBadArgument)
	}
	return t, nil
}
