package relay

import (
	"encoding/binary"
	"fmt"

	"github.com/dupbridge/dupbridge/server"
)

// A shipment's raw (uncompressed) body is a run of spool records: u64 LSN,
// u32 length, payload (docs/relay.md §2.4).
const shipRecordHeader = 8 + 4

// appendShipRecord appends one record to a raw shipment body.
func appendShipRecord(dst []byte, lsn uint64, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, lsn)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// splitShipment calls fn for each record of a raw shipment body, checking
// that there are exactly n records with consecutive LSNs from first. payload
// aliases raw.
func splitShipment(raw []byte, first uint64, n uint32, fn func(lsn uint64, payload []byte) error) error {
	r := reader{b: raw}
	for i := uint32(0); i < n; i++ {
		lsn := r.u64()
		payload := r.take(int(r.u32()))
		if r.err != nil {
			return fmt.Errorf("shipment record %d of %d: %w", i+1, n, r.err)
		}
		if lsn != first+uint64(i) {
			return fmt.Errorf("shipment record %d: %w: LSN %d where %d was expected", i+1, ErrProtocol, lsn, first+uint64(i))
		}
		if err := fn(lsn, payload); err != nil {
			return err
		}
	}
	return r.end("shipment")
}

// kindPart is the spool record payload holding one server.Part
// (docs/relay.md §3.1).
const kindPart = 1

const partHeaderLen = 1 + 4 + 4 + 8 + 8 + 8 + 4 + 4

// appendPart encodes p as a spool record payload.
func appendPart(dst []byte, p *server.Part) []byte {
	dst = append(dst, kindPart)
	dst = binary.BigEndian.AppendUint32(dst, uint32(p.PartitionIndex))
	dst = binary.BigEndian.AppendUint32(dst, uint32(p.PartitionCount))
	dst = binary.BigEndian.AppendUint64(dst, p.PartitionHash)
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.FirstTimestamp))
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.LastTimestamp))
	dst = binary.BigEndian.AppendUint32(dst, uint32(p.Entries))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(p.Tied)))
	for _, i := range p.Tied {
		dst = binary.BigEndian.AppendUint32(dst, uint32(i))
	}
	return append(dst, p.Body...)
}

// decodePart decodes a spool record payload of table into a Part whose
// Body aliases payload.
func decodePart(table string, payload []byte) (*server.Part, error) {
	r := reader{b: payload}
	if k := r.u8(); k != kindPart && r.err == nil {
		return nil, fmt.Errorf("record: %w: kind %d", ErrProtocol, k)
	}
	p := &server.Part{Table: table, PartitionIndex: int(r.u32()), PartitionCount: int(r.u32()), PartitionHash: r.u64(),
		FirstTimestamp: int64(r.u64()), LastTimestamp: int64(r.u64()), Entries: int(r.u32())}
	if r.err != nil {
		return nil, fmt.Errorf("record: %w", r.err)
	}
	if p.PartitionCount <= 0 || p.PartitionCount > 1<<16 || p.PartitionIndex < 0 || p.PartitionIndex >= p.PartitionCount || p.Entries < 0 {
		return nil, fmt.Errorf("record: %w: partition %d of %d, %d entries", ErrProtocol, p.PartitionIndex, p.PartitionCount, p.Entries)
	}
	nt := r.u32()
	if r.err == nil && uint64(nt) > uint64(p.Entries) {
		return nil, fmt.Errorf("record: %w: %d tied entries of %d", ErrProtocol, nt, p.Entries)
	}
	for i := uint32(0); i < nt && r.err == nil; i++ {
		p.Tied = append(p.Tied, int(r.u32()))
	}
	if r.err != nil {
		return nil, fmt.Errorf("record: %w", r.err)
	}
	p.Body = r.b
	if (p.Entries == 0) != (len(p.Body) == 0) {
		// An empty part is a resent record whose every write was superseded
		// (stream.trim); a body must hold entries.
		return nil, fmt.Errorf("record: %w: %d entries in %d body bytes", ErrProtocol, p.Entries, len(p.Body))
	}
	return p, nil
}
