package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
)

// fakeLoader is a CheckpointLoader whose loads wait for release (closed:
// pass at once) and then fail with the next of errs, or succeed.
type fakeLoader struct {
	mu      sync.Mutex
	jobs    []*LoadJob
	release chan struct{}
	errs    []error
}

func (f *fakeLoader) LoadCheckpoint(ctx context.Context, job *LoadJob) error {
	f.mu.Lock()
	f.jobs = append(f.jobs, job)
	rel := f.release
	f.mu.Unlock()
	select {
	case <-rel:
	case <-ctx.Done():
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return err
	}
	return nil
}

func (f *fakeLoader) calls() []*LoadJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*LoadJob{}, f.jobs...)
}

func released() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

type createCaller struct {
	t  *testing.T
	cl *client
	id uint64
}

func (c *createCaller) create(status string) string {
	c.id++
	c.cl.send(c.cl.request(c.id, codec.RPCCreateApp, 0, 0, createBody(0, "orders", 8, fullDupEnvs("A", status))))
	e, _ := decodeCreate(c.t, c.cl.recv().Body)
	return e
}

func (c *createCaller) queryCfg() (string, int) {
	c.id++
	c.cl.send(c.cl.request(c.id, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(0, "orders")))
	r := decodeQueryCfg(c.t, c.cl.recv().Body)
	return r.Err.String(), len(r.Partitions)
}

func waitLoad(t *testing.T, s *Server, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got := s.Status().Tables[0].CheckpointLoad
		if strings.HasPrefix(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint_load = %q, want %q", got, want)
		}
	}
}

