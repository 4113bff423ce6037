package pegasussim

import (
	"errors"
	"fmt"

	"github.com/dupbridge/dupbridge/thrift"
)

// Request structs of wire.md §4.4 and §4.6, decoded by field id (never by the
// type byte alone: rDSN special types carry a STRUCT type byte, wire.md §3).
// A field whose type byte is not the expected one is skipped, as the C++
// generated readers do. Decoded slices point into the request frame.

var errMalformed = errors.New("pegasussim: malformed request body")

func malformed(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", errMalformed, what, err)
}

// unwrap reads the one-field wrapper (wire.md §1.9) around a payload read by
// f. Like C++, the byte after the payload must exist; its value is not
// checked.
func unwrap(body []byte, what string, f func(r *thrift.Reader) error) error {
	r := thrift.NewReader(body)
	if _, _, err := r.ReadWrapperBegin(); err != nil {
		return malformed(what, err)
	}
	if err := f(&r); err != nil {
		return malformed(what, err)
	}
	if r.Remaining() < 1 {
		return malformed(what, thrift.ErrShort)
	}
	return nil
}

func unwrapStruct(body []byte, what string, f func(r *thrift.Reader, t thrift.Type, id int16) (bool, error)) error {
	return unwrap(body, what, func(r *thrift.Reader) error {
		return r.ReadStruct(func(t thrift.Type, id int16) (bool, error) { return f(r, t, id) })
	})
}

func decodeBlobArg(body []byte) ([]byte, error) {
	var b []byte
	err := unwrap(body, "blob argument", func(r *thrift.Reader) (err error) {
		b, err = r.ReadBlob()
		return err
	})
	return b, err
}

func decodeI64Arg(body []byte) (int64, error) {
	var v int64
	err := unwrap(body, "i64 argument", func(r *thrift.Reader) (err error) {
		v, err = r.ReadI64()
		return err
	})
	return v, err
}

// readList reads a list header then n elements with f (element type bytes
// are not checked, as in C++ generated code).
func readList(r *thrift.Reader, f func(r *thrift.Reader) error) error {
	_, n, err := r.ReadListHeader()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := f(r); err != nil {
			return err
		}
	}
	return nil
}

func readBlobList(r *thrift.Reader) ([][]byte, error) {
	var out [][]byte
	err := readList(r, func(r *thrift.Reader) error {
		b, err := r.ReadBlob()
		out = append(out, b)
		return err
	})
	return out, err
}

// updateRequest is update_request (wire.md §4.4.1).
type updateRequest struct {
	key, value []byte
	expireTs   int32
	typ        int32
	hasType    bool
}

func parseUpdate(r *thrift.Reader, u *updateRequest) error {
	return r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRUCT:
			u.key, err = r.ReadBlob()
		case id == 2 && t == thrift.STRUCT:
			u.value, err = r.ReadBlob()
		case id == 3 && t == thrift.I32:
			u.expireTs, err = r.ReadI32()
		case id == 4 && t == thrift.I32:
			u.typ, err = r.ReadI32()
			u.hasType = true
		case id == 7 && t == thrift.STRUCT: // check_value: a blob (§3)
			_, err = r.ReadBlob()
		default:
			return false, nil
		}
		return true, err
	})
}

func decodeUpdate(body []byte) (updateRequest, error) {
	var u updateRequest
	err := unwrap(body, "update_request", func(r *thrift.Reader) error { return parseUpdate(r, &u) })
	return u, err
}

type keyValue struct {
	key, value []byte
	expireTs   int32
	hasExpire  bool
}

func parseKeyValue(r *thrift.Reader, kv *keyValue) error {
	return r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRUCT:
			kv.key, err = r.ReadBlob()
		case id == 2 && t == thrift.STRUCT:
			kv.value, err = r.ReadBlob()
		case id == 3 && t == thrift.I32:
			kv.expireTs, err = r.ReadI32()
			kv.hasExpire = true
		default:
			return false, nil
		}
		return true, err
	})
}

// multiPutRequest is multi_put_request (wire.md §4.4.2).
type multiPutRequest struct {
	hashKey  []byte
	kvs      []keyValue
	expireTs int32
}

func decodeMultiPut(body []byte) (multiPutRequest, error) {
	var m multiPutRequest
	err := unwrapStruct(body, "multi_put_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRUCT:
			m.hashKey, err = r.ReadBlob()
		case id == 2 && t == thrift.LIST:
			err = readList(r, func(r *thrift.Reader) error {
				var kv keyValue
				err := parseKeyValue(r, &kv)
				m.kvs = append(m.kvs, kv)
				return err
			})
		case id == 3 && t == thrift.I32:
			m.expireTs, err = r.ReadI32()
		default:
			return false, nil
		}
		return true, err
	})
	return m, err
}

