// Package verify checks a follower table against the plogs it was
// duplicated from: it computes the final state the logs imply (every
// committed idempotent write applied in decree order, as a follower applies
// duplicated writes: the last write wins, duplication.md §4.4) and reads
// every key back through the follower's own routing — query config on its
// meta, partition = key hash mod partition count, RPC_RRDB_RRDB_GET to that
// partition's primary — exactly as a Pegasus client would.
package verify
