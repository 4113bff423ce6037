package metaproxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/config"
)

// Record is the value of the ZooKeeper node <root>/<table>, in the layout
// of pegasus-kv/meta-proxy: {"cluster_name": "...", "meta_addrs": "a:p,b:p"}.
type Record struct {
	ClusterName string `json:"cluster_name"`
	MetaAddrs   string `json:"meta_addrs"`
}

// Metas returns the meta addresses of r, in order.
func (r Record) Metas() []string {
	var out []string
	for _, a := range strings.Split(r.MetaAddrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Errors of the mapping. The proxy answers them with the error names
// pegasus-kv/meta-proxy uses (ErrorName).
var (
	// ErrNoTable: <root>/<table> does not exist.
	ErrNoTable = errors.New("metaproxy: no mapping for the table")
	// ErrMalformed: the node holds no valid Record.
	ErrMalformed = errors.New("metaproxy: malformed mapping")
	// ErrZooKeeper: ZooKeeper could not be asked (down, session lost, ...).
	ErrZooKeeper = errors.New("metaproxy: zookeeper operation failed")
	// ErrConflict: a versioned write lost against another writer.
	ErrConflict = errors.New("metaproxy: the mapping changed meanwhile (version conflict)")
	// ErrExists: a create found the node already there.
	ErrExists = errors.New("metaproxy: the mapping exists already")
	// ErrTableName: not a Pegasus table name (nor a ZooKeeper node name).
	ErrTableName = errors.New("metaproxy: not a table name")
)

// ParseRecord decodes and checks a node's value: valid JSON with a
// cluster_name and at least one host:port in meta_addrs (pegasus-kv's
// proxy wants two or more; one is enough here: a single-meta test cluster).
func ParseRecord(data []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := r.Check(); err != nil {
		return r, err
	}
	return r, nil
}

// Check validates r before it is written or used.
func (r Record) Check() error {
	if strings.TrimSpace(r.ClusterName) == "" {
		return fmt.Errorf("%w: empty cluster_name", ErrMalformed)
	}
	metas := r.Metas()
	if len(metas) == 0 {
		return fmt.Errorf("%w: meta_addrs %q lists no meta server", ErrMalformed, r.MetaAddrs)
	}
	for _, a := range metas {
		host, port, err := net.SplitHostPort(a)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n <= 0 || n > 65535 {
			return fmt.Errorf("%w: meta address %q is not host:port", ErrMalformed, a)
		}
	}
	return nil
}

// Store reads and writes the table → cluster mapping in ZooKeeper. Safe for
// concurrent use.
type Store struct {
	conn   *zk.Conn
	root   string
	events <-chan zk.Event
}

// StoreOptions configure Dial.
type StoreOptions struct {
	// SessionTimeout; config.DefaultProxySessionTimeout when 0.
	SessionTimeout time.Duration
	// Logger receives the ZooKeeper client's lines at debug level.
	Logger *zap.Logger
	// OnEvent, when set, is called for every session event (connection
	// state changes), on the ZooKeeper client's goroutine; it must not block.
	OnEvent func(zk.Event)
}

// Dial starts a ZooKeeper session with servers (host:port each) for the
// nodes under root. It returns at once; the session is established in the
// background and re-established after losses (operations meanwhile fail
// with ErrZooKeeper).
func Dial(servers []string, root string, o StoreOptions) (*Store, error) {
	if len(servers) == 0 {
		return nil, errors.New("metaproxy: no ZooKeeper server")
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = config.DefaultProxySessionTimeout
	}
	onEvent := o.OnEvent
	if onEvent == nil {
		onEvent = func(zk.Event) {}
	}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	conn, ev, err := zk.Connect(servers, o.SessionTimeout, zk.WithLogInfo(false), zk.WithLogger(zkLogger{log.Sugar()}),
		zk.WithEventCallback(onEvent))
	if err != nil {
		return nil, fmt.Errorf("metaproxy: connecting to ZooKeeper %v: %w", servers, err)
	}
	go func() { // the session channel must be drained (it is bounded)
		for range ev {
		}
	}()
	return &Store{conn: conn, root: strings.TrimSuffix(root, "/"), events: ev}, nil
}

// zkLogger puts the ZooKeeper client's own log lines (one per reconnect
// attempt) at debug level; the proxy logs session changes itself, once
// each, through its event callback.
type zkLogger struct{ s *zap.SugaredLogger }

func (l zkLogger) Printf(format string, args ...any) { l.s.Debugf("zookeeper: "+format, args...) }

// Close ends the session.
func (s *Store) Close() { s.conn.Close() }

// Root is the path holding the table nodes.
func (s *Store) Root() string { return s.root }

// Connected reports whether the session is established now.
func (s *Store) Connected() bool { return s.conn.State() == zk.StateHasSession }

// Path is the node of table.
func (s *Store) Path(table string) string { return path.Join(s.root, table) }

func checkTable(table string) error {
	if !config.ValidTableName(table) || table == "." || table == ".." {
		return fmt.Errorf("%w: %q: want letters, digits, '_', '.', '-'", ErrTableName, table)
	}
	return nil
}

// zkErr maps a ZooKeeper error to ours, naming what was done where.
func (s *Store) zkErr(op, table string, err error) error {
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return fmt.Errorf("%w: %s %s", ErrNoTable, op, s.Path(table))
	case errors.Is(err, zk.ErrBadVersion):
		return fmt.Errorf("%w: %s %s", ErrConflict, op, s.Path(table))
	case errors.Is(err, zk.ErrNodeExists):
		return fmt.Errorf("%w: %s %s", ErrExists, op, s.Path(table))
	}
	return fmt.Errorf("%w: %s %s: %v", ErrZooKeeper, op, s.Path(table), err)
}

// Get reads table's record and the node's version.
func (s *Store) Get(table string) (Record, int32, error) {
	r, v, _, err := s.get(table, false)
	return r, v, err
}

// GetW is Get that also sets a watch on the node: ch receives one event
// when the node changes or is deleted, or EventNotWatching when the
// session expires. A malformed record still sets the watch (ch is
// returned with the error) so that a later fix is seen.
func (s *Store) GetW(table string) (Record, int32, <-chan zk.Event, error) {
	return s.get(table, true)
}

func (s *Store) get(table string, watch bool) (Record, int32, <-chan zk.Event, error) {
	if err := checkTable(table); err != nil {
		return Record{}, 0, nil, err
	}
	var data []byte
	var st *zk.Stat
	var ch <-chan zk.Event
	var err error
	if watch {
		data, st, ch, err = s.conn.GetW(s.Path(table))
	} else {
		data, st, err = s.conn.Get(s.Path(table))
	}
	if err != nil {
		return Record{}, 0, nil, s.zkErr("get", table, err)
	}
	r, err := ParseRecord(data)
	if err != nil {
		return r, st.Version, ch, fmt.Errorf("%s: %w", s.Path(table), err)
	}
	return r, st.Version, ch, nil
}

// AnyVersion makes Put overwrite whatever version the node has.
const AnyVersion int32 = -1

// Put writes table's record. version is the node version the caller read
// (a compare-and-set: ErrConflict when another write came in between),
// AnyVersion to overwrite, or CreateOnly to create a node that must not
// exist yet (ErrExists otherwise). Missing parents of root are created.
func (s *Store) Put(table string, r Record, version int32) (int32, error) {
	if err := checkTable(table); err != nil {
		return 0, err
	}
	if err := r.Check(); err != nil {
		return 0, err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("metaproxy: encoding the record of %s: %w", table, err)
	}
	if version == CreateOnly || version == AnyVersion {
		if err := s.ensureRoot(); err != nil {
			return 0, err
		}
		_, err := s.conn.Create(s.Path(table), data, 0, zk.WorldACL(zk.PermAll))
		if err == nil {
			return 0, nil
		}
		if version == CreateOnly || !errors.Is(err, zk.ErrNodeExists) {
			return 0, s.zkErr("create", table, err)
		}
	}
	st, err := s.conn.Set(s.Path(table), data, version)
	if err != nil {
		return 0, s.zkErr("set", table, err)
	}
	return st.Version, nil
}

// CreateOnly makes Put create the node, failing when it exists.
const CreateOnly int32 = -2

// Delete removes table's node (version as in Put; AnyVersion for any).
func (s *Store) Delete(table string, version int32) error {
	if err := checkTable(table); err != nil {
		return err
	}
	if err := s.conn.Delete(s.Path(table), version); err != nil {
		return s.zkErr("delete", table, err)
	}
	return nil
}

// List returns the tables under root, sorted by ZooKeeper (unsorted: the
// caller sorts).
func (s *Store) List() ([]string, error) {
	names, _, err := s.conn.Children(s.root)
	if err != nil {
		if errors.Is(err, zk.ErrNoNode) {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: list %s: %v", ErrZooKeeper, s.root, err)
	}
	return names, nil
}

// ensureRoot creates root and its parents if missing.
func (s *Store) ensureRoot() error {
	p := ""
	for _, el := range strings.Split(strings.TrimPrefix(s.root, "/"), "/") {
		p += "/" + el
		_, err := s.conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("%w: create %s: %v", ErrZooKeeper, p, err)
		}
	}
	return nil
}

// ErrorName is the error name the proxy answers for err in the
// query_cfg_response's err field, as pegasus-kv/meta-proxy does
// (meta/client.go: ERR_OBJECT_NOT_FOUND for a missing node,
// ERR_INVALID_DATA for a value that does not decode or lists bad meta
// addresses, ERR_ZOOKEEPER_OPERATION for any other ZooKeeper failure;
// meta/init.go: ERR_UNKNOWN for anything else).
func ErrorName(err error) string {
	switch {
	case err == nil:
		return codec.ErrorOK
	case errors.Is(err, ErrNoTable), errors.Is(err, ErrTableName): // no node can exist for a bad name
		return codec.ErrorObjectNotFound
	case errors.Is(err, ErrMalformed):
		return codec.ErrorInvalidData
	case errors.Is(err, ErrZooKeeper):
		return codec.ErrorZookeeperOperation
	}
	return codec.ErrorUnknown
}
