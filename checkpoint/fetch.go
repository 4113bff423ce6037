package checkpoint

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/dupbridge/dupbridge/jsonfile"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// Defaults of FetchOptions (the C++ client's, duplication.md §2.3, where it
// has one).
const (
	DefaultChunkBytes    = 4 << 20 // [nfs] nfs_copy_block_bytes
	DefaultFetchParallel = 4
	DefaultChunkRetries  = 2 // max_retry_count_per_copy_request
)

// FetchOptions configure Fetch.
type FetchOptions struct {
	// Metas are the master meta servers (host:port); Table the master
	// table.
	Metas []string
	Table string
	// Dir is the staging directory (created if missing). A directory that
	// holds a manifest of the same table is resumed.
	Dir string
	// Parallel is how many files are copied at once (default 4).
	Parallel int
	// ChunkBytes is the size of one RPC_NFS_COPY (default 4 MiB).
	ChunkBytes int
	// BytesPerSecond caps the copy rate over all files; 0 = unlimited.
	BytesPerSecond int64
	// Retries is how often one chunk is re-asked after a transport error
	// (default 2).
	Retries int
	// NoMD5 does not ask the master for MD5s (a master older than 2.6
	// ignores the request anyway; duplication.md §2.2).
	NoMD5 bool
	// Client configures the connections to the master.
	Client rpcclient.Options
	// Progress, when set, is called with each chunk's byte count, from
	// several goroutines.
	Progress func(n int64)
	Logger   *zap.Logger
}

func (o *FetchOptions) defaults() error {
	if len(o.Metas) == 0 || o.Table == "" || o.Dir == "" {
		return errors.New("checkpoint: fetch needs master metas, a table and a directory")
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultFetchParallel
	}
	if o.ChunkBytes <= 0 {
		o.ChunkBytes = DefaultChunkBytes
	}
	if o.Retries <= 0 {
		o.Retries = DefaultChunkRetries
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Progress == nil {
		o.Progress = func(int64) {}
	}
	return nil
}

// fetcher is one Fetch run.
type fetcher struct {
	o    FetchOptions
	pool *rpcclient.Pool
	lim  *rate.Limiter

	mu sync.Mutex // guards m and its file
	m  *Manifest
}

// Fetch copies the last checkpoint of every partition of a master table into
// o.Dir, the way a follower replica copies its own partition's (duplication.md
// §2.2, §2.3): the master meta gives each partition's primary; the primary's
// RPC_QUERY_LAST_CHECKPOINT_INFO names the checkpoint directory, its files
// and, from 2.6 on, their sizes and MD5s; RPC_NFS_GET_FILE_SIZE and chunks of
// RPC_NFS_COPY copy each file, checked for offset, size and (when offered)
// MD5. An interrupted Fetch resumes from its manifest: complete files are
// kept, a partial file continues from its local size (the MD5 at its end
// covers the kept bytes too), and a partition whose master checkpoint moved
// on starts over.
func Fetch(ctx context.Context, o FetchOptions) (*Manifest, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: staging directory: %w", err)
	}
	f := &fetcher{o: o, pool: rpcclient.NewPool(o.Client), lim: rate.NewLimiter(rate.Inf, 0)}
	defer f.pool.Close()
	if o.BytesPerSecond > 0 {
		f.lim = emptyLimiter(rate.Limit(o.BytesPerSecond), max(o.ChunkBytes, int(min(o.BytesPerSecond, 1<<30))))
	}
	meta, err := rpcclient.NewMeta(o.Metas, rpcclient.MetaOptions{Options: o.Client})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer meta.Close()
	cfg, err := meta.QueryConfig(ctx, o.Table, nil)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: partitions of master table %s: %w", o.Table, err)
	}
	if err := f.openManifest(cfg); err != nil {
		return nil, err
	}
	var tasks []fileTask
	for i := range cfg.Partitions {
		t, err := f.preparePartition(ctx, &cfg.Partitions[i])
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, t...)
	}
	if err := f.copyAll(ctx, tasks); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	total, _ := f.m.Bytes()
	f.o.Logger.Info("checkpoint fetched", zap.String("table", o.Table), zap.Int("partitions", f.m.PartitionCount),
		zap.Int64("bytes", total), zap.String("dir", o.Dir))
	return f.m, nil
}

// openManifest loads the staging manifest, or starts one for cfg.
func (f *fetcher) openManifest(cfg *rpcclient.TableConfig) error {
	n := int(cfg.PartitionCount)
	if n < 1 || len(cfg.Partitions) != n {
		return fmt.Errorf("%w: master table %s: %d partition configurations for partition_count %d",
			ErrMaster, f.o.Table, len(cfg.Partitions), n)
	}
	m, err := ReadManifest(f.o.Dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		m = &Manifest{Version: manifestVersion, Table: f.o.Table, AppID: cfg.AppID, PartitionCount: n}
		for i := 0; i < n; i++ {
			m.Partitions = append(m.Partitions, PartitionManifest{Index: i})
		}
	case err != nil:
		return err
	case m.Table != f.o.Table || m.PartitionCount != n:
		return fmt.Errorf("%w: %s holds table %s with %d partitions, not %s with %d: use another directory",
			ErrStagedOther, f.o.Dir, m.Table, m.PartitionCount, f.o.Table, n)
	}
	f.m = m
	return f.saveLocked()
}

