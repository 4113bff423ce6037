// Package sstgen writes real RocksDB tables with Pegasus-format keys and
// values for tests and benchmarks, using Debian's rocksdb-tools (ldb,
// sst_dump, RocksDB 7.8), and parses what sst_dump prints about them. It is
// a test harness: production packages never import it.
//
// How a checkpoint is built (Build): ldb creates a DB and the
// pegasus_meta_cf column family; the DB's OPTIONS file is then edited to
// the wanted compression (default CF only: Pegasus's meta CF is never
// compressed), checksum type, format_version, index type and restart
// interval, with a 10-bit Bloom filter and automatic compactions off (so
// every batch stays in its own L0 file). ldb has no flags for checksum or
// format_version, but it loads the newest OPTIONS file of an existing DB
// (--try_load_options, its default), which is why editing it works. Each
// batch is fed to one `ldb query` session (put/delete lines in hex); the
// next ldb run recovers that WAL and flushes it to one L0 table. The meta
// CF gets pegasus_data_version, and `ldb checkpoint` finally takes a RocksDB
// checkpoint, the same call Pegasus uses for its checkpoint.<decree> dirs
// (storage.md §5.4).
package sstgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/internal/testdeps"
)

// Options are the table options of a generated DB.
type Options struct {
	Compression          string // none, snappy, lz4, zstd (ldb spelling also accepted: kLZ4Compression…)
	Checksum             string // crc32c, xxh3, xxhash64
	FormatVersion        int    // 2..5
	IndexType            string // "" (binary search), "two_level", "first_key"
	BlockRestartInterval int    // 0: RocksDB's default, 16 (Pegasus's)
	BlockSize            int    // 0: 4096
}

// Name is a short label for test and benchmark names.
func (o Options) Name() string {
	s := fmt.Sprintf("%s-%s-v%d", o.Compression, o.Checksum, o.FormatVersion)
	if o.IndexType != "" {
		s += "-" + o.IndexType
	}
	return s
}

// Op is one write: a put of Value, or a delete. A batch of one Op with
// IngestFile set instead ingests that external table (bulk load) with
// `ldb ingest_extern_sst`, writing its global sequence number into the file
// only when WriteGlobalSeqno is set (Pegasus's default is not to).
type Op struct {
	Key, Value       []byte
	Delete           bool
	IngestFile       string
	WriteGlobalSeqno bool
}

// LDB and SSTDump install rocksdb-tools through scripts/deps.sh (by
// internal/testdeps) and return the tool's path; they fail t otherwise.
func LDB(t testing.TB) string { return testdeps.Tool(t, "rocksdb", "ldb") }

// SSTDump is LDB for sst_dump.
func SSTDump(t testing.TB) string { return testdeps.Tool(t, "rocksdb", "sst_dump") }

// Build writes a DB under work (which must not exist yet or be empty) and
// returns the path of its checkpoint directory: one L0 table of the
// default CF per non-empty batch, the meta CF holding dataVersion.
func Build(t testing.TB, work string, o Options, dataVersion int, batches [][]Op) (string, error) {
	ctx, bin := t.Context(), LDB(t)
	ldb := func(ctx context.Context, db string, stdin []byte, args ...string) error {
		return runLDB(ctx, bin, db, stdin, args...)
	}
	db, cp := filepath.Join(work, "db"), filepath.Join(work, "checkpoint")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", err
	}
	// The DB starts with Pegasus's empty-write record (empty key, a v1 value
	// of 12 zero bytes, storage.md §4.5), which readers must skip.
	if err := ldb(ctx, db, nil, "--create_if_missing", "--hex", "put", "0x", "0x"+strings.Repeat("00", 12)); err != nil {
		return "", err
	}
	if err := ldb(ctx, db, nil, "create_column_family", "pegasus_meta_cf"); err != nil {
		return "", err
	}
	if err := editOptions(db, o); err != nil {
		return "", err
	}
	if err := ldb(ctx, db, nil, "--column_family=pegasus_meta_cf", "put", "pegasus_data_version", strconv.Itoa(dataVersion)); err != nil {
		return "", err
	}
	for i, b := range batches {
		if len(b) == 0 {
			continue
		}
		if f := b[0].IngestFile; f != "" {
			if err := ldb(ctx, db, nil, "ingest_extern_sst", f, "--allow_global_seqno",
				"--write_global_seqno="+strconv.FormatBool(b[0].WriteGlobalSeqno)); err != nil {
				return "", fmt.Errorf("batch %d: %w", i, err)
			}
			continue
		}
		if err := ldb(ctx, db, queryScript(b), "--hex", "query"); err != nil {
			return "", fmt.Errorf("batch %d: %w", i, err)
		}
	}
	if err := ldb(ctx, db, nil, "checkpoint", "--checkpoint_dir="+cp); err != nil {
		return "", err
	}
	return cp, nil
}

func queryScript(ops []Op) []byte {
	var b bytes.Buffer
	for _, op := range ops {
		if op.Delete {
			fmt.Fprintf(&b, "delete 0x%X\n", op.Key)
		} else {
			fmt.Fprintf(&b, "put 0x%X 0x%X\n", op.Key, op.Value)
		}
	}
	return b.Bytes()
}

func runLDB(ctx context.Context, bin, db string, stdin []byte, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, append([]string{"--db=" + db}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("sstgen: ldb %s: %v\n%s", strings.Join(args, " "), err, tail(out.Bytes()))
	}
	// ldb query reports failed commands on stdout and still exits 0.
	if bytes.Contains(out.Bytes(), []byte("Failed")) || bytes.Contains(out.Bytes(), []byte("Invalid")) {
		return fmt.Errorf("sstgen: ldb %s reported an error:\n%s", strings.Join(args, " "), tail(out.Bytes()))
	}
	return nil
}

