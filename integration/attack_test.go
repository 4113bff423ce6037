package integration

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/thrift"
	"github.com/dupbridge/dupbridge/walwriter"
)

// Issue 8's attacks, all at once, on loopback, while a 100,000-mutation
// replay goes through the bridge into the simulator: every key must be
// verified afterwards and the bridge must still serve. Each attack is
// bounded in count and time. Attackers dial from their own loopback
// addresses (127.0.0.2-6) so that per-peer limits apply to them and not to
// the replay (127.0.0.1); the outsider dials from 127.0.0.9, outside
// allowed_peers.
func TestAttacksDuringReplay(t *testing.T) {
	n, attempts, slow, huge := 100_000, 30_000, 2_000, 60
	if testing.Short() {
		n, attempts, slow, huge = 20_000, 3_000, 200, 10
	}
	paths, parts := generate(t, walwriter.GenOptions{
		AppID: 3, Partitions: 8, Mutations: n, Seed: 8, FinalEmpty: true,
		HashKeys: 5_000, SortKeys: 8, ValueMin: 8, ValueMax: 300,
	})
	env := start(t, localcluster.Options{FollowerPartitions: 16, Strict: true, MaxInflightBytes: 64 << 20,
		BridgeKeys: "allowed_peers = 127.0.0.0/29\nframe_timeout = 2s\nidle_timeout = 3s\nmax_connections_per_peer = 2500\n"})
	addr := env.BridgeAddr

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	replayed := make(chan error, 1)
	var sum replay.Summary
	go func() {
		var err error
		sum, err = env.Replay(ctx, paths, replay.Options{})
		replayed <- err
	}()

	// Every attack stops at its count or at this deadline.
	attackCtx, stopAttacks := context.WithTimeout(ctx, 40*time.Second)
	defer stopAttacks()
	var wg sync.WaitGroup
	run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	var flooded atomic.Int64
	run(func() { connectFlood(attackCtx, addr, "127.0.0.2", attempts) })
	run(func() { slowPartialFrames(attackCtx, addr, "127.0.0.3", slow) })
	run(func() { hugePartialFrames(attackCtx, addr, "127.0.0.4", huge) })
	run(func() { flooded.Store(unreadFlood(attackCtx, addr, "127.0.0.5", 256<<20)) })
	run(func() { randomBytes(attackCtx, addr, "127.0.0.6", 100) })
	var outsiders atomic.Int64
	run(func() { outsiders.Store(int64(outsider(attackCtx, addr, "127.0.0.9", 10))) })
	wg.Wait()

	if err := <-replayed; err != nil {
		t.Fatalf("replay under attack: %v", err)
	}
	want := check(t, env, parts)
	st := env.Bridge.Stats()
	t.Logf("replayed %d mutations, %d keys verified; refused %v, framing errors %d, unread flood sent %d bytes",
		sum.Mutations, len(want.Keys), st.ConnectionsRefused, st.FramingErrors, flooded.Load())
	for reason, min := range map[string]int64{"not_allowed": 10, "frame_timeout": int64(slow) / 2, "budget": 1, "unread_replies": 1} {
		if st.ConnectionsRefused[reason] < min {
			t.Errorf("refused[%s] = %d, want >= %d", reason, st.ConnectionsRefused[reason], min)
		}
	}
	if outsiders.Load() != 10 {
		t.Errorf("%d of 10 outsider connections refused", outsiders.Load())
	}
	if st.FramingErrors < 100 {
		t.Errorf("framing errors %d, want >= 100 (random bytes)", st.FramingErrors)
	}
	if err := probe(addr, "127.0.0.1"); err != nil {
		t.Fatalf("bridge not serving after the attacks: %v", err)
	}
	// Everything the attackers made it hold is returned.
	deadline := time.Now().Add(10 * time.Second)
	for st = env.Bridge.Stats(); (st.WaitingBytes != 0 || st.InflightBytes != 0) && time.Now().Before(deadline); st = env.Bridge.Stats() {
		time.Sleep(50 * time.Millisecond)
	}
	if st.WaitingBytes != 0 || st.InflightBytes != 0 {
		t.Errorf("held after the attack: waiting %d, in flight %d", st.WaitingBytes, st.InflightBytes)
	}
}

func dialFrom(ctx context.Context, addr, src string) (*net.TCPConn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	_ = tc.SetLinger(0) // reset on close: no TIME_WAIT per attempt
	return tc, nil
}

// connectFlood connects and hangs up attempts times, 64 at a time.
func connectFlood(ctx context.Context, addr, src string, attempts int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(attempts) && ctx.Err() == nil {
				if c, err := dialFrom(ctx, addr, src); err == nil {
					_ = c.Close()
				}
			}
		}()
	}
	wg.Wait()
}

