package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/internal/sstgen"
	"github.com/dupbridge/dupbridge/mutation"
)

var ckptNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Unix()

// buildCheckpoint writes a real checkpoint (ldb, through sstgen) of a
// generated history: 3 tables with overwrites, deletions and TTLs.
func buildCheckpoint(t *testing.T, o sstgen.Options, dataVersion int) (string, sstgen.Data) {
	t.Helper()
	data := sstgen.Generate(sstgen.Spec{Seed: 7, Keys: 400, Batches: 3, DataVersion: dataVersion, Now: ckptNow})
	dir, err := sstgen.Build(t, t.TempDir(), o, dataVersion, data.Batches)
	if err != nil {
		t.Fatal(err)
	}
	return dir, data
}

type dumpLine struct {
	HashKey   []byte `json:"hash_key"` // base64 in JSON
	SortKey   []byte `json:"sort_key"`
	Value     []byte `json:"value"`
	ExpireTs  uint32 `json:"expire_ts_seconds"`
	Timestamp uint64 `json:"timestamp_us"`
	ClusterID uint8  `json:"cluster_id"`
}

// TestCheckpointDump: dump prints exactly the history's live keys, in raw
// key order, with each field decoded from the value by mutation's own
// decoders — for a directory and for a single table, for data versions 0
// (v0 values: no timetag, so timestamp and cluster id 0) and 1.
func TestCheckpointDump(t *testing.T) {
	tests := []struct {
		name        string
		o           sstgen.Options
		dataVersion int
		oneFile     bool
	}{
		{"lz4 v2 crc32c dir, data version 1", sstgen.Options{Compression: "lz4", Checksum: "crc32c", FormatVersion: 2}, 1, false},
		{"zstd v5 xxh3 dir, data version 0", sstgen.Options{Compression: "zstd", Checksum: "xxh3", FormatVersion: 5}, 0, false},
		{"snappy v5 one table", sstgen.Options{Compression: "snappy", Checksum: "xxh3", FormatVersion: 5}, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, data := buildCheckpoint(t, tc.o, tc.dataVersion)
			target := dir
			if tc.oneFile {
				files, _ := sstgen.SSTs(dir)
				target = biggest(t, files)
				data.Batches = data.Batches[:1] // the first batch's table
			}
			out, err := runCmd(t, "checkpoint", "dump", "--json", "--now", strconv.FormatInt(ckptNow, 10), target)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			want, err := data.Live(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			lines := parseDump(t, out)
			if len(lines) != len(want) || len(want) < 100 {
				t.Fatalf("%d lines, want %d (≥ 100)", len(lines), len(want))
			}
			for i, w := range want {
				hk, sk, _ := mutation.SplitRawKey(w.Key)
				v, err := mutation.ParseValue(w.Value, tc.dataVersion)
				if err != nil {
					t.Fatal(err)
				}
				ts, cluster, _ := mutation.SplitTimetag(v.Timetag)
				g := lines[i]
				if !bytes.Equal(g.HashKey, hk) || !bytes.Equal(g.SortKey, sk) || !bytes.Equal(g.Value, v.UserData) ||
					g.ExpireTs != v.ExpireTs || g.Timestamp != ts || g.ClusterID != cluster {
					t.Fatalf("line %d: %+v, want hash key %q sort key %q %+v", i, g, hk, sk, v)
				}
			}
		})
	}
}

// biggest is the table of the first batch (the one with every key).
func biggest(t *testing.T, files []string) string {
	t.Helper()
	best, n := "", -1
	for _, f := range files {
		es, err := sstgen.Scan(t, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) > n {
			best, n = f, len(es)
		}
	}
	return best
}

func parseDump(t *testing.T, out string) []dumpLine {
	t.Helper()
	var lines []dumpLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l dumpLine
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// TestCheckpointInspect: the report's counts agree with the history and
// with each other; the text form shows the same numbers.
func TestCheckpointInspect(t *testing.T) {
	dir, data := buildCheckpoint(t, sstgen.Options{Compression: "lz4", Checksum: "xxh3", FormatVersion: 5}, 1)
	want, _ := data.Live(0, 0)
	now := strconv.FormatInt(ckptNow, 10)
	out, err := runCmd(t, "checkpoint", "inspect", "--json", "--sample", "3", "--now", now, dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rep inspectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	ttlTotal := 0
	for _, n := range rep.TTL {
		ttlTotal += n
	}
	writes := 1 + 1 // the empty-write record and the meta CF's record are not in Batches
	for _, b := range data.Batches {
		writes += len(b)
	}
	s := rep.Stats
	switch {
	case s.Live != uint64(len(want)) || ttlTotal != len(want):
		t.Errorf("live %d, TTL histogram total %d, want %d", s.Live, ttlTotal, len(want))
	case s.Entries != uint64(writes-1): // the meta record is in the meta CF
		t.Errorf("entries %d, want %d", s.Entries, writes-1)
	case s.MinSeq != 1 || s.MaxSeq < s.Entries:
		t.Errorf("sequence range %d..%d for %d entries", s.MinSeq, s.MaxSeq, s.Entries)
	case len(rep.Tables) != 5 || len(rep.Sample) != 3 || !rep.DataVersionFound:
		t.Errorf("%d tables (want 4 data + 1 meta), %d samples, data version found %v", len(rep.Tables), len(rep.Sample), rep.DataVersionFound)
	case rep.TTL["none"] == 0 || rep.TTL["<=30d"] == 0:
		t.Errorf("TTL histogram %v: the history has keys without TTL and with TTLs up to 30 days", rep.TTL)
	}
	var skipped []string
	for _, f := range rep.Skipped {
		skipped = append(skipped, strings.SplitN(f, "-", 2)[0])
	}
	if strings.Join(skipped, ",") != "CURRENT,MANIFEST,OPTIONS" {
		t.Errorf("skipped %v, want CURRENT, MANIFEST-*, OPTIONS-*", rep.Skipped)
	}
	text, err := runCmd(t, "checkpoint", "inspect", "--now", now, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"live keys  " + strconv.Itoa(len(want)), "sequence range  1..", "pegasus_meta_cf"} {
		if !strings.Contains(strings.Join(strings.Fields(text), "  "), strings.Join(strings.Fields(line), "  ")) {
			t.Errorf("text report lacks %q:\n%s", line, text)
		}
	}
}

func TestCheckpointCmdErrors(t *testing.T) {
	dir, _ := buildCheckpoint(t, sstgen.Options{Compression: "none", Checksum: "crc32c", FormatVersion: 2}, 1)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"checkpoint", "dump", dir}, "--json"},
		{[]string{"checkpoint", "dump", "--json", filepath.Join(dir, "nope")}, "no such file"},
		{[]string{"checkpoint", "inspect", "--partitions", "4", "--partition", "4", dir}, "not an index"},
		{[]string{"checkpoint", "inspect", "--data-version", "3", dir}, "data versions are 0 and 1"},
		{[]string{"checkpoint", "dump", "--json", filepath.Join(dir, "CURRENT")}, "shorter than a footer"},
	} {
		out, err := runCmd(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v (%s), want an error saying %q", tc.args, err, out, tc.want)
		}
	}
}
