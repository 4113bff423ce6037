// Package logsample keeps repeated warnings from flooding the log while
// still saying how many there were.
//
// Guarantees: the first warning with a given logger name and message is
// written; later ones within the sampling interval are dropped and counted;
// the first one after the interval is written with a more_like_this field
// holding the count dropped since the last written one. Other levels pass
// untouched: errors (data loss, configuration faults) are never dropped.
//
// How: a zapcore.Core wrapper that decides in Check, keyed by logger name
// and message (not fields, so that 32 partitions failing the same way count
// as one stream), with one shared table for a core and everything derived
// from it by With.
//
// Why: a dead follower made every partition log a retry warning, 136 lines
// in 8 s for 32 partitions; zap's own sampler drops without saying how much.
package logsample
