package pegasussim

import (
	"fmt"
)

// Task code names (wire.md §5.1).
const (
	rpcPut            = "RPC_RRDB_RRDB_PUT"
	rpcMultiPut       = "RPC_RRDB_RRDB_MULTI_PUT"
	rpcRemove         = "RPC_RRDB_RRDB_REMOVE"
	rpcMultiRemove    = "RPC_RRDB_RRDB_MULTI_REMOVE"
	rpcIncr           = "RPC_RRDB_RRDB_INCR"
	rpcCheckAndSet    = "RPC_RRDB_RRDB_CHECK_AND_SET"
	rpcCheckAndMutate = "RPC_RRDB_RRDB_CHECK_AND_MUTATE"
	rpcDuplicate      = "RPC_RRDB_RRDB_DUPLICATE"
	rpcGet            = "RPC_RRDB_RRDB_GET"
	rpcMultiGet       = "RPC_RRDB_RRDB_MULTI_GET"
	rpcBatchGet       = "RPC_RRDB_RRDB_BATCH_GET"
	rpcSortkeyCount   = "RPC_RRDB_RRDB_SORTKEY_COUNT"
	rpcTTL            = "RPC_RRDB_RRDB_TTL"
	rpcGetScanner     = "RPC_RRDB_RRDB_GET_SCANNER"
	rpcScan           = "RPC_RRDB_RRDB_SCAN"
	rpcClearScanner   = "RPC_RRDB_RRDB_CLEAR_SCANNER"
	rpcBulkLoad       = "RPC_RRDB_RRDB_BULK_LOAD"

	rpcQueryConfig = "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX"
	rpcCreateApp   = "RPC_CM_CREATE_APP"
	rpcDropApp     = "RPC_CM_DROP_APP"
	rpcListApps    = "RPC_CM_LIST_APPS"
)

// storageRPCs are the replica storage RPCs; the value says whether it is a
// write (wire.md §5.1).
var storageRPCs = map[string]bool{
	rpcPut: true, rpcMultiPut: true, rpcRemove: true, rpcMultiRemove: true,
	rpcIncr: true, rpcCheckAndSet: true, rpcCheckAndMutate: true, rpcDuplicate: true,
	rpcBulkLoad: true,
	rpcGet:      false, rpcMultiGet: false, rpcBatchGet: false, rpcSortkeyCount: false,
	rpcTTL: false, rpcGetScanner: false, rpcScan: false, rpcClearScanner: false,
}

// otherKnownRPCs are task codes a real server knows without a handler in
// the simulator: a request for them gets ERR_HANDLER_NOT_FOUND (wire.md §1.3)
// and, when they reach a meta with a gpid, the same treatment as meta names.
var otherKnownRPCs = map[string]bool{
	"RPC_CM_RECALL_APP": true, "RPC_CM_LIST_NODES": true, "RPC_CM_CLUSTER_INFO": true,
	"RPC_CM_UPDATE_APP_ENV": true, "RPC_CM_ADD_DUPLICATION": true, "RPC_CM_QUERY_DUPLICATION": true,
	"RPC_CM_MODIFY_DUPLICATION": true, "RPC_CM_LIST_DUPLICATION": true, "RPC_CM_DUPLICATION_SYNC": true,
	"RPC_LEARN": true, "RPC_NEGOTIATION": true,
}

var metaRPCs = map[string]bool{rpcQueryConfig: true, rpcCreateApp: true, rpcDropApp: true, rpcListApps: true}

func knownTaskCode(name string) bool {
	_, s := storageRPCs[name]
	return s || metaRPCs[name] || otherKnownRPCs[name] || checkpointRPCs[name]
}

// decodedEntry is one duplicate entry with its payload decoded.
type decodedEntry struct {
	e      dupEntry
	code   string
	put    updateRequest
	remove []byte
	mput   multiPutRequest
	mrem   multiRemoveRequest
	err    error // payload could not be decoded
	hash   uint64
	key    []byte // raw key, or the hash key for the multi codes (for reports)
	known  bool   // one of the four duplicable codes
}

