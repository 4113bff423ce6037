package replay

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/rpcclient"
)

// Discipline is how batches of one hash queue are sent.
type Discipline string

const (
	// DisciplinePegasus: one batch in flight per hash queue, strictly
	// sequential, as a master does (duplication.md §3.7).
	DisciplinePegasus Discipline = "pegasus"
	// DisciplinePipelined keeps up to Options.Window RPCs in flight per
	// follower partition across rounds: rounds go to one router.Table
	// (router/doc.go "Order"), which sends each partition's requests in
	// order, lets several share the wire only when their keys are
	// disjoint, and resends a failed one before anything sharing a key
	// with it. Entries are routed by their own key. A source partition
	// stops loading while it holds Window × MaxWriteSize bytes
	// unacknowledged.
	DisciplinePipelined Discipline = "pipelined"
)

// ParseDiscipline accepts "pegasus" and "pipelined".
func ParseDiscipline(s string) (Discipline, error) {
	switch Discipline(s) {
	case DisciplinePegasus, DisciplinePipelined:
		return Discipline(s), nil
	}
	return "", fmt.Errorf("replay: discipline %q: %w (want pegasus or pipelined)", s, ErrBadOptions)
}

// Defaults (duplication.md §3.5, §3.7, §5).
const (
	DefaultBatchBytes   = 4096    // duplicate_log_batch_bytes
	DefaultMaxWriteSize = 1 << 20 // dup_max_allowed_write_size
	DefaultRetryDelay   = time.Second
	DefaultRPCTimeout   = 100 * time.Second
	DefaultWindow       = 8
)

// Options configure Run.
type Options struct {
	// MetaAddrs are the follower cluster's meta servers ("host:port").
	MetaAddrs []string
	// Table is the follower table.
	Table string
	// ClusterID is the master's duplication cluster id put in every entry
	// (1..127, duplication.md §3.5).
	ClusterID uint8
	// Paths are plog directories of one partition each, or roots holding
	// several partitions' plog directories (<app>.<partition>.pegasus/plog,
	// storage.md §1.1), or plog files.
	Paths []string

	Discipline Discipline // default DisciplinePegasus
	Window     int        // DisciplinePipelined: RPCs in flight per follower partition (default 8)

	BatchBytes   int           // default DefaultBatchBytes
	MaxWriteSize int           // default DefaultMaxWriteSize
	RetryDelay   time.Duration // default 1 s
	RPCTimeout   time.Duration // default 100 s

	// FromDecree: ship decrees >= FromDecree only.
	FromDecree int64
	// SkipCorrupt resynchronises after corrupt plog data (walreader) and
	// lets committed decrees missing from the log through, counting both
	// per partition (PartitionSummary.Corrupt), instead of stopping the
	// partition at the first bad block.
	SkipCorrupt bool
	// Rate limits shipping to this many mutations per second in total
	// (0: unlimited).
	Rate float64
	// ProgressFile, when set, records per partition the last decree fully
	// acknowledged (atomically, temp file + rename) and is read at start,
	// so that an interrupted replay resumes where it stopped.
	ProgressFile string

	// Client configures the connections (framing, from_address, dialer).
	// Requests go out in RDSN unless Client.Framing says THFT.
	Client rpcclient.Options

	// Logger receives warnings and periodic lines (default: none).
	Logger *zap.Logger
	// OnProgress, when set, is called every ProgressInterval (default 1 s)
	// and once at the end with a snapshot.
	OnProgress       func(Progress)
	ProgressInterval time.Duration
}

// Errors.
var (
	// ErrBadOptions: Options are incomplete or out of range.
	ErrBadOptions = errors.New("replay: bad options")
	// ErrNoPartitions: no plog directory was found under the paths.
	ErrNoPartitions = errors.New("replay: no plog found")
	// ErrInvalidArgument: the follower answered duplicate_response.error 4
	// (InvalidArgument). A Pegasus master aborts on it (wire.md §4.6); the
	// partition's replay stops.
	ErrInvalidArgument = errors.New("replay: follower answered InvalidArgument (error 4), which makes a Pegasus master abort")
)

func (o *Options) withDefaults() (Options, error) {
	c := *o
	if len(c.MetaAddrs) == 0 {
		return c, fmt.Errorf("%w: no meta address", ErrBadOptions)
	}
	if c.Table == "" {
		return c, fmt.Errorf("%w: no table", ErrBadOptions)
	}
	if c.ClusterID < 1 || c.ClusterID > 127 {
		return c, fmt.Errorf("%w: cluster id %d, want 1..127", ErrBadOptions, c.ClusterID)
	}
	if len(c.Paths) == 0 {
		return c, fmt.Errorf("%w: no plog path", ErrBadOptions)
	}
	switch c.Discipline {
	case "":
		c.Discipline = DisciplinePegasus
	case DisciplinePegasus, DisciplinePipelined:
	default:
		return c, fmt.Errorf("%w: discipline %q", ErrBadOptions, c.Discipline)
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.MaxWriteSize <= 0 {
		c.MaxWriteSize = DefaultMaxWriteSize
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.RPCTimeout <= 0 {
		c.RPCTimeout = DefaultRPCTimeout
	}
	if c.Rate < 0 {
		return c, fmt.Errorf("%w: negative rate", ErrBadOptions)
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c, nil
}
