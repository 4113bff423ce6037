package pegasussim

import (
	"bytes"
	"time"
)

// Read limits of a Pegasus replica server ([pegasus.server] defaults,
// src/server/pegasus_server_impl_init.cpp).
const (
	multiGetMaxIterationCount = 3000
	multiGetMaxIterationSize  = 30 << 20
	maxIterationCount         = 1000 // rocksdb_max_iteration_count
)

// Completed and not-existing scan context ids (src/server/pegasus_scan_context.h).
const (
	scanContextCompleted = -1
)

// Filter types (wire.md §4.4 enums).
const (
	ftNoFilter = iota
	ftMatchAnywhere
	ftMatchPrefix
	ftMatchPostfix
)

func filterSupported(ft int32) bool { return ft >= ftNoFilter && ft <= ftMatchPostfix }

// validateFilter mirrors pegasus_server_impl::validate_filter.
func validateFilter(ft int32, pattern, v []byte) bool {
	switch ft {
	case ftNoFilter:
		return true
	case ftMatchAnywhere, ftMatchPrefix, ftMatchPostfix:
		if len(pattern) == 0 {
			return true
		}
		if len(v) < len(pattern) {
			return false
		}
		switch ft {
		case ftMatchAnywhere:
			return bytes.Contains(v, pattern)
		case ftMatchPrefix:
			return bytes.HasPrefix(v, pattern)
		}
		return bytes.HasSuffix(v, pattern)
	}
	return false
}

func (p *partition) onGet(key []byte, now time.Time) (errc int32, value []byte) {
	v, _, ok := p.lookup(key, now)
	if !ok {
		return StatusNotFound, nil
	}
	return StatusOK, v
}

// onTTL: -1 without expiry, else seconds left (pegasus_server_impl::on_ttl).
func (p *partition) onTTL(key []byte, now time.Time) (errc, ttl int32) {
	_, exp, ok := p.lookup(key, now)
	if !ok {
		return StatusNotFound, 0
	}
	if exp == 0 {
		return StatusOK, -1
	}
	return StatusOK, int32(exp - epochNow(now))
}

// onSortkeyCount counts the live keys of one hash key.
func (p *partition) onSortkeyCount(hk []byte, now time.Time) int64 {
	prefix := string(rawKey(hk, nil))
	stop := nextPrefix(prefix)
	keys := p.st.sorted()
	en := epochNow(now)
	var n int64
	for i := p.st.seek(prefix); i < len(keys); i++ {
		if stop != "" && keys[i] >= stop {
			break
		}
		if !expired(v1Expire(p.st.m[keys[i]]), en) {
			n++
		}
	}
	return n
}

