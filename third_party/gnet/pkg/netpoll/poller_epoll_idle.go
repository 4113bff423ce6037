// Copyright (c) 2026 The dupbridge Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//go:build linux && !poll_opt

package netpoll

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// idleWaiter lets an idle event-loop wait for its epoll fd in Go's runtime
// netpoller instead of in a blocking epoll_wait(2).
//
// A goroutine blocked in a syscall keeps its P until sysmon retakes it
// (20 µs or more later), so on a machine with few Ps every goroutine that
// Go's own netpoller wakes queues behind the idle loops. Parked here, the
// loop holds no P and no thread: the epoll fd, made non-blocking, is itself
// registered in the runtime's netpoller (an epoll fd is pollable, and
// readable while its ready list is non-empty), and every wake-up polls it
// with a zero timeout.
type idleWaiter struct {
	epfd int
	file *os.File        // owns epfd once created; closing it wakes a parked wait
	raw  syscall.RawConn // file.SyscallConn()
}

func newIdleWaiter(epfd int) (idleWaiter, error) {
	if err := unix.SetNonblock(epfd, true); err != nil {
		return idleWaiter{}, os.NewSyscallError("fcntl nonblock", err)
	}
	// os.NewFile registers a non-blocking fd with the runtime netpoller.
	file := os.NewFile(uintptr(epfd), "gnet-epoll")
	raw, err := file.SyscallConn()
	if err != nil {
		_ = file.Close()
		return idleWaiter{}, err
	}
	return idleWaiter{epfd: epfd, file: file, raw: raw}, nil
}

// wait is epoll_wait(2) for the loop: with msec 0 it polls; with msec -1 it
// parks the goroutine in Go's netpoller until the epoll fd has events, then
// returns them. Other timeouts are not used by the poller.
func (w *idleWaiter) wait(events []epollevent, msec int) (n int, err error) {
	if msec == 0 {
		return unix.EpollWait(w.epfd, events, 0)
	}
	// The netpoller registers fds edge-triggered, so the poller must drain
	// the ready list (it does: it polls with msec 0 until a poll returns
	// nothing) before parking again. Readiness that arrives between that
	// empty poll and the park is kept by the runtime and wakes it at once.
	rerr := w.raw.Read(func(fd uintptr) bool {
		n, err = unix.EpollWait(int(fd), events, 0)
		return n != 0 || err != nil
	})
	if rerr != nil {
		return -1, rerr
	}
	return n, err
}

func (w *idleWaiter) close() error {
	return w.file.Close()
}
