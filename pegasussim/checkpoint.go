package pegasussim

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/thrift"
)

// The master face: what a follower replica asks a master cluster for when it
// copies a checkpoint (duplication.md §2.2, §2.3; wire.md §4.7). A table
// with TableSpec.CheckpointDir serves, for partition i, the regular files
// under CheckpointDir/i as that partition's last checkpoint. Requests carry
// gpid (0, 0) and go to any replica endpoint holding the partition
// (RPC_QUERY_LAST_CHECKPOINT_INFO) or the learnee the answer names (NFS).

// rDSN error_code integers of get_file_size_response.error (wire.md §4.7:
// the integer form, in the order of src/utils/error_code.h).
const (
	nfsErrOK                  = 0
	nfsErrObjectNotFound      = 10
	nfsErrFileOperationFailed = 20
)

// checksum_type values (wire.md §4.7).
const cstMD5 = 2

// NFSFault is a fault of the checkpoint-copy RPCs (InjectNFSFault).
type NFSFault struct {
	// VanishAfter > 0: after this many more RPC_NFS_COPY requests are
	// answered, every replica endpoint stops answering checkpoint RPCs and
	// closes the connection of each one it gets: a master node gone in the
	// middle of a copy. ClearFaults brings it back.
	VanishAfter int
	// TruncateFile (a name relative to the partition's checkpoint
	// directory) is served cut at TruncateAt bytes: copy replies past that
	// point carry fewer bytes than asked, with ERR_OK.
	TruncateFile string
	TruncateAt   int64
	// FlipFile's byte at FlipAt is served XOR 0xFF; the size and MD5
	// answered stay those of the real file.
	FlipFile string
	FlipAt   int64
	// MissingFile is listed by RPC_QUERY_LAST_CHECKPOINT_INFO but gone for
	// the NFS RPCs, as if deleted in between.
	MissingFile string
}

// nfsState is the fault state of the master face.
type nfsState struct {
	mu       sync.Mutex
	fault    NFSFault
	copies   int // copy requests answered since the fault was set
	vanished bool
	bytes    int64 // file bytes served by RPC_NFS_COPY
}

// InjectNFSFault sets the checkpoint-copy fault (replacing the previous one).
func (c *Cluster) InjectNFSFault(f NFSFault) {
	c.nfs.mu.Lock()
	defer c.nfs.mu.Unlock()
	c.nfs.fault, c.nfs.copies, c.nfs.vanished = f, 0, false
}

func (c *Cluster) clearNFSFault() { c.InjectNFSFault(NFSFault{}) }

// NFSBytesServed is the number of file bytes RPC_NFS_COPY has answered.
func (c *Cluster) NFSBytesServed() int64 {
	c.nfs.mu.Lock()
	defer c.nfs.mu.Unlock()
	return c.nfs.bytes
}

// vanishedNow reports whether checkpoint RPCs must go unanswered; counting
// is one more copy request when copy is set.
func (s *nfsState) vanishedNow(copy bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vanished {
		return true
	}
	if copy && s.fault.VanishAfter > 0 {
		if s.copies >= s.fault.VanishAfter {
			s.vanished = true
			return true
		}
		s.copies++
	}
	return false
}

var checkpointRPCs = map[string]bool{
	codec.RPCQueryLastCheckpointInfo: true, codec.RPCNFSGetFileSize: true, codec.RPCNFSCopy: true,
}

// dispatchCheckpoint serves a checkpoint RPC on a replica endpoint. reply is
// false when the master face has vanished: the connection is closed instead.
func (c *Cluster) dispatchCheckpoint(ep *endpoint, f *codec.Frame, name string, out []byte) ([]byte, bool) {
	if c.nfs.vanishedNow(name == codec.RPCNFSCopy) {
		go ep.closeConns()
		return out, false
	}
	var body []byte
	var err error
	switch name {
	case codec.RPCQueryLastCheckpointInfo:
		body, err = c.onQueryLastCheckpoint(ep, f.Body)
	case codec.RPCNFSGetFileSize:
		body, err = c.onGetFileSize(f.Body)
	default:
		body, err = c.onNFSCopy(f.Body)
	}
	if err != nil {
		c.counters.add(&c.counters.malformed, 1)
		return errReply(out, ep, f, codec.ErrorInvalidData)
	}
	return okReply(out, ep, f, body)
}