// onMultiGet follows pegasus_server_impl::on_multi_get.
func (p *partition) onMultiGet(m *multiGetRequest, now time.Time) (errc int32, kvs []keyValue) {
	if !filterSupported(m.filterType) {
		return StatusInvalidArgument, nil
	}
	maxCount := multiGetMaxIterationCount
	if m.maxKVCount > 0 && int(m.maxKVCount) < maxCount {
		maxCount = int(m.maxKVCount)
	}
	maxSize := int64(1<<31 - 1)
	if m.maxKVSize > 0 {
		maxSize = int64(m.maxKVSize)
	}
	iterSize := min(maxSize, multiGetMaxIterationSize)
	en := epochNow(now)
	count, size := 0, int64(0)

	if len(m.sortKeys) > 0 {
		for _, sk := range m.sortKeys {
			sv, ok := p.st.get(rawKey(m.hashKey, sk))
			if !ok || expired(v1Expire(sv), en) {
				continue
			}
			if count >= maxCount || size >= maxSize {
				return StatusIncomplete, kvs
			}
			kv := keyValue{key: sk}
			if !m.noValue {
				kv.value = v1User(sv)
			}
			count++
			size += int64(len(kv.key) + len(kv.value))
			kvs = append(kvs, kv)
		}
		return StatusOK, kvs
	}

	start := string(rawKey(m.hashKey, m.startSortKey))
	startIncl := m.startInclusive
	var stop string
	var stopIncl bool
	if len(m.stopSortKey) == 0 {
		stop = nextPrefix(string(rawKey(m.hashKey, nil)))
		stopIncl = false
	} else {
		stop = string(rawKey(m.hashKey, m.stopSortKey))
		stopIncl = m.stopInclusive
	}
	if m.filterType == ftMatchPrefix && len(m.filterPattern) > 0 {
		ps := string(rawKey(m.hashKey, m.filterPattern))
		if ps > start {
			start, startIncl = ps, true
		}
		pe := nextPrefix(ps)
		if pe <= stop {
			stop, stopIncl = pe, false
		}
	}
	if c := cmpStr(start, stop); c > 0 || (c == 0 && (!startIncl || !stopIncl)) {
		return StatusOK, nil
	}
	keys := p.st.sorted()
	lo := p.st.seek(start)
	if lo < len(keys) && keys[lo] == start && !startIncl {
		lo++
	}
	hi := p.st.seek(stop) // first key ≥ stop
	if hi < len(keys) && keys[hi] == stop && stopIncl {
		hi++
	}
	if hi < lo {
		hi = lo
	}
	iterations := 0
	complete := false
	emit := func(i int) bool { // false: stop iterating
		k := keys[i]
		sv := p.st.m[k]
		iterations++
		if expired(v1Expire(sv), en) {
			return true
		}
		_, sk, _ := splitRawKey([]byte(k))
		if m.filterType != ftNoFilter && !validateFilter(m.filterType, m.filterPattern, sk) {
			return true
		}
		kv := keyValue{key: sk}
		if !m.noValue {
			kv.value = v1User(sv)
		}
		count++
		size += int64(len(kv.key) + len(kv.value))
		kvs = append(kvs, kv)
		return true
	}
	limited := func() bool {
		return count >= maxCount || iterations >= multiGetMaxIterationCount || size >= iterSize
	}
	if !m.reverse {
		i := lo
		for ; i < hi && !limited(); i++ {
			emit(i)
		}
		complete = i >= hi
	} else {
		i := hi - 1
		for ; i >= lo && !limited(); i-- {
			emit(i)
		}
		complete = i < lo
		// The server reverses the collected pairs back to ascending order.
		for a, b := 0, len(kvs)-1; a < b; a, b = a+1, b-1 {
			kvs[a], kvs[b] = kvs[b], kvs[a]
		}
	}
	if !complete {
		return StatusIncomplete, kvs
	}
	return StatusOK, kvs
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scanContext is the state a scanner keeps between SCAN calls.
type scanContext struct {
	next                     string // resume at the first key ≥ next
	stop                     string
	stopInclusive            bool
	hashFilter, sortFilter   int32
	hashPattern, sortPattern []byte
	batchSize                int
	noValue                  bool
	validateHash             bool
	returnExpireTs           bool
	onlyReturnCount          bool
}

// onGetScanner follows pegasus_server_impl::on_get_scanner.
func (p *partition) onGetScanner(m *getScannerRequest, now time.Time) scanResult {
	if !filterSupported(m.hashFilterType) || !filterSupported(m.sortFilterType) {
		return scanResult{errc: StatusInvalidArgument}
	}
	start, stop := string(m.startKey), string(m.stopKey)
	startIncl := m.startInclusive
	if m.hashFilterType == ftMatchPrefix && len(m.hashFilterPattern) > 0 {
		if ps := string(rawKey(m.hashFilterPattern, nil)); ps > start {
			start, startIncl = ps, true
		}
	}
	if c := cmpStr(start, stop); c > 0 || (c == 0 && (!startIncl || !m.stopInclusive)) {
		// Empty range: OK with the struct's default context id (0), as C++.
		return scanResult{errc: StatusOK}
	}
	batch := maxIterationCount
	if m.batchSize > 0 && int(m.batchSize) < batch {
		batch = int(m.batchSize)
	}
	sc := &scanContext{
		next: start, stop: stop, stopInclusive: m.stopInclusive,
		hashFilter: m.hashFilterType, sortFilter: m.sortFilterType,
		hashPattern: append([]byte(nil), m.hashFilterPattern...),
		sortPattern: append([]byte(nil), m.sortFilterPattern...),
		batchSize:   batch, noValue: m.noValue,
		validateHash:   !m.hasValidate || m.validatePartitionHash,
		returnExpireTs: m.returnExpireTs, onlyReturnCount: m.onlyReturnCount,
	}
	if !startIncl {
		// Skip exactly the start key.
		sc.next = start + "\x00"
	}
	return p.scanBatch(sc, now)
}

// scanBatch returns one batch and parks the context when more remains.
func (p *partition) scanBatch(sc *scanContext, now time.Time) scanResult {
	keys := p.st.sorted()
	en := epochNow(now)
	var r scanResult
	count := 0
	i := p.st.seek(sc.next)
	complete := false
	for ; count < sc.batchSize; i++ {
		if i >= len(keys) {
			complete = true
			break
		}
		k := keys[i]
		c := cmpStr(k, sc.stop)
		if c > 0 || (c == 0 && !sc.stopInclusive) {
			complete = true
			break
		}
		sv := p.st.m[k]
		if p.scanKeep([]byte(k), sv, sc, en) {
			count++
			if !sc.onlyReturnCount {
				kv := keyValue{key: []byte(k)}
				if sc.returnExpireTs {
					kv.expireTs, kv.hasExpire = int32(v1Expire(sv)), true
				}
				if !sc.noValue {
					kv.value = v1User(sv)
				}
				r.kvs = append(r.kvs, kv)
			}
		}
		if c == 0 {
			i++
			complete = true
			break
		}
	}
	if sc.onlyReturnCount {
		r.kvCount, r.hasKVCount = int32(count), true
	}
	if !complete && i < len(keys) {
		sc.next = keys[i]
		p.nextScan++
		id := int64(p.pidx+1)<<32 | p.nextScan
		if p.scanners == nil {
			p.scanners = map[int64]*scanContext{}
		}
		p.scanners[id] = sc
		r.contextID = id
	} else {
		r.contextID = scanContextCompleted
	}
	return r
}

// scanKeep mirrors validate_key_value_for_scan.
func (p *partition) scanKeep(raw, sv []byte, sc *scanContext, en uint32) bool {
	if expired(v1Expire(sv), en) {
		return false
	}
	if sc.validateHash && p.validHash {
		if len(raw) < 2 || partitionOf(keyHash(raw), p.count) != int(p.pidx) {
			return false
		}
	}
	if sc.hashFilter != ftNoFilter || sc.sortFilter != ftNoFilter {
		hk, sk, _ := splitRawKey(raw)
		if sc.hashFilter != ftNoFilter && !validateFilter(sc.hashFilter, sc.hashPattern, hk) {
			return false
		}
		if sc.sortFilter != ftNoFilter && !validateFilter(sc.sortFilter, sc.sortPattern, sk) {
			return false
		}
	}
	return true
}

// onScan continues a scanner; a missing context is NotFound.
func (p *partition) onScan(id int64, now time.Time) scanResult {
	sc, ok := p.scanners[id]
	if !ok {
		return scanResult{errc: StatusNotFound}
	}
	delete(p.scanners, id)
	return p.scanBatch(sc, now)
}

func (p *partition) onClearScanner(id int64) { delete(p.scanners, id) }

// onBatchGet follows pegasus_server_impl::on_batch_get: missing and expired
// keys are skipped; an empty key list is InvalidArgument.
func (p *partition) onBatchGet(keys []fullKey, now time.Time) (int32, [][3][]byte) {
	if len(keys) == 0 {
		return StatusInvalidArgument, nil
	}
	var out [][3][]byte
	for _, k := range keys {
		if v, _, ok := p.lookup(rawKey(k.hashKey, k.sortKey), now); ok {
			out = append(out, [3][]byte{k.hashKey, k.sortKey, v})
		}
	}
	return StatusOK, out
}
