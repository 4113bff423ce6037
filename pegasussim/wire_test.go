package pegasussim

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/internal/wirevec"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/thrift"
)

func primaryOf(t testing.TB, c *Cluster, table string, pidx int) string {
	t.Helper()
	for _, ti := range c.Tables() {
		if ti.Name == table {
			return ti.Partitions[pidx].Primary
		}
	}
	t.Fatalf("no table %s", table)
	return ""
}

func secondaryOf(t testing.TB, c *Cluster, table string, pidx int) string {
	t.Helper()
	for _, ti := range c.Tables() {
		if ti.Name == table {
			return ti.Partitions[pidx].Secondaries[0]
		}
	}
	t.Fatalf("no table %s", table)
	return ""
}

func notHosting(t testing.TB, c *Cluster, table string, pidx int) string {
	t.Helper()
	for _, ti := range c.Tables() {
		if ti.Name != table {
			continue
		}
		p := ti.Partitions[pidx]
	next:
		for _, a := range c.ReplicaAddrs() {
			if a == p.Primary {
				continue
			}
			for _, s := range p.Secondaries {
				if a == s {
					continue next
				}
			}
			return a
		}
	}
	t.Fatalf("every endpoint hosts %s.%d", table, pidx)
	return ""
}

// TestTHFTGetWorkedExample sends the exact §2.7 request bytes and expects the
// exact §2.7 response bytes.
func TestTHFTGetWorkedExample(t *testing.T) {
	c := startSim(t, Options{
		Replicas: 3, ServerName: "10.0.0.1:34801",
		Tables: []TableSpec{{Name: "temp", AppID: 2, Partitions: 8, ReplicaCount: 2}},
	})
	key := rawKey([]byte("hk1"), []byte("s"))
	if got := pidxOf(key, 8); got != 5 {
		t.Fatalf("hk1 routes to %d, wire.md §2.7 says 5", got)
	}
	prim := dial(t, primaryOf(t, c, "temp", 5), codec.FramingRDSN)
	r := prim.call(rpcPut, 2, 5, keyHash(key), mutation.AppendPut(nil, 0, key, []byte("v"), 0))
	if r.errName != codec.ErrorOK {
		t.Fatalf("put: %s", r.errName)
	}
	if f := parseResult(t, r.body, updateRespSchema); f[1] != int32(0) {
		t.Fatalf("put error %v", f[1])
	}

	tests := []struct {
		name string
		addr string
		req  string
		want string
	}{
		{"primary answers the value", primaryOf(t, c, "temp", 5), wirevec.THFTGetRequestV0, wirevec.THFTGetResponseOK},
		{"v1 header, same answer", primaryOf(t, c, "temp", 5), wirevec.THFTGetRequestV1, wirevec.THFTGetResponseOK},
		{"endpoint not hosting gpid answers not found", notHosting(t, c, "temp", 5), wirevec.THFTGetRequestV0, wirevec.THFTGetResponseNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cn := dial(t, tc.addr, codec.FramingTHFT)
			if _, err := cn.nc.Write(wirevec.Bytes(tc.req)); err != nil {
				t.Fatal(err)
			}
			got := cn.recv().raw
			if want := wirevec.Bytes(tc.want); !bytes.Equal(got, want) {
				t.Fatalf("response\n got %x\nwant %x", got, want)
			}
		})
	}
	// The same GET to a secondary answers ERR_INVALID_STATE (wire.md §4.5).
	cn := dial(t, secondaryOf(t, c, "temp", 5), codec.FramingTHFT)
	cn.nc.Write(wirevec.Bytes(wirevec.THFTGetRequestV0))
	if r := cn.recv(); r.errName != codec.ErrorInvalidState || len(r.body) != 0 {
		t.Fatalf("secondary: %s with %d body bytes", r.errName, len(r.body))
	}
}

// TestRDSNQueryConfigNotFound checks the §1.13 answer byte for byte, except
// from_address (0x70..0x77), which is the simulator's own address.
func TestRDSNQueryConfigNotFound(t *testing.T) {
	c := startSim(t, Options{Replicas: 1, Tables: []TableSpec{{Name: "other", Partitions: 4}}})
	cn := dial(t, c.MetaAddr(), codec.FramingRDSN)
	cn.nc.Write(wirevec.Bytes(wirevec.RDSNQueryConfigRequest))
	got := cn.recv().raw
	want := wirevec.Bytes(wirevec.RDSNQueryConfigResponse)
	binary.LittleEndian.PutUint64(want[0x70:], c.meta.from)
	if !bytes.Equal(got, want) {
		t.Fatalf("response\n got %x\nwant %x", got, want)
	}
}

