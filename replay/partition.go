package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/walreader"
)

// tuple is one shippable update: (timestamp, task code, request body) as a
// master's mutation_batch keeps it (duplication.md §3.3). data is an offset
// range in the round's arena.
type tuple struct {
	ts     int64
	code   mutation.Code
	off, n int
	seq    int // load order, to keep ties stable
}

// partRunner replays one source partition.
type partRunner struct {
	run   *runner
	path  string
	files []string // plog files or the directory, as given to walreader.Open
	sum   PartitionSummary
	fl    failureLog
	pipe  inflight // DisciplinePipelined: rounds handed to the router

	roundBytes int // raw_message bytes of the round (splitRound)

	arena  []byte
	tuples []tuple
	out    []byte // batch bodies of the round
}

func (p *partRunner) replay(ctx context.Context, start int64) error {
	r := p.run
	p.sum.StartDecree = start
	p.sum.LastDecree = start - 1
	p.pipe.init()
	warn := func(w walreader.Warning) {
		p.sum.Corrupt.count(w)
		r.o.Logger.Warn("plog warning", zap.String("partition", p.path), zap.String("warning", w.String()))
	}
	rd, err := walreader.Open(p.files, walreader.Options{FromDecree: start, SkipCorrupt: r.o.SkipCorrupt, OnWarning: warn})
	if err != nil {
		return err
	}
	defer rd.Close()
	cm := walreader.NewCommitted(rd, walreader.CommittedOptions{FromDecree: start, SkipCorrupt: r.o.SkipCorrupt, OnWarning: warn})

	var look *walreader.Mutation // first mutation of the next round
	eof := false
	for !eof {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		p.arena, p.tuples = p.arena[:0], p.tuples[:0]
		shippable := 0
		roundLast := int64(-1)
		var lastFile string
		lastBlock := int64(-1)
		var muts int64 // mutations of the round with a shipped update
		var skipped Skipped
		for {
			m := look
			look = nil
			if m == nil {
				m, err = cm.Next()
				if errors.Is(err, io.EOF) {
					eof = true
					skipped.Uncommitted += int64(len(cm.Pending()))
					break
				}
				if err != nil {
					return err
				}
			}
			// A round ends at the first block boundary after BatchBytes of
			// shippable payload (the loader replays whole blocks,
			// duplication.md §3.2).
			if shippable >= r.o.BatchBytes && (m.File != lastFile || m.BlockOffset != lastBlock) {
				look = m
				break
			}
			lastFile, lastBlock = m.File, m.BlockOffset
			if p.sum.AppID == 0 && p.sum.PartitionIndex == 0 {
				p.sum.AppID, p.sum.PartitionIndex = m.AppID, m.PartitionIndex
			}
			r.c.logRead.Add(int64(m.Size))
			roundLast = m.Decree
			if m.IsEmptyWrite() {
				skipped.Empty++
				continue
			}
			n, shipped := p.collect(m, &skipped)
			shippable += n
			if shipped {
				muts++
			}
		}
		if roundLast < 0 {
			p.sum.Skipped.add(skipped)
			break
		}
		offered, err := r.lim.wait(ctx, muts)
		if err != nil {
			return err
		}
		if r.tbl != nil {
			if err := p.shipPipelined(ctx, offered, roundLast, muts, skipped); err != nil {
				return err
			}
			continue
		}
		if err := p.shipRound(ctx, offered, roundLast, muts, skipped); err != nil {
			return err
		}
	}
	if r.tbl != nil {
		return p.drain(ctx)
	}
	return nil
}

// shipRound ships a round in Pegasus's discipline and waits for it
// (duplication.md §3.7: rounds never overlap), then commits it.
func (p *partRunner) shipRound(ctx context.Context, offered time.Time, last, muts int64, skipped Skipped) error {
	batches, err := p.buildBatches()
	if err != nil {
		return err
	}
	for _, b := range batches {
		b.offered = offered
	}
	if len(batches) > 0 {
		if err := p.run.ship.shipRound(ctx, &p.fl, p.path, batches); err != nil {
			return err
		}
	}
	var entries, bytes, reqBytes int64
	for _, b := range batches {
		entries += int64(b.entries)
		bytes += int64(b.bytes)
		reqBytes += int64(len(b.body))
	}
	p.sum.MaxOpenRounds = max(p.sum.MaxOpenRounds, 1)
	p.commit(last, muts, entries, bytes, reqBytes, int64(len(batches)), skipped)
	return nil
}

