package server

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/ctlstate"
)

// Table controls: the operator's `dup pause|start|remove` and
// `set_dup_fail_mode` (duplication.md, operator chapter), per configured
// table, persisted under state_dir (ctlstate) before they take effect.

// Table states, as /duplication and ctl show them (Pegasus's
// duplication_status words where they fit: DS_PAUSE, DS_LOG, DS_REMOVED).
const (
	StateRunning = "running"
	StatePaused  = "paused"
	StateRemoved = "removed"
)

// Control actions.
const (
	ActionPause    = "pause"
	ActionStart    = "start"
	ActionRemove   = "remove"
	ActionFailMode = "fail-mode"
)

// ErrUnknownTable: the table is not configured.
var ErrUnknownTable = errors.New("unknown table")

// ErrBadControl: the control request is not valid.
var ErrBadControl = errors.New("bad control request")

// ControlRequest is one control call on a table.
type ControlRequest struct {
	Action string `json:"action"`
	// FailMode ("slow" or "skip") and SkipAfterAttempts (skip only; 0:
	// the table's skip_after_attempts, or 10) for ActionFailMode.
	FailMode          string `json:"fail_mode,omitempty"`
	SkipAfterAttempts int    `json:"skip_after_attempts,omitempty"`
}

// ControlResult is the answer of a control call.
type ControlResult struct {
	Table             string `json:"table"`
	Action            string `json:"action"`
	State             string `json:"state"`
	WasState          string `json:"was_state"`
	FailMode          string `json:"fail_mode"`
	SkipAfterAttempts int    `json:"skip_after_attempts,omitempty"`
	// Persisted: the new state is on disk under state_dir.
	Persisted bool   `json:"persisted"`
	Note      string `json:"note,omitempty"`
}

// ErrFailModeElsewhere notes a fail mode recorded by a process whose
// shipper does not route to the follower (a WAN edge): the routers that
// retry or skip run elsewhere (the sink, with its own failure_policy).
var ErrFailModeElsewhere = errors.New("recorded and persisted, but this process does not route to the follower (a WAN edge): " +
	"the sink's failure_policy decides what its routers retry or skip")

// FailModeSetter is implemented by shippers whose failure policy can change
// at run time (server/follower). Any goroutine.
type FailModeSetter interface {
	SetFailMode(table string, p config.FailurePolicy, skipAfterAttempts int)
}

// SpoolDropper is implemented by shippers that spool a table's shipments
// (the WAN link's edge): DropSpool discards what is spooled for the table
// and reports how many bytes. Any goroutine.
type SpoolDropper interface {
	DropSpool(table string) (int64, error)
}

// defaultSkipAttempts is the skip threshold of `ctl fail-mode T skip` for a
// table configured without skip_after_attempts (router's default).
const defaultSkipAttempts = 10

// state is the table's control state word.
func (ts *tableState) state() string {
	switch {
	case ts.removed.Load():
		return StateRemoved
	case ts.paused.Load():
		return StatePaused
	}
	return StateRunning
}

// failMode is the table's current failure policy and skip threshold.
func (ts *tableState) failMode() (config.FailurePolicy, int) {
	fm := ts.fail.Load()
	return fm.policy, fm.attempts
}

type failMode struct {
	policy   config.FailurePolicy
	attempts int
}

// refusing is the refusal of every request of a removed or paused table.
// Any goroutine.
func (ts *tableState) refusing() *refusal {
	switch {
	case ts.removed.Load():
		return &refusal{cause: causeRemoved, hint: "dupbridge: table " + ts.cfg.Name +
			" is removed from duplication on this bridge (dupbridge ctl start " + ts.cfg.Name + " takes it back); retry later"}
	case ts.paused.Load():
		return &refusal{cause: causePaused, hint: "dupbridge: table " + ts.cfg.Name + " is paused"}
	}
	return nil
}

// loadControls applies the persisted controls of the configured tables
// (New). A table no longer configured keeps its entry in the file.
func (s *Server) loadControls() error {
	st, err := ctlstate.Load(s.stateDir)
	if err != nil {
		return err
	}
	s.ctl = st
	for _, ts := range s.tabs().byName {
		if err := s.applyControls(ts); err != nil {
			return err
		}
	}
	return nil
}

// applyControls applies ts's persisted controls, if any (New, Reload).
// Called with ctlMu held, or before the server is shared.
func (s *Server) applyControls(ts *tableState) error {
	name := ts.cfg.Name
	c, ok := s.ctl.Tables[name]
	if !ok {
		return nil
	}
	ts.paused.Store(c.Paused)
	ts.removed.Store(c.Removed)
	if c.FailMode != "" {
		p, err := config.ParseFailurePolicy(c.FailMode)
		if err != nil {
			return fmt.Errorf("server: %s: table %s: %w", ctlstate.FileName, name, err)
		}
		ts.fail.Store(&failMode{policy: p, attempts: c.SkipAfterAttempts})
		if fs, ok := s.shipper.(FailModeSetter); ok {
			fs.SetFailMode(name, p, c.SkipAfterAttempts)
		}
	}
	s.log.Info("table controls restored from the state directory", zap.String("table", name),
		zap.String("state", ts.state()), zap.String("fail_mode", ts.fail.Load().policy.String()),
		zap.String("state_dir", s.stateDir))
	return nil
}

