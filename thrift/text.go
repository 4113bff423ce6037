package thrift

import (
	"math"
	"strconv"
)

// AppendText appends a one-line, human-readable rendering of v (for body
// dumps and logs), naming struct fields from s when it describes them
// (s may be nil). Byte payloads are Go-quoted; a gpid prints as
// app.partition, an rpc_address or host_port as host:port.
func (v *Value) AppendText(dst []byte, s *Schema) []byte {
	if s != nil && s.Kind.WireType() != v.Kind.WireType() {
		s = nil
	}
	switch v.Kind {
	case KindBool:
		switch v.Int {
		case 0:
			return append(dst, "false"...)
		case 1:
			return append(dst, "true"...)
		}
		return strconv.AppendInt(append(dst, "bool:"...), v.Int, 10)
	case KindI8, KindI16, KindI32, KindI64:
		return strconv.AppendInt(dst, v.Int, 10)
	case KindDouble:
		return strconv.AppendFloat(dst, math.Float64frombits(uint64(v.Int)), 'g', -1, 64)
	case KindBinary, KindBlob, KindErrorCode, KindTaskCode:
		return strconv.AppendQuote(dst, string(v.Bytes))
	case KindGpid:
		u := uint64(v.Int)
		dst = strconv.AppendInt(dst, int64(int32(uint32(u))), 10)
		dst = append(dst, '.')
		return strconv.AppendInt(dst, int64(int32(uint32(u>>32))), 10)
	case KindRPCAddress:
		u := uint64(v.Int)
		if u&3 == 0 {
			return append(dst, "invalid-address"...)
		}
		for i := 0; i < 4; i++ {
			if i > 0 {
				dst = append(dst, '.')
			}
			dst = strconv.AppendUint(dst, (u>>(56-8*i))&0xff, 10)
		}
		dst = append(dst, ':')
		return strconv.AppendUint(dst, (u>>16)&0xffff, 10)
	case KindHostPort:
		if v.HPType == 0 {
			return append(dst, "invalid-host-port"...)
		}
		dst = append(dst, v.Bytes...)
		dst = append(dst, ':')
		return strconv.AppendInt(dst, v.Int, 10)
	case KindStruct:
		var st *StructSchema
		if s != nil {
			st = s.Struct
		}
		dst = append(dst, '{')
		for i := range v.Fields {
			f := &v.Fields[i]
			if i > 0 {
				dst = append(dst, ", "...)
			}
			var fs *Schema
			sf := st.Field(f.ID)
			if sf != nil {
				fs = &sf.Type
			}
			if sf != nil && sf.Name != "" {
				dst = append(dst, sf.Name...)
			} else {
				dst = strconv.AppendInt(append(dst, '#'), int64(f.ID), 10)
			}
			dst = append(dst, '=')
			dst = f.Value.AppendText(dst, fs)
		}
		return append(dst, '}')
	case KindList, KindSet:
		var es *Schema
		if s != nil {
			es = s.Elem
		}
		dst = append(dst, '[')
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = v.Elems[i].AppendText(dst, es)
		}
		return append(dst, ']')
	case KindMap:
		var ks, vs *Schema
		if s != nil {
			ks, vs = s.Key, s.Elem
		}
		dst = append(dst, "map{"...)
		for i := 0; i+1 < len(v.Elems); i += 2 {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = v.Elems[i].AppendText(dst, ks)
			dst = append(dst, ": "...)
			dst = v.Elems[i+1].AppendText(dst, vs)
		}
		return append(dst, '}')
	}
	return append(dst, "<invalid>"...)
}

// String renders v without a schema (fields by id).
func (v Value) String() string { return string(v.AppendText(nil, nil)) }
