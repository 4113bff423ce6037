package pegasussim

import (
	"maps"
	"regexp"
	"sort"
	"strings"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/thrift"
)

// Meta RPCs (wire.md §4.1–4.3, duplication.md §1.6). Requests are decoded by
// field id; responses are written field by field so that the bytes are
// exactly what a C++ meta writes.

// Env keys of the follower-creation protocol (src/common/duplication_common.cpp).
const (
	envMasterCluster     = "duplication.master_cluster"
	envFollowerAppStatus = "duplication.follower_app_status"
	followerCreating     = "creating"
	followerCreated      = "created"
)

// Replica counts a meta accepts (min/max_allowed_replica_count defaults).
const (
	minReplicaCount = 1
	maxReplicaCount = 5
	// MaxPartitionCount bounds create_app's partition count in the
	// simulator (a real meta has no such limit; this one keeps memory
	// bounded whatever a peer sends).
	MaxPartitionCount = 1 << 14
)

type queryCfgRequest struct {
	appName []byte
	indices []int32
}

func decodeQueryCfg(body []byte) (queryCfgRequest, error) {
	var q queryCfgRequest
	err := unwrapStruct(body, "query_cfg_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRING:
			q.appName, err = r.ReadString()
		case id == 2 && t == thrift.LIST:
			err = readList(r, func(r *thrift.Reader) error {
				v, err := r.ReadI32()
				q.indices = append(q.indices, v)
				return err
			})
		default:
			return false, nil
		}
		return true, err
	})
	return q, err
}

// appendQueryCfgResponse writes query_cfg_response (wire.md §4.1). t == nil
// answers errName with everything else zero, as in wire.md §1.13.
func (c *Cluster) appendQueryCfgResponse(dst []byte, errName string, t *table, indices []int32) []byte {
	w := beginResult(dst)
	fErrorCode(&w, 1, errName)
	if t == nil {
		fI32(&w, 2, 0)
		fI32(&w, 3, 0)
		fBool(&w, 4, false)
		w.FieldHeader(thrift.LIST, 5)
		w.ListHeader(thrift.STRUCT, 0)
		return endResult(&w)
	}
	fI32(&w, 2, t.appID)
	fI32(&w, 3, int32(len(t.parts)))
	fBool(&w, 4, true)
	// Out-of-range indices are ignored; none left means all partitions
	// (server_state::query_configuration_by_index).
	var sel []int
	for _, i := range indices {
		if i >= 0 && int(i) < len(t.parts) {
			sel = append(sel, int(i))
		}
	}
	if len(sel) == 0 {
		for i := range t.parts {
			sel = append(sel, i)
		}
	}
	w.FieldHeader(thrift.LIST, 5)
	w.ListHeader(thrift.STRUCT, len(sel))
	for _, i := range sel {
		c.writePartitionConfig(&w, t, i)
	}
	return endResult(&w)
}

func (c *Cluster) writePartitionConfig(w *thrift.Writer, t *table, i int) {
	cfg := &t.configs[i]
	p := t.parts[i]
	p.mu.Lock()
	lcd := p.decree
	p.mu.Unlock()
	w.FieldHeader(thrift.STRUCT, 1)
	w.Gpid(t.appID, int32(i))
	fI64(w, 2, cfg.ballot)
	fI32(w, 3, int32(t.replicaCount))
	w.FieldHeader(thrift.STRUCT, 4)
	w.RPCAddress(c.replicas[cfg.primary].from)
	w.FieldHeader(thrift.LIST, 5)
	w.ListHeader(thrift.STRUCT, len(cfg.secondaries))
	for _, s := range cfg.secondaries {
		w.RPCAddress(c.replicas[s].from)
	}
	w.FieldHeader(thrift.LIST, 6)
	w.ListHeader(thrift.STRUCT, 0)
	fI64(w, 7, lcd)
	fI32(w, 8, 0)
	if !c.opts.OmitHostPort {
		ep := c.replicas[cfg.primary]
		w.FieldHeader(thrift.STRUCT, 9)
		w.HostPort(c.hostName, ep.addr.Port(), 1)
		w.FieldHeader(thrift.LIST, 10)
		w.ListHeader(thrift.STRUCT, len(cfg.secondaries))
		for _, s := range cfg.secondaries {
			w.HostPort(c.hostName, c.replicas[s].addr.Port(), 1)
		}
		w.FieldHeader(thrift.LIST, 11)
		w.ListHeader(thrift.STRUCT, 0)
	}
	w.Stop()
}

func (c *Cluster) onQueryConfig(body, dst []byte) ([]byte, error) {
	q, err := decodeQueryCfg(body)
	if err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	t := c.tables[string(q.appName)]
	if t == nil {
		return c.appendQueryCfgResponse(dst, codec.ErrorObjectNotFound, nil, nil), nil
	}
	return c.appendQueryCfgResponse(dst, codec.ErrorOK, t, q.indices), nil
}

