package mutation

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// hx decodes hex with any spacing, as the docs print bytes.
func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// CRC-64 vectors: storage.md §3.2 table (with its mod columns; "sk" has
// none) and wire.md §6.1 / Appendix A.
func TestCRC64Vectors(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		mods []int // mod 4, 8, 16, 32, 64; nil when the doc gives none
	}{
		{"", 0x0000000000000000, []int{0, 0, 0, 0, 0}},
		{"a", 0x8C2F8445B4CBFC3C, []int{0, 4, 12, 28, 60}},
		{"aa", 0x6AFCA34A98E8CFB9, []int{1, 1, 9, 25, 57}},
		{"123456789", 0xAE8B14860A799888, []int{0, 0, 8, 8, 8}},
		{"hello", 0x3377857006524257, []int{3, 7, 7, 23, 23}},
		{"hash_key", 0x65641F36E9F6A96D, []int{1, 5, 13, 13, 45}},
		{"pegasus", 0xCE8709CFBD3973C4, []int{0, 4, 4, 4, 4}},
		{"sk", 0xED7359D9888DF024, nil},
		// wire.md Appendix A
		{"h", 0x555D9839ECEA8B30, nil},
		{"hk1", 0xB136B82B96D0C625, nil},
		{"hashkey", 0x1299D9B06672773A, nil},
	}
	for _, tc := range tests {
		if got := CRC64([]byte(tc.in)); got != tc.want {
			t.Errorf("CRC64(%q) = %#016x, want %#016x", tc.in, got, tc.want)
		}
		if got := HashKeyHash([]byte(tc.in)); got != tc.want {
			t.Errorf("HashKeyHash(%q) = %#016x, want %#016x", tc.in, got, tc.want)
		}
		for i, m := range tc.mods {
			count := 4 << i
			if got := PartitionIndex(tc.want, count); got != m {
				t.Errorf("PartitionIndex(CRC64(%q), %d) = %d, want %d", tc.in, count, got, m)
			}
		}
	}
	// wire.md Appendix A: crc64("hk1") mod 8 = 5.
	if got := PartitionIndex(CRC64([]byte("hk1")), 8); got != 5 {
		t.Errorf("hk1 mod 8 = %d, want 5", got)
	}
}

func TestPartitionIndex(t *testing.T) {
	tests := []struct {
		hash  uint64
		count int
		want  int
	}{
		{0, 8, 0},
		{0xFFFFFFFFFFFFFFFF, 8, 7},  // unsigned: a signed mod would be negative
		{0xFFFFFFFFFFFFFFFF, 3, 0},  // 2^64-1 is divisible by 3
		{0x8000000000000000, 10, 8}, // 9223372036854775808 mod 10
		{5, 0, -1},
		{5, -4, -1},
	}
	for _, tc := range tests {
		if got := PartitionIndex(tc.hash, tc.count); got != tc.want {
			t.Errorf("PartitionIndex(%#x, %d) = %d, want %d", tc.hash, tc.count, got, tc.want)
		}
	}
}

// Raw key examples of storage.md §3.1 and key-hash examples of §3.3.
func TestRawKey(t *testing.T) {
	tests := []struct {
		hk, sk string
		raw    string
		hash   uint64
	}{
		{"a", "a", "00 01 61 61", 0x8C2F8445B4CBFC3C},
		{"a", "", "00 01 61", 0x8C2F8445B4CBFC3C},
		{"", "sk", "00 00 73 6B", 0xED7359D9888DF024}, // empty hash key: the sort key's hash
		{"hello", "world", "00 05 68 65 6C 6C 6F 77 6F 72 6C 64", 0x3377857006524257},
		{"", "", "00 00", 0},
	}
	for _, tc := range tests {
		want := hx(t, tc.raw)
		raw := AppendRawKey(nil, []byte(tc.hk), []byte(tc.sk))
		if string(raw) != string(want) {
			t.Errorf("AppendRawKey(%q, %q) = % x, want % x", tc.hk, tc.sk, raw, want)
		}
		hk, sk, err := SplitRawKey(want)
		if err != nil || string(hk) != tc.hk || string(sk) != tc.sk {
			t.Errorf("SplitRawKey(% x) = %q, %q, %v", want, hk, sk, err)
		}
		if got := KeyHash(want); got != tc.hash {
			t.Errorf("KeyHash(% x) = %#016x, want %#016x", want, got, tc.hash)
		}
		if got, err := KeyHashChecked(want); got != tc.hash || err != nil {
			t.Errorf("KeyHashChecked(% x) = %#016x, %v", want, got, err)
		}
	}
}

func TestRawKeyErrors(t *testing.T) {
	bad := [][]byte{nil, {0}, {0, 2, 'a'}, {0xff, 0xff}}
	for _, raw := range bad {
		if _, _, err := SplitRawKey(raw); !errors.Is(err, ErrBadKey) {
			t.Errorf("SplitRawKey(% x) err = %v, want ErrBadKey", raw, err)
		}
		if h, err := KeyHashChecked(raw); !errors.Is(err, ErrBadKey) || h != 0 {
			t.Errorf("KeyHashChecked(% x) = %#x, %v, want 0, ErrBadKey", raw, h, err)
		}
		if h := KeyHash(raw); h != 0 {
			t.Errorf("KeyHash(% x) = %#x, want 0", raw, h)
		}
	}
	if err := CheckHashKey(make([]byte, MaxHashKeyLen)); err != nil {
		t.Errorf("CheckHashKey(65534 bytes) = %v", err)
	}
	if err := CheckHashKey(make([]byte, MaxHashKeyLen+1)); !errors.Is(err, ErrHashKeyTooLong) {
		t.Errorf("CheckHashKey(65535 bytes) = %v, want ErrHashKeyTooLong", err)
	}
}

func BenchmarkKeyHash(b *testing.B) {
	raw := AppendRawKey(nil, []byte("user_000012345678"), []byte("profile:email"))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	var sink uint64
	for b.Loop() {
		sink += KeyHash(raw)
	}
	_ = sink
}
