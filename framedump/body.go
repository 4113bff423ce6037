package framedump

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	athrift "github.com/apache/thrift/lib/go/thrift"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/idl/gen/checkpoint"
	"github.com/dupbridge/dupbridge/idl/gen/meta"
	"github.com/dupbridge/dupbridge/idl/gen/rrdb"
	"github.com/dupbridge/dupbridge/mutation"
)

// bodyKind says how to read the value inside a body's one-field wrapper
// (wire.md §1.9): a generated struct, or one of the bare payloads.
type bodyKind struct {
	newStruct func() athrift.TStruct
	blob      bool // a bare blob (REMOVE/GET/TTL/SORTKEY_COUNT args)
	hashKey   bool // the bare blob is a hash key, not a full key
	i64       bool // CLEAR_SCANNER args
}

func st[T athrift.TStruct](f func() T) bodyKind {
	return bodyKind{newStruct: func() athrift.TStruct { return f() }}
}

var (
	keyBody     = bodyKind{blob: true}                // a full key (wire.md §6.1)
	hashKeyBody = bodyKind{blob: true, hashKey: true} // SORTKEY_COUNT's hash key
	i64Body     = bodyKind{i64: true}
)

// bodyKinds maps an RPC name to its args (request) and result (response)
// types, per wire.md §5.1.
func bodyKinds(name string) (req, resp bodyKind, ok bool) {
	switch name {
	case codec.RPCQueryPartitionConfigByIndex:
		return st(meta.NewQueryCfgRequest), st(meta.NewQueryCfgResponse), true
	case codec.RPCCreateApp:
		return st(meta.NewConfigurationCreateAppRequest), st(meta.NewConfigurationCreateAppResponse), true
	case codec.RPCDropApp:
		return st(meta.NewConfigurationDropAppRequest), st(meta.NewConfigurationDropAppResponse), true
	case codec.RPCListApps:
		return st(meta.NewConfigurationListAppsRequest), st(meta.NewConfigurationListAppsResponse), true
	case codec.RPCPut:
		return st(rrdb.NewUpdateRequest), st(rrdb.NewUpdateResponse), true
	case codec.RPCMultiPut:
		return st(rrdb.NewMultiPutRequest), st(rrdb.NewUpdateResponse), true
	case codec.RPCRemove:
		return keyBody, st(rrdb.NewUpdateResponse), true
	case codec.RPCMultiRemove:
		return st(rrdb.NewMultiRemoveRequest), st(rrdb.NewMultiRemoveResponse), true
	case codec.RPCIncr:
		return st(rrdb.NewIncrRequest), st(rrdb.NewIncrResponse), true
	case codec.RPCCheckAndSet:
		return st(rrdb.NewCheckAndSetRequest), st(rrdb.NewCheckAndSetResponse), true
	case codec.RPCCheckAndMutate:
		return st(rrdb.NewCheckAndMutateRequest), st(rrdb.NewCheckAndMutateResponse), true
	case codec.RPCDuplicate:
		return st(rrdb.NewDuplicateRequest), st(rrdb.NewDuplicateResponse), true
	case codec.RPCGet:
		return keyBody, st(rrdb.NewReadResponse), true
	case codec.RPCMultiGet:
		return st(rrdb.NewMultiGetRequest), st(rrdb.NewMultiGetResponse), true
	case codec.RPCBatchGet:
		return st(rrdb.NewBatchGetRequest), st(rrdb.NewBatchGetResponse), true
	case codec.RPCSortkeyCount:
		return hashKeyBody, st(rrdb.NewCountResponse), true
	case codec.RPCTTL:
		return keyBody, st(rrdb.NewTTLResponse), true
	case codec.RPCGetScanner:
		return st(rrdb.NewGetScannerRequest), st(rrdb.NewScanResponse), true
	case codec.RPCScan:
		return st(rrdb.NewScanRequest), st(rrdb.NewScanResponse), true
	case codec.RPCClearScanner:
		return i64Body, bodyKind{}, true
	case codec.RPCQueryLastCheckpointInfo:
		return st(checkpoint.NewLearnRequest), st(checkpoint.NewLearnResponse), true
	case codec.RPCNFSGetFileSize:
		return st(checkpoint.NewGetFileSizeRequest), st(checkpoint.NewGetFileSizeResponse), true
	case codec.RPCNFSCopy:
		return st(checkpoint.NewCopyRequest), st(checkpoint.NewCopyResponse), true
	}
	return bodyKind{}, bodyKind{}, false
}