// decodeEntries decodes every entry's raw_message by its task code.
func decodeEntries(entries []dupEntry) []decodedEntry {
	out := make([]decodedEntry, len(entries))
	for i, e := range entries {
		d := &out[i]
		d.e = e
		d.code = string(e.taskCode)
		d.known = true
		switch d.code {
		case rpcPut:
			d.put, d.err = decodeUpdate(e.raw)
			d.key, d.hash = d.put.key, keyHash(d.put.key)
		case rpcRemove:
			d.remove, d.err = decodeBlobArg(e.raw)
			d.key, d.hash = d.remove, keyHash(d.remove)
		case rpcMultiPut:
			d.mput, d.err = decodeMultiPut(e.raw)
			d.key, d.hash = rawKey(d.mput.hashKey, nil), hashOf(d.mput.hashKey)
		case rpcMultiRemove:
			d.mrem, d.err = decodeMultiRemove(e.raw)
			d.key, d.hash = rawKey(d.mrem.hashKey, nil), hashOf(d.mrem.hashKey)
		default:
			d.known = false
		}
	}
	return out
}

// dupResult is a duplicate_response.
type dupResult struct {
	errc    int32
	hasErr  bool
	hint    string
	applied int // entries applied
	corrupt bool
}

// applyDuplicate follows pegasus_write_service::duplicate
// (src/server/pegasus_write_service.cpp, duplication.md §4.2): entries in
// order; cluster checks per entry; entries applied before a failing entry stay
// applied. The whole request is one mutation (one decree).
func (p *partition) applyDuplicate(env *applyEnv, entries []decodedEntry) dupResult {
	p.nextDecree()
	var r dupResult
	for i := range entries {
		d := &entries[i]
		cid := uint8(d.e.clusterID)
		if !env.clusterOK(cid) {
			p.emptyWrites++
			return dupResult{errc: StatusInvalidArgument, hasErr: true, hint: HintUnconfigured, applied: r.applied}
		}
		if cid == env.ownClusterID {
			p.emptyWrites++
			return dupResult{errc: StatusInvalidArgument, hasErr: true, hint: HintSelfDuplicate, applied: r.applied}
		}
		if !d.known {
			// C++ prints the task code, which is TASK_CODE_INVALID for a name
			// it has never registered.
			name := d.code
			if !knownTaskCode(name) {
				name = "TASK_CODE_INVALID"
			}
			p.emptyWrites++
			return dupResult{errc: StatusInvalidArgument, hasErr: true, hint: fmt.Sprintf(HintUnknownTaskFmt, name), applied: r.applied}
		}
		if d.err != nil {
			// A truncated payload throws a transport exception that the
			// write path catches as a corrupt write: the request is answered
			// as it stands and the rest is not applied (duplication.md §4.6).
			r.corrupt = true
			return r
		}
		deleted := d.code == rpcRemove || d.code == rpcMultiRemove
		tt := Timetag(uint64(d.e.timestamp), cid, deleted)
		r.hasErr = true
		switch d.code {
		case rpcPut:
			// update_request.type is ignored: a translated
			// check_and_mutate delete is applied as a put (wire.md §4.6).
			p.writePut(d.put.key, d.put.value, uint32(d.put.expireTs), tt, d.e.verifyTimetag, env.now)
			r.errc = StatusOK
		case rpcRemove:
			p.st.del(d.remove)
			r.errc = StatusOK
		case rpcMultiPut:
			// multi_put's own InvalidArgument on empty kvs is not what it
			// returns (it returns the empty write's status), so an empty
			// entry counts as success.
			p.applyMultiPut(env, &d.mput, tt, d.e.verifyTimetag)
			r.errc = StatusOK
		case rpcMultiRemove:
			p.applyMultiRemove(&d.mrem)
			r.errc = StatusOK
		}
		r.applied++
	}
	return r
}
