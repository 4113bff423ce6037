package pegasussim

import (
	"slices"
	"time"

	"github.com/dupbridge/dupbridge/codec"
)

// UnknownRPC is the Counters.Requests key of requests with an unknown name.
const UnknownRPC = "(unknown)"

// handle answers one request frame; it appends the reply to out (or
// schedules it with later when a delay is injected) and returns out.
func (c *Cluster) handle(ep *endpoint, f *codec.Frame, out []byte, later func(time.Duration, []byte)) []byte {
	name := string(f.RPCName)
	if knownTaskCode(name) {
		c.counters.request(name)
	} else {
		c.counters.request(UnknownRPC) // bounded: peers choose the names
	}
	mark := len(out)
	out, reply := c.dispatch(ep, f, name, out)
	if !reply {
		return out[:mark]
	}
	if d := c.faults.delay(name); d > 0 && later != nil {
		c.counters.add(&c.counters.delaysInjected, 1)
		later(d, append([]byte(nil), out[mark:]...))
		return out[:mark]
	}
	return out
}

func errReply(out []byte, ep *endpoint, f *codec.Frame, errName string) ([]byte, bool) {
	return codec.AppendResponse(out, f, errName, ep.from, nil), true
}

func okReply(out []byte, ep *endpoint, f *codec.Frame, body []byte) ([]byte, bool) {
	return codec.AppendResponse(out, f, codec.ErrorOK, ep.from, body), true
}

// dispatch follows rpc_engine::on_recv_request (wire.md §1.3). reply is
// false when no reply is sent (a successful CLEAR_SCANNER, §4.4.14).
func (c *Cluster) dispatch(ep *endpoint, f *codec.Frame, name string, out []byte) ([]byte, bool) {
	if f.Framing == codec.FramingRDSN && f.SerializeFormat() != codec.SerializeThriftBinary {
		// A C++ receiver aborts on formats other than 1 and 3 (wire.md §1.2);
		// the simulator speaks only thrift binary and answers an error.
		c.counters.add(&c.counters.malformed, 1)
		return errReply(out, ep, f, codec.ErrorInvalidData)
	}
	if inj, ok := c.faults.takeRPC(name); ok {
		c.counters.add(&c.counters.errorsInjected, 1)
		return errReply(out, ep, f, inj)
	}
	if ep.isMeta() {
		return c.dispatchMeta(ep, f, name, out)
	}
	if checkpointRPCs[name] && f.AppID <= 0 {
		return c.dispatchCheckpoint(ep, f, name, out)
	}
	write, isStorage := storageRPCs[name]
	if !isStorage || f.AppID <= 0 {
		// Unknown names, and known names without a partition, find no
		// handler on a replica server.
		return errReply(out, ep, f, codec.ErrorHandlerNotFound)
	}
	return c.handleStorage(ep, f, name, write, out)
}

func (c *Cluster) dispatchMeta(ep *endpoint, f *codec.Frame, name string, out []byte) ([]byte, bool) {
	if !knownTaskCode(name) {
		return errReply(out, ep, f, codec.ErrorHandlerNotFound)
	}
	if f.AppID > 0 {
		// A real meta server aborts here (wire.md §1.3); the simulator
		// answers an error and counts it.
		c.counters.add(&c.counters.metaGpidRejected, 1)
		if _, ok := storageRPCs[name]; ok {
			return errReply(out, ep, f, codec.ErrorObjectNotFound)
		}
		return errReply(out, ep, f, codec.ErrorInvalidParameters)
	}
	var body []byte
	var err error
	switch name {
	case rpcQueryConfig:
		body, err = c.onQueryConfig(f.Body, nil)
	case rpcCreateApp:
		body, err = c.onCreateApp(f.Body, nil)
	case rpcDropApp:
		body, err = c.onDropApp(f.Body, nil)
	case rpcListApps:
		body, err = c.onListApps(f.Body, nil)
	default:
		return errReply(out, ep, f, codec.ErrorHandlerNotFound)
	}
	if err != nil {
		c.counters.add(&c.counters.malformed, 1)
		return errReply(out, ep, f, codec.ErrorInvalidData)
	}
	return okReply(out, ep, f, body)
}

