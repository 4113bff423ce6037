package server

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// loopMark names the frame every gnet event loop sits in while it waits.
const loopMark = "netpoll.(*Poller).Polling"

// loopStates returns the scheduler state ("IO wait", "syscall", "running",
// ...) of every goroutine that is a gnet event loop, from a full stack dump.
func loopStates() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var states []string
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if !bytes.Contains(g, []byte(loopMark)) {
			continue
		}
		// "goroutine 42 [IO wait, 2 minutes]:" or "goroutine 42 [syscall]:"
		head, _, _ := bytes.Cut(g, []byte("\n"))
		_, st, _ := bytes.Cut(head, []byte("["))
		st, _, _ = bytes.Cut(st, []byte("]"))
		st, _, _ = bytes.Cut(st, []byte(","))
		states = append(states, string(st))
	}
	return states
}

// TestIdleLoopsParkInGoNetpoller checks the property third_party/gnet's
// poller patch exists for: an idle event loop waits in Go's netpoller
// ("IO wait", holding no P), not in a blocking epoll_wait ("syscall", which
// keeps its P until sysmon retakes it and delays every goroutine Go's own
// netpoller wakes). It is a state check, not a timing: unpatched gnet never
// reaches "IO wait", whatever the machine's load. The loops are made to
// serve a connection first, so each has woken and parked again.
func TestIdleLoopsParkInGoNetpoller(t *testing.T) {
	const loops = 2 // event_loops in testINI
	s := startServer(t, testConfig(t, nil), newFakeShipper(nil, true), nil)
	for range loops { // gnet spreads connections over the loops round-robin
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("not a frame, closes the connection")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.Copy(io.Discard, c) // until the bridge closes it
	}
	// A loop that is running at the instant of a dump is neither state;
	// wait (bounded) for a dump in which every loop waits.
	var states []string
	for range 500 {
		states = loopStates()
		waiting := 0
		for _, st := range states {
			if st == "IO wait" || st == "syscall" {
				waiting++
			}
		}
		if len(states) >= loops && waiting == len(states) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if len(states) < loops {
		t.Fatalf("found %d event loops in the stack dump, want %d (states %v)", len(states), loops, states)
	}
	for i, st := range states {
		if st != "IO wait" {
			t.Errorf("event loop %d waits in state %q, want \"IO wait\" (parked in Go's netpoller): is the replace of github.com/panjf2000/gnet/v2 by third_party/gnet in go.mod?", i, st)
		}
	}
	if t.Failed() {
		t.Logf("loop states: %s", strings.Join(states, ", "))
	}
}
