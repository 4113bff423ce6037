package checkpoint

import (
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/router"
)

// batcher splits entries by follower partition into canonical
// duplicate_request bodies (router.CanonicalBody) of at most maxBytes.
type batcher struct {
	count    int
	maxBytes int
	parts    []partBatch
}

type partBatch struct {
	w      mutation.DupRequestWriter
	open   bool
	hashes []uint64
	first  int64
	last   int64
}

// batchOut is a finished shipment for one follower partition.
type batchOut struct {
	partition int
	s         *router.Shipment
}

func newBatcher(count, maxBytes int) *batcher {
	return &batcher{count: count, maxBytes: maxBytes, parts: make([]partBatch, count)}
}

// add appends e (routed by hash) and returns out with the partition's
// shipment appended when it reached maxBytes.
func (b *batcher) add(out []batchOut, hash uint64, e *mutation.DupEntry) []batchOut {
	idx := mutation.PartitionIndex(hash, b.count)
	p := &b.parts[idx]
	if !p.open {
		p.w.Begin(make([]byte, 0, min(b.maxBytes+1024, 64<<10)), 0)
		p.open, p.hashes, p.first = true, nil, e.Timestamp
	}
	p.w.AppendEntry(e)
	p.hashes = append(p.hashes, hash)
	p.last = e.Timestamp
	if p.w.Size() >= b.maxBytes {
		out = append(out, b.finish(idx))
	}
	return out
}

// flush returns out with every partition's open shipment appended.
func (b *batcher) flush(out []batchOut) []batchOut {
	for i := range b.parts {
		if b.parts[i].open {
			out = append(out, b.finish(i))
		}
	}
	return out
}

func (b *batcher) finish(idx int) batchOut {
	p := &b.parts[idx]
	p.open = false
	return batchOut{partition: idx, s: &router.Shipment{
		Body:           p.w.Finish(),
		PartitionHash:  p.hashes[len(p.hashes)-1],
		Entries:        len(p.hashes),
		PartitionCount: b.count,
		FirstTimestamp: p.first,
		LastTimestamp:  p.last,
		Hashes:         p.hashes,
	}}
}
