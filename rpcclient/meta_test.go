package rpcclient

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/internal/wirevec"
	"github.com/dupbridge/dupbridge/thrift"
)

func TestDecodeGoldenVectors(t *testing.T) {
	r := thrift.NewReader(wirevec.Bytes(wirevec.QueryConfigResponseBody)) // wire.md §1.13
	if _, _, err := r.ReadWrapperBegin(); err != nil {
		t.Fatal(err)
	}
	tc, errName, err := decodeQueryConfig(&r)
	if err != nil || errName != "ERR_OBJECT_NOT_FOUND" || tc.AppID != 0 || tc.PartitionCount != 0 || len(tc.Partitions) != 0 {
		t.Fatalf("§1.13 body: %v %q %+v", err, errName, tc)
	}

	r = thrift.NewReader(wirevec.Bytes(wirevec.PartitionConfiguration)) // wire.md §3
	var p PartitionConfig
	if err := decodePartitionConfig(&r, &p); err != nil {
		t.Fatal(err)
	}
	want := PartitionConfig{AppID: 2, Index: 5, Ballot: 3, MaxReplicaCount: 3, Primary: "127.0.0.1:34601",
		PrimaryAddr: 0x7F00000187290001, LastCommitted: 100, HPPrimary: "localhost:34801"}
	if p.AppID != want.AppID || p.Index != want.Index || p.Ballot != want.Ballot || p.Primary != want.Primary ||
		p.PrimaryAddr != want.PrimaryAddr || p.LastCommitted != want.LastCommitted || p.HPPrimary != want.HPPrimary ||
		p.MaxReplicaCount != 3 || len(p.Secondaries) != 0 {
		t.Fatalf("§3 partition_configuration: got %+v", p)
	}
	if r.Remaining() != 0 {
		t.Fatalf("%d bytes left", r.Remaining())
	}
}

// --- a fake meta -------------------------------------------------------

type pcfg struct {
	ballot      int64
	primary     string
	secondaries []string
	hp          bool
}

func appendQueryResp(errName string, appID int32, parts []pcfg) []byte {
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, 0)
	w.FieldHeader(thrift.STRUCT, 1)
	w.String(errName)
	w.FieldHeader(thrift.I32, 2)
	w.I32(appID)
	w.FieldHeader(thrift.I32, 3)
	w.I32(int32(len(parts)))
	w.FieldHeader(thrift.BOOL, 4)
	w.Bool(true)
	w.FieldHeader(thrift.LIST, 5)
	w.ListHeader(thrift.STRUCT, len(parts))
	for i, p := range parts {
		addr := func(s string) uint64 {
			if s == "" {
				return 0
			}
			v, err := codec.ParseAddress(s)
			if err != nil {
				panic(err)
			}
			return v
		}
		w.FieldHeader(thrift.STRUCT, 1)
		w.Gpid(appID, int32(i))
		w.FieldHeader(thrift.I64, 2)
		w.I64(p.ballot)
		w.FieldHeader(thrift.I32, 3)
		w.I32(3)
		w.FieldHeader(thrift.STRUCT, 4)
		w.RPCAddress(addr(p.primary))
		w.FieldHeader(thrift.LIST, 5)
		w.ListHeader(thrift.STRUCT, len(p.secondaries))
		for _, s := range p.secondaries {
			w.RPCAddress(addr(s))
		}
		w.FieldHeader(thrift.LIST, 6)
		w.ListHeader(thrift.STRUCT, 0)
		w.FieldHeader(thrift.I64, 7)
		w.I64(0)
		w.FieldHeader(thrift.I32, 8)
		w.I32(0)
		if p.hp {
			host, port, _ := strings.Cut(p.primary, ":")
			var pn uint16
			for _, c := range port {
				pn = pn*10 + uint16(c-'0')
			}
			w.FieldHeader(thrift.STRUCT, 9)
			w.HostPort(host, pn, 1)
			w.FieldHeader(thrift.LIST, 10)
			w.ListHeader(thrift.STRUCT, 0)
		}
		w.Stop()
	}
	w.Stop()
	w.WrapperEnd()
	return w.B
}

