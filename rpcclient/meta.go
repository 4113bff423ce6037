package rpcclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/thrift"
)

// Meta RPC names (wire.md §5.1).
const (
	RPCQueryConfig = codec.RPCQueryPartitionConfigByIndex
	RPCCreateApp   = codec.RPCCreateApp
	RPCListApps    = codec.RPCListApps
	RPCDropApp     = codec.RPCDropApp
)

// Error names the meta client reacts to (wire.md §1.11, §5.3).
const (
	errOK               = codec.ErrorOK
	errForwardToOthers  = codec.ErrorForwardToOthers
	errServiceNotActive = codec.ErrorServiceNotActive
	errUnderRecovery    = codec.ErrorUnderRecovery
)

// PartitionConfig is one partition_configuration (wire.md §4.1).
type PartitionConfig struct {
	AppID, Index    int32
	Ballot          int64 // < 0: a split child not ready yet (wire.md §6.3)
	MaxReplicaCount int32
	// Primary is "ip:port" of the primary rpc_address, "" when there is
	// none; PrimaryAddr is the raw u64 (wire.md §1.5).
	Primary        string
	PrimaryAddr    uint64
	Secondaries    []string
	SecondaryAddrs []uint64
	LastDrops      []uint64
	LastCommitted  int64
	Flags          int32
	// HPPrimary / HPSecondaries are "host:port" from the optional host_port
	// fields 9 and 10 (2.6 line); empty when unset.
	HPPrimary     string
	HPSecondaries []string
}

// PrimaryAddress returns where to send partition RPCs: the rpc_address
// primary, or hp_primary when only that is set.
func (p *PartitionConfig) PrimaryAddress() string {
	if p.Primary != "" {
		return p.Primary
	}
	return p.HPPrimary
}

// TableConfig is a query_cfg_response with err == ERR_OK (wire.md §4.1).
type TableConfig struct {
	AppID          int32
	PartitionCount int32
	IsStateful     bool
	Partitions     []PartitionConfig
}

// AppStatus is app_status (wire.md §4.3).
type AppStatus int32

const (
	AppStatusInvalid AppStatus = iota
	AppStatusAvailable
	AppStatusCreating
	AppStatusCreateFailed
	AppStatusDropping
	AppStatusDropFailed
	AppStatusDropped
	AppStatusRecalling
)

// AppInfo is app_info (wire.md §4.3).
type AppInfo struct {
	Status             AppStatus
	AppType            string
	AppName            string
	AppID              int32
	PartitionCount     int32
	Envs               map[string]string
	IsStateful         bool
	MaxReplicaCount    int32
	ExpireSecond       int64
	CreateSecond       int64
	DropSecond         int64
	Duplicating        bool
	InitPartitionCount int32
	IsBulkLoading      bool
	AtomicIdempotent   bool
}

// CreateAppOptions are create_app_options (wire.md §4.2). AppType "" means
// "pegasus"; tables are stateful unless Stateless.
type CreateAppOptions struct {
	PartitionCount int32
	ReplicaCount   int32
	SuccessIfExist bool
	AppType        string
	Stateless      bool
	Envs           map[string]string
}

// DropAppOptions are drop_app_options: {1: success_if_not_exist bool,
// 2: optional reserve_seconds i64} (idl/meta_admin.thrift).
type DropAppOptions struct {
	SuccessIfNotExist bool
	ReserveSeconds    int64 // 0 = not sent (the meta's default applies)
}

// MetaOptions configure a Meta.
type MetaOptions struct {
	Options
	// Rounds is how many full passes over the meta list a call makes
	// before it gives up with ErrNoMeta (default 3).
	Rounds int
	// RetryDelay is the pause between passes (default 1 s, as the C++
	// resolver waits before re-querying, wire.md §5.3).
	RetryDelay time.Duration
}

// Meta is a client of a meta server group. It remembers the last meta that
// answered (the leader) and starts there. Safe for concurrent use.
type Meta struct {
	pool       *Pool
	rounds     int
	retryDelay time.Duration

	mu     sync.Mutex
	addrs  []string
	leader int
}

// NewMeta returns a client of the metas at addrs ("host:port" each).
func NewMeta(addrs []string, opts MetaOptions) (*Meta, error) {
	if len(addrs) == 0 {
		return nil, errors.New("rpcclient: NewMeta: empty meta address list")
	}
	if opts.Rounds <= 0 {
		opts.Rounds = 3
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = time.Second
	}
	return &Meta{
		pool:       NewPool(opts.Options),
		rounds:     opts.Rounds,
		retryDelay: opts.RetryDelay,
		addrs:      slices.Clone(addrs),
	}, nil
}

