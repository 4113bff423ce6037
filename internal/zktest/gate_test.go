package zktest

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// The gate relays to its target, Cut drops the relayed connections and
// refuses new ones (they are closed at once), Open lets them through again.
func TestGate(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }() // echo
		}
	}()
	g, err := NewGate(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	roundTrip := func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && line != "ping\n" {
			t.Fatalf("echo %q", line)
		}
		return err
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", g.Addr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := dial()
	defer before.Close()
	if err := roundTrip(before); err != nil {
		t.Fatalf("through the open gate: %v", err)
	}
	g.Cut()
	if err := roundTrip(before); err == nil {
		t.Fatal("a relayed connection survived Cut")
	}
	during := dial()
	defer during.Close()
	if err := roundTrip(during); err == nil {
		t.Fatal("a connection got through the cut gate")
	}
	g.Open()
	after := dial()
	defer after.Close()
	if err := roundTrip(after); err != nil {
		t.Fatalf("after Open: %v", err)
	}
}
