package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func payloadOf(i int) []byte {
	return []byte(fmt.Sprintf("record-%06d-%s", i, bytes.Repeat([]byte{'x'}, i%37)))
}

// appendN appends n records and waits until each is durable.
func appendN(t *testing.T, s *Spool, from, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := from; i < from+n; i++ {
		wg.Add(1)
		s.Append(payloadOf(i), func(lsn uint64, err error) {
			if err == nil && lsn != uint64(i+1) {
				err = fmt.Errorf("record %d got LSN %d", i, lsn)
			}
			errs <- err
			wg.Done()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func reopen(t *testing.T, dir string, o Options) (*Spool, []uint64, error) {
	t.Helper()
	o.Dir = dir
	var seen []uint64
	s, err := Open(o, func(lsn uint64, p []byte) error {
		if !bytes.Equal(p, payloadOf(int(lsn-1))) {
			return fmt.Errorf("LSN %d: payload %q", lsn, p)
		}
		seen = append(seen, lsn)
		return nil
	})
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, seen, err
}

func TestAppendReadReopen(t *testing.T) {
	dir := t.TempDir()
	s, _, err := reopen(t, dir, Options{SegmentBytes: 512})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 0, 100) // concurrently: group commit
	s.mu.Lock()
	syncs := s.syncs
	s.mu.Unlock()
	if syncs >= 100 {
		t.Errorf("%d fsyncs for 100 concurrent appends: no group commit", syncs)
	}
	for i := 100; i < 200; i += 20 {
		appendN(t, s, i, 20) // in waves: segments roll over
	}
	r := s.NewReader(1)
	for i := 0; i < 200; i++ {
		lsn, p, err := r.Next()
		if err != nil || lsn != uint64(i+1) || !bytes.Equal(p, payloadOf(i)) {
			t.Fatalf("read %d: lsn %d payload %q err %v", i, lsn, p, err)
		}
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("past the end: %v, want io.EOF", err)
	}
	r.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 2 {
		t.Fatalf("%d segments with SegmentBytes 512, want several", len(segs))
	}
	s.Ack(150)
	id := s.ID()
	s.Close()

	s2, seen, err := reopen(t, dir, Options{SegmentBytes: 512})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 200 || s2.Acked() != 150 || s2.ID() != id {
		t.Fatalf("reopened: replayed %d, acked %d, id %x (want 200, 150, %x)", len(seen), s2.Acked(), s2.ID(), id)
	}
	appendN(t, s2, 200, 10) // LSNs continue
	r2 := s2.NewReader(151)
	for want := uint64(151); want <= 210; want++ {
		lsn, _, err := r2.Next()
		if err != nil || lsn != want {
			t.Fatalf("after reopen: lsn %d err %v, want %d", lsn, err, want)
		}
	}
	r2.Close()
}

func TestRecoveryFromDamage(t *testing.T) {
	lastRecordStart := func(data []byte) int {
		off, last := 0, 0
		for off < len(data) {
			_, _, n, err := decodeRecord(data[off:])
			if err != nil {
				break
			}
			last = off
			off += n
		}
		return last
	}
	cases := []struct {
		name    string
		damage  func(data []byte) []byte
		corrupt bool // Open fails with ErrCorrupt
		records int  // records left after a torn tail
	}{
		{"truncated last record", func(d []byte) []byte { return d[:len(d)-5] }, false, 19},
		{"truncated last header", func(d []byte) []byte { return d[:lastRecordStart(d)+7] }, false, 19},
		{"zeros after the last record", func(d []byte) []byte { return append(d, make([]byte, 100)...) }, false, 20},
		{"bad checksum in the last record", func(d []byte) []byte { d[len(d)-1] ^= 0xff; return d }, false, 19},
		{"bad checksum in the middle", func(d []byte) []byte { d[40] ^= 0xff; return d }, true, 0},
		{"huge length in the middle", func(d []byte) []byte { d[4], d[5], d[6], d[7] = 0xff, 0xff, 0xff, 0x7f; return d }, true, 0},
		{"garbage after the last record", func(d []byte) []byte { return append(d, bytes.Repeat([]byte{0xab}, 100)...) }, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _, err := reopen(t, dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, s, 0, 20)
			s.Close()
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			data, _ := os.ReadFile(segs[0])
			if err := os.WriteFile(segs[0], tc.damage(data), 0o600); err != nil {
				t.Fatal(err)
			}
			core, logs := observer.New(zapcore.WarnLevel)
			s2, seen, err := reopen(t, dir, Options{Logger: zap.New(core)})
			if tc.corrupt {
				if !errors.Is(err, ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte(segs[0]+" offset ")) {
					t.Fatalf("Open: %v, want ErrCorrupt naming %s and an offset", err, segs[0])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != tc.records {
				t.Fatalf("replayed %d records, want %d", len(seen), tc.records)
			}
			torn := logs.FilterMessageSnippet("torn tail dropped").All()
			if len(torn) != 1 || torn[0].ContextMap()["file"] != segs[0] {
				t.Fatalf("want one torn-tail warning naming %s, got %v", segs[0], logs.All())
			}
			appendN(t, s2, tc.records, 3) // the cut file takes appends again
			s2.Close()
			if _, seen, err := reopen(t, dir, Options{}); err != nil || len(seen) != tc.records+3 {
				t.Fatalf("after appending past the cut: %d records, %v", len(seen), err)
			}
		})
	}
}

func TestFullSpoolHoldsAppends(t *testing.T) {
	var capacity int64
	for i := 0; i < 10; i++ {
		capacity += int64(recordLen(len(payloadOf(i))))
	}
	core, logs := observer.New(zapcore.InfoLevel)
	s, _, err := reopen(t, t.TempDir(), Options{MaxBytes: capacity, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 0, 10)
	got := make(chan uint64, 5)
	for i := 10; i < 15; i++ {
		s.Append(payloadOf(i), func(lsn uint64, err error) {
			if err != nil {
				t.Error(err)
			}
			got <- lsn
		})
	}
	select {
	case lsn := <-got:
		t.Fatalf("append %d acknowledged while the spool is full", lsn)
	case <-time.After(200 * time.Millisecond):
	}
	if s.Waiting() != 5 || s.Bytes() > s.Capacity() {
		t.Fatalf("waiting %d bytes %d capacity %d", s.Waiting(), s.Bytes(), s.Capacity())
	}
	if n := logs.FilterMessageSnippet("spool full").Len(); n != 1 {
		t.Fatalf("%d 'spool full' warnings for one episode, want 1", n)
	}
	s.Ack(10)
	for want := uint64(11); want <= 15; want++ {
		if lsn := <-got; lsn != want {
			t.Fatalf("admitted LSN %d, want %d (order kept)", lsn, want)
		}
	}
	if s.Bytes() > s.Capacity() {
		t.Fatalf("bytes %d above capacity %d", s.Bytes(), s.Capacity())
	}
	if logs.FilterMessageSnippet("room again").Len() != 1 {
		t.Fatal("no log line when the spool had room again")
	}
}

func TestTruncationAfterRetention(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	dir := t.TempDir()
	s, _, err := reopen(t, dir, Options{SegmentBytes: 256, Retain: time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 0, 100)
	before, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	s.Ack(100)
	time.Sleep(300 * time.Millisecond)
	kept, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(kept) != len(before) {
		t.Fatalf("acknowledged segments deleted before Retain: %d of %d left", len(kept), len(before))
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		after, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
		if len(after) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d segments left after Retain, want only the current one", len(after))
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Close()
	s2, seen, err := reopen(t, dir, Options{SegmentBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	if s2.Acked() != 100 || s2.Bytes() != 0 {
		t.Fatalf("reopened after truncation: acked %d bytes %d, replayed %d", s2.Acked(), s2.Bytes(), len(seen))
	}
	appendN(t, s2, 100, 1)
}