// Addrs returns the meta list (including leaders learnt from hints).
func (m *Meta) Addrs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.addrs)
}

// Close closes the meta connections.
func (m *Meta) Close() error { return m.pool.Close() }

// QueryConfig queries the partition configuration of table; indices nil or
// empty means all partitions (wire.md §4.1). A meta error inside the
// response (no such table, busy creating, ...) is a *MetaError.
func (m *Meta) QueryConfig(ctx context.Context, table string, indices []int32) (*TableConfig, error) {
	var tc *TableConfig
	err := m.call(ctx, "query config of table "+table, RPCQueryConfig, queryConfigRequest(table, indices),
		func(r *thrift.Reader) (string, string, error) {
			cfg, errName, hint, err := decodeQueryConfigAnswer(r)
			tc = cfg
			return errName, hint, err
		})
	if err != nil {
		return nil, err
	}
	return tc, nil
}

// QueryConfigRaw is QueryConfig for a proxy: it follows leader hints the
// same way, then returns the answering meta's response body as received
// (the result wrapper around query_cfg_response) with its err field,
// whatever that is (ERR_OBJECT_NOT_FOUND included). err is set only when
// no meta gave a final answer.
func (m *Meta) QueryConfigRaw(ctx context.Context, table string, indices []int32) (body []byte, errName string, err error) {
	err = m.call(ctx, "query config of table "+table, RPCQueryConfig, queryConfigRequest(table, indices),
		func(r *thrift.Reader) (string, string, error) {
			_, name, hint, err := decodeQueryConfigAnswer(r)
			body, errName = r.Bytes(), name
			return name, hint, err
		})
	var me *MetaError
	if err != nil && (errors.Is(err, ErrNoMeta) || !errors.As(err, &me)) {
		return nil, "", err
	}
	return body, errName, nil
}

// GoQueryConfigRaw is QueryConfigRaw without blocking the caller: the
// query goes to the last meta that answered, when a connection to it is
// up, and cb gets that answer on the connection's reader goroutine. Anything but a final answer (a
// transport error, an RPC-level error, "not the leader") falls back to
// QueryConfigRaw on a goroutine of its own, which follows hints and fails
// over. cb is called exactly once and must not block. The answer's
// partitions are walked, not decoded: a proxy passes the body on as is.
func (m *Meta) GoQueryConfigRaw(ctx context.Context, table string, indices []int32, cb func(body []byte, errName string, err error)) {
	slow := func() { go func() { cb(m.QueryConfigRaw(ctx, table, indices)) }() }
	m.mu.Lock()
	addr := m.addrs[m.leader]
	m.mu.Unlock()
	c, err := m.pool.Get(addr)
	if err != nil || !c.Connected() {
		slow() // never dial on the caller's goroutine (a gnet event loop)
		return
	}
	req := &Request{RPCName: RPCQueryConfig, Body: requestBody(c, queryConfigRequest(table, indices))}
	err = c.Go(ctx, req, func(resp *Response, err error) {
		if err != nil || !resp.OK() {
			slow()
			return
		}
		r := thrift.NewReader(resp.Body)
		if _, _, err := r.ReadWrapperBegin(); err != nil {
			slow()
			return
		}
		name, err := queryConfigErr(&r)
		if err != nil || name == errForwardToOthers || name == errServiceNotActive || name == errUnderRecovery {
			slow()
			return
		}
		cb(resp.Body, name, nil)
	})
	if err != nil {
		slow()
	}
}

// queryConfigErr reads the err field of a query_cfg_response, which
// generated thrift writes first (field 1), and leaves the rest unread: a
// proxy passes the body on as is. Another first field (a hand-written
// sender) is decoded whole instead. Partitions cannot be skipped blindly:
// their rpc_address and gpid travel with the STRUCT type byte and a
// non-struct payload (wire.md §3).
func queryConfigErr(r *thrift.Reader) (string, error) {
	start := r.Pos()
	t, id, err := r.ReadFieldHeader()
	if err == nil && id == 1 && t == thrift.STRUCT {
		b, err := r.ReadString()
		return string(b), err
	}
	r.SetPos(start)
	_, name, err := decodeQueryConfig(r)
	return name, err
}

