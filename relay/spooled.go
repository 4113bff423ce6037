package relay

import "github.com/dupbridge/dupbridge/server"

// The entries each table holds in its spool and the sink has not
// acknowledged yet: /duplication's spooled_entries on an edge (what `proxy
// switch` adds to the lag). The spool counts bytes and LSNs; entries are
// counted here, per record, at the fsync and again at the sink's
// cumulative acknowledgement.

var _ server.SpoolReporter = (*Edge)(nil)

// spooledRecord is one durable record's entry count.
type spooledRecord struct {
	lsn     uint64
	entries int64
}

// SpooledEntries implements server.SpoolReporter.
func (e *Edge) SpooledEntries(table string) int64 {
	st := e.streams[table]
	if st == nil {
		return 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.spooledEntries
}

// noteSpooled counts a record made durable; one the sink acknowledged
// already (the shipper may read a record before its callback runs) is not
// counted. The spool's writer runs callbacks in LSN order.
func (st *stream) noteSpooled(lsn uint64, entries int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if lsn <= st.acked || entries == 0 {
		return
	}
	st.spooled = append(st.spooled, spooledRecord{lsn, int64(entries)})
	st.spooledEntries += int64(entries)
}

// forgetSpooled uncounts the records up to lsn (acknowledged). st.mu held.
func (st *stream) forgetSpooled(lsn uint64) {
	i := 0
	for i < len(st.spooled) && st.spooled[i].lsn <= lsn {
		st.spooledEntries -= st.spooled[i].entries
		i++
	}
	st.spooled = st.spooled[i:]
}
