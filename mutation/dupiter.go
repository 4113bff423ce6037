package mutation

import (
	"github.com/dupbridge/dupbridge/thrift"
)

const dupWhat = "duplicate_request"

func (it *DupIter) fail(err error) bool {
	it.err = malformed(dupWhat, err)
	it.left = 0
	it.tailDone = true
	return false
}

// Reset points the iterator at a new body (reuse without allocation). It
// reads the wrapper and the request's fields up to the entries: field 1
// LIST → v2.4+ shape; a first known entry field (1 I64, 2/3 STRUCT, 4 BYTE,
// 5 BOOL) → the ≤ v2.3 shape, re-read from the struct's start (wire.md
// §4.6). Other fields before them are skipped.
func (it *DupIter) Reset(body []byte) error {
	it.r.Reset(body)
	*it = DupIter{r: it.r}
	if err := it.readHead(); err != nil {
		it.fail(err)
		return it.err
	}
	return nil
}

// readHead is Reset's reading, up to the first entry.
func (it *DupIter) readHead() error {
	id, err := readWrapper(&it.r)
	if err != nil {
		return err
	}
	it.wrapperID = id
	start := it.r.Pos()
	for {
		typ, id, err := it.r.ReadFieldHeader()
		if err != nil {
			return err
		}
		if typ == thrift.STOP {
			// An empty request: no entries. Only the wrapper STOP is left.
			if err := it.r.ReadWrapperEnd(); err != nil {
				return err
			}
			it.tailDone = true
			return nil
		}
		if id == 1 && typ == thrift.LIST {
			_, n, err := it.r.ReadListHeader()
			if err != nil {
				return err
			}
			it.total, it.left = n, n
			return nil
		}
		if isEntryField(typ, id) {
			it.legacy = true
			it.total, it.left = 1, 1
			it.r.SetPos(start)
			return nil
		}
		if err := it.r.Skip(typ); err != nil {
			return err
		}
	}
}

func isEntryField(typ thrift.Type, id int16) bool {
	switch id {
	case 1:
		return typ == thrift.I64
	case 2, 3:
		return typ == thrift.STRUCT
	case 4:
		return typ == thrift.BYTE
	case 5:
		return typ == thrift.BOOL
	}
	return false
}

// Next decodes the next entry into e; false at the end or on error (Err).
func (it *DupIter) Next(e *DupEntry) bool {
	if it.left == 0 {
		if !it.tailDone {
			it.tailDone = true
			if err := it.finishTail(); err != nil {
				return it.fail(err)
			}
		}
		return false
	}
	if err := readDupEntry(&it.r, e); err != nil {
		return it.fail(err)
	}
	it.left--
	return true
}

// finishTail reads what follows the entries: for the v2.4+ shape the rest
// of the request struct (unknown fields skipped) and its STOP, then the
// wrapper's STOP. A legacy entry already consumed the request's STOP.
func (it *DupIter) finishTail() error {
	if !it.legacy {
		for {
			typ, _, err := it.r.ReadFieldHeader()
			if err != nil {
				return err
			}
			if typ == thrift.STOP {
				break
			}
			if err := it.r.Skip(typ); err != nil {
				return err
			}
		}
	}
	return it.r.ReadWrapperEnd()
}

// readDupEntry decodes one duplicate_entry struct (wire.md §4.6) into e.
// Known ids with the expected type are read; anything else is skipped
// generically, as C++'s generated reader does.
func readDupEntry(r *thrift.Reader, e *DupEntry) error {
	*e = DupEntry{}
	start := r.Pos()
	for {
		typ, id, err := r.ReadFieldHeader()
		if err != nil {
			return err
		}
		if typ == thrift.STOP {
			b := r.Bytes()
			e.Raw = b[start:r.Pos():r.Pos()]
			return nil
		}
		switch {
		case id == 1 && typ == thrift.I64:
			if e.Timestamp, err = r.ReadI64(); err != nil {
				return err
			}
		case id == 2 && typ == thrift.STRUCT:
			if e.TaskCode, err = r.ReadString(); err != nil {
				return err
			}
		case id == 3 && typ == thrift.STRUCT:
			if e.RawMessage, err = r.ReadBlob(); err != nil {
				return err
			}
		case id == 4 && typ == thrift.BYTE:
			if e.ClusterID, err = r.ReadI8(); err != nil {
				return err
			}
			e.HasClusterID = true
		case id == 5 && typ == thrift.BOOL:
			if e.VerifyTimetag, err = r.ReadBool(); err != nil {
				return err
			}
			e.HasVerifyTimetag = true
		default:
			if err := r.Skip(typ); err != nil {
				return err
			}
		}
	}
}

// ParseDupResponse decodes a wrapped duplicate_response; a missing error
// field means 0.
func ParseDupResponse(body []byte) (DupResponse, error) {
	const what = "duplicate_response"
	var resp DupResponse
	r := thrift.NewReader(body)
	if _, err := readWrapper(&r); err != nil {
		return DupResponse{}, malformed(what, err)
	}
	for {
		typ, id, err := r.ReadFieldHeader()
		if err != nil {
			return DupResponse{}, malformed(what, err)
		}
		if typ == thrift.STOP {
			break
		}
		switch {
		case id == 1 && typ == thrift.I32:
			if resp.Error, err = r.ReadI32(); err != nil {
				return DupResponse{}, malformed(what, err)
			}
			resp.HasError = true
		case id == 2 && typ == thrift.STRING:
			if resp.ErrorHint, err = r.ReadString(); err != nil {
				return DupResponse{}, malformed(what, err)
			}
			resp.HasErrorHint = true
		default:
			if err := r.Skip(typ); err != nil {
				return DupResponse{}, malformed(what, err)
			}
		}
	}
	if err := r.ReadWrapperEnd(); err != nil {
		return DupResponse{}, malformed(what, err)
	}
	return resp, nil
}
