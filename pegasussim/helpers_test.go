package pegasussim

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/thrift"
)

// fakeClock is a settable clock for expiry tests.
type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time { return f.t }

func startSim(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tconn is a minimal test client: codec-framed requests, responses read in
// arrival order.
type tconn struct {
	t       testing.TB
	nc      net.Conn
	framing codec.Framing
	dec     codec.Decoder
	buf     []byte
	id      uint64
}

func dial(t testing.TB, addr string, f codec.Framing) *tconn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &tconn{t: t, nc: nc, framing: f, dec: codec.Decoder{Role: codec.RoleClient}}
}

// wrapperID is the args/body wrapper id for the connection's framing.
func (c *tconn) wrapperID() int16 {
	if c.framing == codec.FramingTHFT {
		return 1
	}
	return 0
}

func (c *tconn) send(name string, appID, pidx int32, hash uint64, body []byte) uint64 {
	c.t.Helper()
	c.id++
	h := codec.RequestHeader{
		ID: c.id, RPCName: name, AppID: appID, PartitionIndex: pidx, PartitionHash: hash,
		TimeoutMs: 5000, ThreadHash: codec.ThreadHash(appID, pidx),
	}
	if _, err := c.nc.Write(codec.AppendRequest(nil, c.framing, &h, body)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return c.id
}

type tresp struct {
	id      uint64
	errName string
	name    string
	body    []byte
	raw     []byte
}

func (c *tconn) recvTimeout(d time.Duration) (tresp, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	defer c.nc.SetReadDeadline(time.Time{})
	for {
		f, n, err := c.dec.Decode(c.buf)
		if err == nil {
			r := tresp{id: f.ID, errName: string(f.ErrorName), name: string(f.RPCName),
				body: append([]byte(nil), f.Body...), raw: append([]byte(nil), f.Raw...)}
			c.buf = c.buf[n:]
			return r, nil
		}
		if !errors.Is(err, codec.ErrNeedMore) {
			return tresp{}, err
		}
		tmp := make([]byte, 64<<10)
		m, err := c.nc.Read(tmp)
		c.buf = append(c.buf, tmp[:m]...)
		if err != nil {
			return tresp{}, err
		}
	}
}

func (c *tconn) recv() tresp {
	c.t.Helper()
	r, err := c.recvTimeout(5 * time.Second)
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return r
}

func (c *tconn) call(name string, appID, pidx int32, hash uint64, body []byte) tresp {
	c.t.Helper()
	id := c.send(name, appID, pidx, hash, body)
	r := c.recv()
	if r.id != id&0xffffffff && r.id != id {
		c.t.Fatalf("response id %d, want %d", r.id, id)
	}
	return r
}

// Field kinds for parseResult.
const (
	kI32 = iota
	kI64
	kBool
	kBlob
	kString
	kKVs
	kErrorCode
)

// parseResult decodes a result wrapper whose struct fields follow schema.
func parseResult(t testing.TB, body []byte, schema map[int16]int) map[int16]any {
	t.Helper()
	r := thrift.NewReader(body)
	if _, _, err := r.ReadWrapperBegin(); err != nil {
		t.Fatalf("wrapper: %v", err)
	}
	out := map[int16]any{}
	for {
		typ, id, err := r.ReadFieldHeader()
		if err != nil {
			t.Fatalf("field: %v", err)
		}
		if typ == thrift.STOP {
			break
		}
		k, ok := schema[id]
		if !ok {
			t.Fatalf("unexpected field %d (type %v)", id, typ)
		}
		var v any
		switch k {
		case kI32:
			v, err = r.ReadI32()
		case kI64:
			v, err = r.ReadI64()
		case kBool:
			v, err = r.ReadBool()
		case kBlob, kString, kErrorCode:
			var b []byte
			b, err = r.ReadBinary()
			v = string(b)
		case kKVs:
			var kvs []keyValue
			err = readList(&r, func(r *thrift.Reader) error {
				var kv keyValue
				err := parseKeyValue(r, &kv)
				kvs = append(kvs, keyValue{key: append([]byte(nil), kv.key...), value: append([]byte(nil), kv.value...), expireTs: kv.expireTs, hasExpire: kv.hasExpire})
				return err
			})
			v = kvs
		}
		if err != nil {
			t.Fatalf("field %d: %v", id, err)
		}
		out[id] = v
	}
	if err := r.ReadWrapperEnd(); err != nil {
		t.Fatalf("wrapper end: %v", err)
	}
	if r.Remaining() != 0 {
		t.Fatalf("%d trailing bytes", r.Remaining())
	}
	return out
}

var (
	updateRespSchema = map[int16]int{1: kI32, 2: kI32, 3: kI32, 4: kI64, 5: kString}
	readRespSchema   = map[int16]int{1: kI32, 2: kBlob, 3: kI32, 4: kI32, 6: kString}
	dupRespSchema    = map[int16]int{1: kI32, 2: kString}
	scanRespSchema   = map[int16]int{1: kI32, 2: kKVs, 3: kI64, 4: kI32, 5: kI32, 6: kString, 7: kI32}
	mgetRespSchema   = map[int16]int{1: kI32, 2: kKVs, 3: kI32, 4: kI32, 6: kString}
)

// blobArg builds the one-field wrapper around a blob (GET/REMOVE/TTL/...).
func blobArg(wrapperID int16, b []byte) []byte {
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, wrapperID)
	w.Blob(b)
	w.WrapperEnd()
	return w.B
}

func i64Arg(wrapperID int16, v int64) []byte {
	w := thrift.Writer{}
	w.WrapperBegin(thrift.I64, wrapperID)
	w.I64(v)
	w.WrapperEnd()
	return w.B
}

// pidxOf is the partition a raw key routes to.
func pidxOf(raw []byte, count int) int32 { return int32(partitionOf(keyHash(raw), count)) }