// eachConn runs attack on conns connections from src at once, each closed
// when its attack returns.
func eachConn(ctx context.Context, addr, src string, conns int, attack func(c *net.TCPConn)) {
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, err := dialFrom(ctx, addr, src); err == nil {
				defer c.Close()
				attack(c)
			}
		}()
	}
	wg.Wait()
}

// slowPartialFrames opens conns connections that each send 150 bytes of a
// frame, then one byte a second, until the bridge closes them.
func slowPartialFrames(ctx context.Context, addr, src string, conns int) {
	frame := codec.AppendRequest(nil, codec.FramingRDSN, &codec.RequestHeader{ID: 1, RPCName: codec.RPCDuplicate, AppID: 3}, make([]byte, 4096))
	eachConn(ctx, addr, src, conns, func(c *net.TCPConn) {
		if _, err := c.Write(frame[:150]); err != nil {
			return
		}
		for i := 150; i < len(frame) && ctx.Err() == nil; i++ {
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return
			}
			if _, err := c.Write(frame[i : i+1]); err != nil {
				return
			}
		}
	})
}

// hugePartialFrames: conns connections each send a 16 MiB duplicate frame
// but its last 2,000 bytes, then wait until the bridge closes them.
func hugePartialFrames(ctx context.Context, addr, src string, conns int) {
	h := codec.RequestHeader{ID: 1, RPCName: codec.RPCDuplicate, AppID: 3}
	frame := codec.AppendRequest(nil, codec.FramingRDSN, &h, make([]byte, 16<<20-codec.RDSNHeaderSize))
	eachConn(ctx, addr, src, conns, func(c *net.TCPConn) {
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write(frame[:len(frame)-2000]); err == nil {
			waitClosed(c)
		}
	})
}

// unreadFlood writes query-config requests on one connection, up to limit
// bytes, and never reads a reply; it returns how much it sent.
func unreadFlood(ctx context.Context, addr, src string, limit int) int64 {
	c, err := dialFrom(ctx, addr, src)
	if err != nil {
		return 0
	}
	defer c.Close()
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, 0)
	w.FieldHeader(thrift.STRING, 1)
	w.String("demo")
	w.FieldHeader(thrift.LIST, 2)
	w.ListHeader(thrift.I32, 0)
	w.Stop()
	w.WrapperEnd()
	one := codec.AppendRequest(nil, codec.FramingRDSN, &codec.RequestHeader{ID: 1, RPCName: codec.RPCQueryPartitionConfigByIndex}, w.B)
	var batch []byte
	for len(batch) < 1<<20 {
		batch = append(batch, one...)
	}
	var sent int64
	for sent < int64(limit) && ctx.Err() == nil {
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Write(batch)
		sent += int64(n)
		if err != nil {
			break
		}
	}
	return sent
}

// randomBytes writes 4 KiB of random bytes on each of conns connections.
func randomBytes(ctx context.Context, addr, src string, conns int) {
	rng := rand.New(rand.NewPCG(8, 8))
	for range conns {
		b := make([]byte, 4096)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		c, err := dialFrom(ctx, addr, src)
		if err != nil {
			continue
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(b); err == nil {
			waitClosed(c)
		}
		_ = c.Close()
	}
}

// outsider dials conns times from outside allowed_peers and returns how
// many connections the bridge refused.
func outsider(ctx context.Context, addr, src string, conns int) int {
	refused := 0
	for range conns {
		c, err := dialFrom(ctx, addr, src)
		if err != nil {
			refused++
			continue
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if waitClosed(c) {
			refused++
		}
		_ = c.Close()
	}
	return refused
}

// waitClosed reads until the peer closes or resets c; false on a timeout.
func waitClosed(c net.Conn) bool {
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
}

// probe asks the bridge an unknown RPC and expects ERR_HANDLER_NOT_FOUND.
func probe(addr, src string) error {
	c, err := dialFrom(context.Background(), addr, src)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	req := codec.AppendRequest(nil, codec.FramingRDSN, &codec.RequestHeader{ID: 99, RPCName: "RPC_ATTACK_PROBE"}, nil)
	if _, err := c.Write(req); err != nil {
		return err
	}
	dec := codec.Decoder{Role: codec.RoleClient, Framing: codec.FramingRDSN}
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if f, _, derr := dec.Decode(buf); derr == nil {
			if f.ID != 99 || string(f.ErrorName) != codec.ErrorHandlerNotFound {
				return errors.New("unexpected answer " + string(f.ErrorName))
			}
			return nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("closed before answering")
			}
			return err
		}
	}
}
