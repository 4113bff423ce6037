package walreader

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// FileInfo is one plog file of a log.
type FileInfo struct {
	Path        string
	Index       int32 // from the name: log.<index>.<start_offset>
	StartOffset int64 // from the name
	Size        int64
}

// ParseFileName parses "log.<index>.<start_offset>" (storage.md §1.1). With
// allowSuffix, one further ".<suffix>" is accepted (as in the names of the
// captured test files, "log.1.0.handle_real_private_log"), except
// ".removed", which Pegasus gives files it gave up on.
func ParseFileName(name string, allowSuffix bool) (index int32, startOffset int64, ok bool) {
	parts := strings.Split(name, ".")
	if parts[0] != "log" || len(parts) < 3 || len(parts) > 4 || (len(parts) == 4 && (!allowSuffix || parts[3] == "removed" || parts[3] == "")) {
		return 0, 0, false
	}
	if !digits(parts[1]) || !digits(parts[2]) {
		return 0, 0, false
	}
	i, err1 := strconv.ParseInt(parts[1], 10, 32)
	o, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return int32(i), o, true
}

// suffix is what follows log.<index>.<start_offset>. in a file name.
func suffix(name string) string {
	parts := strings.SplitN(name, ".", 4)
	if len(parts) == 4 {
		return parts[3]
	}
	return ""
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ListDir lists the plog files of dir in index order. Names that are not
// exactly log.<index>.<start_offset> (such as *.removed) are ignored.
func ListDir(dir string) ([]FileInfo, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("walreader: list %s: %w", dir, err)
	}
	var out []FileInfo
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		idx, off, ok := ParseFileName(e.Name(), false)
		if !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("walreader: stat %s: %w", filepath.Join(dir, e.Name()), err)
		}
		out = append(out, FileInfo{Path: filepath.Join(dir, e.Name()), Index: idx, StartOffset: off, Size: fi.Size()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}

// logDirs lists the logs under dir, found as Discover finds them: dir
// itself when it holds plog files, else the plog directories below it (a
// replica directory's plog/, a reps/ directory's <app>.<partition>.<type>/plog,
// storage.md §1.1), in name order.
func logDirs(dir string) ([][]FileInfo, error) {
	var ds []plogDir
	if err := findPlogDirs(dir, 0, &ds); err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("%w under %s (no log.<index>.<start_offset> files)", ErrNoPlog, dir)
	}
	out := make([][]FileInfo, len(ds))
	for i, d := range ds {
		out[i] = d.files
	}
	return out, nil
}

// Options configure a Reader.
type Options struct {
	// FromDecree skips mutations with a lower decree, and whole files that
	// the next file's header shows to hold only lower decrees.
	FromDecree int64
	// SkipCorrupt resynchronises after corrupt data (at the next block that
	// verifies) and lets gaps between files through, reporting warnings,
	// instead of failing.
	SkipCorrupt bool
	// OnWarning, if set, is called for every warning as it happens (they
	// are also kept, see Reader.Warnings).
	OnWarning func(Warning)
	// BufferSize is the initial read buffer per file (0: 1 MiB).
	BufferSize int
}

// Reader reads the mutations of one or more logs in order. Each directory
// given is a log; files given by name are grouped into logs by directory
// (and name suffix).
type Reader struct {
	opts     Options
	groups   [][]FileInfo
	g, fi    int // current group and file
	f        *os.File
	fr       *FileReader
	warnings []Warning
	files    []FileInfo
	done     bool
}

// Open prepares a Reader over paths: plog directories (or directories
// holding them, as Discover finds them: a replica directory holding plog/,
// a directory of replica directories, a data root), or plog
// files (log.<index>.<start_offset>, optionally with a further suffix).
// Files of one directory are read in index order; consecutive indexes and
// offsets are required (storage.md §1.9 step 1).
func Open(paths []string, opts Options) (*Reader, error) {
	r := &Reader{opts: opts}
	byDir := map[string]int{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("walreader: %w", err)
		}
		if st.IsDir() {
			gs, err := logDirs(p)
			if err != nil {
				return nil, err
			}
			r.groups = append(r.groups, gs...)
			continue
		}
		idx, off, ok := ParseFileName(filepath.Base(p), true)
		if !ok {
			return nil, fmt.Errorf("walreader: %s: not a plog file name (want log.<index>.<start_offset>)", p)
		}
		fi := FileInfo{Path: p, Index: idx, StartOffset: off, Size: st.Size()}
		// One log per directory; files with a name suffix (captured test
		// files such as log.1.0.<test name>) form one log per suffix.
		d := filepath.Dir(p) + "\x00" + suffix(filepath.Base(p))
		if g, ok := byDir[d]; ok {
			r.groups[g] = append(r.groups[g], fi)
		} else {
			byDir[d] = len(r.groups)
			r.groups = append(r.groups, []FileInfo{fi})
		}
	}
	for gi, g := range r.groups {
		sort.SliceStable(g, func(i, j int) bool { return g[i].Index < g[j].Index })
		for i := 1; i < len(g); i++ {
			prev, cur := g[i-1], g[i]
			var detail string
			switch {
			case cur.Index != prev.Index+1:
				detail = fmt.Sprintf("index %d follows %d (%s)", cur.Index, prev.Index, prev.Path)
			case cur.StartOffset != prev.StartOffset+prev.Size:
				detail = fmt.Sprintf("start offset %d, but %s ends at global offset %d", cur.StartOffset, prev.Path, prev.StartOffset+prev.Size)
			default:
				continue
			}
			err := &Error{File: cur.Path, BlockOffset: -1, Offset: -1, Err: ErrGap, Detail: detail}
			if !opts.SkipCorrupt {
				return nil, err
			}
			r.warn(Warning{Kind: WarnGap, File: cur.Path, Err: err})
		}
		r.groups[gi] = r.skipByDecree(g)
		r.files = append(r.files, r.groups[gi]...)
	}
	return r, nil
}

