package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/idl/gen/meta"
	"github.com/dupbridge/dupbridge/thrift"
)

// createBody is a configuration_create_app_request as a 2.6 master meta
// sends it for a full duplication (duplication.md §1.6 step 5).
func createBody(wid int16, app string, count int32, envs map[string]string) []byte {
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, wid)
	w.FieldHeader(thrift.STRING, 1)
	w.String(app)
	w.FieldHeader(thrift.STRUCT, 2)
	w.FieldHeader(thrift.I32, 1)
	w.I32(count)
	w.FieldHeader(thrift.I32, 2)
	w.I32(3)
	w.FieldHeader(thrift.BOOL, 3)
	w.Bool(envs["success_if_exist"] == "true")
	w.FieldHeader(thrift.STRING, 4)
	w.String("pegasus")
	w.FieldHeader(thrift.BOOL, 5)
	w.Bool(true)
	w.FieldHeader(thrift.MAP, 6)
	n := 0
	for k := range envs {
		if k != "success_if_exist" {
			n++
		}
	}
	w.MapHeader(thrift.STRING, thrift.STRING, n)
	for k, v := range envs {
		if k != "success_if_exist" {
			w.String(k)
			w.String(v)
		}
	}
	w.Stop()
	w.Stop()
	w.WrapperEnd()
	return w.B
}

func fullDupEnvs(master, status string) map[string]string {
	m := map[string]string{envMasterCluster: master, envMasterMetas: "10.0.0.1:34601", envMasterAppName: "orders_src"}
	if status != "" {
		m[envFollowerAppStatus] = status
	}
	return m
}

func decodeCreate(t testing.TB, body []byte) (string, int32) {
	t.Helper()
	buf := athrift.NewTMemoryBuffer()
	buf.Write(body)
	res := meta.NewMetaCreateAppResult()
	if err := res.Read(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); err != nil || res.Success == nil {
		t.Fatalf("decode create_app response: %v %x", err, body)
	}
	return res.Success.Err.String(), res.Success.Appid
}

func TestCreateAppProtocol(t *testing.T) {
	cfg := testConfig(t, func(s string) string {
		return strings.Replace(s, "  cluster_name = B\n", "  cluster_name = B\n  full_duplication = without_checkpoint\n", 1)
	})
	cr := &fakeCreator{}
	sh := newFakeShipper(map[string]int{"orders": 4}, true)
	s := startServer(t, cfg, sh, func(o *Options) { o.Creator = cr })
	cl := dial(t, s, codec.FramingRDSN)
	id := uint64(0)
	call := func(app string, count int32, envs map[string]string) (string, int32) {
		id++
		cl.send(cl.request(id, codec.RPCCreateApp, 0, 0, createBody(0, app, count, envs)))
		f := cl.recv()
		if string(f.ErrorName) != codec.ErrorOK || f.ID != id || string(f.RPCName) != codec.RPCCreateApp+"_ACK" {
			t.Fatalf("header: %q %d %q", f.ErrorName, f.ID, f.RPCName)
		}
		return decodeCreate(t, f.Body)
	}
	steps := []struct {
		name    string
		app     string
		count   int32
		envs    map[string]string
		wantErr string
		wantID  int32
	}{
		{"unconfigured table", "nope", 8, fullDupEnvs("A", "creating"), codec.ErrorOperationDisabled, 0},
		{"bad count", "orders", 0, fullDupEnvs("A", "creating"), codec.ErrorInvalidParameters, 0},
		{"creating creates", "orders", 8, fullDupEnvs("A", "creating"), codec.ErrorOK, 5},
		{"creating again", "orders", 8, fullDupEnvs("A", "creating"), codec.ErrorOK, 5},
		{"other master", "orders", 8, fullDupEnvs("C", "creating"), codec.ErrorAppExist, 0},
		{"old master without status", "orders", 8, fullDupEnvs("A", ""), codec.ErrorAppExist, 0},
		{"created", "orders", 8, fullDupEnvs("A", "created"), codec.ErrorOK, 5},
		{"created again", "orders", 8, fullDupEnvs("A", "created"), codec.ErrorOK, 5},
		{"creating after created", "orders", 8, fullDupEnvs("A", "creating"), codec.ErrorAppExist, 0},
		{"bad status", "orders", 8, fullDupEnvs("A", "weird"), codec.ErrorInvalidParameters, 0},
	}
	for _, st := range steps {
		gotErr, gotID := call(st.app, st.count, st.envs)
		if gotErr != st.wantErr || gotID != st.wantID {
			t.Errorf("%s: got (%s, %d), want (%s, %d)", st.name, gotErr, gotID, st.wantErr, st.wantID)
		}
	}
	cr.mu.Lock()
	calls := append([]int{}, cr.calls...)
	cr.mu.Unlock()
	if len(calls) != 1 || calls[0] != 8 {
		t.Errorf("EnsureTable calls %v, want one with the master's count 8", calls)
	}
	// The health check (duplication.md §1.6 step 8) needs the master's count.
	cl.send(cl.request(100, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(0, "orders")))
	if r := decodeQueryCfg(t, cl.recv().Body); r.PartitionCount != 8 || len(r.Partitions) != 8 {
		t.Errorf("advertised after create_app: %d partitions, want 8", len(r.Partitions))
	}
	if st := s.Status(); st.Tables[0].FollowerAppStatus != statusCreated || !st.Tables[0].CreatedByMaster {
		t.Errorf("status: %+v", st.Tables[0])
	}
}

