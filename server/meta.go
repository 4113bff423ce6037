package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/thrift"
)

// The meta face: what a master's meta server and the client inside its
// replica servers call on the follower meta (duplication.md §9 item 1).
// Every request carries gpid (0, 0); the header gpid is ignored here and
// never routes anything (wire.md §1.3).

// app_status values (wire.md §4.3).
const (
	asInvalid   = 0
	asAvailable = 1
)

// pattern_match_type values (wire.md §4.3).
const (
	pmtMatchAll      = 1
	pmtMatchExact    = 2
	pmtMatchAnywhere = 3
	pmtMatchPrefix   = 4
	pmtMatchPostfix  = 5
	pmtMatchRegex    = 6
)

// Env keys of a create_app sent for a full duplication (duplication.md §1.6).
const (
	envMasterCluster     = "duplication.master_cluster"
	envMasterMetas       = "duplication.master_metas"
	envMasterAppName     = "duplication.master_app_name"
	envFollowerAppStatus = "duplication.follower_app_status"
	statusCreating       = "creating"
	statusCreated        = "created"
)

// errBadBody marks a request body that does not decode.
var errBadBody = errors.New("server: malformed request body")

// readWrapped positions a reader on the payload of the one-field wrapper
// (wire.md §1.9): type byte must be STRUCT here, field id is ignored.
func readWrapped(body []byte) (thrift.Reader, error) {
	r := thrift.NewReader(body)
	typ, _, err := r.ReadWrapperBegin()
	if err != nil {
		return r, fmt.Errorf("%w: %v", errBadBody, err)
	}
	if typ != thrift.STRUCT {
		return r, fmt.Errorf("%w: wrapper type %v, want STRUCT", errBadBody, typ)
	}
	return r, nil
}

// queryCfgRequest is query_cfg_request (wire.md §4.1).
type queryCfgRequest struct {
	appName []byte
	indices []int32
}

func parseQueryCfg(body []byte, scratch []int32) (queryCfgRequest, error) {
	var q queryCfgRequest
	r, err := readWrapped(body)
	if err != nil {
		return q, err
	}
	q.indices = scratch[:0]
	for {
		typ, id, err := r.ReadFieldHeader()
		if err != nil {
			return q, fmt.Errorf("%w: %v", errBadBody, err)
		}
		if typ == thrift.STOP {
			break
		}
		switch {
		case id == 1 && typ == thrift.STRING:
			if q.appName, err = r.ReadString(); err != nil {
				return q, fmt.Errorf("%w: app_name: %v", errBadBody, err)
			}
		case id == 2 && typ == thrift.LIST:
			et, n, err := r.ReadListHeader()
			if err != nil {
				return q, fmt.Errorf("%w: partition_indices: %v", errBadBody, err)
			}
			for i := 0; i < n; i++ {
				if et != thrift.I32 {
					if err := r.Skip(et); err != nil {
						return q, fmt.Errorf("%w: partition_indices: %v", errBadBody, err)
					}
					continue
				}
				v, err := r.ReadI32()
				if err != nil {
					return q, fmt.Errorf("%w: partition_indices: %v", errBadBody, err)
				}
				q.indices = append(q.indices, v)
			}
		default:
			if err := r.Skip(typ); err != nil {
				return q, fmt.Errorf("%w: field %d: %v", errBadBody, id, err)
			}
		}
	}
	return q, nil
}

// advertisedCount is the partition count answered for ts: the master's
// count for a table created through create_app (the health check wants
// exactly that many configurations, duplication.md §1.6 step 8), else the
// configured advertised count, else the follower's; 0 = unknown yet. Any
// goroutine.
func (s *Server) advertisedCount(ts *tableState) int {
	ts.mu.Lock()
	n := 0
	if ts.exists && ts.rec.MasterPartitionCount > 0 {
		n = ts.rec.MasterPartitionCount
	}
	ts.mu.Unlock()
	if n > 0 {
		return n
	}
	if ts.cfg.AdvertisedPartitionCount > 0 {
		return ts.cfg.AdvertisedPartitionCount
	}
	return s.shipper.PartitionCount(ts.cfg.Name)
}

