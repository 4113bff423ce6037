// Package walreader reads Apache Pegasus private-log (plog) files: the
// write-ahead log a replica keeps under <replica dir>/plog/ (storage.md §1).
//
// Format, in brief (storage.md §1.2–§1.7; all integers little-endian):
//
//	file   := block0 block1 ... blockN            no trailer, no padding
//	block  := header(16) body(length)
//	header := magic 0xDEADBEEF | length i32 | body_crc u32 | local_offset u32
//	block0 body := magic | version i32 | start_global_offset i64 | count i32 |
//	               count × (gpid(8) max_decree i64 valid_start_offset i64)
//	blockK body := mutation mutation ...          mutations never span blocks
//	mutation := header(56) update_count i32 descriptors payloads
//
// body_crc is CRC-32C (Castagnoli) chained over the bodies of one file: the
// CRC of block k continues from the stored CRC of block k-1 and starts at 0
// for block 0 (§1.3). Each mutation records its own global log offset
// (file start offset + position), which the reader verifies (§1.9 step 4).
//
// The package is layered like pebble's sstable readers: BlockIterator walks
// the blocks of one file, MutationIterator decodes the mutations of one block
// body, FileReader composes the two for one file, Reader walks the files of
// one or more plog directories, and Committed wraps any mutation source with
// the replay semantics of §1.9 (highest ballot per decree wins; a mutation is
// delivered once a later one commits it), in the order of Pegasus's
// mutation_batch and prepare_list (src/replica/duplication/mutation_batch.cpp,
// src/replica/prepare_list.cpp).
//
// Memory is bounded: a file is read through one reused window buffer that
// grows only to the largest block; every length read from the file is checked
// against the bytes that remain before anything is allocated. Mutations
// returned by the iterators alias that buffer and are valid until the next
// call; Mutation.Clone makes an owned copy.
//
// Errors: malformed data wraps ErrCorrupt (through a more specific sentinel
// such as ErrBadCRC, carried in an *Error naming file and offsets); I/O
// failures are returned wrapped but do not match ErrCorrupt. An incomplete
// block at the end of the last file of a log is a torn tail: reading ends
// cleanly and a Warning is recorded (Pegasus tolerates the same, §1.9 step 2).
package walreader
