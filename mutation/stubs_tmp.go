package mutation

import "errors"

var errTODO = errors.New("mutation: not implemented yet")

func (it *DupIter) reset(body []byte) error          { return errTODO }
func (it *DupIter) next(e *DupEntry) bool            { it.err = errTODO; return false }
func entryHash(e *DupEntry) (uint64, error)          { return 0, errTODO }
func parseDupResponse(b []byte) (DupResponse, error) { return DupResponse{}, errTODO }

// Decode decodes the payload of a write of the given code into the typed
// model (cold path). Any wrapper field id is accepted; missing fields are
// zero. Slices alias payload.
func Decode(code Code, payload []byte) (*Update, error) { return nil, errTODO }

// PayloadHash is the routing hash of a write payload (hot path, zero
// allocations): PUT, REMOVE, INCR → KeyHash of the raw key; MULTI_PUT,
// MULTI_REMOVE, CHECK_AND_SET, CHECK_AND_MUTATE → HashKeyHash; DUPLICATE →
// the hash of its last entry (wire.md §4.6). The whole payload is walked
// and validated. Empty write and BULK_LOAD give ErrNotRoutable.
func PayloadHash(code Code, payload []byte) (uint64, error) { return 0, errTODO }