// onQueryConfig answers RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX with the
// advertised layout: every primary is the bridge (duplication.md §9 item 1).
// Event-loop only.
func (cs *connState) onQueryConfig(f *codec.Frame) {
	s := cs.s
	q, err := parseQueryCfg(f.Body, nil)
	if err != nil {
		s.stats.badBodies.Add(1)
		s.log.Warn("bad query_cfg_request", zap.String("remote", cs.remote), zap.Error(err))
		cs.replyNow(f, codec.ErrorInvalidData, nil)
		return
	}
	ts := s.tabs().byName[string(q.appName)]
	if ts == nil {
		cs.replyNow(f, codec.ErrorOK, s.appendQueryCfgResponse(nil, codec.ErrorObjectNotFound, nil, 0, nil, cs.hostPort))
		return
	}
	n := s.advertisedCount(ts)
	if n <= 0 {
		// Follower layout not known yet: a retryable answer (the C++
		// resolver retries after 1 s; wire.md §5.3).
		cs.replyNow(f, codec.ErrorOK, s.appendQueryCfgResponse(nil, codec.ErrorBusyCreating, nil, 0, nil, cs.hostPort))
		return
	}
	b, hmark := codec.BeginResponse(cs.wbuf, f, codec.ErrorOK, s.from)
	b = s.appendQueryCfgResponse(b, codec.ErrorOK, ts, n, q.indices, cs.hostPort)
	cs.wbuf = codec.FinishResponse(b, hmark)
}

// appendQueryCfgResponse appends the wrapped query_cfg_response (wire.md
// §4.1): err, app_id, partition_count, is_stateful, partitions. With
// ts == nil only err is meaningful (the §1.13 "not found" shape). Any
// goroutine (it reads only immutable and synchronised state). hostPort adds
// the hp_* fields to each partition configuration.
func (s *Server) appendQueryCfgResponse(dst []byte, errName string, ts *tableState, count int, indices []int32, hostPort bool) []byte {
	w := thrift.Writer{B: dst}
	w.WrapperBegin(thrift.STRUCT, 0)
	w.FieldHeader(thrift.STRUCT, 1) // error_code: STRUCT type byte, string payload (wire.md §3)
	w.String(errName)
	var appID int32
	if ts != nil {
		appID = ts.cfg.AppID
	}
	w.FieldHeader(thrift.I32, 2)
	w.I32(appID)
	w.FieldHeader(thrift.I32, 3)
	w.I32(int32(count))
	w.FieldHeader(thrift.BOOL, 4)
	w.Bool(ts != nil)
	w.FieldHeader(thrift.LIST, 5)
	if ts == nil {
		w.ListHeader(thrift.STRUCT, 0)
	} else {
		// Out-of-range indices are ignored; none valid → all partitions
		// (server_state::query_configuration_by_index, wire.md §4.1).
		valid := 0
		for _, i := range indices {
			if i >= 0 && int(i) < count {
				valid++
			}
		}
		if valid == 0 {
			w.ListHeader(thrift.STRUCT, count)
			for i := 0; i < count; i++ {
				s.appendPartitionConfig(&w, appID, int32(i), hostPort)
			}
		} else {
			w.ListHeader(thrift.STRUCT, valid)
			for _, i := range indices {
				if i >= 0 && int(i) < count {
					s.appendPartitionConfig(&w, appID, i, hostPort)
				}
			}
		}
	}
	w.Stop()
	w.WrapperEnd()
	return w.B
}

// appendPartitionConfig appends one partition_configuration (wire.md §4.1):
// primary = the bridge, no secondaries, max_replica_count 1 (so the health
// check needs no secondary, duplication.md §1.6 step 8), ballot ≥ 1. The
// hp_* fields follow when hostPort is set (send_host_port, and the peer not
// in legacy_peers: old peers cannot skip them, wire.md §3). Any goroutine.
func (s *Server) appendPartitionConfig(w *thrift.Writer, appID, pidx int32, hostPort bool) {
	w.FieldHeader(thrift.STRUCT, 1)
	w.Gpid(appID, pidx)
	w.FieldHeader(thrift.I64, 2)
	w.I64(s.ballot)
	w.FieldHeader(thrift.I32, 3)
	w.I32(1)
	w.FieldHeader(thrift.STRUCT, 4)
	w.RPCAddress(s.from)
	w.FieldHeader(thrift.LIST, 5)
	w.ListHeader(thrift.STRUCT, 0)
	w.FieldHeader(thrift.LIST, 6)
	w.ListHeader(thrift.STRUCT, 0)
	w.FieldHeader(thrift.I64, 7)
	w.I64(0)
	w.FieldHeader(thrift.I32, 8)
	w.I32(0)
	if hostPort {
		w.FieldHeader(thrift.STRUCT, 9)
		w.HostPort(s.cfg.Bridge.AdvertisedHost, s.cfg.Bridge.AdvertisedAddr.Port(), 1)
		w.FieldHeader(thrift.LIST, 10)
		w.ListHeader(thrift.STRUCT, 0)
		w.FieldHeader(thrift.LIST, 11)
		w.ListHeader(thrift.STRUCT, 0)
	}
	w.Stop()
}