func TestMetaQueryConfigFollowsLeaderHint(t *testing.T) {
	var leaderCalls atomic.Int32
	leader := newFakeServer(t, func(f *codec.Frame) reply {
		leaderCalls.Add(1)
		return reply{body: appendQueryResp("ERR_OK", 3, []pcfg{
			{ballot: 1, primary: "127.0.0.1:40001", secondaries: []string{"127.0.0.1:40002"}, hp: true},
			{ballot: 2, primary: "127.0.0.1:40002"},
		})}
	})
	follower := newFakeServer(t, func(f *codec.Frame) reply {
		// Not the leader: ERR_FORWARD_TO_OTHERS in the struct, leader in
		// partitions[0].primary (wire.md §1.11).
		return reply{body: appendQueryResp("ERR_FORWARD_TO_OTHERS", 0, []pcfg{{primary: leader.Addr()}})}
	})
	dead := newFakeServer(t, nil)
	deadAddr := dead.Addr()
	dead.Close()

	m, err := NewMeta([]string{deadAddr, follower.Addr()}, MetaOptions{RetryDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tc, err := m.QueryConfig(ctx, "temp", nil)
	if err != nil {
		t.Fatal(err)
	}
	if tc.AppID != 3 || tc.PartitionCount != 2 || len(tc.Partitions) != 2 || !tc.IsStateful {
		t.Fatalf("config %+v", tc)
	}
	p0 := tc.Partitions[0]
	if p0.Primary != "127.0.0.1:40001" || p0.HPPrimary != "127.0.0.1:40001" || len(p0.Secondaries) != 1 ||
		p0.Secondaries[0] != "127.0.0.1:40002" || p0.Ballot != 1 || p0.Index != 0 || p0.AppID != 3 {
		t.Fatalf("partition 0: %+v", p0)
	}
	if tc.Partitions[1].PrimaryAddress() != "127.0.0.1:40002" || tc.Partitions[1].HPPrimary != "" {
		t.Fatalf("partition 1: %+v", tc.Partitions[1])
	}
	// The request body is the one of wire.md §1.13.
	if got := follower.requests()[0].Body; !bytes.Equal(got, wirevec.Bytes(wirevec.QueryConfigRequestBody)) {
		t.Errorf("query body %x, want §1.13", got)
	}
	if fr := follower.requests()[0]; fr.AppID != 0 || fr.Context != 0x041 {
		t.Errorf("meta request gpid %d context %#x, want 0 and 0x041", fr.AppID, fr.Context)
	}
	// The leader learnt from the hint is remembered and asked first.
	if _, err := m.QueryConfig(ctx, "temp", []int32{1}); err != nil {
		t.Fatal(err)
	}
	if leaderCalls.Load() != 2 || len(follower.requests()) != 1 {
		t.Errorf("second query: leader %d calls, follower %d; want 2 and 1", leaderCalls.Load(), len(follower.requests()))
	}
	if !strings.Contains(strings.Join(m.Addrs(), ","), leader.Addr()) {
		t.Errorf("Addrs %v lacks the leader", m.Addrs())
	}
}

func TestMetaErrors(t *testing.T) {
	s := newFakeServer(t, func(f *codec.Frame) reply {
		switch string(f.RPCName) {
		case RPCQueryConfig:
			return reply{body: wirevec.Bytes(wirevec.QueryConfigResponseBody)}
		default:
			return reply{err: codec.ErrorHandlerNotFound}
		}
	})
	m, _ := NewMeta([]string{s.Addr()}, MetaOptions{Rounds: 2, RetryDelay: time.Millisecond})
	defer m.Close()
	ctx := context.Background()
	_, err := m.QueryConfig(ctx, "nope", nil)
	if !errors.Is(err, ErrMeta) || ErrName(err) != "ERR_OBJECT_NOT_FOUND" {
		t.Fatalf("missing table: %v", err)
	}
	_, err = m.ListApps(ctx, AppStatusInvalid)
	if !errors.Is(err, ErrNoMeta) || ErrName(err) != codec.ErrorHandlerNotFound {
		t.Fatalf("RPC-level error on every meta: %v", err)
	}
	if _, err := NewMeta(nil, MetaOptions{}); err == nil {
		t.Fatal("empty meta list accepted")
	}
}

func TestMetaAdminRPCs(t *testing.T) {
	var created, dropped []byte
	s := newFakeServer(t, func(f *codec.Frame) reply {
		w := thrift.Writer{}
		w.WrapperBegin(thrift.STRUCT, 0)
		w.FieldHeader(thrift.STRUCT, 1)
		w.String("ERR_OK")
		switch string(f.RPCName) {
		case RPCCreateApp:
			created = append([]byte(nil), f.Body...)
			w.FieldHeader(thrift.I32, 2)
			w.I32(9)
		case RPCDropApp:
			dropped = append([]byte(nil), f.Body...)
		case RPCListApps:
			w.FieldHeader(thrift.LIST, 2)
			w.ListHeader(thrift.STRUCT, 1)
			w.FieldHeader(thrift.I32, 1)
			w.I32(int32(AppStatusAvailable))
			w.FieldHeader(thrift.STRING, 2)
			w.String("pegasus")
			w.FieldHeader(thrift.STRING, 3)
			w.String("t1")
			w.FieldHeader(thrift.I32, 4)
			w.I32(9)
			w.FieldHeader(thrift.I32, 5)
			w.I32(8)
			w.FieldHeader(thrift.MAP, 6)
			w.MapHeader(thrift.STRING, thrift.STRING, 1)
			w.String("k")
			w.String("v")
			w.FieldHeader(thrift.BOOL, 7)
			w.Bool(true)
			w.FieldHeader(thrift.BOOL, 12)
			w.Bool(true)
			w.Stop()
			w.FieldHeader(thrift.STRING, 3)
			w.String("hint")
		}
		w.Stop()
		w.WrapperEnd()
		return reply{body: w.B}
	})
	m, _ := NewMeta([]string{s.Addr()}, MetaOptions{})
	defer m.Close()
	ctx := context.Background()
	id, err := m.CreateApp(ctx, "t1", CreateAppOptions{PartitionCount: 8, ReplicaCount: 3, Envs: map[string]string{"b": "2", "a": "1"}})
	if err != nil || id != 9 {
		t.Fatalf("CreateApp: %d %v", id, err)
	}
	// configuration_create_app_request (wire.md §4.2), envs sorted.
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, 0)
	w.FieldHeader(thrift.STRING, 1)
	w.String("t1")
	w.FieldHeader(thrift.STRUCT, 2)
	w.FieldHeader(thrift.I32, 1)
	w.I32(8)
	w.FieldHeader(thrift.I32, 2)
	w.I32(3)
	w.FieldHeader(thrift.BOOL, 3)
	w.Bool(false)
	w.FieldHeader(thrift.STRING, 4)
	w.String("pegasus")
	w.FieldHeader(thrift.BOOL, 5)
	w.Bool(true)
	w.FieldHeader(thrift.MAP, 6)
	w.MapHeader(thrift.STRING, thrift.STRING, 2)
	w.String("a")
	w.String("1")
	w.String("b")
	w.String("2")
	w.Stop()
	w.Stop()
	w.WrapperEnd()
	if !bytes.Equal(created, w.B) {
		t.Errorf("create body\n got %x\nwant %x", created, w.B)
	}
	if err := m.DropApp(ctx, "t1", DropAppOptions{ReserveSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	if want := wirevec.Bytes("0c 00 00 0b 00 01 00 00 00 02 74 31 0c 00 02 02 00 01 00 0a 00 02 00 00 00 00 00 00 00 3c 00 00 00"); !bytes.Equal(dropped, want) {
		t.Errorf("drop body %x, want %x", dropped, want)
	}
	infos, err := m.ListApps(ctx, AppStatusInvalid)
	if err != nil || len(infos) != 1 {
		t.Fatalf("ListApps: %v %v", infos, err)
	}
	a := infos[0]
	if a.AppName != "t1" || a.AppID != 9 || a.PartitionCount != 8 || a.Envs["k"] != "v" || !a.IsStateful ||
		!a.Duplicating || a.Status != AppStatusAvailable || a.InitPartitionCount != -1 {
		t.Fatalf("app info %+v", a)
	}
}

// Decoders of meta responses must never panic and must reject garbage.
func FuzzDecodeQueryConfig(f *testing.F) {
	f.Add(wirevec.Bytes(wirevec.QueryConfigResponseBody))
	f.Add(appendQueryResp("ERR_OK", 3, []pcfg{{ballot: 1, primary: "127.0.0.1:1", secondaries: []string{"127.0.0.1:2"}, hp: true}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := thrift.NewReader(b)
		if _, _, err := r.ReadWrapperBegin(); err != nil {
			return
		}
		tc, _, err := decodeQueryConfig(&r)
		if err == nil && tc == nil {
			t.Fatal("nil config without error")
		}
	})
}

func FuzzDecodeListApps(f *testing.F) {
	f.Add(wirevec.Bytes("0c 00 00 0c 00 01 00 00 00 06 45 52 52 5f 4f 4b 0f 00 02 0c 00 00 00 01 0b 00 03 00 00 00 01 74 0d 00 06 0b 0b 00 00 00 01 00 00 00 01 6b 00 00 00 01 76 00 00 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := thrift.NewReader(b)
		if _, _, err := r.ReadWrapperBegin(); err != nil {
			return
		}
		_, _, _ = decodeListApps(&r)
	})
}

// QueryConfigRaw and GoQueryConfigRaw follow the hint like QueryConfig and
// return the leader's body as sent; GoQueryConfigRaw sends from the caller
// only on a live connection to the known leader, else it fails over on a
// goroutine of its own.
func TestMetaQueryConfigRaw(t *testing.T) {
	answer := appendQueryResp("ERR_OK", 3, []pcfg{{ballot: 1, primary: "127.0.0.1:40001", hp: true}})
	var leaderCalls atomic.Int32
	leader := newFakeServer(t, func(f *codec.Frame) reply {
		leaderCalls.Add(1)
		return reply{body: answer}
	})
	follower := newFakeServer(t, func(f *codec.Frame) reply {
		return reply{body: appendQueryResp("ERR_FORWARD_TO_OTHERS", 0, []pcfg{{primary: leader.Addr()}})}
	})
	m, err := NewMeta([]string{follower.Addr()}, MetaOptions{RetryDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	goRaw := func() ([]byte, string, error) {
		type res struct {
			b    []byte
			name string
			err  error
		}
		ch := make(chan res, 1)
		m.GoQueryConfigRaw(ctx, "temp", nil, func(b []byte, name string, err error) { ch <- res{b, name, err} })
		r := <-ch
		return r.b, r.name, r.err
	}
	// First call: no connection yet, so the failover path; it learns the leader.
	for i, call := range []func() ([]byte, string, error){goRaw, goRaw, func() ([]byte, string, error) {
		return m.QueryConfigRaw(ctx, "temp", nil)
	}} {
		body, name, err := call()
		if err != nil || name != "ERR_OK" || !bytes.Equal(body, answer) {
			t.Fatalf("call %d: %s %v, body equal %v", i, name, err, bytes.Equal(body, answer))
		}
	}
	if leaderCalls.Load() != 3 || len(follower.requests()) != 1 {
		t.Errorf("leader %d calls, follower %d; want 3 and 1", leaderCalls.Load(), len(follower.requests()))
	}
}
