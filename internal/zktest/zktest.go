// Package zktest runs a real ZooKeeper server for tests: Debian's
// zookeeperd jars (installed by scripts/deps.sh zookeeper, which Start
// calls), started as ZooKeeperServerMain with a config of its own in a
// temporary directory, on a free loopback port, never the system service.
// Stop and Start restart it on the same port and data directory, so that
// clients see an outage and then the same sessions and nodes again.
//
// A Gate is a loopback TCP relay in front of the server that tests close to
// cut clients off while the server keeps running: their sessions then
// expire on the server, which a server restart cannot provoke (a restarted
// server resumes the sessions it had).
//
// Only tests import this package.
package zktest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dupbridge/dupbridge/internal/testdeps"
)

// jar is the Debian package's server jar; its manifest's Class-Path names
// the other jars it needs.
const jar = "/usr/share/java/zookeeper.jar"

// TickTime is the server's tick; sessions may time out from 2 ticks on.
const TickTime = 200 * time.Millisecond

// Server is a ZooKeeper server started by a test.
type Server struct {
	// Addr is the client address, 127.0.0.1:port.
	Addr string
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Install runs scripts/deps.sh zookeeper (idempotent) and checks the jar.
func Install() error {
	if err := testdeps.Install("zookeeper"); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	if _, err := os.Stat(jar); err != nil {
		return fmt.Errorf("zktest: %s missing after deps.sh: %w", jar, err)
	}
	return nil
}

// New installs ZooKeeper if needed and starts a server in a new temporary
// directory. Close stops it and removes the directory.
func New() (*Server, error) {
	if err := Install(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "zktest-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
	cfg := fmt.Sprintf("tickTime=%d\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\nforceSync=no\n4lw.commands.whitelist=srvr\nminSessionTimeout=%d\nmaxSessionTimeout=60000\n",
		TickTime.Milliseconds(), filepath.Join(dir, "data"), port, 2*TickTime.Milliseconds())
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the (stopped) server and waits until it answers.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("java", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.jmx.log4j.disable=true", "-cp", jar,
		"org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(s.dir, "zoo.cfg"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("zktest: starting java: %w", err)
	}
	s.cmd = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if serving(s.Addr) {
			go func() { <-exited }()
			return nil
		}
		select {
		case err := <-exited:
			s.cmd = nil
			log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
			return fmt.Errorf("zktest: ZooKeeper exited at start: %v\n%s", err, tail(log))
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.stopLocked()
	return errors.New("zktest: ZooKeeper did not serve within 30 s")
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

// serving asks the server's four-letter "srvr": it names the server's mode
// only once the server takes sessions ("ruok" answers before that).
func serving(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	b, _ := io.ReadAll(bufio.NewReader(c))
	return strings.Contains(string(b), "Mode: standalone")
}

// Stop kills the server (clients see the connection drop) and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	// Wait until the port is free again, so that Start can bind it.
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", s.Addr, 50*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd = nil
}

// Close stops the server and removes its directory.
func (s *Server) Close() {
	s.Stop()
	_ = os.RemoveAll(s.dir)
}

// Gate is a TCP relay to a server that a test can close.
type Gate struct {
	// Addr is the relay's address; give it to clients instead of the server's.
	Addr   string
	target string
	ln     net.Listener

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

// NewGate starts a relay to target on a loopback port.
func NewGate(target string) (*Gate, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &Gate{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	go g.accept()
	return g, nil
}

func (g *Gate) accept() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		shut := g.closed
		g.mu.Unlock()
		if shut {
			c.Close()
			continue
		}
		go g.relay(c)
	}
}

func (g *Gate) relay(c net.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	u, err := (&net.Dialer{}).DialContext(ctx, "tcp", g.target)
	cancel()
	if err != nil {
		c.Close()
		return
	}
	if !g.track(c, u) {
		return
	}
	go func() { _, _ = io.Copy(u, c); u.Close() }()
	_, _ = io.Copy(c, u)
	c.Close()
	g.mu.Lock()
	delete(g.conns, c)
	delete(g.conns, u)
	g.mu.Unlock()
}

func (g *Gate) track(cs ...net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		g.conns[c] = struct{}{}
	}
	return true
}

// Cut closes every relayed connection and refuses new ones until Open.
func (g *Gate) Cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for c := range g.conns {
		c.Close()
	}
	clear(g.conns)
}

// Open lets connections through again.
func (g *Gate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = false
}

// Close stops the relay.
func (g *Gate) Close() {
	g.Cut()
	_ = g.ln.Close()
}
