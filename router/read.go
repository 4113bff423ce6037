package router

import (
	"context"
	"fmt"

	"github.com/dupbridge/dupbridge/rpcclient"
)

// Read sends one client storage read (get, multi_get, sortkey_count, ttl,
// get_scanner, scan, ...) to the primary of follower partition pidx, with
// the follower's gpid in the header; cb gets the answer exactly once, on
// any goroutine (a nil response with an error wrapping ErrNoPrimary or
// ErrTransport when it could not be sent or answered). An answer that says
// the layout moved (wire.md §4.5) asks for a config refresh, as a client
// would after it. Read never blocks, and reads never wait behind the
// partition's duplicate queue: they have no order to keep with it.
func (t *Table) Read(pidx int, req *rpcclient.Request, cb func(*rpcclient.Response, error)) {
	t.mu.Lock()
	var rt route
	if pidx >= 0 && pidx < len(t.routes) {
		rt = t.routes[pidx]
	}
	appID := t.appID
	if rt.addr == "" {
		t.requestRefreshLocked()
	}
	t.mu.Unlock()
	if rt.addr == "" {
		cb(nil, fmt.Errorf("%w: read for gpid %d.%d", ErrNoPrimary, appID, pidx))
		return
	}
	r := *req
	r.AppID, r.PartitionIndex = appID, int32(pidx)
	r.ThreadHash = 0 // rpcclient derives app_id*7919+pidx (wire.md §1.6)
	if r.Timeout <= 0 {
		r.Timeout = t.opts.RPCTimeout
	}
	done := func(resp *rpcclient.Response, err error) {
		refresh := err != nil
		if err == nil && !resp.OK() {
			refresh, _ = classifyRPC(resp.Err)
		}
		if refresh {
			t.mu.Lock()
			t.requestRefreshLocked()
			t.mu.Unlock()
		}
		if err != nil {
			err = fmt.Errorf("%w: read %s to %s gpid %d.%d: %w", ErrTransport, r.RPCName, rt.addr, appID, pidx, err)
		}
		cb(resp, err)
	}
	ct, canTell := t.tr.(interface{ Connected(addr string) bool })
	if at, ok := t.tr.(AsyncTransport); ok && (!canTell || ct.Connected(rt.addr)) {
		if err := at.Go(t.ctx, rt.addr, &r, done); err != nil {
			done(nil, err)
		}
		return
	}
	// Not connected yet: dial and send on a goroutine of its own, never
	// on the caller's (a gnet event loop).
	go func() {
		ctx, cancel := context.WithTimeout(t.ctx, r.Timeout)
		defer cancel()
		done(t.tr.Call(ctx, rt.addr, &r))
	}()
}