func (c *Cluster) serverName(ep *endpoint) string {
	if c.opts.ServerName != "" {
		return c.opts.ServerName
	}
	return ep.hostPort
}

func (c *Cluster) env() applyEnv {
	return applyEnv{now: c.opts.Now(), ownClusterID: c.opts.ClusterID, clusterOK: c.clusterOK}
}

// clusterOK is is_dup_cluster_id_configured (src/common/duplication_common.cpp).
func (c *Cluster) clusterOK(id uint8) bool {
	if id != c.opts.ClusterID && c.opts.DupIgnoreOtherClusterIDs {
		return true
	}
	return c.dupIDs[id]
}

// routedKey is a key a write touches, with the hash that routes it.
type routedKey struct {
	raw  []byte
	hash uint64
}

// handleStorage serves a storage RPC on a replica endpoint.
func (c *Cluster) handleStorage(ep *endpoint, f *codec.Frame, name string, write bool, out []byte) ([]byte, bool) {
	c.mu.RLock()
	t := c.byID[f.AppID]
	if t == nil || f.PartitionIndex < 0 || int(f.PartitionIndex) >= len(t.parts) {
		c.mu.RUnlock()
		return errReply(out, ep, f, codec.ErrorObjectNotFound)
	}
	cfg := t.configs[f.PartitionIndex]
	p := t.parts[f.PartitionIndex]
	c.mu.RUnlock()

	primary := cfg.primary == ep.idx
	if !primary {
		if !slices.Contains(cfg.secondaries, ep.idx) {
			return errReply(out, ep, f, codec.ErrorObjectNotFound)
		}
		// Only a backup read may be served by a secondary (wire.md §1.2).
		if write || !f.IsBackupRequest {
			return errReply(out, ep, f, codec.ErrorInvalidState)
		}
	}
	env := c.env()
	if primary && env.now.Before(cfg.unavailableUntil) {
		return errReply(out, ep, f, cfg.unavailableErr)
	}
	// CHECK_REQUEST_IF_SPLITTING (wire.md §6.3): with the table env
	// replica.split.validate_partition_hash, the header hash masked by
	// partition_count-1 must name this partition.
	if p.validHash && int32(f.PartitionHash&uint64(p.count-1)) != p.pidx {
		return errReply(out, ep, f, codec.ErrorParentPartitionMisused)
	}
	if write && len(f.Message) > c.opts.MaxWriteSize {
		// max_allowed_write_size (duplication.md §4.1).
		return errReply(out, ep, f, codec.ErrorInvalidData)
	}
	rc := respCommon{appID: t.appID, pidx: p.pidx, server: c.serverName(ep)}
	body, errName, reply := c.serveStorage(t, p, f, name, &env, rc)
	if !reply {
		return out, false
	}
	if errName != "" {
		return errReply(out, ep, f, errName)
	}
	return okReply(out, ep, f, body)
}

// misplacedCheck compares each key's partition with p. It records the
// misplaced ones (as written, or rejected in strict mode) and reports
// whether the request must be rejected. The caller holds p.mu.
func (c *Cluster) misplacedCheck(t *table, p *partition, keys []routedKey) (reject bool) {
	n := 0
	for _, k := range keys {
		if partitionOf(k.hash, p.count) != int(p.pidx) {
			n++
		}
	}
	if n == 0 {
		return false
	}
	c.counters.misplaced(t.name, int64(n), c.opts.Strict)
	if p.misplaced == nil {
		p.misplaced = map[string]misplacedCount{}
	}
	for _, k := range keys {
		if partitionOf(k.hash, p.count) != int(p.pidx) {
			m := p.misplaced[string(k.raw)]
			if c.opts.Strict {
				m.rejected++
			} else {
				m.written++
			}
			p.misplaced[string(k.raw)] = m
		}
	}
	return c.opts.Strict
}

