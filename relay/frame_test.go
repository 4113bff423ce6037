package relay

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/keyorder"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/server"
)

// Every message encodes and decodes back to itself through ReadFrame.
func TestMessagesRoundTrip(t *testing.T) {
	hello := Hello{Version: Version, Token: "t0ken-t0ken-t0ken", Table: "temp", Incarnation: 0x0102030405060708, DictID: 77}
	welcome := Welcome{Version: Version, DictID: 77}
	sh := ShipmentHeader{Flags: FlagResend, FirstLSN: 42, Records: 3, RawLen: 1000}
	cases := []struct {
		name  string
		frame []byte
		typ   byte
		check func(body []byte) error
	}{
		{"hello", hello.Append(nil), TypeHello, func(b []byte) error {
			h, err := DecodeHello(b)
			if err == nil && h != hello {
				err = errors.New("hello differs")
			}
			return err
		}},
		{"welcome", welcome.Append(nil), TypeWelcome, func(b []byte) error {
			w, err := DecodeWelcome(b)
			if err == nil && w != welcome {
				err = errors.New("welcome differs")
			}
			return err
		}},
		{"refuse", AppendRefuse(nil, "wrong relay_token"), TypeRefuse, func(b []byte) error {
			r, err := DecodeRefuse(b)
			if err == nil && r != "wrong relay_token" {
				err = errors.New("reason differs")
			}
			return err
		}},
		{"layout", AppendLayout(nil, 32), TypeLayout, func(b []byte) error {
			n, err := DecodeLayout(b)
			if err == nil && n != 32 {
				err = errors.New("count differs")
			}
			return err
		}},
		{"ack", AppendAck(nil, 1<<40), TypeAck, func(b []byte) error {
			n, err := DecodeAck(b)
			if err == nil && n != 1<<40 {
				err = errors.New("lsn differs")
			}
			return err
		}},
		{"shipment", AppendShipment(nil, sh, []byte("zstd")), TypeShipment, func(b []byte) error {
			h, data, err := DecodeShipment(b)
			if err == nil && (h != sh || string(data) != "zstd") {
				err = errors.New("shipment differs")
			}
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typ, body, _, err := ReadFrame(bufio.NewReader(bytes.NewReader(tc.frame)), nil, 1<<20)
			if err != nil || typ != tc.typ {
				t.Fatalf("ReadFrame: type %d err %v", typ, err)
			}
			if err := tc.check(body); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A HELLO of another version decodes far enough to name the version; one
// without the magic is refused as a stranger.
func TestHelloVersionAndMagic(t *testing.T) {
	h := Hello{Version: Version + 1, Token: "x"}
	got, err := DecodeHello(h.Append(nil)[5:])
	if err != nil || got.Version != Version+1 {
		t.Fatalf("other version: %+v %v", got, err)
	}
	if _, err := DecodeHello([]byte("HTTP/1.1 200")); !errors.Is(err, ErrProtocol) {
		t.Fatalf("bad magic: %v", err)
	}
}

// A frame length above the limit is refused before allocating.
func TestReadFrameLimit(t *testing.T) {
	_, _, _, err := ReadFrame(bytes.NewReader([]byte{0x7f, 0xff, 0xff, 0xff, 5}), nil, 1<<20)
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("huge frame: %v", err)
	}
}

// FuzzFrame: any bytes give a frame and a decoded message or an error, never
// a panic or an allocation beyond the limit.
func FuzzFrame(f *testing.F) {
	h := Hello{Version: Version, Token: "tok", Table: "t", Incarnation: 1}
	f.Add(h.Append(nil))
	f.Add(AppendShipment(nil, ShipmentHeader{FirstLSN: 1, Records: 1, RawLen: 3}, []byte{1, 2, 3}))
	f.Add(AppendAck(nil, 9))
	f.Add(AppendLayout(nil, 8))
	f.Add(appendShipRecord(nil, 1, appendPart(nil, samplePart(1))))
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, body, _, err := ReadFrame(bytes.NewReader(b), nil, 1<<16)
		if err != nil {
			// Also try the shipment body and record decoders on raw input.
			_ = splitShipment(b, 1, 2, func(lsn uint64, p []byte) error { _, err := decodePart("t", p); return err })
			return
		}
		switch typ {
		case TypeHello:
			_, _ = DecodeHello(body)
		case TypeWelcome:
			_, _ = DecodeWelcome(body)
		case TypeRefuse:
			_, _ = DecodeRefuse(body)
		case TypeLayout:
			_, _ = DecodeLayout(body)
		case TypeAck:
			_, _ = DecodeAck(body)
		case TypeShipment:
			if h, data, err := DecodeShipment(body); err == nil {
				_ = splitShipment(data, h.FirstLSN, h.Records, func(lsn uint64, p []byte) error { _, err := decodePart("t", p); return err })
			}
		}
	})
}

// A part survives the spool record encoding, tied entries included, and a
// resend marks every PUT verify_timetag except the tied ones.
func TestPartRecordAndMarking(t *testing.T) {
	var w mutation.DupRequestWriter
	w.Begin(nil, 0)
	for i := 0; i < 3; i++ {
		e := samplePartEntry(i)
		w.AppendEntry(&e)
	}
	p := &server.Part{Table: "t", PartitionIndex: 3, PartitionCount: 8, PartitionHash: 99, Entries: 3, Body: w.Finish(),
		FirstTimestamp: 1, LastTimestamp: 3, Tied: []int{1}}
	got, err := decodePart("t", appendPart(nil, p))
	if err != nil || got.PartitionIndex != 3 || got.PartitionCount != 8 || got.PartitionHash != 99 || got.Entries != 3 ||
		got.FirstTimestamp != 1 || got.LastTimestamp != 3 || len(got.Tied) != 1 || got.Tied[0] != 1 || !bytes.Equal(got.Body, p.Body) {
		t.Fatalf("decoded part %+v, %v", got, err)
	}
	parts, err := markVerify(got)
	if err != nil || len(parts) != 1 || parts[0].Entries != 3 {
		t.Fatalf("markVerify: %d parts, %v", len(parts), err)
	}
	it, _ := mutation.NewDupIter(parts[0].Body)
	var e mutation.DupEntry
	for i := 0; it.Next(&e); i++ {
		if want := i != 1; e.VerifyTimetag != want {
			t.Errorf("entry %d: verify_timetag %v, want %v", i, e.VerifyTimetag, want)
		}
	}
	if _, err := decodePart("t", appendPart(nil, &server.Part{PartitionCount: 8, Entries: 1, Tied: []int{0, 1}})); !errors.Is(err, ErrProtocol) {
		t.Errorf("more tied entries than entries: %v", err)
	}
}

// A resent record leaves out the writes that newer writes of the same keys
// supersede; a record with nothing left is an empty part the sink completes
// without applying anything.
func TestTrimResent(t *testing.T) {
	st := &stream{t: &config.Table{Name: "t"}, guard: keyorder.New(keyorder.Options{})}
	put := func(ts int64, key, v string) mutation.DupEntry {
		return mutation.DupEntry{Timestamp: ts, TaskCode: []byte("RPC_RRDB_RRDB_PUT"), ClusterID: 1, HasClusterID: true,
			RawMessage: mutation.AppendPut(nil, 0, mutation.AppendRawKey(nil, []byte(key), []byte("s")), []byte(v), 0)}
	}
	record := func(es ...mutation.DupEntry) []byte {
		var w mutation.DupRequestWriter
		w.Begin(nil, 0)
		for i := range es {
			_, _, _ = st.guard.Filter(0, &es[i]) // as the server admitted them
			w.AppendEntry(&es[i])
		}
		return appendPart(nil, &server.Part{PartitionCount: 8, Entries: len(es), Body: w.Finish()})
	}
	older := record(put(100, "a", "1"), put(100, "b", "1"))
	onlyA := record(put(200, "a", "2"))
	newest := record(put(300, "b", "3"))

	for _, tc := range []struct {
		name    string
		payload []byte
		keep    []int64 // timestamps left
	}{
		{"a and b both superseded later", older, nil},
		{"a at 200 superseded by nothing", onlyA, []int64{200}},
		{"b at 300 is the newest", newest, []int64{300}},
	} {
		out, err := st.trim(tc.payload)
		if err != nil {
			t.Fatal(err)
		}
		p, err := decodePart("t", out)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []int64
		if p.Entries > 0 {
			it, _ := mutation.NewDupIter(p.Body)
			var e mutation.DupEntry
			for it.Next(&e) {
				got = append(got, e.Timestamp)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.keep) || p.Entries != len(tc.keep) {
			t.Errorf("%s: kept %v (%d entries), want %v", tc.name, got, p.Entries, tc.keep)
		}
	}
	recs, err := parseRecords("t", ShipmentHeader{FirstLSN: 5, Records: 1}, appendShipRecord(nil, 5, mustTrim(t, st, older)))
	if err != nil || len(recs) != 1 || len(recs[0].parts) != 0 {
		t.Fatalf("empty part at the sink: %+v %v", recs, err)
	}
}

func mustTrim(t *testing.T, st *stream, payload []byte) []byte {
	t.Helper()
	out, err := st.trim(payload)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