// requestBody wraps a request struct for c's framing: field id 0 in RDSN
// bodies, the args id 1 in THFT (wire.md §1.9, §2.3).
func requestBody(c *Conn, encode func(w *thrift.Writer)) []byte {
	var id int16
	if c.Framing() == codec.FramingTHFT {
		id = 1
	}
	w := thrift.Writer{B: make([]byte, 0, 128)}
	w.WrapperBegin(thrift.STRUCT, id)
	encode(&w)
	w.WrapperEnd()
	return w.B
}

// queryConfigRequest encodes query_cfg_request (wire.md §4.1).
func queryConfigRequest(table string, indices []int32) func(w *thrift.Writer) {
	return func(w *thrift.Writer) {
		w.FieldHeader(thrift.STRING, 1)
		w.String(table)
		w.FieldHeader(thrift.LIST, 2)
		w.ListHeader(thrift.I32, len(indices))
		for _, i := range indices {
			w.I32(i)
		}
		w.Stop()
	}
}

// decodeQueryConfigAnswer decodes a query_cfg_response; for "not the
// leader" (ERR_FORWARD_TO_OTHERS) the leader hint is the first partition's
// primary (wire.md §1.11) and cfg is nil.
func decodeQueryConfigAnswer(r *thrift.Reader) (cfg *TableConfig, errName, hint string, err error) {
	cfg, errName, err = decodeQueryConfig(r)
	if err != nil {
		return nil, "", "", err
	}
	if errName == errForwardToOthers {
		if len(cfg.Partitions) > 0 {
			hint = cfg.Partitions[0].PrimaryAddress()
		}
		return nil, errName, hint, nil
	}
	return cfg, errName, "", nil
}

// ListApps lists tables with the given status (AppStatusInvalid = all).
func (m *Meta) ListApps(ctx context.Context, status AppStatus) ([]AppInfo, error) {
	var infos []AppInfo
	err := m.call(ctx, "list apps", RPCListApps, func(w *thrift.Writer) {
		w.FieldHeader(thrift.I32, 1)
		w.I32(int32(status))
		w.Stop()
	}, func(r *thrift.Reader) (string, string, error) {
		var errName string
		var err error
		infos, errName, err = decodeListApps(r)
		return errName, "", err
	})
	return infos, err
}

// CreateApp creates table and returns its app id.
func (m *Meta) CreateApp(ctx context.Context, table string, o CreateAppOptions) (int32, error) {
	var appID int32
	appType := o.AppType
	if appType == "" {
		appType = "pegasus"
	}
	err := m.call(ctx, "create table "+table, RPCCreateApp, func(w *thrift.Writer) {
		w.FieldHeader(thrift.STRING, 1)
		w.String(table)
		w.FieldHeader(thrift.STRUCT, 2)
		w.FieldHeader(thrift.I32, 1)
		w.I32(o.PartitionCount)
		w.FieldHeader(thrift.I32, 2)
		w.I32(o.ReplicaCount)
		w.FieldHeader(thrift.BOOL, 3)
		w.Bool(o.SuccessIfExist)
		w.FieldHeader(thrift.STRING, 4)
		w.String(appType)
		w.FieldHeader(thrift.BOOL, 5)
		w.Bool(!o.Stateless)
		w.FieldHeader(thrift.MAP, 6)
		w.MapHeader(thrift.STRING, thrift.STRING, len(o.Envs))
		keys := make([]string, 0, len(o.Envs))
		for k := range o.Envs {
			keys = append(keys, k)
		}
		slices.Sort(keys) // deterministic bytes
		for _, k := range keys {
			w.String(k)
			w.String(o.Envs[k])
		}
		w.Stop()
		w.Stop()
	}, func(r *thrift.Reader) (string, string, error) {
		var errName string
		var err error
		errName, appID, err = decodeErrAndI32(r)
		return errName, "", err
	})
	return appID, err
}

// DropApp drops table.
func (m *Meta) DropApp(ctx context.Context, table string, o DropAppOptions) error {
	return m.call(ctx, "drop table "+table, RPCDropApp, func(w *thrift.Writer) {
		w.FieldHeader(thrift.STRING, 1)
		w.String(table)
		w.FieldHeader(thrift.STRUCT, 2)
		w.FieldHeader(thrift.BOOL, 1)
		w.Bool(o.SuccessIfNotExist)
		if o.ReserveSeconds != 0 {
			w.FieldHeader(thrift.I64, 2)
			w.I64(o.ReserveSeconds)
		}
		w.Stop()
		w.Stop()
	}, func(r *thrift.Reader) (string, string, error) {
		errName, _, err := decodeErrAndI32(r)
		return errName, "", err
	})
}

