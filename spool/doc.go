// Package spool is the edge's durable queue: an append-only log of
// checksummed records in segment files, acknowledged and truncated from the
// front (docs/relay.md §1).
//
// What it guarantees:
//
//   - An Append's callback reports success only after the record is on disk
//     (written and fsynced); records are numbered 1, 2, 3, ... (LSN) in
//     Append order, without gaps, across segments and restarts.
//   - After a crash, Open returns every record that was reported durable. An
//     unfinished last write (a torn tail) is detected and cut off with a
//     warning; any other damage is ErrCorrupt naming the file and offset,
//     never silently skipped.
//   - The unacknowledged bytes never exceed Options.MaxBytes: an Append that
//     does not fit waits, with its callback, until Ack frees room
//     (back-pressure; nothing is refused or dropped).
//
// How: a record is a 16-byte header (CRC-32C, length, LSN) and the payload.
// Appends are queued without blocking; one writer goroutine writes
// everything queued with one write and one fsync (group commit) and then runs
// the callbacks. Acknowledged segments are kept for Options.Retain so that
// the edge can rebuild its per-key order memory from them after a restart,
// then deleted.
//
// Why our own format: docs/relay.md §1.7 compares tidwall/wal, etcd's wal and
// pebble's record package.
package spool
