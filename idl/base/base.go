// Package base holds hand-written Go types for rDSN's special thrift types
// (idl/base.thrift; wire.md §3, storage.md §2.1): Blob, ErrorCode, TaskCode,
// Gpid, RPCAddress and HostPort.
//
// The IDL declares them as empty structs, so generated code writes a STRUCT
// (0x0C) type byte for them; the payload that follows is primitive. Each type
// here implements apache/thrift's TStruct (Read/Write) with exactly that
// payload and no struct begin/end, field headers or STOP, so that the
// generated packages under idl/gen read and write them byte-exactly.
//
// Write methods accept a nil receiver, because generated code calls Write on
// unset (nil) required fields; a nil value is written as the C++ default
// (empty blob, ERR_OK, TASK_CODE_INVALID, gpid 0.0, invalid address).
package base

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/thrift/lib/go/thrift"
)

// GoUnusedProtection__ is referenced by every generated package that
// includes base.thrift ("var _ = base.GoUnusedProtection__").
const GoUnusedProtection__ = 0

// ErrBadValue is wrapped by Read and Write errors for an rpc_address or
// host_port whose type is not 0 (invalid) or 1 (IPv4): a C++ peer aborts on
// such a value (wire.md §3).
var ErrBadValue = errors.New("base: bad value")

// Default names written for nil values.
const (
	ErrOKName           = "ERR_OK"
	TaskCodeInvalidName = "TASK_CODE_INVALID"
)

// Blob is dsn.blob: an i32 length and the bytes (wire.md §3).
type Blob struct {
	Data []byte
}

// NewBlob returns a Blob holding b (not copied).
func NewBlob(b []byte) *Blob { return &Blob{Data: b} }

func (p *Blob) Read(ctx context.Context, iprot thrift.TProtocol) error {
	b, err := iprot.ReadBinary(ctx)
	if err != nil {
		return thrift.PrependError("base.Blob: ", err)
	}
	p.Data = b
	return nil
}

func (p *Blob) Write(ctx context.Context, oprot thrift.TProtocol) error {
	var b []byte
	if p != nil {
		b = p.Data
	}
	if err := oprot.WriteBinary(ctx, b); err != nil {
		return thrift.PrependError("base.Blob: ", err)
	}
	return nil
}

// Equals treats nil and an empty blob as different (as generated code does
// for optional fields).
func (p *Blob) Equals(o *Blob) bool {
	if p == nil || o == nil {
		return p == o
	}
	return string(p.Data) == string(o.Data)
}

func (p *Blob) String() string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("Blob(%q)", p.Data)
}

// ErrorCode is dsn.error_code: the error name as a thrift string. The
// integer is never sent (wire.md §3).
type ErrorCode struct {
	Errno string
}

func (p *ErrorCode) Read(ctx context.Context, iprot thrift.TProtocol) error {
	s, err := iprot.ReadString(ctx)
	if err != nil {
		return thrift.PrependError("base.ErrorCode: ", err)
	}
	p.Errno = s
	return nil
}

func (p *ErrorCode) Write(ctx context.Context, oprot thrift.TProtocol) error {
	s := ErrOKName
	if p != nil {
		s = p.Errno
	}
	if err := oprot.WriteString(ctx, s); err != nil {
		return thrift.PrependError("base.ErrorCode: ", err)
	}
	return nil
}

func (p *ErrorCode) Equals(o *ErrorCode) bool {
	if p == nil || o == nil {
		return p == o
	}
	return p.Errno == o.Errno
}

func (p *ErrorCode) String() string {
	if p == nil {
		return "<nil>"
	}
	return p.Errno
}

// TaskCode is dsn.task_code: the task code name as a thrift string.
type TaskCode struct {
	Code string
}

func (p *TaskCode) Read(ctx context.Context, iprot thrift.TProtocol) error {
	s, err := iprot.ReadString(ctx)
	if err != nil {
		return thrift.PrependError("base.TaskCode: ", err)
	}
	p.Code = s
	return nil
}

func (p *TaskCode) Write(ctx context.Context, oprot thrift.TProtocol) error {
	s := TaskCodeInvalidName
	if p != nil {
		s = p.Code
	}
	if err := oprot.WriteString(ctx, s); err != nil {
		return thrift.PrependError("base.TaskCode: ", err)
	}
	return nil
}

func (p *TaskCode) Equals(o *TaskCode) bool {
	if p == nil || o == nil {
		return p == o
	}
	return p.Code == o.Code
}

func (p *TaskCode) String() string {
	if p == nil {
		return "<nil>"
	}
	return p.Code
}

// Gpid is dsn.gpid: one i64, partition index in the high half and app id in
// the low half (wire.md §3).
type Gpid struct {
	Appid          int32
	PartitionIndex int32
}

// Int64 is the wire value.
func (p *Gpid) Int64() int64 {
	if p == nil {
		return 0
	}
	return int64(uint64(uint32(p.PartitionIndex))<<32 | uint64(uint32(p.Appid)))
}

func (p *Gpid) Read(ctx context.Context, iprot thrift.TProtocol) error {
	v, err := iprot.ReadI64(ctx)
	if err != nil {
		return thrift.PrependError("base.Gpid: ", err)
	}
	p.Appid = int32(uint32(uint64(v)))
	p.PartitionIndex = int32(uint32(uint64(v) >> 32))
	return nil
}

func (p *Gpid) Write(ctx context.Context, oprot thrift.TProtocol) error {
	if err := oprot.WriteI64(ctx, p.Int64()); err != nil {
		return thrift.PrependError("base.Gpid: ", err)
	}
	return nil
}

func (p *Gpid) Equals(o *Gpid) bool {
	if p == nil || o == nil {
		return p == o
	}
	return *p == *o
}

