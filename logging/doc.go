// Package logging builds the process's zap logger from the [dupbridge]
// log keys (config.Log) or the CLI's flags.
//
// Guarantees: the level is a zap.AtomicLevel, changeable while the bridge
// runs (`dupbridge ctl log-level`); repeated warnings are sampled with a
// count (logsample); with a log file, output is rotated by size and old
// files are pruned by count and age (lumberjack), and Close flushes and
// closes it.
//
// How: one zapcore.Core (JSON or console encoder) over stderr or a
// lumberjack.Logger, wrapped by logsample.
//
// Why: an operator runs the bridge under systemd (journal, stderr) or with
// a file of its own; either way the level must change without a restart
// while a problem is being looked at.
package logging
