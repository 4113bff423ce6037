package pegasussim

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"
)

// RocksDB status codes carried in storage responses (wire.md §4.4).
const (
	StatusOK              = 0
	StatusNotFound        = 1
	StatusInvalidArgument = 4
	StatusIncomplete      = 7
	StatusTryAgain        = 13
)

// Hints of a follower's duplicate_response (duplication.md §4.2, 4.6).
const (
	HintUnconfigured   = "request cluster id is unconfigured"
	HintSelfDuplicate  = "self-duplicating"
	HintUnknownTaskFmt = "unrecognized task code %s"
)

// applyEnv is what a write needs from the cluster.
type applyEnv struct {
	now          time.Time
	ownClusterID uint8 // 0 when [duplication-group] does not name us
	// clusterOK reports whether a duplicate entry's cluster id is configured
	// (is_dup_cluster_id_configured, src/common/duplication_common.cpp).
	clusterOK func(id uint8) bool
}

// mutationTimestamp is the per-partition, strictly increasing microsecond
// clock that stamps local writes (storage.md §4.4).
func (p *partition) mutationTimestamp(now time.Time) uint64 {
	ts := now.UnixMicro()
	if ts <= p.lastTS {
		ts = p.lastTS + 1
	}
	p.lastTS = ts
	return uint64(ts)
}

// dbExpire applies the table's default_ttl env to writes without expiry
// (rocksdb_wrapper::db_expire_ts).
func (p *partition) dbExpire(expire uint32, now time.Time) uint32 {
	if p.defaultTTL != 0 && expire == 0 {
		return epochNow(now) + p.defaultTTL
	}
	return expire
}

// writePut stores one put with its timetag; with verify set it applies the
// conflict rule of duplication.md §4.4 and reports whether it was written.
func (p *partition) writePut(raw, user []byte, expire uint32, timetag uint64, verify bool, now time.Time) bool {
	if verify && len(raw) > 0 {
		if old, ok := p.st.get(raw); ok && !expired(v1Expire(old), epochNow(now)) {
			if v1Timetag(old) >= timetag {
				p.emptyWrites++
				return false
			}
		}
	}
	p.st.put(raw, valueV1(user, p.dbExpire(expire, now), timetag))
	return true
}

// lookup returns the user value of a live (present, unexpired) key.
func (p *partition) lookup(raw []byte, now time.Time) (v []byte, expireTs uint32, ok bool) {
	sv, ok := p.st.get(raw)
	if !ok || expired(v1Expire(sv), epochNow(now)) {
		return nil, 0, false
	}
	return v1User(sv), v1Expire(sv), true
}

func (p *partition) nextDecree() int64 {
	p.decree++
	return p.decree
}

// applyPut is RPC_RRDB_RRDB_PUT from a client: a local write stamped with
// the mutation timestamp and our cluster id.
func (p *partition) applyPut(env *applyEnv, u *updateRequest) (errc int32, decree int64) {
	decree = p.nextDecree()
	ts := p.mutationTimestamp(env.now)
	p.writePut(u.key, u.value, uint32(u.expireTs), Timetag(ts, env.ownClusterID, false), false, env.now)
	return StatusOK, decree
}

func (p *partition) applyRemove(key []byte) (errc int32, decree int64) {
	decree = p.nextDecree()
	p.st.del(key)
	return StatusOK, decree
}

// applyMultiPut: empty kvs → InvalidArgument and an empty record; per-kv
// expiry is ignored, the request's applies to all
// (pegasus_write_service_impl.h multi_put).
func (p *partition) applyMultiPut(env *applyEnv, m *multiPutRequest, timetag uint64, verify bool) int32 {
	if len(m.kvs) == 0 {
		p.emptyWrites++
		return StatusInvalidArgument
	}
	for _, kv := range m.kvs {
		p.writePut(rawKey(m.hashKey, kv.key), kv.value, uint32(m.expireTs), timetag, verify, env.now)
	}
	return StatusOK
}

