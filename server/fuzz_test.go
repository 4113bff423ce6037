package server

import (
	"fmt"
	"testing"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// fuzzServer is a Server that is never started: the fuzz target drives the
// decode/dispatch path directly through a fakeConn.
func fuzzServer(t testing.TB) (*Server, *fakeShipper) {
	sh := newFakeShipper(map[string]int{"orders": 4, "open": 2}, false)
	s, err := New(Options{Config: testConfig(t, nil), Shipper: readingShipper{sh}, Creator: &fakeCreator{}, Listen: "127.0.0.1:0", HTTPListen: "-"})
	if err != nil {
		t.Fatal(err)
	}
	return s, sh
}

// readingShipper also forwards client reads (ReadForwarder): a partition
// index out of range fails, anything else is answered with the request's
// body, from another goroutine half of the time.
type readingShipper struct{ *fakeShipper }

func (r readingShipper) ForwardRead(table string, pidx int, req *rpcclient.Request, cb func(*rpcclient.Response, error)) {
	n := r.PartitionCount(table)
	switch {
	case pidx < 0 || pidx >= n:
		cb(nil, fmt.Errorf("partition %d of %d", pidx, n))
	case len(req.Body)%2 == 0:
		cb(&rpcclient.Response{Err: codec.ErrorOK, Body: req.Body}, nil)
	default:
		done := make(chan struct{})
		go func() { cb(&rpcclient.Response{Err: codec.ErrorBusy}, nil); close(done) }()
		<-done
	}
}

// FuzzConnDispatch feeds arbitrary bytes to one connection's
// decode/dispatch path (framing detection, every face, splitting, replies)
// in chunks, acknowledges whatever was shipped, and checks that nothing
// panics and the in-flight accounting returns to zero.
func FuzzConnDispatch(f *testing.F) {
	rd := &client{fr: codec.FramingRDSN}
	th := &client{fr: codec.FramingTHFT}
	f.Add(rd.request(1, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(0, "orders", 1)), uint8(0))
	f.Add(th.request(1, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(1, "open")), uint8(7))
	f.Add(rd.request(2, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("a", "b", "c", 1, 1), putEntry("d", "e", "f", 2, 1))), uint8(13))
	f.Add(th.request(3, codec.RPCDuplicate, 6, 1, dupBody(1, putEntry("a", "b", "c", 1, 3))), uint8(1))
	f.Add(rd.request(4, codec.RPCListApps, 0, 0, []byte{0x0c, 0, 0, 0x08, 0, 1, 0, 0, 0, 0, 0, 0}), uint8(0))
	f.Add(rd.request(5, "RPC_NOPE", 0, 0, nil), uint8(3))
	f.Add(rd.request(6, codec.RPCGet, 5, 2, []byte{0x0c, 0, 0, 0, 0, 0, 2, 0, 1, 0}), uint8(5))
	f.Add(th.request(7, codec.RPCScan, 6, 1, []byte{0x0c, 0, 1, 0x0a, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0}), uint8(9))
	f.Add(rd.request(8, codec.RPCPut, 5, 0, []byte{0x0c, 0, 0, 0}), uint8(4))
	f.Add([]byte("RDSN\x00\x00\x00\x00garbage"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		s, sh := fuzzServer(t)
		fc := &fakeConn{}
		cs := newConnState(s, fc, "fuzz")
		step := int(chunk)%64 + 1
		for off := 0; off < len(data); off += step {
			end := min(off+step, len(data))
			fc.in = append(fc.in, data[off:end]...)
			if cs.onTraffic() != 0 { // gnet.None == 0; anything else closes
				break
			}
		}
		for i := 0; i < 3; i++ {
			sh.ackPending(PartResult{Status: PartAcked}, false)
			cs.onTraffic()
		}
		if st := s.Stats(); st.InflightBytes != cs.outHeld || st.WaitingBytes != cs.inHeld || st.InflightRequests != 0 {
			t.Fatalf("accounting differs from what the connection holds (%d undecoded, %d unread): %+v", cs.inHeld, cs.outHeld, st)
		}
		cs.onClose()
		if st := s.Stats(); st.InflightBytes != 0 || st.WaitingBytes != 0 {
			t.Fatalf("accounting leaked after close: %+v", st)
		}
	})
}

// FuzzConnStream feeds an arbitrary byte stream to one connection's handler,
// split at arbitrary points (cuts: each byte is the length of the next
// piece, 0 meaning a callback with nothing new, as a wake is), with
// large-frame assembly from 256 bytes up and, when unread is set, a peer
// that reads no replies. It checks that nothing panics, that the budget
// charges what the connection holds, and that closing returns it all.
func FuzzConnStream(f *testing.F) {
	rd := &client{fr: codec.FramingRDSN}
	th := &client{fr: codec.FramingTHFT}
	dup := rd.request(2, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("a", "b", string(make([]byte, 600)), 1, 1)))
	qc := th.request(1, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(1, "open"))
	f.Add(dup, []byte{1, 7, 200, 0, 255}, false)
	f.Add(append(append([]byte{}, qc...), qc...), []byte{3, 0, 90}, true)
	f.Add(dup[:len(dup)-9], []byte{64}, false)
	f.Add([]byte("THFT\x00\x00\x00\x01\xff\xff\xff\xff"), []byte{2}, false)
	f.Fuzz(func(t *testing.T, data, cuts []byte, unread bool) {
		s, sh := fuzzServer(t)
		s.asmMin = 256
		fc := &fakeConn{unread: unread}
		cs := newConnState(s, fc, "fuzz")
		for i, off := 0, 0; off < len(data) && i < 4096; i++ {
			step := len(data) - off
			if len(cuts) > 0 {
				step = min(int(cuts[i%len(cuts)]), step)
			}
			fc.in = append(fc.in, data[off:off+step]...)
			off += step
			if cs.onTraffic() != 0 {
				break
			}
			if st := s.Stats(); st.WaitingBytes != cs.inHeld || cs.inHeld != int64(len(fc.in)+cap(cs.asm)) {
				t.Fatalf("undecoded bytes charged %d, held %d+%d: %+v", st.WaitingBytes, len(fc.in), cap(cs.asm), st)
			}
		}
		sh.ackPending(PartResult{Status: PartAcked}, false)
		cs.onClose()
		if st := s.Stats(); st.InflightBytes != 0 || st.WaitingBytes != 0 || st.InflightRequests != 0 {
			t.Fatalf("accounting leaked after close: %+v", st)
		}
	})
}