// commit books a round whose every batch is acknowledged: everything up to
// last is done (summary, counters, progress file).
func (p *partRunner) commit(last, muts, entries, bytes, reqBytes, batches int64, skipped Skipped) {
	r := p.run
	p.sum.Rounds++
	p.sum.Batches += batches
	p.sum.Mutations += muts
	p.sum.Entries += entries
	p.sum.Bytes += bytes
	p.sum.Skipped.add(skipped)
	p.sum.LastDecree = last
	r.c.mutations.Add(muts)
	r.c.entries.Add(entries)
	r.c.bytes.Add(bytes)
	r.c.reqBytes.Add(reqBytes)
	r.c.batches.Add(batches)
	if err := r.prog.update(p.path, p.sum.AppID, p.sum.PartitionIndex, last); err != nil {
		r.o.Logger.Warn("cannot write progress file", zap.Error(err))
	}
}

// collect adds m's shippable updates to the round as tuples (their
// payloads copied into the arena: m is valid only until the next read) and
// counts the others in sk. It returns the payload bytes added and whether
// any update was.
func (p *partRunner) collect(m *walreader.Mutation, sk *Skipped) (n int, shipped bool) {
	for i := range m.Updates {
		u := &m.Updates[i]
		switch {
		case u.Code.Duplicated():
			off := len(p.arena)
			p.arena = append(p.arena, u.Data...)
			p.tuples = append(p.tuples, tuple{ts: m.Timestamp, code: u.Code, off: off, n: len(u.Data), seq: len(p.tuples)})
			n += len(u.Data)
			shipped = true
		case u.Code == mutation.CodeWriteEmpty:
			sk.Empty++
		case u.Code == mutation.CodeDuplicate || u.Code == mutation.CodeBulkLoad:
			sk.DuplicateOrBulkLoad++
		case u.Code == mutation.CodeUnknown:
			sk.Unknown++
		default: // INCR, CHECK_AND_SET, CHECK_AND_MUTATE (duplication.md §3.4)
			sk.NonIdempotent++
		}
	}
	return n, shipped
}

// sortTuples orders the round's tuples by timestamp, load order on ties
// (a master's tuple set orders by timestamp, duplication.md §3.3).
func (p *partRunner) sortTuples() {
	sort.SliceStable(p.tuples, func(i, j int) bool {
		if p.tuples[i].ts != p.tuples[j].ts {
			return p.tuples[i].ts < p.tuples[j].ts
		}
		return p.tuples[i].seq < p.tuples[j].seq
	})
}

// buildBatches cuts the round's tuples into duplicate_request batches
// exactly as pegasus_mutation_duplicator::duplicate does (duplication.md
// §3.5): tuples in timestamp order; a batch is closed after the entry that
// brings its payload bytes to BatchBytes or MaxWriteSize, or after the last
// tuple; each batch is keyed by the hash of its last entry.
func (p *partRunner) buildBatches() ([]*batch, error) {
	if len(p.tuples) == 0 {
		return nil, nil
	}
	p.sortTuples()
	o := &p.run.o
	var out []*batch
	var w mutation.DupRequestWriter
	p.out = p.out[:0]
	var cur *batch
	start := 0
	for i, t := range p.tuples {
		data := p.arena[t.off : t.off+t.n]
		if cur == nil {
			cur = &batch{}
			start = len(p.out)
			w.Begin(p.out, p.run.ship.wrapp)
		}
		h, err := mutation.PayloadHash(t.code, data)
		if err != nil {
			return nil, fmt.Errorf("replay: %s: %s update at timestamp %d: %w", p.path, t.code, t.ts, err)
		}
		w.AppendEntry(&mutation.DupEntry{
			Timestamp:    t.ts,
			TaskCode:     p.run.codeName(t.code),
			RawMessage:   data,
			ClusterID:    int8(o.ClusterID),
			HasClusterID: true,
		})
		cur.entries++
		cur.bytes += t.n
		cur.hash = h
		if cur.bytes >= o.BatchBytes || cur.bytes >= o.MaxWriteSize || i == len(p.tuples)-1 {
			p.out = w.Finish()
			cur.body = p.out[start:len(p.out):len(p.out)]
			out = append(out, cur)
			cur = nil
		}
	}
	// p.out may have been reallocated while batches were cut: re-slice the
	// bodies from the final buffer.
	off := 0
	for _, b := range out {
		n := len(b.body)
		b.body = p.out[off : off+n : off+n]
		off += n
	}
	return out, nil
}