func TestCreateAppRejectsFullDuplicationWhenConfigured(t *testing.T) {
	cr := &fakeCreator{}
	cfg := testConfig(t, func(s string) string {
		return strings.Replace(s, "  cluster_name = B\n", "  cluster_name = B\n  full_duplication = reject\n", 1)
	})
	s := startServer(t, cfg, newFakeShipper(nil, true), func(o *Options) { o.Creator = cr })
	cl := dial(t, s, codec.FramingTHFT)
	cl.send(cl.request(1, codec.RPCCreateApp, 0, 0, createBody(1, "orders", 8, fullDupEnvs("A", "creating"))))
	if e, _ := decodeCreate(t, cl.recv().Body); e != codec.ErrorOperationDisabled {
		t.Fatalf("err = %s, want ERR_OPERATION_DISABLED", e)
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if len(cr.calls) != 0 {
		t.Fatalf("follower table created: %v", cr.calls)
	}
}

func TestCreateAppFollowerErrors(t *testing.T) {
	block := make(chan struct{})
	cr := &fakeCreator{block: block, err: errors.New("follower meta down")}
	s := startServer(t, testConfig(t, nil), newFakeShipper(nil, true), func(o *Options) { o.Creator = cr })
	a := dial(t, s, codec.FramingRDSN)
	b := dial(t, s, codec.FramingRDSN)
	a.send(a.request(1, codec.RPCCreateApp, 0, 0, createBody(0, "orders", 4, nil)))
	// While the first creation runs, a second request is told to wait.
	ts := s.tabs().byName["orders"]
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		ts.mu.Lock()
		creating := ts.creating
		ts.mu.Unlock()
		if creating {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first create_app never started")
		}
	}
	b.send(b.request(1, codec.RPCCreateApp, 0, 0, createBody(0, "orders", 4, nil)))
	if e, _ := decodeCreate(t, b.recv().Body); e != codec.ErrorBusyCreating {
		t.Fatalf("concurrent create: %s", e)
	}
	close(block)
	if e, _ := decodeCreate(t, a.recv().Body); e != codec.ErrorBusyCreating {
		t.Fatalf("follower failure: %s, want ERR_BUSY_CREATING (retryable)", e)
	}
	cr.mu.Lock()
	cr.err = nil
	cr.mu.Unlock()
	a.send(a.request(2, codec.RPCCreateApp, 0, 0, createBody(0, "orders", 4, nil)))
	if e, id := decodeCreate(t, a.recv().Body); e != codec.ErrorOK || id != 5 {
		t.Fatalf("retry: %s %d", e, id)
	}
	// A plain (non-duplication) create of an existing table.
	a.send(a.request(3, codec.RPCCreateApp, 0, 0, createBody(0, "orders", 4, nil)))
	if e, _ := decodeCreate(t, a.recv().Body); e != codec.ErrorAppExist {
		t.Fatalf("exists: %s", e)
	}
	a.send(a.request(4, codec.RPCCreateApp, 0, 0, createBody(0, "orders", 4, map[string]string{"success_if_exist": "true"})))
	if e, _ := decodeCreate(t, a.recv().Body); e != codec.ErrorOK {
		t.Fatalf("success_if_exist: %s", e)
	}
}

func TestCreateAppWithoutCreator(t *testing.T) {
	s := startServer(t, testConfig(t, nil), newFakeShipper(nil, true), nil)
	cl := dial(t, s, codec.FramingRDSN)
	cl.send(cl.request(1, codec.RPCCreateApp, 0, 0, createBody(0, "orders", 4, nil)))
	if e, _ := decodeCreate(t, cl.recv().Body); e != codec.ErrorOperationDisabled {
		t.Fatalf("err = %s", e)
	}
}