func tail(b []byte) []byte {
	if len(b) > 2000 {
		return b[len(b)-2000:]
	}
	return b
}

var ldbNames = map[string]string{
	"none": "kNoCompression", "snappy": "kSnappyCompression", "lz4": "kLZ4Compression",
	"lz4hc": "kLZ4HCCompression", "zstd": "kZSTD", "zlib": "kZlibCompression",
	"crc32c": "kCRC32c", "xxh3": "kXXH3", "xxhash64": "kxxHash64", "xxhash": "kxxHash",
	"two_level": "kTwoLevelIndexSearch", "first_key": "kBinarySearchWithFirstKey",
}

func ldbName(s string) string {
	if n, ok := ldbNames[s]; ok {
		return n
	}
	return s
}

// editOptions rewrites the newest OPTIONS file of db section by section.
func editOptions(db string, o Options) error {
	files, _ := filepath.Glob(filepath.Join(db, "OPTIONS-*"))
	if len(files) == 0 {
		return fmt.Errorf("sstgen: no OPTIONS file in %s", db)
	}
	sort.Slice(files, func(i, j int) bool { return optionsNumber(files[i]) < optionsNumber(files[j]) })
	path := files[len(files)-1]
	in, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	table := map[string]string{
		"checksum":       ldbName(o.Checksum),
		"format_version": strconv.Itoa(o.FormatVersion),
		"filter_policy":  "bloomfilter:10:false",
	}
	if o.IndexType != "" {
		table["index_type"] = ldbName(o.IndexType)
	}
	if o.BlockRestartInterval > 0 {
		table["block_restart_interval"] = strconv.Itoa(o.BlockRestartInterval)
	}
	if o.BlockSize > 0 {
		table["block_size"] = strconv.Itoa(o.BlockSize)
	}
	cf := map[string]map[string]string{
		`[CFOptions "default"]`:         {"compression": ldbName(o.Compression), "disable_auto_compactions": "true"},
		`[CFOptions "pegasus_meta_cf"]`: {"compression": "kNoCompression", "disable_auto_compactions": "true"},
	}
	var out bytes.Buffer
	var set map[string]string
	sc := bufio.NewScanner(bytes.NewReader(in))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "[") {
			set = cf[line]
			if strings.HasPrefix(line, "[TableOptions/BlockBasedTable") {
				set = table
			}
		}
		if k, _, ok := strings.Cut(strings.TrimSpace(line), "="); ok && set != nil {
			if v, ok := set[k]; ok {
				line = "  " + k + "=" + v
			}
		}
		out.WriteString(line + "\n")
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}

func optionsNumber(path string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(path), "OPTIONS-"))
	return n
}

// SSTs lists the .sst files of a checkpoint directory in name order.
func SSTs(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	sort.Strings(files)
	return files, err
}

// Entry is one line of `sst_dump --command=scan --output_hex`.
type Entry struct {
	Key   []byte
	Seq   uint64
	Kind  uint8
	Value []byte
}

// scanLine matches what sst_dump prints per entry with --output_hex
// (RocksDB tools/sst_dump_tool.cc → table/sst_file_dumper.cc ReadSequential:
// ikey.DebugString(true /*hex*/) gives 'USERKEY' seq:N, type:T, then
// " => " and the value as upper-case hex. Every other line (the file name,
// "Sst file format", "from [] to []", "options.env is …") does not start
// with a quote and is ignored.
var scanLine = regexp.MustCompile(`^'([0-9A-F]*)' seq:(\d+), type:(\d+) => ([0-9A-F]*)$`)

// Scan runs sst_dump --command=scan --output_hex --verify_checksum on one
// file and returns its entries in file order (block checksums are only
// verified by sst_dump when asked, so we ask).
func Scan(t testing.TB, file string) ([]Entry, error) {
	cmd := exec.CommandContext(t.Context(), SSTDump(t), "--file="+file, "--command=scan", "--output_hex", "--verify_checksum")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("sstgen: sst_dump %s: %v", file, err)
	}
	var es []Entry
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "'") {
			continue
		}
		m := scanLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("sstgen: unexpected sst_dump line %q", line)
		}
		var e Entry
		e.Key, _ = hex.DecodeString(m[1])
		e.Seq, _ = strconv.ParseUint(m[2], 10, 64)
		k, _ := strconv.ParseUint(m[3], 10, 8)
		e.Kind = uint8(k)
		e.Value, _ = hex.DecodeString(m[4])
		es = append(es, e)
	}
	return es, sc.Err()
}

// BuildCached is Build into the user's cache directory under key (which
// must name the options and the data exactly), reusing a finished earlier
// build: benchmarks need tables of tens of MiB, which take ldb seconds to
// write. A build that did not finish leaves no marker and is redone.
func BuildCached(t testing.TB, key string, o Options, dataVersion int, batches func() [][]Op) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	work := filepath.Join(base, "dupbridge-sstgen", key)
	cp, done := filepath.Join(work, "checkpoint"), filepath.Join(work, "done")
	if _, err := os.Stat(done); err == nil {
		return cp, nil
	}
	if err := os.RemoveAll(work); err != nil {
		return "", err
	}
	if cp, err = Build(t, work, o, dataVersion, batches()); err != nil {
		return "", err
	}
	return cp, os.WriteFile(done, nil, 0o644)
}
