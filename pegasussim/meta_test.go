package pegasussim

import (
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/thrift"
)

type createReq struct {
	name           string
	partitions     int32
	replicas       int32
	successIfExist bool
	envs           map[string]string
}

func createAppArgs(wid int16, q createReq) []byte {
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, wid)
	w.FieldHeader(thrift.STRING, 1)
	w.String(q.name)
	w.FieldHeader(thrift.STRUCT, 2)
	fI32(&w, 1, q.partitions)
	fI32(&w, 2, q.replicas)
	fBool(&w, 3, q.successIfExist)
	fString(&w, 4, "pegasus")
	fBool(&w, 5, true)
	keys := make([]string, 0, len(q.envs))
	for k := range q.envs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.FieldHeader(thrift.MAP, 6)
	w.MapHeader(thrift.STRING, thrift.STRING, len(keys))
	for _, k := range keys {
		w.String(k)
		w.String(q.envs[k])
	}
	w.Stop()
	return endResult(&w)
}

func dupEnvs(master, status string) map[string]string {
	m := map[string]string{"duplication.master_metas": "127.0.0.1:34601"}
	if master != "" {
		m[envMasterCluster] = master
	}
	if status != "" {
		m[envFollowerAppStatus] = status
	}
	return m
}

// TestCreateAppFollowerProtocol walks the creating/created exchange of a
// full duplication as a C++ follower meta answers it (wire.md §4.2,
// duplication.md §1.6 step 6).
func TestCreateAppFollowerProtocol(t *testing.T) {
	c := startSim(t, Options{Replicas: 3, Tables: []TableSpec{{Name: "plain", Partitions: 4}, {Name: "nostatus", Partitions: 4, Envs: dupEnvs("A", "")}}})
	cn := dial(t, c.MetaAddr(), codec.FramingRDSN)
	create := func(q createReq) (string, int32) {
		r := cn.call(rpcCreateApp, 0, 0, 0, createAppArgs(0, q))
		if r.errName != codec.ErrorOK {
			t.Fatalf("create %s: RPC error %s", q.name, r.errName)
		}
		f := parseResult(t, r.body, map[int16]int{1: kErrorCode, 2: kI32})
		return f[1].(string), f[2].(int32)
	}
	steps := []struct {
		name string
		q    createReq
		want string
	}{
		{"creating creates the table", createReq{"f", 8, 3, false, dupEnvs("A", followerCreating)}, codec.ErrorOK},
		{"creating again is idempotent", createReq{"f", 8, 3, false, dupEnvs("A", followerCreating)}, codec.ErrorOK},
		{"other master cluster", createReq{"f", 8, 3, false, dupEnvs("B", followerCreating)}, codec.ErrorAppExist},
		{"old master without status", createReq{"f", 8, 3, false, dupEnvs("A", "")}, codec.ErrorAppExist},
		{"bogus status", createReq{"f", 8, 3, false, dupEnvs("A", "bogus")}, codec.ErrorInvalidParameters},
		{"created persists created", createReq{"f", 8, 3, false, dupEnvs("A", followerCreated)}, codec.ErrorOK},
		{"created again", createReq{"f", 8, 3, false, dupEnvs("A", followerCreated)}, codec.ErrorOK},
		{"creating after created", createReq{"f", 8, 3, false, dupEnvs("A", followerCreating)}, codec.ErrorAppExist},
		{"plain existing table", createReq{"plain", 4, 3, false, nil}, codec.ErrorAppExist},
		{"dup request on a table without master env", createReq{"plain", 4, 3, false, dupEnvs("A", followerCreating)}, codec.ErrorAppExist},
		{"table without status env", createReq{"nostatus", 4, 3, false, dupEnvs("A", followerCreating)}, codec.ErrorInvalidState},
		{"success_if_exist, same options", createReq{"plain", 4, 3, true, nil}, codec.ErrorOK},
		{"success_if_exist, other partition count", createReq{"plain", 8, 3, true, nil}, codec.ErrorInvalidParameters},
		{"zero partitions", createReq{"z", 0, 3, false, nil}, codec.ErrorInvalidParameters},
		{"bad replica count", createReq{"z", 4, 0, false, nil}, codec.ErrorInvalidParameters},
		{"more replicas than replica servers", createReq{"z", 4, 4, false, nil}, codec.ErrorInvalidParameters},
		{"success_if_exist, other envs", createReq{"plain", 4, 3, true, map[string]string{"x": "y"}}, codec.ErrorInvalidParameters},
	}
	var fID int32
	for _, s := range steps {
		got, id := create(s.q)
		if got != s.want {
			t.Fatalf("%s: %s, want %s", s.name, got, s.want)
		}
		if s.q.name == "f" && got == codec.ErrorOK {
			if fID == 0 {
				fID = id
			} else if id != fID {
				t.Fatalf("%s: app id %d changed from %d", s.name, id, fID)
			}
		}
	}
	if tb := c.mustTable(t, "f"); tb.envs[envFollowerAppStatus] != followerCreated || tb.envs["duplication.master_metas"] == "" {
		t.Fatalf("envs %v", tb.envs)
	}
	// The master's health check: 8 partitions, a primary each, secondaries
	// when max_replica_count > 1 (duplication.md §1.6 step 8).
	q := decodeQueryCfgResp(t, cn.call(rpcQueryConfig, 0, 0, 0, queryCfgArgs(0, "f")).body)
	if q.appID != fID || len(q.parts) != 8 {
		t.Fatalf("query: %+v", q)
	}
	for _, p := range q.parts {
		if p.primary == 0 || p.hpPrimary == "" || int(p.maxReplicas) > 1+len(p.secondaries) || (p.maxReplicas > 1 && len(p.secondaries) == 0) {
			t.Fatalf("partition %+v", p)
		}
	}
}