// multiRemoveRequest is multi_remove_request (wire.md §4.4.4).
type multiRemoveRequest struct {
	hashKey  []byte
	sortKeys [][]byte
}

func decodeMultiRemove(body []byte) (multiRemoveRequest, error) {
	var m multiRemoveRequest
	err := unwrapStruct(body, "multi_remove_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRUCT:
			m.hashKey, err = r.ReadBlob()
		case id == 2 && t == thrift.LIST:
			m.sortKeys, err = readBlobList(r)
		default:
			return false, nil
		}
		return true, err
	})
	return m, err
}

// incrRequest is incr_request (wire.md §4.4.8).
type incrRequest struct {
	key       []byte
	increment int64
	expireTs  int32
}

func decodeIncr(body []byte) (incrRequest, error) {
	var m incrRequest
	err := unwrapStruct(body, "incr_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRUCT:
			m.key, err = r.ReadBlob()
		case id == 2 && t == thrift.I64:
			m.increment, err = r.ReadI64()
		case id == 3 && t == thrift.I32:
			m.expireTs, err = r.ReadI32()
		default:
			return false, nil
		}
		return true, err
	})
	return m, err
}

// mutate is one check_and_mutate operation (wire.md §4.4.10).
type mutate struct {
	op       int32
	sortKey  []byte
	value    []byte
	expireTs int32
}

// casRequest holds check_and_set_request and check_and_mutate_request
// (wire.md §4.4.9, §4.4.10).
type casRequest struct {
	hashKey, checkSortKey []byte
	checkType             int32
	checkOperand          []byte
	// check_and_set
	setDiffSortKey bool
	setSortKey     []byte
	setValue       []byte
	setExpireTs    int32
	// check_and_mutate
	mutates []mutate

	returnCheckValue bool
}

func decodeCheckAndSet(body []byte) (casRequest, error) {
	var m casRequest
	err := unwrapStruct(body, "check_and_set_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRUCT:
			m.hashKey, err = r.ReadBlob()
		case id == 2 && t == thrift.STRUCT:
			m.checkSortKey, err = r.ReadBlob()
		case id == 3 && t == thrift.I32:
			m.checkType, err = r.ReadI32()
		case id == 4 && t == thrift.STRUCT:
			m.checkOperand, err = r.ReadBlob()
		case id == 5 && t == thrift.BOOL:
			m.setDiffSortKey, err = r.ReadBool()
		case id == 6 && t == thrift.STRUCT:
			m.setSortKey, err = r.ReadBlob()
		case id == 7 && t == thrift.STRUCT:
			m.setValue, err = r.ReadBlob()
		case id == 8 && t == thrift.I32:
			m.setExpireTs, err = r.ReadI32()
		case id == 9 && t == thrift.BOOL:
			m.returnCheckValue, err = r.ReadBool()
		default:
			return false, nil
		}
		return true, err
	})
	return m, err
}

func decodeCheckAndMutate(body []byte) (casRequest, error) {
	var m casRequest
	err := unwrapStruct(body, "check_and_mutate_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRUCT:
			m.hashKey, err = r.ReadBlob()
		case id == 2 && t == thrift.STRUCT:
			m.checkSortKey, err = r.ReadBlob()
		case id == 3 && t == thrift.I32:
			m.checkType, err = r.ReadI32()
		case id == 4 && t == thrift.STRUCT:
			m.checkOperand, err = r.ReadBlob()
		case id == 5 && t == thrift.LIST:
			err = readList(r, func(r *thrift.Reader) error {
				var mu mutate
				err := r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
					var err error
					switch {
					case id == 1 && t == thrift.I32:
						mu.op, err = r.ReadI32()
					case id == 2 && t == thrift.STRUCT:
						mu.sortKey, err = r.ReadBlob()
					case id == 3 && t == thrift.STRUCT:
						mu.value, err = r.ReadBlob()
					case id == 4 && t == thrift.I32:
						mu.expireTs, err = r.ReadI32()
					default:
						return false, nil
					}
					return true, err
				})
				m.mutates = append(m.mutates, mu)
				return err
			})
		case id == 6 && t == thrift.BOOL:
			m.returnCheckValue, err = r.ReadBool()
		default:
			return false, nil
		}
		return true, err
	})
	return m, err
}