func (p *Gpid) String() string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%d.%d", p.Appid, p.PartitionIndex)
}

// RPCAddress is dsn.rpc_address: one i64, ipv4<<32 | port<<16 | type, with
// type 0 (invalid, "no address") or 1 (IPv4) (wire.md §1.5, §3).
type RPCAddress struct {
	Address uint64
}

// Address type values (low two bits).
const (
	AddrTypeInvalid = 0
	AddrTypeIPv4    = 1
)

// NewIPv4Address builds an IPv4 rpc_address; ip is in dotted order
// (ip[0] is the first octet).
func NewIPv4Address(ip [4]byte, port uint16) *RPCAddress {
	v := uint64(ip[0])<<56 | uint64(ip[1])<<48 | uint64(ip[2])<<40 | uint64(ip[3])<<32 |
		uint64(port)<<16 | AddrTypeIPv4
	return &RPCAddress{Address: v}
}

// IP returns the four address octets in dotted order.
func (p *RPCAddress) IP() [4]byte {
	v := p.raw()
	return [4]byte{byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32)}
}

// Port returns the port.
func (p *RPCAddress) Port() uint16 { return uint16(p.raw() >> 16) }

// Type returns the address type bits.
func (p *RPCAddress) Type() int { return int(p.raw() & 3) }

func (p *RPCAddress) raw() uint64 {
	if p == nil {
		return 0
	}
	return p.Address
}

func checkAddrType(v uint64) error {
	if t := v & 3; t > AddrTypeIPv4 {
		return fmt.Errorf("base.RPCAddress: type %d: %w", t, ErrBadValue)
	}
	return nil
}

func (p *RPCAddress) Read(ctx context.Context, iprot thrift.TProtocol) error {
	v, err := iprot.ReadI64(ctx)
	if err != nil {
		return thrift.PrependError("base.RPCAddress: ", err)
	}
	if err := checkAddrType(uint64(v)); err != nil {
		return err
	}
	p.Address = uint64(v)
	return nil
}

func (p *RPCAddress) Write(ctx context.Context, oprot thrift.TProtocol) error {
	v := p.raw()
	if err := checkAddrType(v); err != nil {
		return err
	}
	if err := oprot.WriteI64(ctx, int64(v)); err != nil {
		return thrift.PrependError("base.RPCAddress: ", err)
	}
	return nil
}

func (p *RPCAddress) Equals(o *RPCAddress) bool {
	if p == nil || o == nil {
		return p == o
	}
	return p.Address == o.Address
}

func (p *RPCAddress) String() string {
	if p == nil {
		return "<nil>"
	}
	if p.Type() == AddrTypeInvalid {
		return "invalid address"
	}
	ip := p.IP()
	return fmt.Sprintf("%d.%d.%d.%d:%d", ip[0], ip[1], ip[2], ip[3], p.Port())
}

// HostPort is dsn.host_port: string host, i16 port (unsigned), i8 type, with
// no field headers and no STOP (wire.md §3). Type is 0 (invalid) or 1.
type HostPort struct {
	Host string
	Port uint16
	Type int8
}

// Host-port type values.
const (
	HostPortInvalid = 0
	HostPortIPv4    = 1
)

// NewHostPort returns a valid (type 1) host_port.
func NewHostPort(host string, port uint16) *HostPort {
	return &HostPort{Host: host, Port: port, Type: HostPortIPv4}
}

func checkHPType(t int8) error {
	if t != HostPortInvalid && t != HostPortIPv4 {
		return fmt.Errorf("base.HostPort: type %d: %w", t, ErrBadValue)
	}
	return nil
}

func (p *HostPort) Read(ctx context.Context, iprot thrift.TProtocol) error {
	host, err := iprot.ReadString(ctx)
	if err != nil {
		return thrift.PrependError("base.HostPort host: ", err)
	}
	port, err := iprot.ReadI16(ctx)
	if err != nil {
		return thrift.PrependError("base.HostPort port: ", err)
	}
	t, err := iprot.ReadByte(ctx)
	if err != nil {
		return thrift.PrependError("base.HostPort type: ", err)
	}
	if err := checkHPType(t); err != nil {
		return err
	}
	p.Host, p.Port, p.Type = host, uint16(port), t
	return nil
}

func (p *HostPort) Write(ctx context.Context, oprot thrift.TProtocol) error {
	var v HostPort
	if p != nil {
		v = *p
	}
	if err := checkHPType(v.Type); err != nil {
		return err
	}
	if err := oprot.WriteString(ctx, v.Host); err != nil {
		return thrift.PrependError("base.HostPort host: ", err)
	}
	if err := oprot.WriteI16(ctx, int16(v.Port)); err != nil {
		return thrift.PrependError("base.HostPort port: ", err)
	}
	if err := oprot.WriteByte(ctx, v.Type); err != nil {
		return thrift.PrependError("base.HostPort type: ", err)
	}
	return nil
}

func (p *HostPort) Equals(o *HostPort) bool {
	if p == nil || o == nil {
		return p == o
	}
	return *p == *o
}

func (p *HostPort) String() string {
	if p == nil {
		return "<nil>"
	}
	if p.Type == HostPortInvalid {
		return "invalid host_port"
	}
	return fmt.Sprintf("%s:%d", p.Host, p.Port)
}

// Compile-time checks that the generated code can use these types.
var (
	_ thrift.TStruct = (*Blob)(nil)
	_ thrift.TStruct = (*ErrorCode)(nil)
	_ thrift.TStruct = (*TaskCode)(nil)
	_ thrift.TStruct = (*Gpid)(nil)
	_ thrift.TStruct = (*RPCAddress)(nil)
	_ thrift.TStruct = (*HostPort)(nil)
)