// checkpointDir returns partition pidx's checkpoint directory of the table
// with appID, with its root; "" when the table serves none.
func (c *Cluster) checkpointDir(appID, pidx int32) (root, dir string, t *table) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t = c.byID[appID]
	if t == nil || t.checkpointDir == "" || pidx < 0 || int(pidx) >= len(t.parts) {
		return "", "", t
	}
	return t.checkpointDir, filepath.Join(t.checkpointDir, strconv.Itoa(int(pidx))), t
}

// onQueryLastCheckpoint is replica_stub::on_query_last_checkpoint and
// replica::on_query_last_checkpoint (src/replica/replica_chkpt.cpp).
func (c *Cluster) onQueryLastCheckpoint(ep *endpoint, body []byte) ([]byte, error) {
	var appID, pidx int32
	checksum := int32(1) // CST_NONE, the IDL default
	err := unwrapStruct(body, "learn_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRUCT:
			appID, pidx, err = r.ReadGpid()
		case id == 9 && t == thrift.I32:
			checksum, err = r.ReadI32()
		case t == thrift.STRUCT:
			// learner (2), app_specific_learn_request (6), hp_learner (8)
			err = skipSpecial(r, id, map[int16]special{2: spAddr, 6: spBlob, 8: spHostPort})
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return nil, err
	}
	_, dir, t := c.checkpointDir(appID, pidx)
	if t == nil || !c.hosts(t, pidx, ep.idx) {
		return appendLearnResponse(nil, learnAnswer{err: codec.ErrorObjectNotFound}, c.opts.OmitHostPort), nil
	}
	files, err := listFiles(dir)
	if dir == "" || errors.Is(err, fs.ErrNotExist) {
		// No checkpoint yet: last_durable_decree == 0.
		return appendLearnResponse(nil, learnAnswer{err: codec.ErrorPathNotFound}, c.opts.OmitHostPort), nil
	}
	a := learnAnswer{
		err: codec.ErrorOK, decree: t.checkpointDecree, dir: dir, files: files,
		learnee: ep.from, learneeHost: c.hostName, learneePort: ep.addr.Port(),
	}
	if err == nil && checksum >= cstMD5 {
		a.sizes, a.sums, err = sizesAndMD5(dir, files)
	}
	if err != nil {
		a = learnAnswer{err: codec.ErrorGetLearnStateFailed}
	}
	return appendLearnResponse(nil, a, c.opts.OmitHostPort), nil
}

// hosts reports whether replica endpoint idx holds partition pidx of t.
func (c *Cluster) hosts(t *table, pidx int32, idx int) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if pidx < 0 || int(pidx) >= len(t.configs) {
		return false
	}
	cfg := t.configs[pidx]
	return cfg.primary == idx || slices.Contains(cfg.secondaries, idx)
}