// With full_duplication = load (the default) the bridge answers "creating"
// at once, "created" with ERR_BUSY_CREATING until the checkpoint is loaded,
// and only then ERR_OK; the health check sees the master's count only then.
func TestCreateAppLoadsCheckpointBeforeCreated(t *testing.T) {
	cfg := testConfig(t, nil)
	ld := &fakeLoader{release: make(chan struct{})}
	cr := &fakeCreator{}
	s, _ := runStoppable(t, Options{Config: cfg, Shipper: newFakeShipper(map[string]int{"orders": 32}, true), Creator: cr, Loader: ld})
	c := &createCaller{t: t, cl: dial(t, s, codec.FramingRDSN)}
	steps := []struct {
		name, status, want string
	}{
		{"creating creates and starts the load", statusCreating, codec.ErrorOK},
		{"creating again", statusCreating, codec.ErrorOK},
		{"created while loading", statusCreated, codec.ErrorBusyCreating},
		{"created again while loading", statusCreated, codec.ErrorBusyCreating},
	}
	for _, st := range steps {
		if got := c.create(st.status); got != st.want {
			t.Fatalf("%s: %s, want %s", st.name, got, st.want)
		}
	}
	waitLoad(t, s, "running")
	close(ld.release)
	waitLoad(t, s, "done")
	if got := c.create(statusCreated); got != codec.ErrorOK {
		t.Fatalf("created after the load: %s", got)
	}
	if e, n := c.queryCfg(); e != codec.ErrorOK || n != 8 {
		t.Fatalf("health check: %s with %d partitions, want 8", e, n)
	}
	if got := c.create(statusCreating); got != codec.ErrorAppExist {
		t.Fatalf("creating after created: %s", got)
	}
	jobs := ld.calls()
	if len(jobs) != 1 {
		t.Fatalf("%d load jobs, want 1", len(jobs))
	}
	j := jobs[0]
	if j.MasterTable != "orders_src" || j.MasterClusterID != 1 || len(j.MasterMetas) != 1 || j.MasterMetas[0] != "10.0.0.1:34601" ||
		j.Dir != filepath.Join(cfg.Bridge.StateDir, "checkpoints", "orders") || j.Admit == nil || j.Lock == nil ||
		!j.AllowClusterID(1) || j.AllowClusterID(3) {
		t.Fatalf("job %+v", j)
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if len(cr.calls) != 1 {
		t.Fatalf("EnsureTable calls %v", cr.calls)
	}
}

// A bridge restarted during the load keeps its create_app state and resumes
// the load; it never answers "created" before the load is done.
func TestCreateAppLoadSurvivesRestart(t *testing.T) {
	cfg := testConfig(t, nil)
	cr := &fakeCreator{}
	ld1 := &fakeLoader{release: make(chan struct{})} // never finishes
	s1, stop1 := runStoppable(t, Options{Config: cfg, Shipper: newFakeShipper(map[string]int{"orders": 32}, true), Creator: cr, Loader: ld1})
	c1 := &createCaller{t: t, cl: dial(t, s1, codec.FramingRDSN)}
	if got := c1.create(statusCreating); got != codec.ErrorOK {
		t.Fatal(got)
	}
	waitLoad(t, s1, "running")
	stop1()
	if _, err := os.Stat(filepath.Join(cfg.Bridge.StateDir, "create", "orders.json")); err != nil {
		t.Fatalf("no persisted state: %v", err)
	}

	ld2 := &fakeLoader{release: make(chan struct{}), errs: []error{errors.New("master vanished")}}
	s2, _ := runStoppable(t, Options{Config: cfg, Shipper: newFakeShipper(map[string]int{"orders": 32}, true), Creator: cr, Loader: ld2})
	c2 := &createCaller{t: t, cl: dial(t, s2, codec.FramingTHFT)}
	if got := c2.create(statusCreated); got != codec.ErrorBusyCreating {
		t.Fatalf("created right after the restart: %s", got)
	}
	close(ld2.release)
	waitLoad(t, s2, "retrying: master vanished")
	if got := c2.create(statusCreated); got != codec.ErrorBusyCreating {
		t.Fatalf("created after a failed load: %s", got)
	}
	waitLoad(t, s2, "done") // after the retry's backoff
	if got := c2.create(statusCreated); got != codec.ErrorOK {
		t.Fatalf("created after the resumed load: %s", got)
	}
	if got := c2.create(statusCreating); got != codec.ErrorAppExist {
		t.Fatalf("creating after created: %s", got)
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if len(cr.calls) != 1 {
		t.Fatalf("EnsureTable calls %v: the restarted bridge forgot the table", cr.calls)
	}
	if n := len(ld2.calls()); n != 2 {
		t.Fatalf("restarted bridge ran %d loads, want 2 (one failure, one retry)", n)
	}
	// A third start finds everything done: no load runs.
	ld3 := &fakeLoader{release: make(chan struct{})}
	s3, _ := runStoppable(t, Options{Config: cfg, Shipper: newFakeShipper(map[string]int{"orders": 32}, true), Creator: cr, Loader: ld3})
	c3 := &createCaller{t: t, cl: dial(t, s3, codec.FramingRDSN)}
	if got := c3.create(statusCreated); got != codec.ErrorOK || len(ld3.calls()) != 0 {
		t.Fatalf("third start: %s, %d loads", got, len(ld3.calls()))
	}
}

// Concurrent "creating" requests create the table and start the load once.
func TestCreateAppLoadConcurrentRequests(t *testing.T) {
	cfg := testConfig(t, nil)
	ld := &fakeLoader{release: released()}
	cr := &fakeCreator{block: make(chan struct{})}
	s, _ := runStoppable(t, Options{Config: cfg, Shipper: newFakeShipper(map[string]int{"orders": 32}, true), Creator: cr, Loader: ld})
	callers := make([]*createCaller, 4)
	for i := range callers {
		callers[i] = &createCaller{t: t, cl: dial(t, s, codec.FramingRDSN)}
	}
	first := make(chan string, 1)
	go func() { first <- callers[0].create(statusCreating) }()
	for deadline := time.Now().Add(5 * time.Second); !s.tabs().byName["orders"].isCreating(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("create never started")
		}
	}
	for _, c := range callers[1:] {
		if got := c.create(statusCreating); got != codec.ErrorBusyCreating {
			t.Fatalf("concurrent creating: %s", got)
		}
	}
	close(cr.block)
	if got := <-first; got != codec.ErrorOK {
		t.Fatalf("first creating: %s", got)
	}
	waitLoad(t, s, "done")
	for _, c := range callers {
		if got := c.create(statusCreated); got != codec.ErrorOK {
			t.Fatalf("created: %s", got)
		}
	}
	if n := len(ld.calls()); n != 1 {
		t.Fatalf("%d loads", n)
	}
}

func (ts *tableState) isCreating() bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.creating
}

func TestCreateAppLoadRefusals(t *testing.T) {
	cases := []struct {
		name   string
		master string
		opts   func(*Options)
		want   string
	}{
		{"master not in duplication-group", "Z", nil, codec.ErrorOperationDisabled},
		{"no loader", "A", func(o *Options) { o.Loader = nil }, codec.ErrorOperationDisabled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Config: testConfig(t, nil), Shipper: newFakeShipper(nil, true), Creator: &fakeCreator{}, Loader: &fakeLoader{release: released()}}
			if tc.opts != nil {
				tc.opts(&o)
			}
			s, _ := runStoppable(t, o)
			cl := dial(t, s, codec.FramingRDSN)
			cl.send(cl.request(1, codec.RPCCreateApp, 0, 0, createBody(0, "orders", 8, fullDupEnvs(tc.master, statusCreating))))
			if e, _ := decodeCreate(t, cl.recv().Body); e != tc.want {
				t.Fatalf("got %s, want %s", e, tc.want)
			}
		})
	}
}