// readStringMap reads a map<string,string>.
func readStringMap(r *thrift.Reader) (map[string]string, error) {
	_, _, n, err := r.ReadMapHeader()
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, n)
	for i := 0; i < n; i++ {
		k, err := r.ReadString()
		if err != nil {
			return nil, err
		}
		v, err := r.ReadString()
		if err != nil {
			return nil, err
		}
		m[string(k)] = string(v)
	}
	return m, nil
}

type createAppRequest struct {
	name           string
	partitionCount int32
	replicaCount   int32
	successIfExist bool
	appType        string
	isStateful     bool
	envs           map[string]string
}

func decodeCreateApp(body []byte) (createAppRequest, error) {
	var q createAppRequest
	err := unwrapStruct(body, "configuration_create_app_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		switch {
		case id == 1 && t == thrift.STRING:
			b, err := r.ReadString()
			q.name = string(b)
			return true, err
		case id == 2 && t == thrift.STRUCT:
			return true, r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
				var err error
				switch {
				case id == 1 && t == thrift.I32:
					q.partitionCount, err = r.ReadI32()
				case id == 2 && t == thrift.I32:
					q.replicaCount, err = r.ReadI32()
				case id == 3 && t == thrift.BOOL:
					q.successIfExist, err = r.ReadBool()
				case id == 4 && t == thrift.STRING:
					var b []byte
					b, err = r.ReadString()
					q.appType = string(b)
				case id == 5 && t == thrift.BOOL:
					q.isStateful, err = r.ReadBool()
				case id == 6 && t == thrift.MAP:
					q.envs, err = readStringMap(r)
				default:
					return false, nil
				}
				return true, err
			})
		}
		return false, nil
	})
	return q, err
}

func appendCreateAppResponse(dst []byte, errName string, appID int32) []byte {
	w := beginResult(dst)
	fErrorCode(&w, 1, errName)
	fI32(&w, 2, appID)
	return endResult(&w)
}

// onCreateApp follows server_state::create_app and
// process_create_follower_app_status (wire.md §4.2, duplication.md §1.6
// step 6). The simulator creates tables at once (AS_AVAILABLE), so the
// busy-creating/dropping states never occur.
func (c *Cluster) onCreateApp(body, dst []byte) ([]byte, error) {
	q, err := decodeCreateApp(body)
	if err != nil {
		return nil, err
	}
	errName, appID := c.createApp(q)
	return appendCreateAppResponse(dst, errName, appID), nil
}

func (c *Cluster) createApp(q createAppRequest) (string, int32) {
	// validate_target_max_replica_count: within [min, max] allowed and not
	// above the number of alive replica servers.
	if q.partitionCount <= 0 || q.partitionCount > MaxPartitionCount || q.replicaCount < minReplicaCount ||
		q.replicaCount > maxReplicaCount || int(q.replicaCount) > len(c.replicas) {
		return codec.ErrorInvalidParameters, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tables[q.name]
	if t == nil {
		t = c.addTableLocked(q.name, 0, int(q.partitionCount), int(q.replicaCount), q.envs)
		t.appType, t.requestedReplicas = q.appType, int(q.replicaCount)
		c.logger.Info("pegasussim: simulator created table", zapTable(t)...)
		return codec.ErrorOK, t.appID
	}
	if q.successIfExist {
		// option_match_check in server_state::create_app.
		if int(q.partitionCount) != len(t.parts) || int(q.replicaCount) != t.requestedReplicas ||
			q.appType != t.appType || !q.isStateful || !maps.Equal(q.envs, t.envs) {
			return codec.ErrorInvalidParameters, 0
		}
		return codec.ErrorOK, t.appID
	}
	reqMaster, ok := q.envs[envMasterCluster]
	if !ok {
		return codec.ErrorAppExist, 0
	}
	if have, ok := t.envs[envMasterCluster]; !ok || have != reqMaster {
		return codec.ErrorAppExist, 0
	}
	reqStatus, ok := q.envs[envFollowerAppStatus]
	if !ok {
		return codec.ErrorAppExist, 0
	}
	status, ok := t.envs[envFollowerAppStatus]
	if !ok {
		return codec.ErrorInvalidState, 0
	}
	switch status {
	case followerCreating:
		switch reqStatus {
		case followerCreating:
			return codec.ErrorOK, t.appID
		case followerCreated:
			t.envs[envFollowerAppStatus] = followerCreated
			return codec.ErrorOK, t.appID
		}
		return codec.ErrorInvalidParameters, 0
	case followerCreated:
		switch reqStatus {
		case followerCreated:
			return codec.ErrorOK, t.appID
		case followerCreating:
			return codec.ErrorAppExist, 0
		}
		return codec.ErrorInvalidParameters, 0
	}
	return codec.ErrorInvalidParameters, 0
}

type dropAppRequest struct {
	name              string
	successIfNotExist bool
}

func decodeDropApp(body []byte) (dropAppRequest, error) {
	var q dropAppRequest
	err := unwrapStruct(body, "configuration_drop_app_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		switch {
		case id == 1 && t == thrift.STRING:
			b, err := r.ReadString()
			q.name = string(b)
			return true, err
		case id == 2 && t == thrift.STRUCT:
			return true, r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
				if id == 1 && t == thrift.BOOL {
					var err error
					q.successIfNotExist, err = r.ReadBool()
					return true, err
				}
				return false, nil
			})
		}
		return false, nil
	})
	return q, err
}

