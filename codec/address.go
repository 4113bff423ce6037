package codec

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// rpc_address (wire.md §1.5): value = ip<<32 | port<<16 | type, with type 1
// for IPv4 and 0 for "no address". The same u64 is the RDSN from_address
// (LE in the header) and the thrift rpc_address payload (BE i64, §3).
const (
	AddressTypeInvalid = 0
	AddressTypeIPv4    = 1
)

// MakeAddress encodes an IPv4 address and port as an rpc_address.
func MakeAddress(ip [4]byte, port uint16) uint64 {
	v := uint64(ip[0])<<24 | uint64(ip[1])<<16 | uint64(ip[2])<<8 | uint64(ip[3])
	return v<<32 | uint64(port)<<16 | AddressTypeIPv4
}

// AddressFromAddrPort encodes an IPv4 (or IPv4-mapped) AddrPort.
func AddressFromAddrPort(ap netip.AddrPort) (uint64, error) {
	a := ap.Addr().Unmap()
	if !a.Is4() {
		return 0, fmt.Errorf("codec: rpc_address %s: only IPv4 is representable (wire.md §1.5)", ap)
	}
	return MakeAddress(a.As4(), ap.Port()), nil
}

// ParseAddress parses "a.b.c.d:port" into an rpc_address.
func ParseAddress(s string) (uint64, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return 0, fmt.Errorf("codec: rpc_address %q: %w", s, err)
	}
	return AddressFromAddrPort(ap)
}

// AddressType returns the type bits (0 invalid, 1 IPv4, 2 group).
func AddressType(v uint64) int { return int(v & 3) }

// AddressIP returns the IPv4 bytes of an rpc_address.
func AddressIP(v uint64) [4]byte {
	ip := uint32(v >> 32)
	return [4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}
}

// AddressPort returns the port of an rpc_address.
func AddressPort(v uint64) uint16 { return uint16(v >> 16) }

// AddressToAddrPort decodes an IPv4 rpc_address; ok is false unless the
// type bits say IPv4.
func AddressToAddrPort(v uint64) (ap netip.AddrPort, ok bool) {
	if AddressType(v) != AddressTypeIPv4 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(netip.AddrFrom4(AddressIP(v)), AddressPort(v)), true
}

// FormatAddress renders an rpc_address as "ip:port"; "" for type 0 and
// "invalid(0x...)" for other non-IPv4 values.
func FormatAddress(v uint64) string {
	switch AddressType(v) {
	case AddressTypeIPv4:
		ip := AddressIP(v)
		b := make([]byte, 0, 21)
		for i, x := range ip {
			if i > 0 {
				b = append(b, '.')
			}
			b = strconv.AppendUint(b, uint64(x), 10)
		}
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(AddressPort(v)), 10)
		return string(b)
	case AddressTypeInvalid:
		if v == 0 {
			return ""
		}
	}
	return fmt.Sprintf("invalid(%#016x)", v)
}

// gpid (wire.md §1.4, §3): value = uint64(uint32(pidx))<<32 | uint64(uint32(app_id)).

// GpidValue packs a gpid into its u64 value.
func GpidValue(appID, partitionIndex int32) uint64 {
	return uint64(uint32(partitionIndex))<<32 | uint64(uint32(appID))
}

// SplitGpid unpacks a gpid value.
func SplitGpid(v uint64) (appID, partitionIndex int32) {
	return int32(uint32(v)), int32(uint32(v >> 32))
}

// ThreadHash is the gpid thread hash app_id*7919 + partition_index
// (wire.md §1.4), the thread_hash a partition request must carry (§7 item 6).
func ThreadHash(appID, partitionIndex int32) int32 {
	return appID*7919 + partitionIndex
}

// FormatGpid renders a gpid as "app.partition", as Pegasus logs it.
func FormatGpid(appID, partitionIndex int32) string {
	return strconv.FormatInt(int64(appID), 10) + "." + strconv.FormatInt(int64(partitionIndex), 10)
}

// ParseGpid parses "app.partition".
func ParseGpid(s string) (appID, partitionIndex int32, err error) {
	if app, pidx, ok := strings.Cut(s, "."); ok {
		a, err1 := strconv.ParseInt(app, 10, 32)
		p, err2 := strconv.ParseInt(pidx, 10, 32)
		if err1 == nil && err2 == nil {
			return int32(a), int32(p), nil
		}
	}
	return 0, 0, fmt.Errorf("codec: gpid %q: want app.partition", s)
}