// partCfg is a decoded partition_configuration.
type partCfg struct {
	appID, pidx      int32
	ballot           int64
	maxReplicas      int32
	primary          uint64
	secondaries      []uint64
	hasHP            bool
	hpPrimary        string
	hpSecondaries    []string
	lastDropsPresent bool
}

type queryCfgResp struct {
	err        string
	appID      int32
	count      int32
	isStateful bool
	parts      []partCfg
}

func hostPortString(r *thrift.Reader) (string, error) {
	h, p, typ, err := r.ReadHostPort()
	if err != nil {
		return "", err
	}
	if typ != 1 {
		return "", thrift.ErrBadValue
	}
	return string(h) + ":" + strconv.Itoa(int(p)), nil
}

// decodeQueryCfgResp reads query_cfg_response by its schema (wire.md §4.1),
// as go-client's generated reader does.
func decodeQueryCfgResp(t testing.TB, body []byte) queryCfgResp {
	t.Helper()
	var q queryCfgResp
	err := unwrapStruct(body, "query_cfg_response", func(r *thrift.Reader, typ thrift.Type, id int16) (bool, error) {
		var err error
		switch id {
		case 1:
			var b []byte
			b, err = r.ReadString()
			q.err = string(b)
		case 2:
			q.appID, err = r.ReadI32()
		case 3:
			q.count, err = r.ReadI32()
		case 4:
			q.isStateful, err = r.ReadBool()
		case 5:
			err = readList(r, func(r *thrift.Reader) error {
				var p partCfg
				err := r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
					var err error
					switch id {
					case 1:
						p.appID, p.pidx, err = r.ReadGpid()
					case 2:
						p.ballot, err = r.ReadI64()
					case 3:
						p.maxReplicas, err = r.ReadI32()
					case 4:
						p.primary, err = r.ReadRPCAddress()
					case 5:
						err = readList(r, func(r *thrift.Reader) error {
							a, err := r.ReadRPCAddress()
							p.secondaries = append(p.secondaries, a)
							return err
						})
					case 6:
						err = readList(r, func(r *thrift.Reader) error { _, err := r.ReadRPCAddress(); return err })
					case 7:
						_, err = r.ReadI64()
					case 8:
						_, err = r.ReadI32()
					case 9:
						p.hasHP = true
						p.hpPrimary, err = hostPortString(r)
					case 10:
						err = readList(r, func(r *thrift.Reader) error {
							s, err := hostPortString(r)
							p.hpSecondaries = append(p.hpSecondaries, s)
							return err
						})
					case 11:
						p.lastDropsPresent = true
						err = readList(r, func(r *thrift.Reader) error { _, err := hostPortString(r); return err })
					default:
						t.Fatalf("unexpected partition_configuration field %d", id)
					}
					return true, err
				})
				q.parts = append(q.parts, p)
				return err
			})
		default:
			t.Fatalf("unexpected query_cfg_response field %d", id)
		}
		return true, err
	})
	if err != nil {
		t.Fatalf("query_cfg_response: %v", err)
	}
	return q
}

// queryCfgArgs builds query_cfg_request args (go-client MetaQueryCfgArgs).
func queryCfgArgs(wrapperID int16, name string, indices ...int32) []byte {
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, wrapperID)
	w.FieldHeader(thrift.STRING, 1)
	w.String(name)
	w.FieldHeader(thrift.LIST, 2)
	w.ListHeader(thrift.I32, len(indices))
	for _, i := range indices {
		w.I32(i)
	}
	w.Stop()
	w.WrapperEnd()
	return w.B
}

