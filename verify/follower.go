package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/rpcclient"
	"github.com/dupbridge/dupbridge/thrift"
)

// ErrNotServingReads: the follower's primaries answer reads with
// ERR_HANDLER_NOT_FOUND (Follower's error wraps it).
var ErrNotServingReads = errors.New("verify: the follower does not serve reads")

// Report is the outcome of a check.
type Report struct {
	Checked    int      // keys read back
	Matched    int      // keys whose value was as expected
	Problems   []string // first problems found (at most MaxProblems)
	Mismatches int      // keys wrong, missing or unreadable
	Elapsed    time.Duration
}

// OK reports whether every key matched.
func (r *Report) OK() bool { return r.Mismatches == 0 && r.Checked == r.Matched }

// MaxProblems bounds Report.Problems.
const MaxProblems = 20

// Options configure Follower.
type Options struct {
	// Parallel requests in flight (0: 64).
	Parallel int
	// Timeout of each GET (0: 10 s).
	Timeout time.Duration
	// NowUnix is the current Unix time for expiry (0: time.Now()).
	NowUnix int64
}

// Follower reads every key of st from the follower table through the
// follower's own routing and compares values. Expired expected values must
// read as absent (storage.md §4.3).
func Follower(ctx context.Context, metas []string, table string, st *State, o Options) (*Report, error) {
	if o.Parallel <= 0 {
		o.Parallel = 64
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	now := o.NowUnix
	if now == 0 {
		now = time.Now().Unix()
	}
	start := time.Now()
	meta, err := rpcclient.NewMeta(metas, rpcclient.MetaOptions{})
	if err != nil {
		return nil, fmt.Errorf("verify: meta %v: %w", metas, err)
	}
	defer meta.Close()
	cfg, err := meta.QueryConfig(ctx, table, nil)
	if err != nil {
		return nil, fmt.Errorf("verify: query config of %s: %w", table, err)
	}
	// Keys are routed by index into the partition list: a count that does
	// not match it cannot be routed (wire.md §6.2).
	if n := cfg.PartitionCount; n <= 0 || int(n) != len(cfg.Partitions) {
		return nil, fmt.Errorf("verify: table %s: partition count %d but %d partition configs", table, n, len(cfg.Partitions))
	}
	pool := map[string]*rpcclient.Conn{}
	defer func() {
		for _, c := range pool {
			c.Close()
		}
	}()
	conns := make([]*rpcclient.Conn, len(cfg.Partitions))
	for i, p := range cfg.Partitions {
		addr := p.Primary
		if pool[addr] == nil {
			pool[addr] = rpcclient.NewConn(addr, rpcclient.Options{})
		}
		conns[i] = pool[addr]
	}

	rep := &Report{}
	var mu sync.Mutex
	note := func(ok bool, problem string) {
		mu.Lock()
		defer mu.Unlock()
		rep.Checked++
		if ok {
			rep.Matched++
			return
		}
		rep.Mismatches++
		if len(rep.Problems) < MaxProblems {
			rep.Problems = append(rep.Problems, problem)
		}
	}
	// A server that does not handle reads at all (a dupbridge, whose port
	// answers unknown RPCs ERR_HANDLER_NOT_FOUND) fails every key the same
	// way: stop at the first and say so, instead of "N keys differ".
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var fatalOnce sync.Once
	var fatal error
	keys := st.Sorted()
	work := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < o.Parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body []byte
			for k := range work {
				raw := []byte(k)
				want := st.Keys[k]
				hash := mutation.KeyHash(raw)
				pidx := mutation.PartitionIndex(hash, int(cfg.PartitionCount))
				body = appendGet(body[:0], raw)
				cctx, cancel := context.WithTimeout(ctx, o.Timeout)
				resp, err := conns[pidx].Call(cctx, &rpcclient.Request{
					RPCName: codec.RPCGet, AppID: cfg.AppID, PartitionIndex: int32(pidx),
					PartitionHash: hash, Body: body,
				})
				cancel()
				if err == nil && resp.Err == codec.ErrorHandlerNotFound {
					fatalOnce.Do(func() {
						fatal = fmt.Errorf("%w: %s (partition %d primary of %s) answers %s %s: it does not serve reads; "+
							"is it a dupbridge? point --follower at the real follower cluster's meta servers",
							ErrNotServingReads, conns[pidx].Addr(), pidx, table, codec.RPCGet, resp.Err)
						stop()
					})
					return
				}
				if err == nil && !resp.OK() {
					err = fmt.Errorf("RPC error %s", resp.Err)
				}
				var got []byte
				var found bool
				if err == nil {
					got, found, err = parseReadResponse(resp.Body)
				}
				expired := mutation.Expired(uint32(want.ExpireTs), now)
				switch {
				case err != nil:
					note(false, fmt.Sprintf("key %s (partition %d): %v", show(raw), pidx, err))
				case expired && found:
					note(false, fmt.Sprintf("key %s (partition %d): expired value still readable", show(raw), pidx))
				case expired:
					note(true, "")
				case !found:
					note(false, fmt.Sprintf("key %s (partition %d): missing", show(raw), pidx))
				case !bytes.Equal(got, want.Value):
					note(false, fmt.Sprintf("key %s (partition %d): value %q, want %q", show(raw), pidx, trunc(got), trunc(want.Value)))
				default:
					note(true, "")
				}
			}
		}()
	}
	for _, k := range keys {
		select {
		case work <- k:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	rep.Elapsed = time.Since(start)
	if fatal != nil {
		return rep, fatal
	}
	return rep, ctx.Err()
}

// appendGet builds the body of RPC_RRDB_RRDB_GET: the wrapped blob key
// (wire.md §1.9, §4.4).
func appendGet(dst, rawKey []byte) []byte {
	w := thrift.Writer{B: dst}
	w.WrapperBegin(thrift.STRUCT, 0)
	w.Blob(rawKey)
	w.WrapperEnd()
	return w.B
}

// parseReadResponse reads a wrapped read_response: field 1 error (i32,
// 0 OK, 1 NotFound), field 2 value (blob) (wire.md §4.4).
func parseReadResponse(body []byte) (value []byte, found bool, err error) {
	r := thrift.NewReader(body)
	if _, _, err = r.ReadWrapperBegin(); err != nil {
		return nil, false, err
	}
	var status int32
	err = r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.I32:
			status, err = r.ReadI32()
		case id == 2 && t == thrift.STRUCT:
			value, err = r.ReadBlob()
		default:
			return false, nil // server (6) and app/partition ids
		}
		return true, err
	})
	if err != nil {
		return nil, false, err
	}
	switch status {
	case 0:
		return value, true, nil
	case 1:
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("read_response error %d", status)
}

func show(raw []byte) string {
	hk, sk, err := mutation.SplitRawKey(raw)
	if err != nil {
		return fmt.Sprintf("%x", raw)
	}
	return fmt.Sprintf("%q/%q", hk, sk)
}

func trunc(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}