// listAppsRequest is configuration_list_apps_request (wire.md §4.3).
type listAppsRequest struct {
	status     int32
	pattern    []byte
	hasPattern bool
	matchType  int32
	hasMatch   bool
}

func parseListApps(body []byte) (listAppsRequest, error) {
	var q listAppsRequest
	r, err := readWrapped(body)
	if err != nil {
		return q, err
	}
	err = r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && typ == thrift.I32:
			q.status, err = r.ReadI32()
		case id == 2 && typ == thrift.STRING:
			q.pattern, err = r.ReadString()
			q.hasPattern = true
		case id == 3 && typ == thrift.I32:
			q.matchType, err = r.ReadI32()
			q.hasMatch = true
		default:
			return false, nil
		}
		return true, fieldErr(id, err)
	})
	if err != nil {
		return q, fmt.Errorf("%w: %v", errBadBody, err)
	}
	return q, nil
}

// fieldErr names the field a decode error happened in.
func fieldErr(id int16, err error) error {
	if err != nil {
		return fmt.Errorf("field %d: %w", id, err)
	}
	return nil
}

func matchName(name string, q *listAppsRequest) (bool, error) {
	if !q.hasPattern || !q.hasMatch {
		return true, nil
	}
	p := string(q.pattern)
	switch q.matchType {
	case pmtMatchAll:
		return true, nil
	case pmtMatchExact:
		return name == p, nil
	case pmtMatchAnywhere:
		return strings.Contains(name, p), nil
	case pmtMatchPrefix:
		return strings.HasPrefix(name, p), nil
	case pmtMatchPostfix:
		return strings.HasSuffix(name, p), nil
	case pmtMatchRegex:
		re, err := regexp.Compile(p)
		if err != nil {
			return false, err
		}
		return re.MatchString(name), nil
	}
	return false, fmt.Errorf("unknown match type %d", q.matchType)
}

// onListApps answers RPC_CM_LIST_APPS with the configured tables as
// available apps (wire.md §4.3). Event-loop only.
func (cs *connState) onListApps(f *codec.Frame) {
	s := cs.s
	q, err := parseListApps(f.Body)
	if err != nil {
		s.stats.badBodies.Add(1)
		s.log.Warn("bad configuration_list_apps_request", zap.String("remote", cs.remote), zap.Error(err))
		cs.replyNow(f, codec.ErrorInvalidData, nil)
		return
	}
	tables := s.tabs().byName
	names := make([]string, 0, len(tables))
	for name := range tables {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return tables[names[i]].cfg.AppID < tables[names[j]].cfg.AppID })
	errName := codec.ErrorOK
	var picked []*tableState
	if q.status == asInvalid || q.status == asAvailable {
		for _, n := range names {
			ok, err := matchName(n, &q)
			if err != nil {
				errName = codec.ErrorInvalidParameters
				picked = nil
				break
			}
			if ok {
				picked = append(picked, tables[n])
			}
		}
	}
	b, hmark := codec.BeginResponse(cs.wbuf, f, codec.ErrorOK, s.from)
	w := thrift.Writer{B: b}
	w.WrapperBegin(thrift.STRUCT, 0)
	w.FieldHeader(thrift.STRUCT, 1)
	w.String(errName)
	w.FieldHeader(thrift.LIST, 2)
	w.ListHeader(thrift.STRUCT, len(picked))
	for _, ts := range picked {
		s.appendAppInfo(&w, ts)
	}
	w.Stop()
	w.WrapperEnd()
	cs.wbuf = codec.FinishResponse(w.B, hmark)
}

