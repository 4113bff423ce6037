package framedump

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/idl/base"
)

// obj is a JSON object that keeps its field order.
type obj []kvPair

type kvPair struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, kv := range o {
		if strings.HasPrefix(kv.k, "_") {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		k, _ := json.Marshal(kv.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(kv.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// blobJSON renders bytes as a string when they are printable UTF-8, else as
// {"hex": ...}.
func blobJSON(b []byte) any {
	if utf8.Valid(b) {
		printable := true
		for _, r := range string(b) {
			if r < 0x20 || r == 0x7f {
				printable = false
				break
			}
		}
		if printable {
			return string(b)
		}
	}
	return obj{{"hex", hex.EncodeToString(b)}}
}

// isFullKeyField: the rrdb fields that hold a full key, 2-byte hash-key
// length + hash key + sort key (wire.md §6.1).
func isFullKeyField(name string) bool {
	return name == "key" || name == "start_key" || name == "stop_key"
}

// rawKeyJSON shows a full key split into its hash key and sort key, with
// the raw bytes in hex; a key too short for its length prefix is shown as
// plain bytes.
func rawKeyJSON(b []byte) any {
	if len(b) < 2 || int(b[0])<<8|int(b[1]) > len(b)-2 {
		return blobJSON(b)
	}
	n := int(b[0])<<8 | int(b[1])
	return obj{{"hash_key", blobJSON(b[2 : 2+n])}, {"sort_key", blobJSON(b[2+n:])}, {"hex", hex.EncodeToString(b)}}
}

var (
	typBlob      = reflect.TypeFor[*base.Blob]()
	typErrorCode = reflect.TypeFor[*base.ErrorCode]()
	typTaskCode  = reflect.TypeFor[*base.TaskCode]()
	typGpid      = reflect.TypeFor[*base.Gpid]()
	typAddress   = reflect.TypeFor[*base.RPCAddress]()
	typHostPort  = reflect.TypeFor[*base.HostPort]()
	typBytes     = reflect.TypeFor[[]byte]()
	typStringer  = reflect.TypeFor[fmt.Stringer]()
)

// toJSON turns a generated thrift value into JSON-ready values: structs in
// field order under their thrift names, unset optional fields left out, rDSN
// special types (wire.md §3) in readable form, enums by name.
func toJSON(v reflect.Value) any {
	switch v.Type() {
	case typBlob:
		if v.IsNil() {
			return nil
		}
		return blobJSON(v.Interface().(*base.Blob).Data)
	case typErrorCode:
		if v.IsNil() {
			return nil
		}
		return v.Interface().(*base.ErrorCode).Errno
	case typTaskCode:
		if v.IsNil() {
			return nil
		}
		return v.Interface().(*base.TaskCode).Code
	case typGpid:
		if v.IsNil() {
			return nil
		}
		g := v.Interface().(*base.Gpid)
		return codec.FormatGpid(g.Appid, g.PartitionIndex)
	case typAddress:
		if v.IsNil() {
			return nil
		}
		return codec.FormatAddress(v.Interface().(*base.RPCAddress).Address)
	case typHostPort:
		if v.IsNil() {
			return nil
		}
		hp := v.Interface().(*base.HostPort)
		if hp.Type == 0 {
			return ""
		}
		return hp.Host + ":" + strconv.Itoa(int(hp.Port))
	case typBytes:
		return blobJSON(v.Bytes())
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return toJSON(v.Elem())
	case reflect.Struct:
		t := v.Type()
		var o obj
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("thrift"), ",")
			if name == "" {
				name = sf.Name
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.Pointer && fv.IsNil() && strings.Contains(sf.Tag.Get("json"), "omitempty") {
				continue
			}
			if isFullKeyField(name) && sf.Type == typBlob && !fv.IsNil() {
				o = append(o, kvPair{name, rawKeyJSON(fv.Interface().(*base.Blob).Data)})
				continue
			}
			o = append(o, kvPair{name, toJSON(fv)})
			// Keep raw_message's bytes for duplicateJSON.
			if sf.Type == typBlob && name == "raw_message" && !fv.IsNil() {
				o = append(o, kvPair{"_raw_message", fv.Interface().(*base.Blob).Data})
			}
		}
		return o
	case reflect.Slice:
		if v.IsNil() {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toJSON(v.Index(i))
		}
		return out
	case reflect.Map:
		o := obj{}
		iter := v.MapRange()
		for iter.Next() {
			o = append(o, kvPair{fmt.Sprint(toJSON(iter.Key())), toJSON(iter.Value())})
		}
		sort.Slice(o, func(i, j int) bool { return o[i].k < o[j].k })
		return o
	case reflect.Int64, reflect.Int32:
		if v.Type().Implements(typStringer) && v.Type().PkgPath() != "" {
			return v.Interface().(fmt.Stringer).String()
		}
	}
	return v.Interface()
}
