package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/jsonfile"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// masterFiles writes partitions × files of pseudo-random bytes under root
// (root/<pidx>/...) and returns their contents by "pidx/name".
func masterFiles(t *testing.T, root string, partitions int, sizes map[string]int) map[string][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	out := map[string][]byte{}
	for p := 0; p < partitions; p++ {
		for name, size := range sizes {
			b := make([]byte, size+p) // sizes differ per partition
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			path := filepath.Join(root, fmt.Sprint(p), filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprintf("%d/%s", p, name)] = b
		}
	}
	return out
}

var testSizes = map[string]int{"CURRENT": 16, "000009.sst": 300 << 10, "000012.sst": 70 << 10, "sub/MANIFEST-000005": 1000, "000013.log": 0}

func startMaster(t *testing.T, partitions int, sizes map[string]int) (*pegasussim.Cluster, map[string][]byte) {
	t.Helper()
	root := t.TempDir()
	files := masterFiles(t, root, partitions, sizes)
	c, err := pegasussim.Start(context.Background(), pegasussim.Options{
		Tables: []pegasussim.TableSpec{{Name: "master", Partitions: partitions, CheckpointDir: root, CheckpointDecree: 42}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, files
}

func fetchOpts(c *pegasussim.Cluster, dir string) FetchOptions {
	return FetchOptions{Metas: []string{c.MetaAddr()}, Table: "master", Dir: dir, ChunkBytes: 64 << 10, Parallel: 3}
}

func checkStaged(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	for k, b := range want {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(k)))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if !bytes.Equal(got, b) {
			t.Fatalf("%s: %d bytes differ from the master's %d", k, len(got), len(b))
		}
	}
}

func TestFetchCopiesEveryPartition(t *testing.T) {
	for _, md5 := range []bool{true, false} {
		t.Run(fmt.Sprintf("md5=%v", md5), func(t *testing.T) {
			c, files := startMaster(t, 4, testSizes)
			dir := t.TempDir()
			o := fetchOpts(c, dir)
			o.NoMD5 = !md5
			var progress int64
			o.Progress = func(n int64) { progress += n } // Parallel 1 below: no race
			o.Parallel = 1
			m, err := Fetch(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			checkStaged(t, dir, files)
			total, done := m.Bytes()
			if !m.Complete() || total != done || m.PartitionCount != 4 || m.Partitions[2].Decree != 42 {
				t.Fatalf("manifest: complete %v, %d/%d bytes, %d partitions, decree %d", m.Complete(), done, total, m.PartitionCount, m.Partitions[2].Decree)
			}
			if progress != total || c.NFSBytesServed() != total {
				t.Fatalf("progress %d, served %d, want %d", progress, c.NFSBytesServed(), total)
			}
			if hasMD5 := m.Partitions[0].Files[0].MD5 != ""; hasMD5 != md5 {
				t.Fatalf("MD5 in manifest = %v, want %v", hasMD5, md5)
			}
			// A second run finds everything done and copies nothing.
			if _, err := Fetch(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			if c.NFSBytesServed() != total {
				t.Fatalf("second fetch copied %d more bytes", c.NFSBytesServed()-total)
			}
		})
	}
}

// A master that vanishes mid-copy fails the fetch with a clear error; the
// next run keeps what was copied and copies only the rest.
func TestFetchResumesAfterMasterVanished(t *testing.T) {
	c, files := startMaster(t, 4, testSizes)
	dir := t.TempDir()
	o := fetchOpts(c, dir)
	o.Client.CallTimeout = 2 * time.Second
	c.InjectNFSFault(pegasussim.NFSFault{VanishAfter: 10})
	_, err := Fetch(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "file ") || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("fetch from a vanishing master: %v", err)
	}
	t.Logf("vanished master: %v", err)
	served := c.NFSBytesServed()
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Complete() {
		t.Fatal("manifest complete after a failed fetch")
	}
	c.ClearFaults()
	m, err = Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkStaged(t, dir, files)
	total, _ := m.Bytes()
	if again := c.NFSBytesServed() - served; again >= total || again+served > total+int64(o.Parallel*o.ChunkBytes) {
		t.Fatalf("resume copied %d bytes after %d, total %d: not a resume", again, served, total)
	}
}

func TestFetchBadAnswers(t *testing.T) {
	cases := []struct {
		name  string
		fault pegasussim.NFSFault
		noMD5 bool
		want  []string
	}{
		{"truncated file", pegasussim.NFSFault{TruncateFile: "000009.sst", TruncateAt: 100 << 10}, false,
			[]string{"file 000009.sst", "offset 65536", "want 65536 bytes"}},
		{"flipped byte", pegasussim.NFSFault{FlipFile: "000012.sst", FlipAt: 5000}, false,
			[]string{"file 000012.sst", "MD5"}},
		{"missing file", pegasussim.NFSFault{MissingFile: "000012.sst"}, false,
			[]string{"RPC_NFS_GET_FILE_SIZE", "file 000012.sst", "error code"}},
		{"missing file without md5", pegasussim.NFSFault{MissingFile: "000012.sst"}, true,
			[]string{"RPC_NFS_GET_FILE_SIZE", "file 000012.sst", "error code"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := startMaster(t, 2, testSizes)
			c.InjectNFSFault(tc.fault)
			o := fetchOpts(c, t.TempDir())
			o.NoMD5 = tc.noMD5
			m, err := Fetch(context.Background(), o)
			if err == nil {
				t.Fatalf("fetch succeeded: %+v", m)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not say %q", err, w)
				}
			}
			if !errors.Is(err, ErrMaster) && !errors.Is(err, ErrVerify) {
				t.Fatalf("error %v is neither ErrMaster nor ErrVerify", err)
			}
			if m, _ := ReadManifest(o.Dir); m != nil && m.Complete() {
				t.Fatal("manifest complete after a bad answer")
			}
		})
	}
}

func TestFetchErrors(t *testing.T) {
	c, _ := startMaster(t, 2, testSizes)
	cases := []struct {
		name string
		o    FetchOptions
		want string
	}{
		{"unknown table", FetchOptions{Metas: []string{c.MetaAddr()}, Table: "nope", Dir: t.TempDir()}, "ERR_OBJECT_NOT_FOUND"},
		{"no metas", FetchOptions{Table: "master", Dir: t.TempDir()}, "needs master metas"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fetch(context.Background(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	// A directory that holds another table is refused.
	dir := t.TempDir()
	if _, err := Fetch(context.Background(), fetchOpts(c, dir)); err != nil {
		t.Fatal(err)
	}
	m, _ := ReadManifest(dir)
	m.Table = "other"
	if err := jsonfile.Write(filepath.Join(dir, ManifestName), m); err != nil {
		t.Fatal(err)
	}
	if _, err := Fetch(context.Background(), fetchOpts(c, dir)); !errors.Is(err, ErrStagedOther) || !strings.Contains(err.Error(), "use another directory") {
		t.Fatalf("fetch into another table's directory: %v", err)
	}
}

// The simulator's master face answers like replica_stub::on_query_last_checkpoint:
// ERR_OBJECT_NOT_FOUND on a node without the replica, ERR_PATH_NOT_FOUND
// without a checkpoint.
func TestQueryLastCheckpointAnswers(t *testing.T) {
	root := t.TempDir()
	masterFiles(t, root, 1, map[string]int{"CURRENT": 16}) // partition 1 has no directory
	c, err := pegasussim.Start(context.Background(), pegasussim.Options{Replicas: 3,
		Tables: []pegasussim.TableSpec{{Name: "m", Partitions: 2, ReplicaCount: 1, CheckpointDir: root}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	meta, _ := rpcclient.NewMeta([]string{c.MetaAddr()}, rpcclient.MetaOptions{})
	defer meta.Close()
	cfg, err := meta.QueryConfig(context.Background(), "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := rpcclient.NewPool(rpcclient.Options{})
	defer pool.Close()
	other := ""
	for _, a := range c.ReplicaAddrs() {
		if a != cfg.Partitions[0].Primary {
			other = a
		}
	}
	cases := []struct {
		name, addr string
		pidx       int32
		want       string
	}{
		{"primary", cfg.Partitions[0].Primary, 0, ""},
		{"not hosted here", other, 0, codec.ErrorObjectNotFound},
		{"no checkpoint", cfg.Partitions[1].Primary, 1, codec.ErrorPathNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, _ := pool.Get(tc.addr)
			lc, err := queryLastCheckpoint(context.Background(), conn, cfg.AppID, tc.pidx, true)
			if tc.want == "" {
				if err != nil || lc.Decree != 1 || len(lc.Files) != 1 || lc.Learnee != tc.addr || len(lc.MD5s) != 1 {
					t.Fatalf("got %+v, %v", lc, err)
				}
				return
			}
			if rpcclient.ErrName(err) != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}

// Refetch makes the next Fetch copy one partition again, and only it.
func TestRefetchOnePartition(t *testing.T) {
	c, files := startMaster(t, 3, testSizes)
	dir := t.TempDir()
	m, err := Fetch(context.Background(), fetchOpts(c, dir))
	if err != nil {
		t.Fatal(err)
	}
	var part1 int64
	for _, f := range m.Partitions[1].Files {
		part1 += f.Size
	}
	served := c.NFSBytesServed()
	if err := Refetch(dir, 1); err != nil {
		t.Fatal(err)
	}
	if m, _ := ReadManifest(dir); m.Complete() || m.Partitions[1].Complete || !m.Partitions[0].Complete {
		t.Fatalf("manifest after refetch: %+v", m.Partitions)
	}
	if _, err := os.Stat(PartitionDir(dir, 1)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("partition 1 still staged: %v", err)
	}
	if _, err := Fetch(context.Background(), fetchOpts(c, dir)); err != nil {
		t.Fatal(err)
	}
	checkStaged(t, dir, files)
	if again := c.NFSBytesServed() - served; again != part1 {
		t.Fatalf("refetch copied %d bytes, partition 1 has %d", again, part1)
	}
	if err := Refetch(dir, 3); err == nil {
		t.Fatal("refetch of partition 3 of 3 accepted")
	}
}

// A file the manifest says is done but that is gone from the disk is
// copied again.
func TestFetchRecopiesVanishedLocalFile(t *testing.T) {
	c, files := startMaster(t, 2, testSizes)
	dir := t.TempDir()
	if _, err := Fetch(context.Background(), fetchOpts(c, dir)); err != nil {
		t.Fatal(err)
	}
	served := c.NFSBytesServed()
	if err := os.Remove(filepath.Join(dir, "1", "000012.sst")); err != nil {
		t.Fatal(err)
	}
	if _, err := Fetch(context.Background(), fetchOpts(c, dir)); err != nil {
		t.Fatal(err)
	}
	checkStaged(t, dir, files)
	if again := c.NFSBytesServed() - served; again != int64(len(files["1/000012.sst"])) {
		t.Fatalf("copied %d bytes again, want the one file's %d", again, len(files["1/000012.sst"]))
	}
}