func (c *Cluster) onDropApp(body, dst []byte) ([]byte, error) {
	q, err := decodeDropApp(body)
	if err != nil {
		return nil, err
	}
	errName := codec.ErrorOK
	if !c.dropTable(q.name) && !q.successIfNotExist {
		errName = codec.ErrorAppNotExist
	}
	w := beginResult(dst)
	fErrorCode(&w, 1, errName)
	return endResult(&w), nil
}

type listAppsRequest struct {
	status     int32
	pattern    string
	hasPattern bool
	matchType  int32
	hasMatch   bool
}

func decodeListApps(body []byte) (listAppsRequest, error) {
	var q listAppsRequest
	err := unwrapStruct(body, "configuration_list_apps_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.I32:
			q.status, err = r.ReadI32()
		case id == 2 && t == thrift.STRING:
			var b []byte
			b, err = r.ReadString()
			q.pattern, q.hasPattern = string(b), true
		case id == 3 && t == thrift.I32:
			q.matchType, err = r.ReadI32()
			q.hasMatch = true
		default:
			return false, nil
		}
		return true, err
	})
	return q, err
}

// Pattern match types (wire.md §4.3).
const (
	pmtMatchAll      = 1
	pmtMatchExact    = 2
	pmtMatchAnywhere = 3
	pmtMatchPrefix   = 4
	pmtMatchPostfix  = 5
	pmtMatchRegex    = 6
)

func (c *Cluster) onListApps(body, dst []byte) ([]byte, error) {
	q, err := decodeListApps(body)
	if err != nil {
		return nil, err
	}
	match := func(string) bool { return true }
	errName := codec.ErrorOK
	if q.hasPattern && q.hasMatch {
		p := q.pattern
		switch q.matchType {
		case pmtMatchAll:
		case pmtMatchExact:
			match = func(s string) bool { return s == p }
		case pmtMatchAnywhere:
			match = func(s string) bool { return strings.Contains(s, p) }
		case pmtMatchPrefix:
			match = func(s string) bool { return strings.HasPrefix(s, p) }
		case pmtMatchPostfix:
			match = func(s string) bool { return strings.HasSuffix(s, p) }
		case pmtMatchRegex:
			re, err := regexp.Compile(p)
			if err != nil {
				errName = codec.ErrorInvalidParameters
				break
			}
			match = re.MatchString
		default:
			errName = codec.ErrorInvalidParameters
		}
	}
	c.mu.RLock()
	var infos []*table
	if errName == codec.ErrorOK {
		for _, t := range c.allTablesLocked() {
			if (q.status == 0 || q.status == t.status) && match(t.name) {
				infos = append(infos, t)
			}
		}
	}
	w := beginResult(dst)
	fErrorCode(&w, 1, errName)
	w.FieldHeader(thrift.LIST, 2)
	w.ListHeader(thrift.STRUCT, len(infos))
	for _, t := range infos {
		writeAppInfo(&w, t)
	}
	c.mu.RUnlock()
	return endResult(&w), nil
}

func writeAppInfo(w *thrift.Writer, t *table) {
	fI32(w, 1, t.status)
	fString(w, 2, t.appType)
	fString(w, 3, t.name)
	fI32(w, 4, t.appID)
	fI32(w, 5, int32(len(t.parts)))
	keys := make([]string, 0, len(t.envs))
	for k := range t.envs {
		keys = append(keys, k)
	}
	sort.Strings(keys) // std::map order
	w.FieldHeader(thrift.MAP, 6)
	w.MapHeader(thrift.STRING, thrift.STRING, len(keys))
	for _, k := range keys {
		w.String(k)
		w.String(t.envs[k])
	}
	fBool(w, 7, true)
	fI32(w, 8, int32(t.replicaCount))
	fI64(w, 9, 0)
	fI64(w, 10, t.createSecond)
	fI64(w, 11, t.dropSecond)
	fI32(w, 13, int32(len(t.parts)))
	w.Stop()
}
