package relay

import (
	"errors"
	"fmt"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/jsonfile"
	"github.com/dupbridge/dupbridge/server"
)

// errTableRemoved fails the parts of a removed table that waited for the
// sink's acknowledgement (ack = follower).
var errTableRemoved = errors.New("relay: table removed (ctl remove): its spool was dropped")

// dropFile records, in a table's spool directory, the last LSN dropped by
// `ctl remove`, so that a restart does not ship them after all.
const dropFile = "dropped.json"

type dropMark struct {
	UpTo uint64 `json:"up_to_lsn"`
}

var _ server.SpoolDropper = (*Edge)(nil)

// DropSpool implements server.SpoolDropper (`ctl remove TABLE`): every
// record spooled so far for the table goes to the sink empty (the sink
// completes an empty part without applying it, which keeps the LSN sequence
// it checks), so that its bytes are freed at the sink's acknowledgement
// instead of being applied. Parts still waiting for that acknowledgement
// (ack = follower) fail, so that no master is told they were applied. It
// returns the unacknowledged bytes dropped.
func (e *Edge) DropSpool(table string) (int64, error) {
	st := e.streams[table]
	if st == nil {
		return 0, fmt.Errorf("relay: table %s has no spool", table)
	}
	n, upTo := st.sp.Bytes(), st.sp.Last()
	if err := jsonfile.Write(filepath.Join(st.sp.Dir(), dropFile), dropMark{UpTo: upTo}); err != nil {
		return 0, fmt.Errorf("relay: dropping the spool of table %s: %w", table, err)
	}
	st.mu.Lock()
	st.dropTo.Store(upTo)
	st.mu.Unlock()
	st.failWaiters(errTableRemoved)
	st.log.Warn("relay: spool dropped: its records go to the sink empty", zap.Uint64("up_to_lsn", upTo), zap.Int64("unacked_bytes", n))
	return n, nil
}

// readDropMark is the last LSN dropped by a previous DropSpool (0: none).
func readDropMark(dir string) (uint64, error) {
	var m dropMark
	if _, err := jsonfile.Read(filepath.Join(dir, dropFile), &m); err != nil {
		return 0, fmt.Errorf("relay: reading the drop mark in %s: %w", dir, err)
	}
	return m.UpTo, nil
}

// emptyPart is a spooled part with its entries left out (a dropped record).
func emptyPart(table string, payload []byte) ([]byte, error) {
	p, err := decodePart(table, payload)
	if err != nil || p.Entries == 0 {
		return payload, err
	}
	q := *p
	q.Entries, q.Tied, q.Body = 0, nil, nil
	return appendPart(nil, &q), nil
}
