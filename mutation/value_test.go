package mutation

import (
	"errors"
	"testing"
	"time"
)

// storage.md §4.4: decree 1 of log.1.0.handle_real_private_log.
func TestValueSchemaExample(t *testing.T) {
	const ts = 1521010430135992
	tests := []struct {
		name    string
		version int
		cluster uint8
		deleted bool
		want    string
	}{
		{"v1", ValueV1, 0, false, "00 00 00 00 | 05 67 59 D6 63 4E B8 00 | 61"},
		{"v2", ValueV2, 0, false, "82 | 00 00 00 00 | 05 67 59 D6 63 4E B8 00 | 61"},
		{"v1 cluster 5 deleted", ValueV1, 5, true, "00 00 00 00 | 05 67 59 D6 63 4E B8 0B | 61"},
		{"v2 cluster 5 deleted", ValueV2, 5, true, "82 | 00 00 00 00 | 05 67 59 D6 63 4E B8 0B | 61"},
		{"v0 drops the timetag", ValueV0, 5, true, "00 00 00 00 | 61"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := hx(t, stripBars(tc.want))
			tt := Timetag(ts, tc.cluster, tc.deleted)
			got, err := AppendValue(nil, tc.version, 0, tt, []byte("a"))
			if err != nil || string(got) != string(want) {
				t.Fatalf("AppendValue = % x, %v; want % x", got, err, want)
			}
			dataVersion := tc.version
			if tc.version == ValueV2 {
				dataVersion = ValueV1 // v2 is told by its first byte (storage.md §4.2)
			}
			v, err := ParseValue(want, dataVersion)
			if err != nil {
				t.Fatal(err)
			}
			wantTT := tt
			if tc.version == ValueV0 {
				wantTT = 0
			}
			if v.Version != tc.version || v.ExpireTs != 0 || v.Timetag != wantTT || string(v.UserData) != "a" {
				t.Fatalf("ParseValue = %+v", v)
			}
			if tc.version != ValueV0 {
				gotTS, c, d := SplitTimetag(v.Timetag)
				if gotTS != ts || c != tc.cluster || d != tc.deleted {
					t.Fatalf("SplitTimetag = %d, %d, %v", gotTS, c, d)
				}
			}
		})
	}
}

func stripBars(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '|' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

func TestTimetag(t *testing.T) {
	tests := []struct {
		ts      uint64
		cluster uint8
		deleted bool
		want    uint64
	}{
		{0, 0, false, 0},
		{0, 1, false, 2}, // empty-key records: cluster_id << 1 (storage.md §4.4)
		{1, 127, true, 0x1FF},
		{1521010430135992, 0, false, 0x056759D6634EB800},
		{1521010430135992, 5, true, 0x056759D6634EB80B},
		{1<<56 - 1, 0, false, 0xFFFFFFFFFFFFFF00}, // 56-bit timestamp
	}
	for _, tc := range tests {
		got := Timetag(tc.ts, tc.cluster, tc.deleted)
		if got != tc.want {
			t.Errorf("Timetag(%d, %d, %v) = %#x, want %#x", tc.ts, tc.cluster, tc.deleted, got, tc.want)
		}
		ts, c, d := SplitTimetag(got)
		if ts != tc.ts || c != tc.cluster || d != tc.deleted {
			t.Errorf("SplitTimetag(%#x) = %d, %d, %v", got, ts, c, d)
		}
	}
	// Cluster ids keep 7 bits.
	if got := Timetag(0, 0xFF, false); got != 0xFE {
		t.Errorf("Timetag cluster 0xFF = %#x, want 0xFE", got)
	}
}

func TestValueErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		ver  int
	}{
		{"v0 short", []byte{0, 0, 0}, ValueV0},
		{"v1 short", make([]byte, 11), ValueV1},
		{"v2 short", append([]byte{0x82}, make([]byte, 11)...), ValueV1},
		{"unknown data version", make([]byte, 20), 7},
		{"empty", nil, ValueV1},
	}
	for _, tc := range tests {
		if _, err := ParseValue(tc.b, tc.ver); !errors.Is(err, ErrBadValue) {
			t.Errorf("%s: err = %v, want ErrBadValue", tc.name, err)
		}
	}
	// Unknown versions in the first byte fall back to the latest (v2), and
	// 0x80/0x81 select v0/v1, as value_schema_manager does.
	for _, tc := range []struct {
		b    []byte
		ver  int
		data string
	}{
		{append([]byte{0x83, 0, 0, 0, 1}, append(make([]byte, 8), 'z')...), ValueV2, "z"},
		{[]byte{0x80, 0, 0, 1, 'z'}, ValueV0, "z"},
		{append([]byte{0x81, 0, 0, 1}, append(make([]byte, 8), 'z')...), ValueV1, "z"},
	} {
		v, err := ParseValue(tc.b, ValueV1)
		if err != nil || v.Version != tc.ver || string(v.UserData) != tc.data {
			t.Errorf("ParseValue(% x) = %+v, %v", tc.b, v, err)
		}
	}
	if _, err := AppendValue(nil, 3, 0, 0, nil); !errors.Is(err, ErrBadValue) {
		t.Errorf("AppendValue v3 err = %v", err)
	}
}

// storage.md §4.3: expiry 2026-01-01T00:00:00Z → 315619200 → 12 CF F7 80.
func TestExpireTs(t *testing.T) {
	unix := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	e := ExpireTsFromUnix(unix)
	if e != 315619200 {
		t.Fatalf("ExpireTsFromUnix = %d, want 315619200", e)
	}
	b, _ := AppendValue(nil, ValueV0, e, 0, nil)
	if string(b) != "\x12\xCF\xF7\x80" {
		t.Fatalf("expire bytes % x", b)
	}
	tests := []struct {
		e    uint32
		now  int64
		want bool
	}{
		{0, unix + 1e9, false}, // 0 never expires
		{e, unix - 1, false},
		{e, unix, true}, // expire_ts <= now - epoch
		{e, unix + 1, true},
	}
	for _, tc := range tests {
		if got := Expired(tc.e, tc.now); got != tc.want {
			t.Errorf("Expired(%d, %d) = %v", tc.e, tc.now, got)
		}
	}
	if ExpireTsFromUnix(EpochBegin) != 0 || ExpireTsFromUnix(0) != 0 {
		t.Error("times at or before the epoch must give 0")
	}
}
