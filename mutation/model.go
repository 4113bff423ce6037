package mutation

// The typed model of the write requests (storage.md §2.3, wire.md §4.4).
// Byte slices decoded from a payload alias it. Optional fields carry a Has*
// flag so that what C++ omits stays omitted when re-encoded.

// UpdateType is update_request.type (storage.md §2.3).
type UpdateType int32

const (
	UpdateTypePut                  UpdateType = 0
	UpdateTypeIncr                 UpdateType = 1
	UpdateTypeCheckAndSet          UpdateType = 2
	UpdateTypeCheckAndMutatePut    UpdateType = 3
	UpdateTypeCheckAndMutateRemove UpdateType = 4 // "delete key" (duplication.md §7)
)

// MutateOperation is mutate.operation.
type MutateOperation int32

const (
	MutatePut    MutateOperation = 0
	MutateDelete MutateOperation = 1
)

// CheckType is cas_check_type (0..17, wire.md §4.4 enums); carried as is.
type CheckType int32

// UpdateRequest is update_request, the PUT payload.
type UpdateRequest struct {
	Key             []byte // raw key (storage.md §3.1)
	Value           []byte // user value, not the RocksDB envelope
	ExpireTsSeconds int32  // since EpochBegin; 0 = no TTL

	// Fields 4–7: only on PUTs a primary translated from an atomic write
	// (atomic_idempotent, storage.md §2.3).
	Type                  UpdateType
	HasType               bool
	CheckValueReturned    bool
	HasCheckValueReturned bool
	CheckValueExist       bool
	HasCheckValueExist    bool
	CheckValue            []byte
	HasCheckValue         bool
}

// KeyValue is key_value in a multi_put_request: Key is the sort key.
type KeyValue struct {
	Key                []byte
	Value              []byte
	ExpireTsSeconds    int32 // optional; the server ignores it for multi_put
	HasExpireTsSeconds bool
}

// MultiPutRequest is multi_put_request.
type MultiPutRequest struct {
	HashKey         []byte
	Kvs             []KeyValue
	ExpireTsSeconds int32
}

// MultiRemoveRequest is multi_remove_request.
type MultiRemoveRequest struct {
	HashKey  []byte
	SortKeys [][]byte
	MaxCount int64 // deprecated
}

// IncrRequest is incr_request.
type IncrRequest struct {
	Key             []byte // raw key
	Increment       int64
	ExpireTsSeconds int32 // 0 keep, >0 new absolute expiry, <0 remove TTL
}

// CheckAndSetRequest is check_and_set_request.
type CheckAndSetRequest struct {
	HashKey            []byte
	CheckSortKey       []byte
	CheckType          CheckType
	CheckOperand       []byte
	SetDiffSortKey     bool
	SetSortKey         []byte
	SetValue           []byte
	SetExpireTsSeconds int32
	ReturnCheckValue   bool
}

// Mutate is one element of check_and_mutate_request.mutate_list.
type Mutate struct {
	Operation          MutateOperation
	SortKey            []byte
	Value              []byte
	SetExpireTsSeconds int32
}

// CheckAndMutateRequest is check_and_mutate_request.
type CheckAndMutateRequest struct {
	HashKey          []byte
	CheckSortKey     []byte
	CheckType        CheckType
	CheckOperand     []byte
	MutateList       []Mutate
	ReturnCheckValue bool
}

// DuplicateRequest is duplicate_request in either shape (wire.md §4.6).
type DuplicateRequest struct {
	// Legacy: the ≤ v2.3 shape, where the request is one entry.
	Legacy  bool
	Entries []DupEntry
}

// FileMeta is file_meta (idl/metadata.thrift).
type FileMeta struct {
	Name string
	Size int64
	MD5  string
}

// BulkLoadMetadata is bulk_load_metadata.
type BulkLoadMetadata struct {
	Files         []FileMeta
	FileTotalSize int64
}

// IngestionRequest is ingestion_request, the BULK_LOAD payload.
type IngestionRequest struct {
	AppName            string
	Metadata           BulkLoadMetadata
	IngestBehind       bool
	Ballot             int64
	VerifyBeforeIngest bool
}

// Update is one decoded write. Exactly the field matching Code is set;
// CodeWriteEmpty has none.
type Update struct {
	Code      Code
	WrapperID int16 // the outer wrapper's field id (0 C++, 1 THFT args)

	Put            *UpdateRequest
	RemoveKey      []byte // CodeRemove: the raw key
	MultiPut       *MultiPutRequest
	MultiRemove    *MultiRemoveRequest
	Incr           *IncrRequest
	CheckAndSet    *CheckAndSetRequest
	CheckAndMutate *CheckAndMutateRequest
	Duplicate      *DuplicateRequest
	BulkLoad       *IngestionRequest
}