// serveStorage decodes, checks and applies one storage request. It returns
// the result body, or an RPC-level error name, or reply=false.
func (c *Cluster) serveStorage(t *table, p *partition, f *codec.Frame, name string, env *applyEnv, rc respCommon) (body []byte, errName string, reply bool) {
	bad := func() ([]byte, string, bool) {
		// A real server would throw (and usually die) on malformed thrift
		// (wire.md §2.3); the simulator answers an error and counts it.
		c.counters.add(&c.counters.malformed, 1)
		return nil, codec.ErrorInvalidData, true
	}
	misused := func() ([]byte, string, bool) {
		return nil, codec.ErrorParentPartitionMisused, true
	}
	switch name {
	case rpcPut:
		u, err := decodeUpdate(f.Body)
		if err != nil {
			return bad()
		}
		c.checkHeaderHash(f, u.key)
		p.mu.Lock()
		defer p.mu.Unlock()
		if c.misplacedCheck(t, p, []routedKey{{u.key, keyHash(u.key)}}) {
			return misused()
		}
		errc, decree := p.applyPut(env, &u)
		return appendUpdateResponse(nil, rc, errc, decree), "", true

	case rpcRemove:
		key, err := decodeBlobArg(f.Body)
		if err != nil {
			return bad()
		}
		c.checkHeaderHash(f, key)
		p.mu.Lock()
		defer p.mu.Unlock()
		if c.misplacedCheck(t, p, []routedKey{{key, keyHash(key)}}) {
			return misused()
		}
		errc, decree := p.applyRemove(key)
		return appendUpdateResponse(nil, rc, errc, decree), "", true

	case rpcMultiPut:
		m, err := decodeMultiPut(f.Body)
		if err != nil {
			return bad()
		}
		h := hashOf(m.hashKey)
		keys := make([]routedKey, len(m.kvs))
		for i, kv := range m.kvs {
			keys[i] = routedKey{rawKey(m.hashKey, kv.key), h}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if c.misplacedCheck(t, p, keys) {
			return misused()
		}
		decree := p.nextDecree()
		tt := Timetag(p.mutationTimestamp(env.now), env.ownClusterID, false)
		errc := p.applyMultiPut(env, &m, tt, false)
		return appendUpdateResponse(nil, rc, errc, decree), "", true

	case rpcMultiRemove:
		m, err := decodeMultiRemove(f.Body)
		if err != nil {
			return bad()
		}
		h := hashOf(m.hashKey)
		keys := make([]routedKey, len(m.sortKeys))
		for i, sk := range m.sortKeys {
			keys[i] = routedKey{rawKey(m.hashKey, sk), h}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if c.misplacedCheck(t, p, keys) {
			return misused()
		}
		decree := p.nextDecree()
		errc, count := p.applyMultiRemove(&m)
		return appendMultiRemoveResponse(nil, rc, errc, count, decree), "", true

	case rpcIncr:
		m, err := decodeIncr(f.Body)
		if err != nil {
			return bad()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if c.misplacedCheck(t, p, []routedKey{{m.key, keyHash(m.key)}}) {
			return misused()
		}
		errc, nv, decree := p.applyIncr(env, &m)
		return appendIncrResponse(nil, rc, errc, nv, decree), "", true

	case rpcCheckAndSet, rpcCheckAndMutate:
		var m casRequest
		var err error
		if name == rpcCheckAndSet {
			m, err = decodeCheckAndSet(f.Body)
		} else {
			m, err = decodeCheckAndMutate(f.Body)
		}
		if err != nil {
			return bad()
		}
		h := hashOf(m.hashKey)
		keys := []routedKey{{rawKey(m.hashKey, m.checkSortKey), h}}
		if name == rpcCheckAndSet && m.setDiffSortKey {
			keys = append(keys, routedKey{rawKey(m.hashKey, m.setSortKey), h})
		}
		for _, mu := range m.mutates {
			keys = append(keys, routedKey{rawKey(m.hashKey, mu.sortKey), h})
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if c.misplacedCheck(t, p, keys) {
			return misused()
		}
		var r casResult
		if name == rpcCheckAndSet {
			r = p.applyCheckAndSet(env, &m)
		} else {
			r = p.applyCheckAndMutate(env, &m)
		}
		return appendCASResponse(nil, rc, r), "", true

	case rpcDuplicate:
		return c.serveDuplicate(t, p, f, env)

	case rpcGet, rpcTTL:
		key, err := decodeBlobArg(f.Body)
		if err != nil {
			return bad()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if name == rpcGet {
			errc, v := p.onGet(key, env.now)
			return appendReadResponse(nil, rc, errc, v), "", true
		}
		errc, ttl := p.onTTL(key, env.now)
		return appendTTLResponse(nil, rc, errc, ttl), "", true

	case rpcSortkeyCount:
		hk, err := decodeBlobArg(f.Body)
		if err != nil {
			return bad()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return appendCountResponse(nil, rc, StatusOK, p.onSortkeyCount(hk, env.now)), "", true

	case rpcMultiGet:
		m, err := decodeMultiGet(f.Body)
		if err != nil {
			return bad()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		errc, kvs := p.onMultiGet(&m, env.now)
		return appendMultiGetResponse(nil, rc, errc, kvs), "", true

	case rpcBatchGet:
		keys, err := decodeBatchGet(f.Body)
		if err != nil {
			return bad()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		errc, data := p.onBatchGet(keys, env.now)
		return appendBatchGetResponse(nil, rc, errc, data), "", true

	case rpcGetScanner:
		m, err := decodeGetScanner(f.Body)
		if err != nil {
			return bad()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return appendScanResponse(nil, rc, p.onGetScanner(&m, env.now)), "", true

	case rpcScan:
		id, err := decodeScan(f.Body)
		if err != nil {
			return bad()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return appendScanResponse(nil, rc, p.onScan(id, env.now)), "", true

	case rpcClearScanner:
		id, err := decodeI64Arg(f.Body)
		if err != nil {
			return bad()
		}
		p.mu.Lock()
		p.onClearScanner(id)
		p.mu.Unlock()
		return nil, "", false // never an ERR_OK reply (wire.md §4.4.14)
	}
	// BULK_LOAD (ingestion) is not simulated.
	return nil, codec.ErrorHandlerNotFound, true
}

// checkHeaderHash counts single PUT/REMOVE requests whose header hash is set
// and differs from the key's: a real replica server aborts on them (wire.md
// §7 item 6).
func (c *Cluster) checkHeaderHash(f *codec.Frame, key []byte) {
	if f.PartitionHash != 0 && f.PartitionHash != keyHash(key) {
		c.counters.add(&c.counters.headerHashMismatch, 1)
	}
}

func (c *Cluster) serveDuplicate(t *table, p *partition, f *codec.Frame, env *applyEnv) ([]byte, string, bool) {
	entries, err := decodeDuplicate(f.Body)
	if err != nil {
		c.counters.add(&c.counters.malformed, 1)
		return nil, codec.ErrorInvalidData, true
	}
	c.counters.add(&c.counters.dupRequests, 1)
	if code, hint, ok := c.faults.takeDup(); ok {
		c.counters.add(&c.counters.errorsInjected, 1)
		return appendDuplicateResponse(nil, code, true, hint), "", true
	}
	dec := decodeEntries(entries)
	var keys []routedKey
	for i := range dec {
		d := &dec[i]
		if d.err != nil || !d.known {
			continue
		}
		switch d.code {
		case rpcPut:
			keys = append(keys, routedKey{d.put.key, d.hash})
		case rpcRemove:
			keys = append(keys, routedKey{d.remove, d.hash})
		case rpcMultiPut:
			for _, kv := range d.mput.kvs {
				keys = append(keys, routedKey{rawKey(d.mput.hashKey, kv.key), d.hash})
			}
		case rpcMultiRemove:
			for _, sk := range d.mrem.sortKeys {
				keys = append(keys, routedKey{rawKey(d.mrem.hashKey, sk), d.hash})
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.misplacedCheck(t, p, keys) {
		return nil, codec.ErrorParentPartitionMisused, true
	}
	r := p.applyDuplicate(env, dec)
	c.counters.add(&c.counters.dupEntriesApplied, int64(r.applied))
	if r.corrupt {
		c.counters.add(&c.counters.corruptWrites, 1)
	}
	return appendDuplicateResponse(nil, r.errc, r.hasErr, r.hint), "", true
}