// multiGetRequest is multi_get_request (wire.md §4.4.6).
type multiGetRequest struct {
	hashKey                       []byte
	sortKeys                      [][]byte
	maxKVCount, maxKVSize         int32
	noValue                       bool
	startSortKey, stopSortKey     []byte
	startInclusive, stopInclusive bool
	filterType                    int32
	filterPattern                 []byte
	reverse                       bool
}

func decodeMultiGet(body []byte) (multiGetRequest, error) {
	var m multiGetRequest
	err := unwrapStruct(body, "multi_get_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRUCT:
			m.hashKey, err = r.ReadBlob()
		case id == 2 && t == thrift.LIST:
			m.sortKeys, err = readBlobList(r)
		case id == 3 && t == thrift.I32:
			m.maxKVCount, err = r.ReadI32()
		case id == 4 && t == thrift.I32:
			m.maxKVSize, err = r.ReadI32()
		case id == 5 && t == thrift.BOOL:
			m.noValue, err = r.ReadBool()
		case id == 6 && t == thrift.STRUCT:
			m.startSortKey, err = r.ReadBlob()
		case id == 7 && t == thrift.STRUCT:
			m.stopSortKey, err = r.ReadBlob()
		case id == 8 && t == thrift.BOOL:
			m.startInclusive, err = r.ReadBool()
		case id == 9 && t == thrift.BOOL:
			m.stopInclusive, err = r.ReadBool()
		case id == 10 && t == thrift.I32:
			m.filterType, err = r.ReadI32()
		case id == 11 && t == thrift.STRUCT:
			m.filterPattern, err = r.ReadBlob()
		case id == 12 && t == thrift.BOOL:
			m.reverse, err = r.ReadBool()
		default:
			return false, nil
		}
		return true, err
	})
	return m, err
}

// getScannerRequest is get_scanner_request (wire.md §4.4.13).
type getScannerRequest struct {
	startKey, stopKey                    []byte
	startInclusive, stopInclusive        bool
	batchSize                            int32
	noValue                              bool
	hashFilterType, sortFilterType       int32
	hashFilterPattern, sortFilterPattern []byte
	validatePartitionHash                bool
	hasValidate                          bool
	returnExpireTs                       bool
	fullScan                             bool
	onlyReturnCount                      bool
}

func decodeGetScanner(body []byte) (getScannerRequest, error) {
	var m getScannerRequest
	err := unwrapStruct(body, "get_scanner_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRUCT:
			m.startKey, err = r.ReadBlob()
		case id == 2 && t == thrift.STRUCT:
			m.stopKey, err = r.ReadBlob()
		case id == 3 && t == thrift.BOOL:
			m.startInclusive, err = r.ReadBool()
		case id == 4 && t == thrift.BOOL:
			m.stopInclusive, err = r.ReadBool()
		case id == 5 && t == thrift.I32:
			m.batchSize, err = r.ReadI32()
		case id == 6 && t == thrift.BOOL:
			m.noValue, err = r.ReadBool()
		case id == 7 && t == thrift.I32:
			m.hashFilterType, err = r.ReadI32()
		case id == 8 && t == thrift.STRUCT:
			m.hashFilterPattern, err = r.ReadBlob()
		case id == 9 && t == thrift.I32:
			m.sortFilterType, err = r.ReadI32()
		case id == 10 && t == thrift.STRUCT:
			m.sortFilterPattern, err = r.ReadBlob()
		case id == 11 && t == thrift.BOOL:
			m.validatePartitionHash, err = r.ReadBool()
			m.hasValidate = true
		case id == 12 && t == thrift.BOOL:
			m.returnExpireTs, err = r.ReadBool()
		case id == 13 && t == thrift.BOOL:
			m.fullScan, err = r.ReadBool()
		case id == 14 && t == thrift.BOOL:
			m.onlyReturnCount, err = r.ReadBool()
		default:
			return false, nil
		}
		return true, err
	})
	return m, err
}

func decodeScan(body []byte) (int64, error) {
	var id64 int64
	err := unwrapStruct(body, "scan_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		if id == 1 && t == thrift.I64 {
			var err error
			id64, err = r.ReadI64()
			return true, err
		}
		return false, nil
	})
	return id64, err
}

// dupEntry is duplicate_entry (wire.md §4.6).
type dupEntry struct {
	timestamp     int64
	taskCode      []byte
	raw           []byte
	clusterID     int8
	verifyTimetag bool
}