type appInfo struct {
	status int32
	name   string
	appID  int32
	count  int32
	envs   map[string]string
}

func listApps(t *testing.T, cn *tconn, status int32, pattern string, match int32) (string, []appInfo) {
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, cn.wrapperID())
	fI32(&w, 1, status)
	if match != 0 {
		fString(&w, 2, pattern)
		fI32(&w, 3, match)
	}
	r := cn.call(rpcListApps, 0, 0, 0, endResult(&w))
	var errName string
	var out []appInfo
	err := unwrapStruct(r.body, "list_apps_response", func(r *thrift.Reader, typ thrift.Type, id int16) (bool, error) {
		switch id {
		case 1:
			b, err := r.ReadString()
			errName = string(b)
			return true, err
		case 2:
			return true, readList(r, func(r *thrift.Reader) error {
				var a appInfo
				err := r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
					var err error
					switch id {
					case 1:
						a.status, err = r.ReadI32()
					case 3:
						var b []byte
						b, err = r.ReadString()
						a.name = string(b)
					case 4:
						a.appID, err = r.ReadI32()
					case 5:
						a.count, err = r.ReadI32()
					case 6:
						a.envs, err = readStringMap(r)
					default:
						return false, nil
					}
					return true, err
				})
				out = append(out, a)
				return err
			})
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("list_apps_response: %v", err)
	}
	return errName, out
}

