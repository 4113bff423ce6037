// Package ctlstate keeps the operator's controls of each table (paused,
// removed, fail mode: `dupbridge ctl pause|start|remove|fail-mode`) in one
// small JSON file under the bridge's state directory, so that they survive
// restarts.
//
// Guarantees: Save either leaves the previous file whole or replaces it with
// the new one whole (a crash in between never leaves a torn or empty file);
// when Save returns nil the new state is on disk (file and directory entry
// fsynced). Load of a missing file is an empty State, of a corrupt one an
// error naming the file.
//
// How: the state is written to a temporary file in the same directory,
// fsynced, renamed over tables.json, and the directory is fsynced. The
// directory is created (0700) on the first Save, not before: a bridge that
// is never controlled writes nothing.
//
// Why: the controls are few and change rarely (an operator's command), so
// one rewritten file is simpler and safer than a log; it shares the
// directory with the WAN link's spool (config [dupbridge] state_dir).
package ctlstate