// Control applies a control call to a table: the new state is persisted
// first (when that fails, nothing changes), then takes effect and is
// logged with by (who asked). Any goroutine.
func (s *Server) Control(table string, req ControlRequest, by string) (ControlResult, error) {
	ts := s.tabs().byName[table]
	if ts == nil {
		return ControlResult{}, fmt.Errorf("%w %q", ErrUnknownTable, table)
	}
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	res := ControlResult{Table: table, Action: req.Action, WasState: ts.state()}
	paused, removed := ts.paused.Load(), ts.removed.Load()
	fm := *ts.fail.Load()
	switch req.Action {
	case ActionPause:
		paused = true
	case ActionStart:
		paused, removed = false, false
	case ActionRemove:
		removed = true
	case ActionFailMode:
		p, err := config.ParseFailurePolicy(req.FailMode)
		if err != nil || req.FailMode == "" {
			return res, fmt.Errorf("%w: fail mode %q: want slow or skip", ErrBadControl, req.FailMode)
		}
		if req.SkipAfterAttempts < 0 {
			return res, fmt.Errorf("%w: skip_after_attempts %d < 0", ErrBadControl, req.SkipAfterAttempts)
		}
		fm = failMode{policy: p}
		if p == config.PolicySkip {
			fm.attempts = cmp0(req.SkipAfterAttempts, ts.cfg.SkipAfterAttempts, defaultSkipAttempts)
		}
	default:
		return res, fmt.Errorf("%w: unknown action %q (pause, start, remove, fail-mode)", ErrBadControl, req.Action)
	}
	if err := s.persistControl(table, paused, removed, fm); err != nil {
		return res, err
	}
	res.Persisted = true
	ts.paused.Store(paused)
	ts.removed.Store(removed)
	ts.fail.Store(&fm)
	if req.Action == ActionFailMode {
		if fs, ok := s.shipper.(FailModeSetter); ok {
			fs.SetFailMode(table, fm.policy, fm.attempts)
		} else {
			res.Note = ErrFailModeElsewhere.Error()
		}
	}
	res.State = ts.state()
	res.FailMode, res.SkipAfterAttempts = fm.policy.String(), fm.attempts
	fields := []zap.Field{zap.String("table", table), zap.String("action", req.Action), zap.String("state", res.State),
		zap.String("was_state", res.WasState), zap.String("fail_mode", res.FailMode), zap.String("by", by)}
	switch {
	case res.State == res.WasState && (req.Action == ActionPause || req.Action == ActionStart):
		s.log.Info("table pause state unchanged", fields...)
	case req.Action == ActionRemove:
		res.Note = s.dropSpool(table)
		s.log.Warn("table removed from duplication: further shipments are refused with a retryable error; "+res.Note, fields...)
	case req.Action == ActionPause:
		s.log.Info("table paused: masters get a retryable error, nothing is shipped", fields...)
	case req.Action == ActionStart:
		s.log.Info("table resumed: shipments are taken again", fields...)
	default:
		s.log.Info("table fail mode changed", append(fields, zap.Int("skip_after_attempts", fm.attempts), zap.String("note", res.Note))...)
	}
	return res, nil
}

// dropSpool discards a removed table's spool when the shipper keeps one,
// and says what happened.
func (s *Server) dropSpool(table string) string {
	sd, ok := s.shipper.(SpoolDropper)
	if !ok {
		return "no spool to drop (direct link)"
	}
	n, err := sd.DropSpool(table)
	if err != nil {
		s.log.Error("dropping the spool of a removed table", zap.String("table", table), zap.Error(err))
		return "dropping its spool failed: " + err.Error()
	}
	return fmt.Sprintf("its spool was dropped (%d bytes)", n)
}

// persistControl writes the table's new controls to the state directory.
// Called with ctlMu held.
func (s *Server) persistControl(table string, paused, removed bool, fm failMode) error {
	next := ctlstate.State{Tables: make(map[string]ctlstate.Table, len(s.ctl.Tables)+1)}
	for k, v := range s.ctl.Tables {
		next.Tables[k] = v
	}
	c := ctlstate.Table{Paused: paused, Removed: removed, Updated: time.Now().UTC()}
	if fm != s.tabs().byName[table].confFail {
		c.FailMode, c.SkipAfterAttempts = fm.policy.String(), fm.attempts
	}
	if c.Paused || c.Removed || c.FailMode != "" {
		next.Tables[table] = c
	} else {
		delete(next.Tables, table) // back to the configuration's
	}
	if err := ctlstate.Save(s.stateDir, next); err != nil {
		return fmt.Errorf("persisting the controls of table %s: %w", table, err)
	}
	s.ctl = next
	return nil
}

// cmp0 is the first of vs that is not 0.
func cmp0(vs ...int) int {
	for _, v := range vs {
		if v != 0 {
			return v
		}
	}
	return 0
}
