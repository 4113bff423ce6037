package mutation

// Code is a write task code (storage.md §2.3). Its names are the strings
// stored in the plog and sent as duplicate_entry.task_code.
type Code uint8

const (
	CodeUnknown Code = iota
	CodePut
	CodeRemove
	CodeMultiPut
	CodeMultiRemove
	CodeIncr
	CodeCheckAndSet
	CodeCheckAndMutate
	CodeDuplicate
	CodeBulkLoad
	CodeWriteEmpty
)

// Task code names (storage.md §2.3, §1.8).
const (
	NamePut            = "RPC_RRDB_RRDB_PUT"
	NameRemove         = "RPC_RRDB_RRDB_REMOVE"
	NameMultiPut       = "RPC_RRDB_RRDB_MULTI_PUT"
	NameMultiRemove    = "RPC_RRDB_RRDB_MULTI_REMOVE"
	NameIncr           = "RPC_RRDB_RRDB_INCR"
	NameCheckAndSet    = "RPC_RRDB_RRDB_CHECK_AND_SET"
	NameCheckAndMutate = "RPC_RRDB_RRDB_CHECK_AND_MUTATE"
	NameDuplicate      = "RPC_RRDB_RRDB_DUPLICATE"
	NameBulkLoad       = "RPC_RRDB_RRDB_BULK_LOAD"
	NameWriteEmpty     = "RPC_REPLICATION_WRITE_EMPTY"
	// NameInvalid is what C++ maps an unknown task code name to (wire.md §3).
	NameInvalid = "TASK_CODE_INVALID"
)

// ParseCode maps a task code name to its Code; CodeUnknown for anything
// else. It does not allocate.
func ParseCode(name []byte) Code {
	switch string(name) {
	case NamePut:
		return CodePut
	case NameRemove:
		return CodeRemove
	case NameMultiPut:
		return CodeMultiPut
	case NameMultiRemove:
		return CodeMultiRemove
	case NameIncr:
		return CodeIncr
	case NameCheckAndSet:
		return CodeCheckAndSet
	case NameCheckAndMutate:
		return CodeCheckAndMutate
	case NameDuplicate:
		return CodeDuplicate
	case NameBulkLoad:
		return CodeBulkLoad
	case NameWriteEmpty:
		return CodeWriteEmpty
	}
	return CodeUnknown
}

// Name is the task code name; NameInvalid for CodeUnknown and out-of-range
// values.
func (c Code) Name() string {
	switch c {
	case CodePut:
		return NamePut
	case CodeRemove:
		return NameRemove
	case CodeMultiPut:
		return NameMultiPut
	case CodeMultiRemove:
		return NameMultiRemove
	case CodeIncr:
		return NameIncr
	case CodeCheckAndSet:
		return NameCheckAndSet
	case CodeCheckAndMutate:
		return NameCheckAndMutate
	case CodeDuplicate:
		return NameDuplicate
	case CodeBulkLoad:
		return NameBulkLoad
	case CodeWriteEmpty:
		return NameWriteEmpty
	}
	return NameInvalid
}

// String is Name.
func (c Code) String() string { return c.Name() }

// Idempotent reports whether replaying the write gives the same state
// (storage.md §2.3). INCR, CHECK_AND_SET and CHECK_AND_MUTATE are not, and a
// master drops them from duplication (duplication.md §3.3, §3.4). An empty
// write changes nothing and counts as idempotent; CodeUnknown does not.
func (c Code) Idempotent() bool {
	switch c {
	case CodePut, CodeRemove, CodeMultiPut, CodeMultiRemove, CodeDuplicate, CodeBulkLoad, CodeWriteEmpty:
		return true
	}
	return false
}

// Batchable reports whether several updates of this code may share one
// mutation (only PUT and REMOVE, storage.md §1.6).
func (c Code) Batchable() bool { return c == CodePut || c == CodeRemove }

// Duplicated reports whether a master ships writes of this code in
// duplicate entries (duplication.md §3.3, §3.5): PUT, REMOVE, MULTI_PUT and
// MULTI_REMOVE. Empty writes and non-idempotent writes are dropped, and
// DUPLICATE / BULK_LOAD are never forwarded.
func (c Code) Duplicated() bool {
	switch c {
	case CodePut, CodeRemove, CodeMultiPut, CodeMultiRemove:
		return true
	}
	return false
}

// IsDelete reports whether the follower applies the write with the delete
// flag of the timetag set (duplication.md §4.2 step 4).
func (c Code) IsDelete() bool { return c == CodeRemove || c == CodeMultiRemove }

// IsPut reports whether c writes values that carry a timetag on the
// follower (PUT, MULTI_PUT): the ones verify_timetag applies to
// (duplication.md §4.4).
func (c Code) IsPut() bool { return c == CodePut || c == CodeMultiPut }