// skipByDecree drops leading files whose successor's header max_decree
// (largest decree in all earlier files, storage.md §1.4) is below FromDecree.
func (r *Reader) skipByDecree(g []FileInfo) []FileInfo {
	if r.opts.FromDecree <= 1 {
		return g
	}
	for len(g) > 1 {
		md, ok := peekMaxDecree(g[1].Path)
		if !ok || md >= r.opts.FromDecree {
			break
		}
		g = g[1:]
	}
	return g
}

func peekMaxDecree(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var b [BlockHeaderSize + fileHeaderFixed + replicaInfoSize]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return 0, false
	}
	bh, _ := ParseBlockHeader(b[:])
	if bh.Magic != BlockMagic || bh.Length != fileHeaderFixed+replicaInfoSize || CRC32C(0, b[BlockHeaderSize:]) != bh.CRC {
		return 0, false
	}
	h, _, err := ParseFileHeader(b[BlockHeaderSize:])
	if err != nil || len(h.Replicas) != 1 {
		return 0, false
	}
	return h.Replicas[0].MaxDecree, true
}

// Files lists the files the Reader will read, in order.
func (r *Reader) Files() []FileInfo { return r.files }

// Warnings returns the warnings so far.
func (r *Reader) Warnings() []Warning { return r.warnings }

// Header is the file header of the file being read (zero before the first
// call to Next).
func (r *Reader) Header() FileHeader {
	if r.fr == nil {
		return FileHeader{}
	}
	return r.fr.Header()
}

func (r *Reader) warn(w Warning) {
	r.warnings = append(r.warnings, w)
	if r.opts.OnWarning != nil {
		r.opts.OnWarning(w)
	}
}

// Next returns the next mutation, valid until the next call; io.EOF after
// the last. A torn tail at the end of a log's last file ends that log with
// a WarnTornTail warning; anywhere else it is ErrIncomplete.
func (r *Reader) Next() (*Mutation, error) {
	for {
		if r.done {
			return nil, io.EOF
		}
		if r.fr == nil {
			if err := r.openNext(); err != nil {
				if errors.Is(err, io.EOF) {
					r.done = true
				}
				if err == errSkipFile {
					continue
				}
				return nil, err
			}
		}
		m, err := r.fr.Next()
		if err == nil {
			if m.Decree < r.opts.FromDecree {
				continue
			}
			return m, nil
		}
		if !errors.Is(err, io.EOF) {
			if err = r.fileError(err); err != nil {
				r.closeFile()
				r.done = true
				return nil, err
			}
		}
		r.closeFile()
		r.fi++
	}
}

var errSkipFile = errors.New("skip file")

// fileError turns a torn tail into a warning (last file) or ErrIncomplete;
// it returns nil when reading may go on with the next file.
func (r *Reader) fileError(err error) error {
	cur := r.groups[r.g][r.fi]
	var e *Error
	if errors.As(err, &e) && errors.Is(err, ErrTornTail) {
		w := Warning{Kind: WarnTornTail, File: cur.Path, Offset: e.Offset, Bytes: cur.Size - e.Offset, Err: err}
		if r.fi == len(r.groups[r.g])-1 {
			r.warn(w)
			return nil
		}
		ie := &Error{File: e.File, BlockOffset: e.BlockOffset, Offset: e.Offset, Err: ErrIncomplete, Detail: e.Detail + " (not the last file)"}
		if !r.opts.SkipCorrupt {
			return ie
		}
		w.Kind, w.Err = WarnSkipped, ie
		r.warn(w)
		return nil
	}
	return err
}

func (r *Reader) openNext() error {
	for r.g < len(r.groups) && r.fi >= len(r.groups[r.g]) {
		r.g, r.fi = r.g+1, 0
	}
	if r.g >= len(r.groups) {
		return io.EOF
	}
	cur := r.groups[r.g][r.fi]
	f, err := os.Open(cur.Path)
	if err != nil {
		return fmt.Errorf("walreader: %w", err)
	}
	fr, err := NewFileReader(f, cur.Size, cur.Path, FileOptions{StartOffset: cur.StartOffset, SkipCorrupt: r.opts.SkipCorrupt, Warn: r.warn, BufferSize: r.opts.BufferSize})
	if err != nil {
		f.Close()
		if err = r.fileError(err); err == nil || (r.opts.SkipCorrupt && errors.Is(err, ErrCorrupt)) {
			if err != nil {
				// Without a readable header the file cannot be framed:
				// skip it whole (Pegasus would rename it *.removed).
				r.warn(Warning{Kind: WarnSkipped, File: cur.Path, Bytes: cur.Size, Err: err})
			}
			r.fi++
			return errSkipFile
		}
		return err
	}
	r.f, r.fr = f, fr
	return nil
}

func (r *Reader) closeFile() {
	if r.f != nil {
		r.f.Close()
	}
	r.f, r.fr = nil, nil
}

// Close releases the open file, if any.
func (r *Reader) Close() error {
	r.closeFile()
	r.done = true
	return nil
}