// applyMultiRemove: empty sort_keys → InvalidArgument; count is the number
// of sort keys given, not of keys that existed.
func (p *partition) applyMultiRemove(m *multiRemoveRequest) (errc int32, count int64) {
	if len(m.sortKeys) == 0 {
		p.emptyWrites++
		return StatusInvalidArgument, 0
	}
	for _, sk := range m.sortKeys {
		p.st.del(rawKey(m.hashKey, sk))
	}
	return StatusOK, int64(len(m.sortKeys))
}

// buf2int64 mirrors dsn::buf2int64 (strtoll over the whole buffer): leading
// C whitespace and a sign are accepted, nothing may follow the digits, and an
// empty buffer or an out-of-range value fails.
func buf2int64(b []byte) (int64, bool) {
	s := strings.TrimLeft(string(b), " \t\n\v\f\r")
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// applyIncr follows pegasus_write_service_impl.h incr.
func (p *partition) applyIncr(env *applyEnv, m *incrRequest) (errc int32, newValue, decree int64) {
	decree = p.nextDecree()
	var newExpire uint32
	old, oldExpire, ok := p.lookup(m.key, env.now)
	if !ok {
		newValue = m.increment
		if m.expireTs > 0 {
			newExpire = uint32(m.expireTs)
		}
	} else {
		if len(old) == 0 {
			newValue = m.increment
		} else {
			ov, ok := buf2int64(old)
			if !ok {
				p.emptyWrites++
				return StatusInvalidArgument, 0, decree
			}
			if (m.increment > 0 && ov > math.MaxInt64-m.increment) ||
				(m.increment < 0 && ov < math.MinInt64-m.increment) {
				p.emptyWrites++
				return StatusInvalidArgument, ov, decree
			}
			newValue = ov + m.increment
		}
		switch {
		case m.expireTs == 0:
			newExpire = oldExpire
		case m.expireTs < 0:
			newExpire = 0
		default:
			newExpire = uint32(m.expireTs)
		}
	}
	// Atomic writes go through write_batch_put with an empty context: no
	// timestamp in the timetag (storage.md §4.4).
	p.writePut(m.key, []byte(strconv.FormatInt(newValue, 10)), newExpire, Timetag(0, env.ownClusterID, false), false, env.now)
	return StatusOK, newValue, decree
}

// Check types (wire.md §4.4 enums).
const (
	ctNoCheck = iota
	ctValueNotExist
	ctValueNotExistOrEmpty
	ctValueExist
	ctValueNotEmpty
	ctMatchAnywhere
	ctMatchPrefix
	ctMatchPostfix
	ctBytesLess
	ctBytesLessOrEqual
	ctBytesEqual
	ctBytesGreaterOrEqual
	ctBytesGreater
	ctIntLess
	ctIntLessOrEqual
	ctIntEqual
	ctIntGreaterOrEqual
	ctIntGreater
)

// validateCheck mirrors validate_check in pegasus_write_service_impl.h.
func validateCheck(ct int32, operand []byte, exist bool, value []byte) (passed, invalid bool) {
	switch ct {
	case ctNoCheck:
		return true, false
	case ctValueNotExist:
		return !exist, false
	case ctValueNotExistOrEmpty:
		return !exist || len(value) == 0, false
	case ctValueExist:
		return exist, false
	case ctValueNotEmpty:
		return exist && len(value) > 0, false
	case ctMatchAnywhere, ctMatchPrefix, ctMatchPostfix:
		if !exist {
			return false, false
		}
		if len(operand) == 0 {
			return true, false
		}
		if len(value) < len(operand) {
			return false, false
		}
		switch ct {
		case ctMatchAnywhere:
			return bytes.Contains(value, operand), false
		case ctMatchPrefix:
			return bytes.HasPrefix(value, operand), false
		}
		return bytes.HasSuffix(value, operand), false
	case ctBytesLess, ctBytesLessOrEqual, ctBytesEqual, ctBytesGreaterOrEqual, ctBytesGreater:
		if !exist {
			return false, false
		}
		return cmpPasses(bytes.Compare(value, operand), ct-ctBytesLess), false
	case ctIntLess, ctIntLessOrEqual, ctIntEqual, ctIntGreaterOrEqual, ctIntGreater:
		if !exist {
			return false, false
		}
		v, ok := buf2int64(value)
		if !ok {
			return false, true
		}
		o, ok := buf2int64(operand)
		if !ok {
			return false, true
		}
		c := 0
		if v < o {
			c = -1
		} else if v > o {
			c = 1
		}
		return cmpPasses(c, ct-ctIntLess), false
	}
	return false, false
}

// cmpPasses: rel 0 less, 1 less-or-equal, 2 equal, 3 greater-or-equal, 4 greater.
func cmpPasses(c int, rel int32) bool {
	switch {
	case c < 0:
		return rel <= 1
	case c > 0:
		return rel >= 3
	}
	return rel >= 1 && rel <= 3
}

func checkTypeSupported(ct int32) bool { return ct >= ctNoCheck && ct <= ctIntGreater }

// applyCheckAndSet follows pegasus_write_service_impl.h check_and_set.
func (p *partition) applyCheckAndSet(env *applyEnv, m *casRequest) casResult {
	r := casResult{decree: p.nextDecree()}
	if !checkTypeSupported(m.checkType) {
		p.emptyWrites++
		r.errc = StatusInvalidArgument
		return r
	}
	checkKey := rawKey(m.hashKey, m.checkSortKey)
	value, _, exist := p.lookup(checkKey, env.now)
	if m.returnCheckValue {
		r.checkReturned = true
		if exist {
			r.checkExist = true
			r.checkValue = append([]byte(nil), value...)
		}
	}
	passed, invalid := validateCheck(m.checkType, m.checkOperand, exist, value)
	if !passed {
		p.emptyWrites++
		r.errc = StatusTryAgain
		if invalid {
			r.errc = StatusInvalidArgument
		}
		return r
	}
	setKey := checkKey
	if m.setDiffSortKey {
		setKey = rawKey(m.hashKey, m.setSortKey)
	}
	p.writePut(setKey, m.setValue, uint32(m.setExpireTs), Timetag(0, env.ownClusterID, false), false, env.now)
	return r
}

// Mutate operations of check_and_mutate.
const (
	moPut    = 0
	moDelete = 1
)

// applyCheckAndMutate follows pegasus_write_service_impl.h check_and_mutate.
func (p *partition) applyCheckAndMutate(env *applyEnv, m *casRequest) casResult {
	r := casResult{decree: p.nextDecree()}
	if len(m.mutates) == 0 {
		p.emptyWrites++
		r.errc = StatusInvalidArgument
		return r
	}
	for _, mu := range m.mutates {
		if mu.op != moPut && mu.op != moDelete {
			p.emptyWrites++
			r.errc = StatusInvalidArgument
			return r
		}
	}
	if !checkTypeSupported(m.checkType) {
		p.emptyWrites++
		r.errc = StatusInvalidArgument
		return r
	}
	value, _, exist := p.lookup(rawKey(m.hashKey, m.checkSortKey), env.now)
	if m.returnCheckValue {
		r.checkReturned = true
		if exist {
			r.checkExist = true
			r.checkValue = append([]byte(nil), value...)
		}
	}
	passed, invalid := validateCheck(m.checkType, m.checkOperand, exist, value)
	if !passed {
		p.emptyWrites++
		r.errc = StatusTryAgain
		if invalid {
			r.errc = StatusInvalidArgument
		}
		return r
	}
	tt := Timetag(0, env.ownClusterID, false)
	for _, mu := range m.mutates {
		k := rawKey(m.hashKey, mu.sortKey)
		if mu.op == moPut {
			p.writePut(k, mu.value, uint32(mu.expireTs), tt, false, env.now)
		} else {
			p.st.del(k)
		}
	}
	return r
}