func TestListAndDropApps(t *testing.T) {
	c := startSim(t, Options{Replicas: 2, Tables: []TableSpec{
		{Name: "alpha", Partitions: 4, Envs: map[string]string{"k": "v"}}, {Name: "beta", Partitions: 8}, {Name: "alphabet", Partitions: 2}}})
	cn := dial(t, c.MetaAddr(), codec.FramingTHFT)
	names := func(apps []appInfo) (s string) {
		for _, a := range apps {
			s += fmt.Sprintf("%s/%d/%d ", a.name, a.appID, a.count)
		}
		return s
	}
	for _, tc := range []struct {
		status  int32
		pattern string
		match   int32
		want    string
	}{
		{0, "", 0, "alpha/1/4 beta/2/8 alphabet/3/2 "},
		{0, "alpha", pmtMatchExact, "alpha/1/4 "},
		{0, "alpha", pmtMatchPrefix, "alpha/1/4 alphabet/3/2 "},
		{0, "ta", pmtMatchAnywhere, "beta/2/8 "},
		{0, "^b.*a$", pmtMatchRegex, "beta/2/8 "},
		{asDropped, "", 0, ""},
	} {
		if e, apps := listApps(t, cn, tc.status, tc.pattern, tc.match); e != codec.ErrorOK || names(apps) != tc.want {
			t.Fatalf("list %v: %s %q, want %q", tc, e, names(apps), tc.want)
		}
	}
	if _, apps := listApps(t, cn, 0, "alpha", pmtMatchExact); apps[0].envs["k"] != "v" || apps[0].status != asAvailable {
		t.Fatalf("app_info %+v", apps[0])
	}
	drop := func(name string, ok bool) string {
		w := thrift.Writer{}
		w.WrapperBegin(thrift.STRUCT, 1)
		fString(&w, 1, name)
		w.FieldHeader(thrift.STRUCT, 2)
		fBool(&w, 1, ok)
		w.Stop()
		return parseResult(t, cn.call(rpcDropApp, 0, 0, 0, endResult(&w)).body, map[int16]int{1: kErrorCode})[1].(string)
	}
	if e := drop("beta", false); e != codec.ErrorOK {
		t.Fatalf("drop: %s", e)
	}
	if e := drop("beta", false); e != codec.ErrorAppNotExist {
		t.Fatalf("drop twice: %s", e)
	}
	if e := drop("beta", true); e != codec.ErrorOK {
		t.Fatalf("drop with success_if_not_exist: %s", e)
	}
	if _, apps := listApps(t, cn, asDropped, "", 0); names(apps) != "beta/2/8 " {
		t.Fatalf("dropped list %q", names(apps))
	}
	q := decodeQueryCfgResp(t, cn.call(rpcQueryConfig, 0, 0, 0, queryCfgArgs(1, "beta")).body)
	if q.err != codec.ErrorObjectNotFound {
		t.Fatalf("dropped table queried: %s", q.err)
	}
	// Its replicas no longer host it.
	r := dial(t, c.ReplicaAddrs()[0], codec.FramingRDSN).call(rpcGet, 2, 0, 0, blobArg(0, key("a", "b")))
	if r.errName != codec.ErrorObjectNotFound {
		t.Fatalf("get on a dropped table: %s", r.errName)
	}
}

// TestConcurrentClients writes from many connections at once (run with
// -race) and checks that nothing is lost.
func TestConcurrentClients(t *testing.T) {
	c := startSim(t, Options{Replicas: 3, ClusterID: 2, DupGroup: map[string]uint8{"m": 1, "f": 2},
		Tables: []TableSpec{{Name: "t", Partitions: 8}}})
	tb := c.mustTable(t, "t")
	n := 200
	if testing.Short() {
		n = 50
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns := map[string]*tconn{}
			for i := 0; i < n; i++ {
				k := key(fmt.Sprintf("w%d-%d", w, i), "s")
				p := pidxOf(k, 8)
				addr := c.replicas[tb.configs[p].primary].hostPort
				cn := conns[addr]
				if cn == nil {
					cn = dial(t, addr, codec.FramingRDSN)
					conns[addr] = cn
				}
				body, _ := mutation.AppendDuplicate(nil, 0, &mutation.DuplicateRequest{Entries: []mutation.DupEntry{dupEnt(int64(i), rpcPut, mutation.AppendPut(nil, 0, k, []byte("v"), 0), 1, false)}})
				if r := cn.call(rpcDuplicate, tb.appID, p, keyHash(k), body); r.errName != codec.ErrorOK {
					t.Errorf("dup: %s", r.errName)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // a reader at the same time (waited for: it must not outlive the test)
		defer wg.Done()
		for i := 0; i < 20; i++ {
			c.Counters()
			c.Dump("t")
		}
	}()
	wg.Wait()
	recs, _ := c.Dump("t")
	bad, _ := c.CheckPlacement("t")
	if applied := c.Counters().DupEntriesApplied; len(recs) != 4*n || len(bad) != 0 || applied != int64(4*n) {
		t.Fatalf("%d records, %d misplaced, %d entries applied; want %d, 0, %d", len(recs), len(bad), applied, 4*n, 4*n)
	}
}