// call runs one meta RPC with failover. encode writes the request struct's
// fields and its STOP; decode reads the response struct (after the wrapper
// header) and returns the struct's err name and, for "not the leader", a
// leader hint.
func (m *Meta) call(ctx context.Context, op, rpc string,
	encode func(w *thrift.Writer),
	decode func(r *thrift.Reader) (errName, hint string, err error),
) error {
	var lastErr error
	hops := 0
	for round := 0; round < m.rounds; round++ {
		if round > 0 {
			t := time.NewTimer(m.retryDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("rpcclient: %s: %w (last error: %v)", op, ctx.Err(), lastErr)
			case <-t.C:
			}
		}
		m.mu.Lock()
		n := len(m.addrs)
		start := m.leader
		m.mu.Unlock()
		next := ""
		for i := 0; i < n || next != ""; i++ {
			var addr string
			if next != "" {
				addr, next = next, ""
			} else {
				m.mu.Lock()
				addr = m.addrs[(start+i)%len(m.addrs)]
				m.mu.Unlock()
			}
			errName, hint, err := m.callOne(ctx, addr, op, rpc, encode, decode)
			if ctx.Err() != nil {
				return fmt.Errorf("rpcclient: %s: %w (last error: %v)", op, ctx.Err(), err)
			}
			if err != nil {
				lastErr = err
				continue
			}
			switch errName {
			case errOK:
				m.setLeader(addr)
				return nil
			case errForwardToOthers, errServiceNotActive, errUnderRecovery:
				lastErr = &MetaError{Op: op, Addr: addr, Err: errName}
				if hint != "" && hint != addr && hops < 2*n+2 {
					hops++
					m.addAddr(hint)
					next = hint // follow the leader hint at once (wire.md §1.11)
				}
				continue
			default:
				m.setLeader(addr)
				return &MetaError{Op: op, Addr: addr, Err: errName}
			}
		}
	}
	return fmt.Errorf("rpcclient: %s: %w after %d rounds: %w", op, ErrNoMeta, m.rounds, lastErr)
}

func (m *Meta) callOne(ctx context.Context, addr, op, rpc string,
	encode func(w *thrift.Writer),
	decode func(r *thrift.Reader) (string, string, error),
) (errName, hint string, err error) {
	c, err := m.pool.Get(addr)
	if err != nil {
		return "", "", err
	}
	resp, err := c.CallStruct(ctx, rpc, encode)
	if err != nil {
		return "", "", err
	}
	if !resp.OK() {
		rerr := &RPCError{Addr: addr, RPC: rpc, Err: resp.Err}
		if resp.Err == errForwardToOthers {
			// A "pure client" redirect carries the leader's wrapped
			// rpc_address (wire.md §1.11); follow it.
			r := thrift.NewReader(resp.Body)
			if _, _, e := r.ReadWrapperBegin(); e == nil {
				if v, e := r.ReadRPCAddress(); e == nil && addrString(v) != "" {
					return errForwardToOthers, addrString(v), nil
				}
			}
		}
		return "", "", rerr
	}
	r := thrift.NewReader(resp.Body)
	if _, _, err := r.ReadWrapperBegin(); err != nil {
		return "", "", fmt.Errorf("rpcclient: %s from %s: %w: %w", op, addr, ErrDecode, err)
	}
	errName, hint, err = decode(&r)
	if err != nil {
		return "", "", fmt.Errorf("rpcclient: %s from %s: %w: %w", op, addr, ErrDecode, err)
	}
	return errName, hint, nil
}

func (m *Meta) setLeader(addr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := slices.Index(m.addrs, addr); i >= 0 {
		m.leader = i
	}
}

func (m *Meta) addAddr(addr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.addrs, addr) {
		m.addrs = append(m.addrs, addr)
	}
}

// addrString formats an rpc_address (wire.md §1.5) as "a.b.c.d:port";
// "" for an address that is not IPv4.
func addrString(v uint64) string {
	if codec.AddressType(v) != codec.AddressTypeIPv4 {
		return ""
	}
	return codec.FormatAddress(v)
}