// TestQueryConfigLikeGoClient queries over THFT v0 with gpid (0, 0), as
// go-client's meta session does, and checks what go-client and a 2.6 C++
// master check (wire.md §4.1, §6.3, §7; duplication.md §1.6 step 8).
func TestQueryConfigLikeGoClient(t *testing.T) {
	for _, omit := range []bool{false, true} {
		c := startSim(t, Options{
			Replicas: 3, OmitHostPort: omit,
			Tables: []TableSpec{{Name: "temp", Partitions: 8}, {Name: "solo", Partitions: 4, ReplicaCount: 1}, {Name: "odd", Partitions: 3, ReplicaCount: 9}},
		})
		addrs := map[uint64]string{}
		for _, a := range c.ReplicaAddrs() {
			v, err := codec.ParseAddress(a)
			if err != nil {
				t.Fatal(err)
			}
			addrs[v] = a
		}
		cn := dial(t, c.MetaAddr(), codec.FramingTHFT)
		for _, tc := range []struct {
			table      string
			indices    []int32
			wantParts  []int32
			wantMaxRep int32
		}{
			{"temp", nil, []int32{0, 1, 2, 3, 4, 5, 6, 7}, 3},
			{"temp", []int32{5, 2}, []int32{5, 2}, 3},
			{"temp", []int32{5, 99, -1}, []int32{5}, 3},
			{"temp", []int32{99}, []int32{0, 1, 2, 3, 4, 5, 6, 7}, 3},
			{"solo", nil, []int32{0, 1, 2, 3}, 1},
			{"odd", nil, []int32{0, 1, 2}, 3},
		} {
			r := cn.call(rpcQueryConfig, 0, 0, 0, queryCfgArgs(1, tc.table, tc.indices...))
			if r.errName != codec.ErrorOK || r.name != rpcQueryConfig+"_ACK" {
				t.Fatalf("%s: %s %s", tc.table, r.errName, r.name)
			}
			q := decodeQueryCfgResp(t, r.body)
			if q.err != codec.ErrorOK || q.appID < 1 || !q.isStateful || int(q.count) != len(c.mustTable(t, tc.table).parts) {
				t.Fatalf("%s: %+v", tc.table, q)
			}
			if len(q.parts) != len(tc.wantParts) {
				t.Fatalf("%s %v: %d partitions, want %v", tc.table, tc.indices, len(q.parts), tc.wantParts)
			}
			for i, p := range q.parts {
				if p.pidx != tc.wantParts[i] || p.appID != q.appID || p.ballot < 1 || p.maxReplicas != tc.wantMaxRep ||
					int(p.maxReplicas) != 1+len(p.secondaries) || addrs[p.primary] == "" {
					t.Fatalf("%s partition %d: %+v", tc.table, i, p)
				}
				if p.hasHP == omit || p.lastDropsPresent == omit {
					t.Fatalf("%s partition %d: host_port fields present=%v with OmitHostPort=%v", tc.table, i, p.hasHP, omit)
				}
				if !omit {
					if p.hpPrimary != addrs[p.primary] || len(p.hpSecondaries) != len(p.secondaries) {
						t.Fatalf("%s partition %d: hp %q vs %q", tc.table, i, p.hpPrimary, addrs[p.primary])
					}
					for j, s := range p.secondaries {
						if p.hpSecondaries[j] != addrs[s] || s == p.primary {
							t.Fatalf("%s partition %d: secondary %d", tc.table, i, j)
						}
					}
				}
			}
		}
		// Not found: the §1.13 struct.
		r := cn.call(rpcQueryConfig, 0, 0, 0, queryCfgArgs(1, "nope"))
		if q := decodeQueryCfgResp(t, r.body); q.err != codec.ErrorObjectNotFound || q.appID != 0 || len(q.parts) != 0 {
			t.Fatalf("missing table: %+v", q)
		}
	}
}