func (f *fetcher) saveLocked() error {
	return jsonfile.Write(filepath.Join(f.o.Dir, ManifestName), f.m)
}

// fileTask is one file to copy.
type fileTask struct {
	pidx, fidx int
	learnee    string
	srcDir     string
}

// preparePartition asks the partition's replicas for their last
// checkpoint, reconciles it with the manifest and returns the files left.
func (f *fetcher) preparePartition(ctx context.Context, pc *rpcclient.PartitionConfig) ([]fileTask, error) {
	idx := int(pc.Index)
	if idx < 0 || idx >= f.m.PartitionCount {
		return nil, fmt.Errorf("%w: master table %s: partition index %d of %d", ErrMaster, f.o.Table, idx, f.m.PartitionCount)
	}
	f.mu.Lock()
	done := f.m.Partitions[idx].Complete && f.checkLocalLocked(idx)
	f.mu.Unlock()
	if done {
		return nil, nil
	}
	lc, err := f.lastCheckpoint(ctx, pc)
	if err != nil {
		return nil, err
	}
	learnee, err := f.pool.Get(lc.Learnee)
	if err != nil {
		return nil, err
	}
	sizes, err := getFileSizes(ctx, learnee, lc.Dir, lc.Files)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: partition %d: %w", idx, err)
	}
	for i := range lc.MD5s {
		if lc.Sizes[i] != sizes[i] {
			return nil, fmt.Errorf("%w: partition %d: file %s is %d bytes by the checkpoint info but %d by %s",
				ErrMaster, idx, lc.Files[i], lc.Sizes[i], sizes[i], lc.Learnee)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pm := &f.m.Partitions[idx]
	if pm.Decree != lc.Decree || pm.Dir != lc.Dir || !sameFiles(pm.Files, lc.Files, sizes) {
		// A new checkpoint (or the first look): start the partition over.
		if pm.Decree != 0 {
			f.o.Logger.Info("master checkpoint changed; copying the partition again", zap.Int("partition", idx),
				zap.Int64("old_decree", pm.Decree), zap.Int64("decree", lc.Decree))
		}
		if err := os.RemoveAll(PartitionDir(f.o.Dir, idx)); err != nil {
			return nil, fmt.Errorf("checkpoint: clearing partition %d: %w", idx, err)
		}
		*pm = PartitionManifest{Index: idx, Decree: lc.Decree, Dir: lc.Dir}
		for i, name := range lc.Files {
			if !filepath.IsLocal(filepath.FromSlash(name)) {
				return nil, fmt.Errorf("%w: partition %d: file name %q leaves the checkpoint directory", ErrMaster, idx, name)
			}
			fm := FileManifest{Name: name, Size: sizes[i]}
			if lc.MD5s != nil {
				fm.MD5 = lc.MD5s[i]
			}
			pm.Files = append(pm.Files, fm)
		}
	}
	pm.Learnee = lc.Learnee
	f.checkLocalLocked(idx)
	var tasks []fileTask
	for i := range pm.Files {
		if fm := &pm.Files[i]; !fm.Done {
			tasks = append(tasks, fileTask{pidx: idx, fidx: i, learnee: lc.Learnee, srcDir: lc.Dir})
		}
	}
	pm.Complete = len(tasks) == 0
	return tasks, f.saveLocked()
}

// checkLocalLocked trusts the manifest only as far as the disk agrees: a
// file marked done that is missing or of another size is to be copied
// again. It reports whether every file stays done. f.mu is held.
func (f *fetcher) checkLocalLocked(idx int) bool {
	pm := &f.m.Partitions[idx]
	all := true
	for i := range pm.Files {
		fm := &pm.Files[i]
		if fm.Done {
			st, err := os.Stat(filepath.Join(PartitionDir(f.o.Dir, idx), filepath.FromSlash(fm.Name)))
			fm.Done = err == nil && st.Size() == fm.Size
		}
		all = all && fm.Done
	}
	pm.Complete = pm.Complete && all
	return all
}

func sameFiles(have []FileManifest, names []string, sizes []int64) bool {
	if len(have) != len(names) {
		return false
	}
	for i := range have {
		if have[i].Name != names[i] || have[i].Size != sizes[i] {
			return false
		}
	}
	return true
}

// lastCheckpoint asks the primary, then the secondaries, for the
// partition's last checkpoint; the first good answer wins.
func (f *fetcher) lastCheckpoint(ctx context.Context, pc *rpcclient.PartitionConfig) (*LastCheckpoint, error) {
	addrs := append([]string{pc.PrimaryAddress()}, pc.Secondaries...)
	var errs []error
	for _, a := range addrs {
		if a == "" {
			continue
		}
		c, err := f.pool.Get(a)
		if err == nil {
			var lc *LastCheckpoint
			if lc, err = queryLastCheckpoint(ctx, c, pc.AppID, pc.Index, !f.o.NoMD5); err == nil {
				return lc, nil
			}
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no primary or secondary"))
	}
	return nil, fmt.Errorf("checkpoint: last checkpoint of master partition %d.%d: %w", pc.AppID, pc.Index, errors.Join(errs...))
}

// copyAll copies the files with o.Parallel workers; the first error stops
// the rest.
func (f *fetcher) copyAll(ctx context.Context, tasks []fileTask) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(f.o.Parallel)
	for _, t := range tasks {
		g.Go(func() error { return f.copyFile(ctx, t) })
	}
	return g.Wait()
}

// copyFile copies one file from its local size on, then checks its size
// and MD5 and records it in the manifest.
func (f *fetcher) copyFile(ctx context.Context, t fileTask) error {
	f.mu.Lock()
	fm := f.m.Partitions[t.pidx].Files[t.fidx]
	f.mu.Unlock()
	local := filepath.Join(PartitionDir(f.o.Dir, t.pidx), filepath.FromSlash(fm.Name))
	what := fmt.Sprintf("partition %d file %s", t.pidx, fm.Name)
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return fmt.Errorf("checkpoint: %s: %w", what, err)
	}
	out, err := os.OpenFile(local, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("checkpoint: %s: %w", what, err)
	}
	defer out.Close()
	off, err := out.Seek(0, io.SeekEnd)
	if err == nil && off > fm.Size {
		off, err = 0, out.Truncate(0) // longer than the master's: not ours
	}
	if err != nil {
		return fmt.Errorf("checkpoint: %s: %w", what, err)
	}
	c, err := f.pool.Get(t.learnee)
	if err != nil {
		return err
	}
	for off < fm.Size || (fm.Size == 0 && off == 0) {
		n := int32(min(int64(f.o.ChunkBytes), fm.Size-off))
		data, err := f.chunk(ctx, c, t.srcDir, fm.Name, off, n, off+int64(n) == fm.Size)
		if err != nil {
			return fmt.Errorf("checkpoint: %s: %w", what, err)
		}
		if _, err := out.WriteAt(data, off); err != nil {
			return fmt.Errorf("checkpoint: %s at offset %d: %w", what, off, err)
		}
		f.o.Progress(int64(len(data)))
		off += int64(n)
		if fm.Size == 0 {
			break
		}
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("checkpoint: %s: %w", what, err)
	}
	if err := verifyFile(local, fm); err != nil {
		// Drop the bad copy: a later run copies it again.
		os.Remove(local)
		return fmt.Errorf("checkpoint: %s: %w", what, err)
	}
	return f.markDone(t)
}

