package integration

import (
	"context"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/mutation"
)

// The bridge's per-key order memory (keyorder) does not survive a restart:
// an older write of a key that reaches a new bridge after a newer one went
// through the old bridge is forwarded. With verify_timetag the follower
// itself keeps the newer value (duplication.md §4.4); without it the older
// write wins, which is what Pegasus's own followers do.
func TestVerifyTimetagAcrossBridgeRestart(t *testing.T) {
	for _, verify := range []bool{false, true} {
		name := map[bool]string{false: "without", true: "with"}[verify]
		t.Run(name, func(t *testing.T) {
			env := start(t, localcluster.Options{FollowerPartitions: 8, Strict: true, VerifyTimetag: verify})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			send := func(value string, ts int64) {
				t.Helper()
				e := goodPut("k", ts)
				e.RawMessage = mutation.AppendPut(nil, 0, mutation.AppendRawKey(nil, []byte("k"), []byte("s")), []byte(value), 0)
				call, _ := dupCaller(t, ctx, env)
				resp, err := call(dupRequestBody(e))
				if err != nil || !resp.OK() {
					t.Fatalf("duplicate: %v %+v", err, resp)
				}
				if r, err := mutation.ParseDupResponse(resp.Body); err != nil || r.Error != 0 {
					t.Fatalf("duplicate answered %+v %v", r, err)
				}
			}
			send("new", 2_000_000)
			if err := env.RestartBridge(ctx); err != nil {
				t.Fatal(err)
			}
			send("old", 1_000_000) // a master's resend of an older write
			rec, ok, err := env.Sim.Get(env.Opts.Table, []byte("k"), []byte("s"))
			if err != nil || !ok {
				t.Fatalf("k/s: present %v, %v", ok, err)
			}
			want := "old"
			if verify {
				want = "new"
			}
			if string(rec.Value) != want {
				t.Fatalf("follower holds %q, want %q", rec.Value, want)
			}
			if ts, _, _ := mutation.SplitTimetag(rec.Timetag); verify && ts != 2_000_000 {
				t.Fatalf("timetag timestamp %d, want the newer write's", ts)
			}
		})
	}
}