func (c *Cluster) mustTable(t testing.TB, name string) *table {
	t.Helper()
	tb, err := c.table(name)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// TestDispatchErrors covers the framework-level answers (wire.md §1.3, §4.5,
// §4.4.14) and the simulator's answers where a real server would abort.
func TestDispatchErrors(t *testing.T) {
	c := startSim(t, Options{Replicas: 4, Tables: []TableSpec{{Name: "temp", AppID: 2, Partitions: 8, ReplicaCount: 3}}})
	key := rawKey([]byte("hk1"), []byte("s"))
	prim := primaryOf(t, c, "temp", 5)
	big := make([]byte, DefaultMaxWriteSize+1)
	tests := []struct {
		name      string
		addr      string
		rpc       string
		appID     int32
		pidx      int32
		body      []byte
		wantErr   string
		wantEmpty bool
	}{
		{"unknown rpc on replica", prim, "RPC_NO_SUCH_THING", 2, 5, blobArg(0, key), codec.ErrorHandlerNotFound, true},
		{"unknown rpc on meta", c.MetaAddr(), "RPC_NO_SUCH_THING", 0, 0, nil, codec.ErrorHandlerNotFound, true},
		{"storage rpc without gpid", prim, rpcGet, 0, 0, blobArg(0, key), codec.ErrorHandlerNotFound, true},
		{"meta rpc on replica", prim, rpcQueryConfig, 0, 0, queryCfgArgs(0, "temp"), codec.ErrorHandlerNotFound, true},
		{"meta rpc with app_id > 0", c.MetaAddr(), rpcQueryConfig, 2, 5, queryCfgArgs(0, "temp"), codec.ErrorInvalidParameters, true},
		{"storage rpc to meta with app_id > 0", c.MetaAddr(), rpcGet, 2, 5, blobArg(0, key), codec.ErrorObjectNotFound, true},
		{"unknown app", prim, rpcGet, 9, 5, blobArg(0, key), codec.ErrorObjectNotFound, true},
		{"partition out of range", prim, rpcGet, 2, 8, blobArg(0, key), codec.ErrorObjectNotFound, true},
		{"not hosted", notHosting(t, c, "temp", 5), rpcGet, 2, 5, blobArg(0, key), codec.ErrorObjectNotFound, true},
		{"secondary", secondaryOf(t, c, "temp", 5), rpcPut, 2, 5, mutation.AppendPut(nil, 0, key, nil, 0), codec.ErrorInvalidState, true},
		{"write too big", prim, rpcPut, 2, 5, mutation.AppendPut(nil, 0, key, big, 0), codec.ErrorInvalidData, true},
		{"malformed body", prim, rpcPut, 2, 5, []byte{0x0c, 0, 0, 0x0c, 0, 1, 0x7f}, codec.ErrorInvalidData, true},
		{"malformed meta body", c.MetaAddr(), rpcQueryConfig, 0, 0, []byte{0x0c, 0, 0, 0x0b, 0, 1, 0xff, 0xff, 0xff, 0xff}, codec.ErrorInvalidData, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cn := dial(t, tc.addr, codec.FramingRDSN)
			r := cn.call(tc.rpc, tc.appID, tc.pidx, 0, tc.body)
			if r.errName != tc.wantErr || (len(r.body) == 0) != tc.wantEmpty || r.name != tc.rpc+"_ACK" {
				t.Fatalf("got %s %s with %d body bytes, want %s", r.name, r.errName, len(r.body), tc.wantErr)
			}
		})
	}
	// An RDSN request whose context says thrift JSON (3): not spoken.
	h := codec.RequestHeader{ID: 9, RPCName: rpcGet, AppID: 2, PartitionIndex: 5, Context: codec.ContextIsRequest | 3<<codec.ContextSerializeShift}
	cn := dial(t, prim, codec.FramingRDSN)
	cn.nc.Write(codec.AppendRequest(nil, codec.FramingRDSN, &h, blobArg(0, key)))
	if r := cn.recv(); r.errName != codec.ErrorInvalidData {
		t.Fatalf("JSON format: %s", r.errName)
	}
	k := c.Counters()
	if k.MetaGpidRejected != 2 || k.Malformed != 3 {
		t.Fatalf("counters %+v", k)
	}
}

// TestClearScannerNoReply: a successful CLEAR_SCANNER gets no reply at all
// (wire.md §4.4.14); the next reply on the connection is the next call's.
func TestClearScannerNoReply(t *testing.T) {
	c := startSim(t, Options{Replicas: 1, Tables: []TableSpec{{Name: "temp", AppID: 2, Partitions: 8}}})
	for _, fr := range []codec.Framing{codec.FramingRDSN, codec.FramingTHFT} {
		cn := dial(t, c.ReplicaAddrs()[0], fr)
		cn.send(rpcClearScanner, 2, 5, 0, i64Arg(cn.wrapperID(), 12345))
		key := rawKey([]byte("hk1"), []byte("s"))
		id := cn.send(rpcGet, 2, 5, keyHash(key), blobArg(cn.wrapperID(), key))
		r := cn.recv()
		if r.id != id || r.name != rpcGet+"_ACK" {
			t.Fatalf("%v: first reply is %s #%d, want the GET #%d", fr, r.name, r.id, id)
		}
		if f := parseResult(t, r.body, readRespSchema); f[1] != int32(StatusNotFound) {
			t.Fatalf("get: %v", f)
		}
		// A rejected CLEAR_SCANNER (not hosted) does get an error reply.
		cn.send(rpcClearScanner, 2, 9, 0, i64Arg(cn.wrapperID(), 1))
		if r := cn.recv(); r.errName != codec.ErrorObjectNotFound {
			t.Fatalf("clear_scanner on a missing gpid: %s", r.errName)
		}
	}
	if _, err := dial(t, c.ReplicaAddrs()[0], codec.FramingRDSN).recvTimeout(50 * time.Millisecond); err == nil {
		t.Fatal("unexpected reply")
	}
}