func parseDupEntry(r *thrift.Reader, e *dupEntry, first thrift.Type, firstID int16, haveFirst bool) error {
	f := func(t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.I64:
			e.timestamp, err = r.ReadI64()
		case id == 2 && t == thrift.STRUCT:
			e.taskCode, err = r.ReadString()
		case id == 3 && t == thrift.STRUCT:
			e.raw, err = r.ReadBlob()
		case id == 4 && t == thrift.BYTE:
			e.clusterID, err = r.ReadI8()
		case id == 5 && t == thrift.BOOL:
			e.verifyTimetag, err = r.ReadBool()
		default:
			return false, nil
		}
		return true, err
	}
	if haveFirst {
		ok, err := f(first, firstID)
		if err != nil {
			return err
		}
		if !ok {
			if err := r.Skip(first); err != nil {
				return err
			}
		}
	}
	return r.ReadStruct(f)
}

// decodeDuplicate reads both duplicate_request shapes (wire.md §4.6): a list
// of entries in field 1 (v2.4+) or one entry's fields directly (≤ v2.3).
func decodeDuplicate(body []byte) ([]dupEntry, error) {
	var out []dupEntry
	err := unwrap(body, "duplicate_request", func(r *thrift.Reader) error {
		t, id, err := r.ReadFieldHeader()
		if err != nil {
			return err
		}
		if t == thrift.STOP {
			return nil
		}
		if id == 1 && t == thrift.LIST {
			if err := readList(r, func(r *thrift.Reader) error {
				var e dupEntry
				err := parseDupEntry(r, &e, 0, 0, false)
				out = append(out, e)
				return err
			}); err != nil {
				return err
			}
			return r.ReadStruct(func(thrift.Type, int16) (bool, error) { return false, nil })
		}
		var e dupEntry
		if err := parseDupEntry(r, &e, t, id, true); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// Response encoders. Each appends the result wrapper (field 0, STRUCT,
// wire.md §1.9/§2.5) around the response struct.

type respCommon struct {
	appID, pidx int32
	server      string
}

func beginResult(dst []byte) thrift.Writer {
	w := thrift.Writer{B: dst}
	w.WrapperBegin(thrift.STRUCT, 0)
	return w
}

func endResult(w *thrift.Writer) []byte {
	w.Stop()       // end of the response struct
	w.WrapperEnd() // wrapper STOP
	return w.B
}

func fI32(w *thrift.Writer, id int16, v int32) { w.FieldHeader(thrift.I32, id); w.I32(v) }
func fI64(w *thrift.Writer, id int16, v int64) { w.FieldHeader(thrift.I64, id); w.I64(v) }
func fBool(w *thrift.Writer, id int16, v bool) { w.FieldHeader(thrift.BOOL, id); w.Bool(v) }
func fBlob(w *thrift.Writer, id int16, v []byte) {
	w.FieldHeader(thrift.STRUCT, id)
	w.Blob(v)
}
func fString(w *thrift.Writer, id int16, v string) { w.FieldHeader(thrift.STRING, id); w.String(v) }
func fErrorCode(w *thrift.Writer, id int16, v string) {
	w.FieldHeader(thrift.STRUCT, id) // error_code: STRUCT type byte, string payload (§3)
	w.String(v)
}

func appendUpdateResponse(dst []byte, c respCommon, errc int32, decree int64) []byte {
	w := beginResult(dst)
	fI32(&w, 1, errc)
	fI32(&w, 2, c.appID)
	fI32(&w, 3, c.pidx)
	fI64(&w, 4, decree)
	fString(&w, 5, c.server)
	return endResult(&w)
}

func appendMultiRemoveResponse(dst []byte, c respCommon, errc int32, count, decree int64) []byte {
	w := beginResult(dst)
	fI32(&w, 1, errc)
	fI64(&w, 2, count)
	fI32(&w, 3, c.appID)
	fI32(&w, 4, c.pidx)
	fI64(&w, 5, decree)
	fString(&w, 6, c.server)
	return endResult(&w)
}

func appendReadResponse(dst []byte, c respCommon, errc int32, value []byte) []byte {
	w := beginResult(dst)
	fI32(&w, 1, errc)
	fBlob(&w, 2, value)
	fI32(&w, 3, c.appID)
	fI32(&w, 4, c.pidx)
	fString(&w, 6, c.server)
	return endResult(&w)
}

func writeKVs(w *thrift.Writer, id int16, kvs []keyValue) {
	w.FieldHeader(thrift.LIST, id)
	w.ListHeader(thrift.STRUCT, len(kvs))
	for _, kv := range kvs {
		fBlob(w, 1, kv.key)
		fBlob(w, 2, kv.value)
		if kv.hasExpire {
			fI32(w, 3, kv.expireTs)
		}
		w.Stop()
	}
}

func appendMultiGetResponse(dst []byte, c respCommon, errc int32, kvs []keyValue) []byte {
	w := beginResult(dst)
	fI32(&w, 1, errc)
	writeKVs(&w, 2, kvs)
	fI32(&w, 3, c.appID)
	fI32(&w, 4, c.pidx)
	fString(&w, 6, c.server)
	return endResult(&w)
}

func appendIncrResponse(dst []byte, c respCommon, errc int32, newValue, decree int64) []byte {
	w := beginResult(dst)
	fI32(&w, 1, errc)
	fI64(&w, 2, newValue)
	fI32(&w, 3, c.appID)
	fI32(&w, 4, c.pidx)
	fI64(&w, 5, decree)
	fString(&w, 6, c.server)
	return endResult(&w)
}

type casResult struct {
	errc                      int32
	checkReturned, checkExist bool
	checkValue                []byte
	decree                    int64
}

func appendCASResponse(dst []byte, c respCommon, r casResult) []byte {
	w := beginResult(dst)
	fI32(&w, 1, r.errc)
	fBool(&w, 2, r.checkReturned)
	fBool(&w, 3, r.checkExist)
	fBlob(&w, 4, r.checkValue)
	fI32(&w, 5, c.appID)
	fI32(&w, 6, c.pidx)
	fI64(&w, 7, r.decree)
	fString(&w, 8, c.server)
	return endResult(&w)
}

func appendTTLResponse(dst []byte, c respCommon, errc, ttl int32) []byte {
	w := beginResult(dst)
	fI32(&w, 1, errc)
	fI32(&w, 2, ttl)
	fI32(&w, 3, c.appID)
	fI32(&w, 4, c.pidx)
	fString(&w, 6, c.server)
	return endResult(&w)
}

func appendCountResponse(dst []byte, c respCommon, errc int32, count int64) []byte {
	w := beginResult(dst)
	fI32(&w, 1, errc)
	fI64(&w, 2, count)
	fI32(&w, 3, c.appID)
	fI32(&w, 4, c.pidx)
	fString(&w, 6, c.server)
	return endResult(&w)
}

type scanResult struct {
	errc       int32
	kvs        []keyValue
	contextID  int64
	kvCount    int32
	hasKVCount bool
}

func appendScanResponse(dst []byte, c respCommon, r scanResult) []byte {
	w := beginResult(dst)
	fI32(&w, 1, r.errc)
	writeKVs(&w, 2, r.kvs)
	fI64(&w, 3, r.contextID)
	fI32(&w, 4, c.appID)
	fI32(&w, 5, c.pidx)
	fString(&w, 6, c.server)
	if r.hasKVCount {
		fI32(&w, 7, r.kvCount)
	}
	return endResult(&w)
}

// appendDuplicateResponse writes duplicate_response; both fields are
// optional and C++ writes them only when set (wire.md §4.6).
func appendDuplicateResponse(dst []byte, errc int32, hasErr bool, hint string) []byte {
	w := beginResult(dst)
	if hasErr {
		fI32(&w, 1, errc)
	}
	if hint != "" {
		fString(&w, 2, hint)
	}
	return endResult(&w)
}

// fullKey is full_key of batch_get_request (wire.md §4.4.7).
type fullKey struct{ hashKey, sortKey []byte }

func decodeBatchGet(body []byte) ([]fullKey, error) {
	var keys []fullKey
	err := unwrapStruct(body, "batch_get_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		if id != 1 || t != thrift.LIST {
			return false, nil
		}
		return true, readList(r, func(r *thrift.Reader) error {
			var k fullKey
			err := r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
				var err error
				switch {
				case id == 1 && t == thrift.STRUCT:
					k.hashKey, err = r.ReadBlob()
				case id == 2 && t == thrift.STRUCT:
					k.sortKey, err = r.ReadBlob()
				default:
					return false, nil
				}
				return true, err
			})
			keys = append(keys, k)
			return err
		})
	})
	return keys, err
}

// appendBatchGetResponse writes batch_get_response; data holds
// (hash key, sort key, value) triples.
func appendBatchGetResponse(dst []byte, c respCommon, errc int32, data [][3][]byte) []byte {
	w := beginResult(dst)
	fI32(&w, 1, errc)
	w.FieldHeader(thrift.LIST, 2)
	w.ListHeader(thrift.STRUCT, len(data))
	for _, d := range data {
		fBlob(&w, 1, d[0])
		fBlob(&w, 2, d[1])
		fBlob(&w, 3, d[2])
		w.Stop()
	}
	fI32(&w, 3, c.appID)
	fI32(&w, 4, c.pidx)
	fString(&w, 6, c.server)
	return endResult(&w)
}