// decodeBody returns the JSON-ready body, nil when there is none to decode
// (empty body, unknown RPC), or an error for a malformed one.
func decodeBody(f *codec.Frame) (any, error) {
	if len(f.Body) == 0 {
		return nil, nil
	}
	name := string(f.RPCName)
	isResp := !f.IsRequest
	if isResp {
		name = strings.TrimSuffix(name, codec.AckSuffix)
		if string(f.ErrorName) == codec.ErrorForwardToOthers {
			// An RPC-level forward carries the leader's wrapped rpc_address
			// (wire.md §1.11).
			return readWrapped(f.Body, bodyKind{}, true)
		}
	}
	req, resp, ok := bodyKinds(name)
	if !ok {
		return nil, nil
	}
	k := req
	if isResp {
		k = resp
	}
	if k.newStruct == nil && !k.blob && !k.i64 {
		return nil, nil
	}
	v, err := readWrapped(f.Body, k, false)
	if err != nil {
		return nil, err
	}
	if name == codec.RPCDuplicate && !isResp {
		return duplicateJSON(f.Body, v)
	}
	return v, nil
}

// readWrapped reads a one-field wrapper (wire.md §1.9) with apache/thrift's
// binary protocol: the field header (type and id ignored, as C++ does), the
// payload as k says, then the STOP. The result is ready for json.Marshal.
func readWrapped(body []byte, k bodyKind, address bool) (any, error) {
	ctx := context.Background()
	p := athrift.NewTBinaryProtocolConf(&athrift.TMemoryBuffer{Buffer: bytes.NewBuffer(body)}, nil)
	_, typ, _, err := p.ReadFieldBegin(ctx)
	if err != nil {
		return nil, fmt.Errorf("wrapper: %w", err)
	}
	if typ == athrift.STOP {
		return nil, errors.New("wrapper: STOP where a value was expected")
	}
	var out any
	switch {
	case address:
		v, err := p.ReadI64(ctx)
		if err != nil {
			return nil, fmt.Errorf("rpc_address: %w", err)
		}
		out = obj{{"leader", codec.FormatAddress(uint64(v))}}
	case k.blob:
		b, err := p.ReadBinary(ctx)
		if err != nil {
			return nil, fmt.Errorf("blob: %w", err)
		}
		if k.hashKey {
			out = obj{{"hash_key", blobJSON(b)}}
		} else {
			out = obj{{"key", rawKeyJSON(b)}}
		}
	case k.i64:
		v, err := p.ReadI64(ctx)
		if err != nil {
			return nil, fmt.Errorf("i64: %w", err)
		}
		out = obj{{"value", v}}
	default:
		s := k.newStruct()
		if err := s.Read(ctx, p); err != nil {
			return nil, err
		}
		out = toJSON(reflect.ValueOf(s))
	}
	if _, typ, _, err = p.ReadFieldBegin(ctx); err != nil {
		return nil, fmt.Errorf("wrapper end: %w", err)
	}
	if typ != athrift.STOP {
		return nil, fmt.Errorf("wrapper end: type %d, want STOP", typ)
	}
	return out, nil
}

// duplicateJSON adds, to each entry of a decoded duplicate_request, its
// raw_message decoded by task code and the routing hash (wire.md §4.6). An
// old-shape request (one entry, field 1 of type I64) is decoded as an entry.
func duplicateJSON(body []byte, decoded any) (any, error) {
	if len(body) > 3 && body[3] == byte(athrift.I64) {
		v, err := readWrapped(body, st(rrdb.NewDuplicateEntry), false)
		if err != nil {
			return nil, err
		}
		e, _ := v.(obj)
		return obj{{"legacy_entry", entryJSON(e)}}, nil
	}
	o, _ := decoded.(obj)
	for i := range o {
		if o[i].k != "entries" {
			continue
		}
		list, _ := o[i].v.([]any)
		for j := range list {
			e, _ := list[j].(obj)
			list[j] = entryJSON(e)
		}
	}
	return o, nil
}

// entryJSON decodes an entry's raw_message. The JSON object holds the raw
// bytes in the hidden field "_raw".
func entryJSON(e obj) obj {
	var raw []byte
	var code string
	out := e[:0:0]
	for _, kv := range e {
		switch kv.k {
		case "_raw_message":
			raw, _ = kv.v.([]byte)
			continue
		case "task_code":
			code, _ = kv.v.(string)
		}
		out = append(out, kv)
	}
	if raw == nil {
		return out
	}
	c := mutation.ParseCode([]byte(code))
	if h, err := mutation.PayloadHash(c, raw); err == nil {
		out = append(out, kvPair{"key_hash", hex64(h)})
	} else {
		out = append(out, kvPair{"key_hash_error", err.Error()})
	}
	k, _, ok := bodyKinds(code)
	if !ok || (k.newStruct == nil && !k.blob) {
		return out
	}
	v, err := readWrapped(raw, k, false)
	if err != nil {
		return append(out, kvPair{"raw_message_error", err.Error()})
	}
	return append(out, kvPair{"raw_message_decoded", v})
}
