package router

import (
	"errors"
	"fmt"
)

// Error classes. Errors in Results wrap one of these.
var (
	// ErrClosed: the Table was closed or its context cancelled.
	ErrClosed = errors.New("router: table closed")
	// ErrBadShipment: a Ship call with an invalid partition or body.
	ErrBadShipment = errors.New("router: bad shipment")
	// ErrRPC: the follower answered with an RPC-level error (no usable body).
	ErrRPC = errors.New("router: rpc error")
	// ErrFollower: the follower answered RPC-level ERR_OK with a non-zero
	// duplicate_response.error.
	ErrFollower = errors.New("router: follower error")
	// ErrInvalidArgument: duplicate_response.error == 4 (kInvalidArgument):
	// cluster id unconfigured on the follower, self-duplication, unknown
	// task code (duplication.md §4.2). Also wraps ErrFollower.
	ErrInvalidArgument = errors.New("router: follower rejected the batch as invalid (error 4)")
	// ErrTransport: the RPC did not complete (connection, dial, timeout).
	ErrTransport = errors.New("router: transport error")
	// ErrNoPrimary: the cached config has no primary for the partition.
	ErrNoPrimary = errors.New("router: partition has no primary")
	// ErrBadConfig: the follower meta returned an unusable configuration.
	ErrBadConfig = errors.New("router: bad table configuration")
	// ErrLayoutChanged is what OnLayoutChange reports in logs; queued
	// shipments are re-split internally and never fail with it.
	ErrLayoutChanged = errors.New("router: follower partition layout changed")
)

// RPCError is an RPC-level error from the follower.
type RPCError struct {
	Addr, Name string
	AppID      int32
	Partition  int
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("router: duplicate to %s gpid %d.%d: %s", e.Addr, e.AppID, e.Partition, e.Name)
}

func (e *RPCError) Unwrap() error { return ErrRPC }

// FollowerError is a non-zero duplicate_response.error (a RocksDB status
// code, duplication.md §4.6) with the follower's hint.
type FollowerError struct {
	Addr      string
	AppID     int32
	Partition int
	Code      int32
	Hint      string
}

func (e *FollowerError) Error() string {
	return fmt.Sprintf("router: duplicate to %s gpid %d.%d: follower error %d (%s): %q",
		e.Addr, e.AppID, e.Partition, e.Code, rocksName(e.Code), e.Hint)
}

func (e *FollowerError) Unwrap() []error {
	if e.Code == 4 {
		return []error{ErrFollower, ErrInvalidArgument}
	}
	return []error{ErrFollower}
}

// rocksName names a RocksDB status code (duplicate_response.error).
func rocksName(c int32) string {
	switch c {
	case 0:
		return "Ok"
	case 1:
		return "NotFound"
	case 2:
		return "Corruption"
	case 3:
		return "NotSupported"
	case 4:
		return "InvalidArgument"
	case 5:
		return "IOError"
	case 6:
		return "MergeInProgress"
	case 7:
		return "Incomplete"
	case 8:
		return "ShutdownInProgress"
	case 9:
		return "TimedOut"
	case 10:
		return "Aborted"
	case 11:
		return "Busy"
	case 12:
		return "Expired"
	case 13:
		return "TryAgain"
	}
	return "Unknown"
}
