// Package walwriter writes Apache Pegasus private-log (plog) files exactly as
// a replica does (storage.md §1.10): for tests, the demo and benchmarks.
//
// Writer appends batches of mutations to one replica's plog directory,
// splitting each batch into blocks by Pegasus's 1 MiB rule (§1.5), chaining
// the block CRC (§1.3), stamping every mutation's global log_offset (§1.6)
// and rotating files at batch boundaries (§1.1). Fixtures re-creates the
// three captured plog files of Pegasus's test suite byte for byte from the
// facts listed in storage.md §1.12, and Generate writes synthetic
// multi-partition logs, deterministic by seed.
package walwriter
