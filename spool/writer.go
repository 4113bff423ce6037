package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
)

// writer is the one goroutine that writes segments (group commit,
// docs/relay.md §1.4). The acked marker and truncation run beside it in
// maintainer: saving the marker costs fsyncs, and a master's append must
// not wait behind them.
func (s *Spool) writer() {
	defer close(s.done)
	stopMaint, maintDone := make(chan struct{}), make(chan struct{})
	go s.maintainer(stopMaint, maintDone)
	for {
		select {
		case <-s.kick:
			s.flush()
		case <-s.stop:
			s.flush()
			close(stopMaint)
			<-maintDone
			s.maintain(true)
			if s.f != nil {
				_ = s.f.Close()
			}
			return
		}
	}
}

// maintainer saves the acked marker and deletes acknowledged segments
// every ackSaveEvery until stop.
func (s *Spool) maintainer(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(ackSaveEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s.maintain(false)
		case <-stop:
			return
		}
	}
}

// flush writes everything queued with one write and one fsync, then runs
// the callbacks.
func (s *Spool) flush() {
	s.mu.Lock()
	buf, cbs := s.queue, s.queueCBs
	if len(cbs) == 0 {
		s.mu.Unlock()
		return
	}
	s.queue, s.queueCBs = s.spare[:0], nil
	failed := s.err
	s.mu.Unlock()

	err := failed
	if err == nil {
		err = s.write(cbs[0].lsn, cbs[len(cbs)-1].lsn, buf)
	}
	s.mu.Lock()
	if err != nil && s.err == nil {
		s.err = err
		s.log.Error("spool: write failed; the spool refuses appends until restart", zap.String("dir", s.o.Dir), zap.Error(err))
	}
	if err == nil {
		s.durable = cbs[len(cbs)-1].lsn
		close(s.notify)
		s.notify = make(chan struct{})
	}
	s.spare = buf[:0]
	s.mu.Unlock()
	for _, q := range cbs {
		if err != nil {
			q.done(0, err)
		} else {
			q.done(q.lsn, nil)
		}
	}
}

// write appends records first..last (encoded in buf) to the current
// segment, starting a new one when it is full, and fsyncs.
func (s *Spool) write(first, last uint64, buf []byte) error {
	s.mu.Lock()
	var cur *segment
	if n := len(s.segs); n > 0 {
		cur = s.segs[n-1]
	}
	s.mu.Unlock()
	if cur != nil && cur.size >= s.o.SegmentBytes {
		cur = nil
	}
	if cur == nil {
		if s.f != nil {
			_ = s.f.Close()
			s.f = nil
		}
		path := filepath.Join(s.o.Dir, fmt.Sprintf("%016x.seg", first))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("spool: creating segment %s: %w", path, err)
		}
		if err := syncDir(s.o.Dir); err != nil {
			_ = f.Close()
			return fmt.Errorf("spool: syncing %s: %w", s.o.Dir, err)
		}
		s.f = f
		cur = &segment{first: first, last: first - 1, path: path}
		s.mu.Lock()
		s.segs = append(s.segs, cur)
		s.mu.Unlock()
	}
	if s.f == nil {
		f, err := os.OpenFile(cur.path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("spool: opening segment %s: %w", cur.path, err)
		}
		s.f = f
	}
	if _, err := s.f.Write(buf); err != nil {
		return fmt.Errorf("spool: writing %s at %d: %w", cur.path, cur.size, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("spool: fsync of %s: %w", cur.path, err)
	}
	s.mu.Lock()
	s.syncs++
	cur.last = last
	cur.size += int64(len(buf))
	cur.written = s.o.Now()
	s.mu.Unlock()
	return nil
}

// maintain saves the acked marker (at most every ackSaveEvery unless final)
// and deletes acknowledged segments past retention or over the byte budget.
// The marker is saved before any deletion, so that a restart never finds a
// gap between the marker and the first segment.
func (s *Spool) maintain(final bool) {
	now := s.o.Now()
	s.mu.Lock()
	acked := s.acked
	s.mu.Unlock()
	if acked != s.savedAck && (final || now.Sub(s.savedWhen) >= ackSaveEvery) {
		var b [12]byte
		binary.LittleEndian.PutUint64(b[:8], acked)
		binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
		if err := writeFileSync(filepath.Join(s.o.Dir, "acked"), b[:]); err != nil {
			s.log.Warn("spool: saving the acked marker failed; a restart resends more", zap.Error(err))
			return
		}
		s.savedAck, s.savedWhen = acked, now
	}
	for {
		s.mu.Lock()
		var victim *segment
		if len(s.segs) > 1 && s.segs[0].last <= s.savedAck {
			var retained int64
			for _, sg := range s.segs[:len(s.segs)-1] {
				if sg.last <= s.savedAck {
					retained += sg.size
				}
			}
			if now.Sub(s.segs[0].written) >= s.o.Retain || retained > s.o.MaxBytes {
				victim = s.segs[0]
				s.segs = s.segs[1:]
			}
		}
		s.mu.Unlock()
		if victim == nil {
			return
		}
		if err := os.Remove(victim.path); err != nil {
			s.log.Warn("spool: deleting an acknowledged segment failed", zap.String("file", victim.path), zap.Error(err))
		}
	}
}
