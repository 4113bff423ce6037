package server

import (
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// Client storage RPCs (design.md: the bridge is the primary of every
// partition it advertises, so a Pegasus client pointed at the bridge's
// meta address sends its reads and writes here). Reads go on to the
// follower partition that owns the key: the bridge is a transparent read
// proxy of the follower. Writes are refused at once: the follower is
// written by duplication only.

// ReadForwarder sends client reads to the follower (server/follower.Set
// implements it on top of the routers). The server uses it when its
// Shipper has it; without it reads get ERR_HANDLER_NOT_FOUND.
//
// Concurrency contract: called on event loops, concurrently; it must not
// block. cb is called exactly once, from any goroutine.
type ReadForwarder interface {
	// ForwardRead sends req to follower partition pidx of the configured
	// table; the gpid and thread hash of the header are the forwarder's.
	ForwardRead(table string, pidx int, req *rpcclient.Request, cb func(*rpcclient.Response, error))
}

// The reads forwarded (the names of idl/rrdb.thrift's service rrdb and of
// the simulator's replica face). RPC_RRDB_RRDB_CLEAR_SCANNER has no
// response on success (wire.md §4.4.14): it is forwarded and not answered.
var readRPCs = map[string]bool{
	codec.RPCGet: true, codec.RPCMultiGet: true, codec.RPCBatchGet: true, codec.RPCSortkeyCount: true,
	codec.RPCTTL: true, codec.RPCGetScanner: true, codec.RPCScan: true, codec.RPCClearScanner: true,
}

// The client writes refused.
var writeRPCs = map[string]bool{
	codec.RPCPut: true, codec.RPCMultiPut: true, codec.RPCRemove: true, codec.RPCMultiRemove: true,
	codec.RPCIncr: true, codec.RPCCheckAndSet: true, codec.RPCCheckAndMutate: true,
}

// ErrorWriteRefused is the RPC-level error of a client write sent to the
// bridge. It must reach the application at once, not be retried until the
// client's deadline:
//   - go-client (pegasus/table_connector.go handleReplicaError) retries
//     only the errors of its default case (ERR_HANDLER_NOT_FOUND,
//     ERR_OPERATION_DISABLED, RocksDB status codes, ...), with a config
//     update; ERR_DISK_INSUFFICIENT is returned at once, unretried;
//   - the Java client (rpc/async/TableHandler.onRpcReply) retries
//     ERR_TIMEOUT, ERR_SESSION_RESET, ERR_OBJECT_NOT_FOUND,
//     ERR_INVALID_STATE, ERR_PARENT_PARTITION_MISUSED,
//     ERR_NOT_ENOUGH_MEMBER and ERR_CAPACITY_EXCEEDED; anything else,
//     ERR_DISK_INSUFFICIENT included, fails the call at once.
//
// ERR_DISK_INSUFFICIENT is also what a Pegasus replica answers when it
// refuses writes and still serves reads, which is the bridge's state.
const ErrorWriteRefused = codec.ErrorDiskInsufficient

// errorNoRoute answers a read that cannot be forwarded now (table unknown
// or not open, no primary, follower unreachable): like a replica that does
// not serve the gpid, so that both clients refresh their config and retry
// (go-client's default case; Java's "need query meta" list).
const errorNoRoute = codec.ErrorObjectNotFound

// onStorage handles a client storage RPC; false when f is none. Event loop.
func (cs *connState) onStorage(f *codec.Frame) bool {
	name := string(f.RPCName)
	switch {
	case writeRPCs[name]:
		cs.s.stats.writesRefused.Add(1)
		cs.s.log.Debug("client write refused: the follower is written by duplication only",
			zap.String("rpc", name), zap.String("remote", cs.remote))
		cs.replyNow(f, ErrorWriteRefused, nil)
	case readRPCs[name]:
		rf, ok := cs.s.shipper.(ReadForwarder)
		if !ok {
			return false
		}
		cs.forwardRead(f, rf)
	default:
		return false
	}
	return true
}

// forwardRead sends a read to the follower partition owning its key: the
// request's own partition when the advertised count is the follower's,
// else the partition of its partition_hash. Event loop; f's bytes are
// copied before they leave the loop.
func (cs *connState) forwardRead(f *codec.Frame, rf ReadForwarder) {
	s := cs.s
	ts := s.tabs().byAppID[f.AppID]
	count := 0
	if ts != nil {
		count = s.shipper.PartitionCount(ts.cfg.Name)
	}
	if count <= 0 {
		s.stats.readsFailed.Add(1)
		cs.replyNow(f, errorNoRoute, nil)
		return
	}
	pidx := int(f.PartitionHash % uint64(count))
	if s.advertisedCount(ts) == count && f.PartitionIndex >= 0 && int(f.PartitionIndex) < count {
		pidx = int(f.PartitionIndex) // also right for a whole-table scan's get_scanner
	}
	req := &rpcclient.Request{RPCName: string(f.RPCName), PartitionHash: f.PartitionHash,
		BackupRequest: f.IsBackupRequest, Body: append([]byte(nil), f.Body...)}
	if f.TimeoutMs > 0 {
		req.Timeout = time.Duration(f.TimeoutMs) * time.Millisecond
	}
	s.stats.readsForwarded.Add(1)
	if string(f.RPCName) == codec.RPCClearScanner {
		req.Timeout = time.Second
		rf.ForwardRead(ts.cfg.Name, pidx, req, func(*rpcclient.Response, error) {})
		return
	}
	later := (&Responder{cs: cs, f: f}).Later()
	rf.ForwardRead(ts.cfg.Name, pidx, req, func(resp *rpcclient.Response, err error) {
		if err != nil {
			s.stats.readsFailed.Add(1)
			s.log.Debug("read not forwarded", zap.String("table", ts.cfg.Name), zap.Int("partition", pidx), zap.Error(err))
			later.Reply(errorNoRoute, nil)
			return
		}
		if !resp.OK() {
			later.Reply(resp.Err, nil) // the follower's own error, as it sent it
			return
		}
		later.Reply(codec.ErrorOK, resp.Body)
	})
}