// chunk copies one chunk, re-asking after transport errors; the rate
// limiter is charged before the request.
func (f *fetcher) chunk(ctx context.Context, c *rpcclient.Conn, dir, name string, off int64, n int32, last bool) ([]byte, error) {
	if err := f.lim.WaitN(ctx, int(n)); err != nil {
		return nil, err
	}
	var err error
	for attempt := 0; attempt <= f.o.Retries; attempt++ {
		var data []byte
		if data, err = copyChunk(ctx, c, dir, name, off, n, last); err == nil {
			return data, nil
		}
		if errors.Is(err, ErrMaster) || ctx.Err() != nil {
			return nil, err // a wrong answer is not cured by asking again
		}
	}
	return nil, fmt.Errorf("copying at offset %d from %s, %d attempts: %w", off, c.Addr(), f.o.Retries+1, err)
}

// ErrStagedOther marks a staging directory that holds another table, or
// the same table before its partition count changed (a split).
var ErrStagedOther = errors.New("checkpoint: staging directory holds another checkpoint")

// ErrVerify marks a copied file whose size or MD5 differs from the master's.
var ErrVerify = errors.New("copied file does not match the master")

// verifyFile checks a local copy's size and, when known, its MD5.
func verifyFile(path string, fm FileManifest) error {
	if fm.MD5 == "" {
		st, err := os.Stat(path)
		if err == nil && st.Size() != fm.Size {
			err = fmt.Errorf("%w: %d bytes, want %d", ErrVerify, st.Size(), fm.Size)
		}
		return err
	}
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	h := md5.New()
	n, err := io.Copy(h, in)
	if err != nil {
		return err
	}
	if n != fm.Size {
		return fmt.Errorf("%w: %d bytes, want %d", ErrVerify, n, fm.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != fm.MD5 {
		return fmt.Errorf("%w: MD5 %s, the master's is %s", ErrVerify, got, fm.MD5)
	}
	return nil
}

func (f *fetcher) markDone(t fileTask) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	pm := &f.m.Partitions[t.pidx]
	pm.Files[t.fidx].Done = true
	pm.Complete = true
	for _, fm := range pm.Files {
		pm.Complete = pm.Complete && fm.Done
	}
	return f.saveLocked()
}