// appendAppInfo appends one app_info (wire.md §4.3); optional fields 12,
// 14, 15 are left out (plain types, so absent is the default). Any
// goroutine (takes ts.mu).
func (s *Server) appendAppInfo(w *thrift.Writer, ts *tableState) {
	count := s.advertisedCount(ts)
	ts.mu.Lock()
	envs := make(map[string]string, len(ts.rec.Envs))
	for k, v := range ts.rec.Envs {
		envs[k] = v
	}
	ts.mu.Unlock()
	keys := make([]string, 0, len(envs))
	for k := range envs {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	w.FieldHeader(thrift.I32, 1)
	w.I32(asAvailable)
	w.FieldHeader(thrift.STRING, 2)
	w.String("pegasus")
	w.FieldHeader(thrift.STRING, 3)
	w.String(ts.cfg.Name)
	w.FieldHeader(thrift.I32, 4)
	w.I32(ts.cfg.AppID)
	w.FieldHeader(thrift.I32, 5)
	w.I32(int32(count))
	w.FieldHeader(thrift.MAP, 6)
	w.MapHeader(thrift.STRING, thrift.STRING, len(keys))
	for _, k := range keys {
		w.String(k)
		w.String(envs[k])
	}
	w.FieldHeader(thrift.BOOL, 7)
	w.Bool(true)
	w.FieldHeader(thrift.I32, 8)
	w.I32(1)
	w.FieldHeader(thrift.I64, 9)
	w.I64(0)
	w.FieldHeader(thrift.I64, 10)
	w.I64(s.startSec)
	w.FieldHeader(thrift.I64, 11)
	w.I64(0)
	w.FieldHeader(thrift.I32, 13)
	w.I32(int32(count))
	w.Stop()
}

// createAppRequest is configuration_create_app_request (wire.md §4.2).
type createAppRequest struct {
	appName        string
	partitionCount int32
	replicaCount   int32
	successIfExist bool
	appType        string
	isStateful     bool
	envs           map[string]string
}

func parseCreateApp(body []byte) (createAppRequest, error) {
	var q createAppRequest
	r, err := readWrapped(body)
	if err != nil {
		return q, err
	}
	err = r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && typ == thrift.STRING:
			var b []byte
			b, err = r.ReadString()
			q.appName = string(b)
		case id == 2 && typ == thrift.STRUCT:
			err = parseCreateOptions(&r, &q)
		default:
			return false, nil
		}
		return true, fieldErr(id, err)
	})
	if err != nil {
		return q, fmt.Errorf("%w: %v", errBadBody, err)
	}
	return q, nil
}

func parseCreateOptions(r *thrift.Reader, q *createAppRequest) error {
	return r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && typ == thrift.I32:
			q.partitionCount, err = r.ReadI32()
		case id == 2 && typ == thrift.I32:
			q.replicaCount, err = r.ReadI32()
		case id == 3 && typ == thrift.BOOL:
			q.successIfExist, err = r.ReadBool()
		case id == 4 && typ == thrift.STRING:
			var b []byte
			b, err = r.ReadString()
			q.appType = string(b)
		case id == 5 && typ == thrift.BOOL:
			q.isStateful, err = r.ReadBool()
		case id == 6 && typ == thrift.MAP:
			var kt, vt thrift.Type
			var n int
			kt, vt, n, err = r.ReadMapHeader()
			if err != nil {
				return true, err
			}
			if n > 0 && (kt != thrift.STRING || vt != thrift.STRING) {
				return true, fmt.Errorf("envs: map<%v,%v>, want map<string,string>", kt, vt)
			}
			q.envs = make(map[string]string, n)
			for i := 0; i < n; i++ {
				k, err := r.ReadString()
				if err != nil {
					return true, err
				}
				v, err := r.ReadString()
				if err != nil {
					return true, err
				}
				q.envs[string(k)] = string(v)
			}
		default:
			return false, nil
		}
		return true, err
	})
}

// appendCreateAppResponse appends configuration_create_app_response
// (wire.md §4.2) wrapped.
func appendCreateAppResponse(dst []byte, errName string, appID int32) []byte {
	w := thrift.Writer{B: dst}
	w.WrapperBegin(thrift.STRUCT, 0)
	w.FieldHeader(thrift.STRUCT, 1)
	w.String(errName)
	w.FieldHeader(thrift.I32, 2)
	w.I32(appID)
	w.Stop()
	w.WrapperEnd()
	return w.B
}

