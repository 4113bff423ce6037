package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/rpcclient"
)

func goodPut(hk string, ts int64) mutation.DupEntry {
	raw := mutation.AppendPut(nil, 0, mutation.AppendRawKey(nil, []byte(hk), []byte("s")), []byte("v"), 0)
	return mutation.DupEntry{Timestamp: ts, TaskCode: []byte(codec.RPCPut), RawMessage: raw,
		ClusterID: localcluster.MasterClusterID, HasClusterID: true}
}

func dupRequestBody(es ...mutation.DupEntry) []byte {
	var w mutation.DupRequestWriter
	w.Begin(nil, 0)
	for i := range es {
		w.AppendEntry(&es[i])
	}
	return w.Finish()
}

// dupCaller connects to the bridge as a master replica server does and
// returns a function that sends one duplicate request body to partition 0
// of the table, and the table's app id the bridge advertises; the
// connections close with the test.
func dupCaller(t *testing.T, ctx context.Context, env *localcluster.Env) (call func(body []byte) (*rpcclient.Response, error), appID int32) {
	t.Helper()
	conn := rpcclient.NewConn(env.BridgeAddr, rpcclient.Options{})
	t.Cleanup(func() { conn.Close() })
	meta, err := rpcclient.NewMeta([]string{env.BridgeAddr}, rpcclient.MetaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	cfg, err := meta.QueryConfig(ctx, env.Opts.Table, nil)
	if err != nil {
		t.Fatal(err)
	}
	return func(body []byte) (*rpcclient.Response, error) {
		return conn.Call(ctx, &rpcclient.Request{RPCName: codec.RPCDuplicate, AppID: cfg.AppID,
			PartitionIndex: 0, Body: body, ForwardSupported: true})
	}, cfg.AppID
}

// Bad input from a master: every bad request is answered with a
// Pegasus-style retryable error (never error 4, which aborts a master's
// replica server), and nothing of it reaches the follower, not even its
// good entries; an oversized frame closes only its own connection.
func TestBadInputToBridge(t *testing.T) {
	env := start(t, localcluster.Options{FollowerPartitions: 8, Strict: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call, appID := dupCaller(t, ctx, env)

	foreign := goodPut("f", 10)
	foreign.ClusterID = 77
	own := goodPut("o", 11)
	own.ClusterID = localcluster.FollowerClusterID
	noID := goodPut("n", 12)
	noID.HasClusterID = false
	incr := goodPut("i", 13)
	incr.TaskCode = []byte(codec.RPCIncr)
	incr.RawMessage = mutation.AppendIncr(nil, 0, &mutation.IncrRequest{Key: mutation.AppendRawKey(nil, []byte("i"), []byte("s")), Increment: 1})
	unknown := goodPut("u", 14)
	unknown.TaskCode = []byte("RPC_NOT_A_WRITE")
	truncated := goodPut("t", 15)
	truncated.RawMessage = truncated.RawMessage[:len(truncated.RawMessage)-5]
	garbage := goodPut("g", 16)
	garbage.RawMessage = []byte{0x0c, 0x00, 0x00, 0x0f, 0xff}

	cases := []struct {
		name string
		bad  mutation.DupEntry
	}{
		{"foreign cluster id", foreign},
		{"follower's own cluster id", own},
		{"no cluster id", noID},
		{"non-idempotent task code", incr},
		{"unknown task code", unknown},
		{"truncated raw message", truncated},
		{"garbage raw message", garbage},
	}
	before := env.Sim.Counters().DupEntriesApplied
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A good entry first: it must not be forwarded either.
			resp, err := call(dupRequestBody(goodPut("good", int64(100+i)), c.bad))
			if err != nil {
				t.Fatal(err)
			}
			if resp.OK() {
				r, err := mutation.ParseDupResponse(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if r.Error == 0 || r.Error == 4 {
					t.Fatalf("answered error %d (%s); want a retryable non-zero error, never 4", r.Error, r.ErrorHint)
				}
				t.Logf("answered error %d: %s", r.Error, r.ErrorHint)
			} else {
				t.Logf("answered RPC-level %s", resp.Err)
			}
		})
	}
	// A body that is not a duplicate_request at all.
	if resp, err := call([]byte{0x0c, 0x00, 0x00, 0x0f, 0x00, 0x01, 0x0c, 0x7f, 0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	} else if resp.OK() {
		if r, err := mutation.ParseDupResponse(resp.Body); err != nil || r.Error == 0 || r.Error == 4 {
			t.Fatalf("malformed request answered %+v %v", r, err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if got := env.Sim.Counters().DupEntriesApplied; got != before {
		t.Fatalf("the follower applied %d entries of rejected requests", got-before)
	}

	// An oversized frame: its connection is closed; another connection is
	// served as before.
	raw, err := net.Dial("tcp", env.BridgeAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	hdr := codec.AppendRequest(nil, codec.FramingRDSN, &codec.RequestHeader{ID: 1, RPCName: codec.RPCDuplicate,
		AppID: appID, Context: codec.ContextCppRequest}, nil)
	binary.LittleEndian.PutUint32(hdr[16:], 1<<30) // body_length 1 GiB, over any frame limit
	if _, err := raw.Write(hdr); err != nil {
		t.Fatal(err)
	}
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := raw.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("oversized frame: connection not closed (%v)", err)
	}
	resp, err := call(dupRequestBody(goodPut("after", 500)))
	if err != nil || !resp.OK() {
		t.Fatalf("a good request after the bad connection: %v %+v", err, resp)
	}
	if r, _ := mutation.ParseDupResponse(resp.Body); r.Error != 0 {
		t.Fatalf("good request answered %+v", r)
	}
	if got := env.Sim.Counters().DupEntriesApplied; got != before+1 {
		t.Fatalf("follower applied %d entries, want exactly the good request's 1", got-before)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}