// listFiles lists the regular files under dir, recursively, as sorted
// slash-separated names relative to dir (get_checkpoint's file set,
// duplication.md §2.2).
func listFiles(dir string) ([]string, error) {
	if dir == "" {
		return nil, fs.ErrNotExist
	}
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

func sizesAndMD5(dir string, files []string) ([]int64, []string, error) {
	sizes := make([]int64, len(files))
	sums := make([]string, len(files))
	for i, name := range files {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		h := md5.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		sizes[i], sums[i] = n, hex.EncodeToString(h.Sum(nil))
	}
	return sizes, sums, nil
}

// learnAnswer is what a learn_response carries on this path.
type learnAnswer struct {
	err         string
	decree      int64
	dir         string
	files       []string
	sizes       []int64
	sums        []string
	learnee     uint64
	learneeHost string
	learneePort uint16
}

// appendLearnResponse writes learn_response (wire.md §4.7) the way the C++
// handler leaves it: every plain field written, config default-constructed,
// type LT_INVALID, state.meta empty, file_sizes/file_checksums only when
// the MD5 was asked for, hp_learnee from 2.6 on.
func appendLearnResponse(dst []byte, a learnAnswer, omitHostPort bool) []byte {
	w := thrift.Writer{B: dst}
	w.WrapperBegin(thrift.STRUCT, 0)
	w.FieldHeader(thrift.STRUCT, 1)
	w.String(a.err)
	w.FieldHeader(thrift.STRUCT, 2) // replica_configuration, default
	w.FieldHeader(thrift.STRUCT, 1)
	w.Gpid(0, 0)
	w.FieldHeader(thrift.I64, 2)
	w.I64(0)
	w.FieldHeader(thrift.STRUCT, 3)
	w.RPCAddress(0)
	w.FieldHeader(thrift.I32, 4)
	w.I32(0)
	w.FieldHeader(thrift.I64, 5)
	w.I64(0)
	w.Stop()
	w.FieldHeader(thrift.I64, 3)
	w.I64(a.decree) // last_committed_decree ≥ the checkpoint's
	w.FieldHeader(thrift.I64, 4)
	w.I64(0)
	w.FieldHeader(thrift.I32, 5)
	w.I32(0)
	w.FieldHeader(thrift.STRUCT, 6)
	w.FieldHeader(thrift.I64, 1)
	w.I64(0)
	w.FieldHeader(thrift.I64, 2)
	w.I64(a.decree)
	w.FieldHeader(thrift.STRUCT, 3)
	w.Blob(nil)
	w.FieldHeader(thrift.LIST, 4)
	w.ListHeader(thrift.STRING, len(a.files))
	for _, f := range a.files {
		w.String(f)
	}
	if a.sums != nil {
		w.FieldHeader(thrift.LIST, 6)
		w.ListHeader(thrift.I64, len(a.sizes))
		for _, s := range a.sizes {
			w.I64(s)
		}
		w.FieldHeader(thrift.LIST, 7)
		w.ListHeader(thrift.STRING, len(a.sums))
		for _, s := range a.sums {
			w.String(s)
		}
	}
	w.Stop()
	w.FieldHeader(thrift.STRUCT, 7)
	w.RPCAddress(a.learnee)
	w.FieldHeader(thrift.STRING, 8)
	w.String(a.dir)
	if !omitHostPort && a.learnee != 0 {
		w.FieldHeader(thrift.STRUCT, 10)
		w.HostPort(a.learneeHost, a.learneePort, 1)
	}
	w.Stop()
	w.WrapperEnd()
	return w.B
}

// inCheckpoints resolves name under dir and reports whether the result
// stays inside some table's checkpoint root. The real server validates no
// path (duplication.md §2.3); the simulator serves only what it was given.
func (c *Cluster) inCheckpoints(dir, name string) (string, bool) {
	p := filepath.Clean(filepath.Join(dir, filepath.FromSlash(name)))
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, t := range c.tables {
		if t.checkpointDir != "" && strings.HasPrefix(p, filepath.Clean(t.checkpointDir)+string(filepath.Separator)) {
			return p, true
		}
	}
	return p, false
}

// onGetFileSize is nfs_service_impl::on_get_file_size.
func (c *Cluster) onGetFileSize(body []byte) ([]byte, error) {
	var dir string
	var names []string
	err := unwrapStruct(body, "get_file_size_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		switch {
		case id == 3 && t == thrift.LIST:
			return true, readList(r, func(r *thrift.Reader) error {
				b, err := r.ReadString()
				names = append(names, string(b))
				return err
			})
		case id == 4 && t == thrift.STRING:
			b, err := r.ReadString()
			dir = string(b)
			return true, err
		case t == thrift.STRUCT:
			// source (1), pid (8), hp_source (9)
			return true, skipSpecial(r, id, map[int16]special{1: spAddr, 8: spGpid, 9: spHostPort})
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	code := int32(nfsErrOK)
	if len(names) == 0 {
		if names, err = listFiles(dir); err != nil {
			code, names = nfsErrObjectNotFound, nil
		}
	}
	var sizes []int64
	for _, n := range names {
		p, ok := c.inCheckpoints(dir, n)
		st, err := os.Stat(p)
		if !ok || err != nil || !st.Mode().IsRegular() || c.missing(n) {
			code = nfsErrFileOperationFailed
			break
		}
		sizes = append(sizes, st.Size())
	}
	names = names[:len(sizes)]
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, 0)
	w.FieldHeader(thrift.I32, 1)
	w.I32(code)
	w.FieldHeader(thrift.LIST, 2)
	w.ListHeader(thrift.STRING, len(names))
	for _, n := range names {
		w.String(n)
	}
	w.FieldHeader(thrift.LIST, 3)
	w.ListHeader(thrift.I64, len(sizes))
	for _, s := range sizes {
		w.I64(s)
	}
	w.Stop()
	w.WrapperEnd()
	return w.B, nil
}

// copyRequest is the part of copy_request the server uses.
type copyRequest struct {
	dir, name string
	offset    int64
	size      int32
}

// onNFSCopy is nfs_service_impl::on_copy: size bytes at offset of
// source_dir/file_name; open failure → ERR_OBJECT_NOT_FOUND.
func (c *Cluster) onNFSCopy(body []byte) ([]byte, error) {
	var q copyRequest
	err := unwrapStruct(body, "copy_request", func(r *thrift.Reader, t thrift.Type, id int16) (bool, error) {
		var err error
		var b []byte
		switch {
		case id == 2 && t == thrift.STRING:
			b, err = r.ReadString()
			q.dir = string(b)
		case id == 4 && t == thrift.STRING:
			b, err = r.ReadString()
			q.name = string(b)
		case id == 5 && t == thrift.I64:
			q.offset, err = r.ReadI64()
		case id == 6 && t == thrift.I32:
			q.size, err = r.ReadI32()
		case t == thrift.STRUCT:
			// source (1), pid (10), hp_source (11)
			err = skipSpecial(r, id, map[int16]special{1: spAddr, 10: spGpid, 11: spHostPort})
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return nil, err
	}
	errName, data := c.readChunk(q)
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, 0)
	w.FieldHeader(thrift.STRUCT, 1)
	w.String(errName)
	w.FieldHeader(thrift.STRUCT, 2)
	w.Blob(data)
	w.FieldHeader(thrift.I64, 3)
	w.I64(q.offset)
	w.FieldHeader(thrift.I32, 4)
	w.I32(q.size)
	w.Stop()
	w.WrapperEnd()
	return w.B, nil
}

func (c *Cluster) missing(name string) bool {
	c.nfs.mu.Lock()
	defer c.nfs.mu.Unlock()
	return name != "" && c.nfs.fault.MissingFile == name
}

// readChunk reads one copy chunk, applying the truncate and flip faults.
func (c *Cluster) readChunk(q copyRequest) (string, []byte) {
	p, ok := c.inCheckpoints(q.dir, q.name)
	if !ok || q.size < 0 || q.offset < 0 || c.missing(q.name) {
		return codec.ErrorObjectNotFound, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return codec.ErrorObjectNotFound, nil
	}
	defer f.Close()
	data := make([]byte, q.size)
	n, err := f.ReadAt(data, q.offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return codec.ErrorFileOperationFailed, nil
	}
	if n < len(data) {
		return "ERR_HANDLE_EOF", nil
	}
	c.nfs.mu.Lock()
	defer c.nfs.mu.Unlock()
	ft := c.nfs.fault
	if ft.TruncateFile == q.name && q.offset+int64(len(data)) > ft.TruncateAt {
		data = data[:max(0, ft.TruncateAt-q.offset)]
	}
	if ft.FlipFile == q.name && ft.FlipAt >= q.offset && ft.FlipAt < q.offset+int64(len(data)) {
		data[ft.FlipAt-q.offset] ^= 0xFF
	}
	c.nfs.bytes += int64(len(data))
	return codec.ErrorOK, data
}

// special is an rDSN special type: a STRUCT type byte with a primitive
// payload (wire.md §3), which a generic skip would misread.
type special uint8

const (
	spNone special = iota
	spAddr
	spGpid
	spBlob
	spHostPort
)

// skipSpecial skips field id (type STRUCT) by its schema in kinds; a field
// not listed is a real struct.
func skipSpecial(r *thrift.Reader, id int16, kinds map[int16]special) error {
	var err error
	switch kinds[id] {
	case spAddr:
		_, err = r.ReadRPCAddress()
	case spGpid:
		_, _, err = r.ReadGpid()
	case spBlob:
		_, err = r.ReadBlob()
	case spHostPort:
		_, _, _, err = r.ReadHostPort()
	default:
		err = r.Skip(thrift.STRUCT)
	}
	return err
}

// checkpointSpecErr checks a TableSpec's checkpoint fields.
func checkpointSpecErr(ts TableSpec) error {
	if ts.CheckpointDir == "" {
		return nil
	}
	if !filepath.IsAbs(ts.CheckpointDir) {
		return fmt.Errorf("pegasussim: table %q: CheckpointDir %q must be absolute: %w", ts.Name, ts.CheckpointDir, ErrBadArgument)
	}
	if ts.CheckpointDecree < 0 {
		return fmt.Errorf("pegasussim: table %q: CheckpointDecree %d: %w", ts.Name, ts.CheckpointDecree, ErrBadArgument)
	}
	return nil
}