// onCreateApp answers RPC_CM_CREATE_APP. Decisions that need no follower
// call are answered at once; creating the follower table runs on its own
// goroutine and answers through the connection's outbox. Event-loop only.
func (cs *connState) onCreateApp(f *codec.Frame) {
	s := cs.s
	q, err := parseCreateApp(f.Body)
	if err != nil {
		s.stats.badBodies.Add(1)
		s.log.Warn("bad configuration_create_app_request", zap.String("remote", cs.remote), zap.Error(err))
		cs.replyNow(f, codec.ErrorInvalidData, nil)
		return
	}
	errName, appID, create := s.decideCreate(&q, cs.remote)
	if !create {
		cs.replyNow(f, codec.ErrorOK, appendCreateAppResponse(nil, errName, appID))
		return
	}
	reply, mark := cs.beginLater(f, 64)
	ts := s.tabs().byName[q.appName]
	go s.runCreate(cs, ts, &q, reply, mark)
}

// decideCreate applies duplication.md §1.6 step 6 to the table's state. It
// returns the answer, or create = true when the follower table must be
// ensured first (ts.creating is then set). With full_duplication = load, a
// "created" request succeeds only once the checkpoint is loaded; until then
// it gets the retryable ERR_BUSY_CREATING and the master asks again at its
// next sync. Any goroutine.
func (s *Server) decideCreate(q *createAppRequest, remote string) (errName string, appID int32, create bool) {
	ts := s.tabs().byName[q.appName]
	if ts == nil {
		s.log.Warn("create_app for a table not configured in [table.*]", zap.String("table", q.appName), zap.String("remote", remote))
		return codec.ErrorOperationDisabled, 0, false
	}
	appID = ts.cfg.AppID
	if q.partitionCount <= 0 {
		return codec.ErrorInvalidParameters, 0, false
	}
	master, fullDup := q.envs[envMasterCluster]
	if fullDup {
		if refusal := s.fullDupRefusal(q, remote); refusal != "" {
			return refusal, 0, false
		}
	}
	if s.opts.Creator == nil {
		s.log.Warn("create_app refused: no follower meta client", zap.String("table", q.appName))
		return codec.ErrorOperationDisabled, 0, false
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.creating {
		return codec.ErrorBusyCreating, 0, false
	}
	if !ts.exists {
		ts.creating = true
		return "", appID, true
	}
	if !fullDup {
		if q.successIfExist {
			return codec.ErrorOK, appID, false
		}
		return codec.ErrorAppExist, 0, false
	}
	// The table exists (created through create_app): the status table.
	reqStatus, hasStatus := q.envs[envFollowerAppStatus]
	r := &ts.rec
	switch {
	case r.MasterCluster != master:
		return codec.ErrorAppExist, 0, false
	case !hasStatus:
		return codec.ErrorAppExist, 0, false
	case r.Status == "":
		return codec.ErrorInvalidState, 0, false
	case r.Status == statusCreating && reqStatus == statusCreating:
		return codec.ErrorOK, appID, false
	case r.Status == statusCreating && reqStatus == statusCreated:
		return s.markCreatedLocked(ts), appID, false
	case r.Status == statusCreated && reqStatus == statusCreated:
		return codec.ErrorOK, appID, false
	case r.Status == statusCreated && reqStatus == statusCreating:
		return codec.ErrorAppExist, 0, false
	}
	return codec.ErrorInvalidParameters, 0, false
}

// markCreatedLocked moves a table from creating to created once its
// checkpoint is loaded, persisting the change first (a real meta persists
// the env, then replies). ts.mu is held.
func (s *Server) markCreatedLocked(ts *tableState) string {
	if !ts.rec.Loaded {
		s.startLoadLocked(ts)
		return codec.ErrorBusyCreating
	}
	old := ts.rec
	ts.rec.Status = statusCreated
	ts.rec.Envs = maps.Clone(old.Envs)
	ts.rec.Envs[envFollowerAppStatus] = statusCreated
	if err := s.saveCreateLocked(ts); err != nil {
		ts.rec = old
		s.log.Error("create_app: persisting status created failed; the master will retry", zap.String("table", ts.cfg.Name), zap.Error(err))
		return codec.ErrorBusyCreating
	}
	return codec.ErrorOK
}

// fullDupRefusal returns the answer to a full-duplication create_app the
// configuration does not allow, or "".
func (s *Server) fullDupRefusal(q *createAppRequest, remote string) string {
	master := q.envs[envMasterCluster]
	log := s.log.With(zap.String("table", q.appName), zap.String("master_cluster", master),
		zap.String("master_app", q.envs[envMasterAppName]), zap.String("remote", remote))
	switch s.cfg.Bridge.FullDuplication {
	case config.FullDupReject:
		log.Warn("create_app for a full duplication refused: [dupbridge] full_duplication = reject")
		return codec.ErrorOperationDisabled
	case config.FullDupLoad:
		if s.opts.Loader == nil {
			log.Warn("create_app for a full duplication refused: this bridge has no checkpoint loader")
			return codec.ErrorOperationDisabled
		}
		if _, ok := s.cfg.ClusterIDs[master]; !ok {
			log.Warn("create_app for a full duplication refused: the master cluster is not in [duplication-group], " +
				"so loaded keys could not carry its cluster id")
			return codec.ErrorOperationDisabled
		}
		if q.envs[envMasterMetas] == "" {
			log.Warn("create_app for a full duplication without " + envMasterMetas)
			return codec.ErrorInvalidParameters
		}
	}
	return ""
}

// runCreate ensures the follower table, records the state and answers; a
// full duplication in load mode starts its checkpoint load. Runs on its
// own goroutine.
func (s *Server) runCreate(cs *connState, ts *tableState, q *createAppRequest, reply []byte, mark int) {
	count := ts.cfg.FollowerPartitionCount
	if count <= 0 {
		count = int(q.partitionCount)
	}
	ctx, cancel := context.WithTimeout(s.runCtx, createTimeout)
	_, err := s.opts.Creator.EnsureTable(ctx, ts.cfg, count)
	cancel()

	errName := codec.ErrorOK
	appID := ts.cfg.AppID
	ts.mu.Lock()
	ts.creating = false
	if err == nil {
		ts.rec, ts.exists = newCreateRecord(q, s.cfg.Bridge.FullDuplication), true
		if err = s.saveCreateLocked(ts); err != nil {
			ts.rec, ts.exists = createRecord{}, false
		}
	}
	if err == nil && !ts.rec.Loaded {
		s.startLoadLocked(ts)
		if ts.rec.Status != statusCreating {
			errName = codec.ErrorBusyCreating // "created" waits for the load
		}
	}
	ts.mu.Unlock()
	if err != nil {
		errName, appID = codec.ErrorBusyCreating, 0
		s.log.Warn("create_app: creating the follower table failed; the master will retry",
			zap.String("table", ts.cfg.Name), zap.String("follower_cluster", ts.cfg.FollowerCluster),
			zap.String("follower_table", ts.cfg.FollowerTable), zap.Error(err))
	} else {
		s.log.Info("create_app: follower table ready", zap.String("table", ts.cfg.Name),
			zap.Int32("master_partition_count", q.partitionCount), zap.String("status", q.envs[envFollowerAppStatus]))
	}
	reply = appendCreateAppResponse(reply, errName, appID)
	cs.post(codec.FinishResponse(reply, mark))
}

// newCreateRecord is the state of a table just created for q. The envs are
// kept for list_apps; they are never passed to the follower, whose replicas
// would otherwise copy the master's checkpoint themselves (duplication.md
// §2.1) into a table of another partition count.
func newCreateRecord(q *createAppRequest, mode config.FullDuplication) createRecord {
	r := createRecord{Envs: maps.Clone(q.envs), Loaded: true}
	if master, ok := q.envs[envMasterCluster]; ok {
		r.MasterCluster = master
		r.MasterMetas = q.envs[envMasterMetas]
		// Masters before 2.6 send no app name: the follower's own (§2.1).
		r.MasterApp = cmp.Or(q.envs[envMasterAppName], q.appName)
		r.Status = q.envs[envFollowerAppStatus]
		r.MasterPartitionCount = int(q.partitionCount)
		r.Loaded = mode != config.FullDupLoad
	}
	return r
}
