package codec

// RPC-level error names (wire.md §5.2, §5.3; src/utils/error_code.h). Names
// travel as strings; their integer values never matter on the wire. A Go
// server answering go-client must stick to names go-client knows (§2.6).
const (
	ErrorOK                     = "ERR_OK"
	ErrorUnknown                = "ERR_UNKNOWN"
	ErrorObjectNotFound         = "ERR_OBJECT_NOT_FOUND"
	ErrorInvalidState           = "ERR_INVALID_STATE"
	ErrorInactiveState          = "ERR_INACTIVE_STATE"
	ErrorInconsistentState      = "ERR_INCONSISTENT_STATE"
	ErrorHandlerNotFound        = "ERR_HANDLER_NOT_FOUND"
	ErrorBusy                   = "ERR_BUSY"
	ErrorBusyCreating           = "ERR_BUSY_CREATING"
	ErrorBusyDropping           = "ERR_BUSY_DROPPING"
	ErrorTimeout                = "ERR_TIMEOUT"
	ErrorNetworkFailure         = "ERR_NETWORK_FAILURE"
	ErrorSessionReset           = "ERR_SESSION_RESET" // go-client only
	ErrorInvalidData            = "ERR_INVALID_DATA"
	ErrorInvalidParameters      = "ERR_INVALID_PARAMETERS"
	ErrorForwardToOthers        = "ERR_FORWARD_TO_OTHERS"
	ErrorAppExist               = "ERR_APP_EXIST"
	ErrorAppNotExist            = "ERR_APP_NOT_EXIST"
	ErrorSplitting              = "ERR_SPLITTING"
	ErrorParentPartitionMisused = "ERR_PARENT_PARTITION_MISUSED"
	ErrorChildNotReady          = "ERR_CHILD_NOT_READY"
	ErrorNotEnoughMember        = "ERR_NOT_ENOUGH_MEMBER"
	ErrorCapacityExceeded       = "ERR_CAPACITY_EXCEEDED"
	ErrorDiskInsufficient       = "ERR_DISK_INSUFFICIENT"
	ErrorOperationDisabled      = "ERR_OPERATION_DISABLED"
	ErrorServiceNotActive       = "ERR_SERVICE_NOT_ACTIVE"
	ErrorUnderRecovery          = "ERR_UNDER_RECOVERY"
	ErrorStateFreezed           = "ERR_STATE_FREEZED"
	ErrorPathNotFound           = "ERR_PATH_NOT_FOUND"
	ErrorFileOperationFailed    = "ERR_FILE_OPERATION_FAILED"
	ErrorGetLearnStateFailed    = "ERR_GET_LEARN_STATE_FAILED"
	ErrorACLDeny                = "ERR_ACL_DENY"
	ErrorIOPending              = "ERR_IO_PENDING"
	ErrorDupExist               = "ERR_DUP_EXIST" // unknown to go-client (§2.6)
	ErrorRetryExhausted         = "ERR_RETRY_EXHAUSTED"
	ErrorNotMatched             = "ERR_NOT_MATCHED"
	ErrorInvalidArgument        = "ERR_INVALID_ARGUMENT"
	ErrorZookeeperOperation     = "ERR_ZOOKEEPER_OPERATION"
)

// AckSuffix turns a request name into its response name (wire.md §5.1).
const AckSuffix = "_ACK"

// RPC names (wire.md §5.1). Every request name X has the response name X_ACK.
const (
	// Meta server; header gpid (0, 0).
	RPCQueryPartitionConfigByIndex = "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX"
	RPCCreateApp                   = "RPC_CM_CREATE_APP"
	RPCListApps                    = "RPC_CM_LIST_APPS"
	RPCDropApp                     = "RPC_CM_DROP_APP"
	RPCRecallApp                   = "RPC_CM_RECALL_APP"
	RPCListNodes                   = "RPC_CM_LIST_NODES"
	RPCClusterInfo                 = "RPC_CM_CLUSTER_INFO"
	RPCUpdateAppEnv                = "RPC_CM_UPDATE_APP_ENV"
	RPCAddDuplication              = "RPC_CM_ADD_DUPLICATION"
	RPCQueryDuplication            = "RPC_CM_QUERY_DUPLICATION"
	RPCModifyDuplication           = "RPC_CM_MODIFY_DUPLICATION"
	RPCListDuplication             = "RPC_CM_LIST_DUPLICATION"
	RPCDuplicationSync             = "RPC_CM_DUPLICATION_SYNC"

	// Replica server, storage RPCs; header gpid (app_id, pidx).
	RPCPut            = "RPC_RRDB_RRDB_PUT"
	RPCMultiPut       = "RPC_RRDB_RRDB_MULTI_PUT"
	RPCRemove         = "RPC_RRDB_RRDB_REMOVE"
	RPCMultiRemove    = "RPC_RRDB_RRDB_MULTI_REMOVE"
	RPCIncr           = "RPC_RRDB_RRDB_INCR"
	RPCCheckAndSet    = "RPC_RRDB_RRDB_CHECK_AND_SET"
	RPCCheckAndMutate = "RPC_RRDB_RRDB_CHECK_AND_MUTATE"
	RPCDuplicate      = "RPC_RRDB_RRDB_DUPLICATE"
	RPCGet            = "RPC_RRDB_RRDB_GET"
	RPCMultiGet       = "RPC_RRDB_RRDB_MULTI_GET"
	RPCBatchGet       = "RPC_RRDB_RRDB_BATCH_GET"
	RPCSortkeyCount   = "RPC_RRDB_RRDB_SORTKEY_COUNT"
	RPCTTL            = "RPC_RRDB_RRDB_TTL"
	RPCGetScanner     = "RPC_RRDB_RRDB_GET_SCANNER"
	RPCScan           = "RPC_RRDB_RRDB_SCAN"
	RPCClearScanner   = "RPC_RRDB_RRDB_CLEAR_SCANNER" // no response on success (§4.4.14)
	RPCBulkLoad       = "RPC_RRDB_RRDB_BULK_LOAD"

	// Replica server, non-storage RPCs; header gpid (0, 0).
	RPCQueryLastCheckpointInfo = "RPC_QUERY_LAST_CHECKPOINT_INFO"
	RPCNFSGetFileSize          = "RPC_NFS_GET_FILE_SIZE"
	RPCNFSCopy                 = "RPC_NFS_COPY"
	RPCLearn                   = "RPC_LEARN"

	// Both server kinds.
	RPCNegotiation = "RPC_NEGOTIATION"
)

// AppendAckName appends name + "_ACK", truncated to MaxNameLen as the
// char[48] rpc_name field truncates it (wire.md §1.10).
func AppendAckName(dst, name []byte) []byte {
	if len(name) >= MaxNameLen {
		return append(dst, name[:MaxNameLen]...)
	}
	dst = append(dst, name...)
	return append(dst, AckSuffix[:min(len(AckSuffix), MaxNameLen-len(name))]...)
}
