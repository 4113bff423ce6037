package checkpoint

import (
	"context"
	"errors"
	"fmt"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/rpcclient"
	"github.com/dupbridge/dupbridge/thrift"
)

// The three RPCs a follower replica sends to copy a master checkpoint
// (wire.md §4.7; src/replica/duplication/replica_follower.cpp,
// src/nfs/nfs_client_impl.cpp). Every one carries gpid (0, 0) and is
// dispatched by name on the master's replica server.

// ErrMaster marks an answer of the master that is an error or does not
// make sense (a bad size, a short chunk, an undecodable body).
var ErrMaster = errors.New("bad answer from the master")

// checksum_type values of learn_request (wire.md §4.7).
const (
	cstNone = 1
	cstMD5  = 2
)

// LastCheckpoint is learn_response on the RPC_QUERY_LAST_CHECKPOINT_INFO
// path (duplication.md §2.2 step 2).
type LastCheckpoint struct {
	Decree  int64    // state.to_decree_included: the checkpoint's decree
	Dir     string   // base_local_dir on the learnee
	Learnee string   // host:port to send the NFS RPCs to
	Files   []string // relative to Dir
	// Sizes and MD5s (lower-case hex) are set when the master computed
	// them (2.6 line, checksum_type = CST_MD5); nil otherwise.
	Sizes []int64
	MD5s  []string
}

// call sends one checkpoint RPC; encode writes the request struct's fields
// and STOP. The reply body is returned after its wrapper header.
func call(ctx context.Context, c *rpcclient.Conn, rpc string, encode func(w *thrift.Writer)) (thrift.Reader, error) {
	resp, err := c.CallStruct(ctx, rpc, encode)
	if resp, err = c.CheckOK(rpc, resp, err); err != nil {
		return thrift.Reader{}, err
	}
	r := thrift.NewReader(resp.Body)
	if _, _, err := r.ReadWrapperBegin(); err != nil {
		return r, fmt.Errorf("%w: %s from %s: %w", ErrMaster, rpc, c.Addr(), err)
	}
	return r, nil
}

// queryLastCheckpoint asks a replica of gpid (appID, pidx) for its last
// checkpoint, with the MD5s when withMD5.
func queryLastCheckpoint(ctx context.Context, c *rpcclient.Conn, appID, pidx int32, withMD5 bool) (*LastCheckpoint, error) {
	r, err := call(ctx, c, codec.RPCQueryLastCheckpointInfo, func(w *thrift.Writer) {
		appendLearnRequest(w, appID, pidx, withMD5)
	})
	if err != nil {
		return nil, err
	}
	lc, errName, err := decodeLearnResponse(&r)
	if err != nil {
		return nil, fmt.Errorf("%w: learn_response from %s: %w", ErrMaster, c.Addr(), err)
	}
	if errName != codec.ErrorOK {
		return nil, &rpcclient.RPCError{Addr: c.Addr(), RPC: codec.RPCQueryLastCheckpointInfo, Err: errName}
	}
	if lc.Learnee == "" || lc.Dir == "" {
		return nil, fmt.Errorf("%w: learn_response from %s names no learnee or directory", ErrMaster, c.Addr())
	}
	if lc.MD5s != nil && (len(lc.MD5s) != len(lc.Files) || len(lc.Sizes) != len(lc.Files)) {
		return nil, fmt.Errorf("%w: learn_response from %s: %d files, %d sizes, %d checksums",
			ErrMaster, c.Addr(), len(lc.Files), len(lc.Sizes), len(lc.MD5s))
	}
	return lc, nil
}

// appendLearnRequest writes learn_request with pid set, the plain fields at
// their defaults as the C++ follower leaves them, and checksum_type.
func appendLearnRequest(w *thrift.Writer, appID, pidx int32, withMD5 bool) {
	w.FieldHeader(thrift.STRUCT, 1)
	w.Gpid(appID, pidx)
	w.FieldHeader(thrift.STRUCT, 2)
	w.RPCAddress(0)
	w.FieldHeader(thrift.I64, 3)
	w.I64(0)
	w.FieldHeader(thrift.I64, 4)
	w.I64(0)
	w.FieldHeader(thrift.I64, 5)
	w.I64(0)
	w.FieldHeader(thrift.STRUCT, 6)
	w.Blob(nil)
	w.FieldHeader(thrift.I32, 9)
	if withMD5 {
		w.I32(cstMD5)
	} else {
		w.I32(cstNone)
	}
	w.Stop()
}

// decodeLearnResponse reads learn_response (wire.md §4.7). Special-typed
// fields (STRUCT type byte, primitive payload, wire.md §3) are read by
// their schema; only plain-typed fields are skipped generically.
func decodeLearnResponse(r *thrift.Reader) (*LastCheckpoint, string, error) {
	lc := &LastCheckpoint{}
	errName := ""
	var learnee uint64
	var hp string
	err := r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
		var err error
		var b []byte
		switch {
		case id == 1 && t == thrift.STRUCT:
			b, err = r.ReadString()
			errName = string(b)
		case id == 2 && t == thrift.STRUCT:
			err = skipReplicaConfiguration(r)
		case id == 6 && t == thrift.STRUCT:
			err = decodeLearnState(r, lc)
		case id == 7 && t == thrift.STRUCT:
			learnee, err = r.ReadRPCAddress()
		case id == 8 && t == thrift.STRING:
			b, err = r.ReadString()
			lc.Dir = string(b)
		case id == 10 && t == thrift.STRUCT:
			hp, err = readHostPort(r)
		case (id == 1 || id == 2 || id == 6 || id == 7 || id == 10) && t != thrift.STRUCT:
			return true, fmt.Errorf("learn_response field %d has type %v", id, t)
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return nil, "", err
	}
	if codec.AddressType(learnee) == codec.AddressTypeIPv4 {
		lc.Learnee = codec.FormatAddress(learnee)
	} else {
		lc.Learnee = hp
	}
	return lc, errName, nil
}

// skipReplicaConfiguration skips replica_configuration, whose fields 1
// (gpid), 3 (rpc_address) and 8 (host_port) are special types.
func skipReplicaConfiguration(r *thrift.Reader) error {
	return r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
		if t != thrift.STRUCT {
			return false, nil
		}
		var err error
		switch id {
		case 1:
			_, _, err = r.ReadGpid()
		case 3:
			_, err = r.ReadRPCAddress()
		case 8:
			_, err = readHostPort(r)
		default:
			return false, nil
		}
		return true, err
	})
}

func decodeLearnState(r *thrift.Reader, lc *LastCheckpoint) error {
	return r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 2 && t == thrift.I64:
			lc.Decree, err = r.ReadI64()
		case id == 3 && t == thrift.STRUCT: // meta: a blob
			_, err = r.ReadBlob()
		case id == 4 && t == thrift.LIST:
			lc.Files, err = readStrings(r)
		case id == 6 && t == thrift.LIST:
			lc.Sizes, err = readI64s(r)
		case id == 7 && t == thrift.LIST:
			lc.MD5s, err = readStrings(r)
			if lc.MD5s == nil {
				lc.MD5s = []string{}
			}
		default:
			return false, nil
		}
		return true, err
	})
}

func readHostPort(r *thrift.Reader) (string, error) {
	host, port, typ, err := r.ReadHostPort()
	if err != nil || typ != 1 || len(host) == 0 {
		return "", err
	}
	return fmt.Sprintf("%s:%d", host, port), nil
}

func readStrings(r *thrift.Reader) ([]string, error) {
	return readList(r, thrift.STRING, func() (string, error) {
		b, err := r.ReadString()
		return string(b), err
	})
}

func readI64s(r *thrift.Reader) ([]int64, error) { return readList(r, thrift.I64, r.ReadI64) }

// readList reads a list whose elements must have type elem.
func readList[T any](r *thrift.Reader, elem thrift.Type, read func() (T, error)) ([]T, error) {
	et, n, err := r.ReadListHeader()
	if err != nil {
		return nil, err
	}
	if et != elem && n > 0 {
		return nil, fmt.Errorf("list<%v>, want list<%v>", et, elem)
	}
	var out []T
	for i := 0; i < n; i++ {
		v, err := read()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// getFileSizes asks the learnee for the sizes of files under dir
// (RPC_NFS_GET_FILE_SIZE). The answer must list exactly the files asked.
func getFileSizes(ctx context.Context, c *rpcclient.Conn, dir string, files []string) ([]int64, error) {
	r, err := call(ctx, c, codec.RPCNFSGetFileSize, func(w *thrift.Writer) {
		appendGetFileSizeRequest(w, dir, files)
	})
	if err != nil {
		return nil, err
	}
	code, names, sizes, err := decodeFileSizes(&r)
	if err != nil {
		return nil, fmt.Errorf("%w: get_file_size_response from %s: %w", ErrMaster, c.Addr(), err)
	}
	if code != 0 {
		// An rDSN error code as a process-local integer (wire.md §4.7);
		// the answer does not say which file, so ask for each alone.
		which := ""
		if len(files) > 1 {
			for _, f := range files {
				if _, err := getFileSizes(ctx, c, dir, []string{f}); err != nil {
					which = " file " + f
					break
				}
			}
		} else if len(files) == 1 {
			which = " file " + files[0]
		}
		return nil, fmt.Errorf("%w: %s of%s in %s on %s: error code %d (missing or unreadable)",
			ErrMaster, codec.RPCNFSGetFileSize, which, dir, c.Addr(), code)
	}
	if len(names) != len(files) || len(sizes) != len(files) {
		return nil, fmt.Errorf("%w: %s of %s on %s: %d names and %d sizes for %d files",
			ErrMaster, codec.RPCNFSGetFileSize, dir, c.Addr(), len(names), len(sizes), len(files))
	}
	for i, s := range sizes {
		if s < 0 {
			return nil, fmt.Errorf("%w: %s: file %s has size %d", ErrMaster, c.Addr(), files[i], s)
		}
	}
	return sizes, nil
}

// decodeFileSizes reads get_file_size_response (wire.md §4.7).
func decodeFileSizes(r *thrift.Reader) (code int32, names []string, sizes []int64, err error) {
	err = r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.I32:
			code, err = r.ReadI32()
		case id == 2 && t == thrift.LIST:
			names, err = readStrings(r)
		case id == 3 && t == thrift.LIST:
			sizes, err = readI64s(r)
		default:
			return false, nil
		}
		return true, err
	})
	return code, names, sizes, err
}

// appendGetFileSizeRequest writes get_file_size_request as the C++ client
// does: the plain fields, no disk tags (wire.md §4.7).
func appendGetFileSizeRequest(w *thrift.Writer, dir string, files []string) {
	w.FieldHeader(thrift.STRUCT, 1)
	w.RPCAddress(0)
	w.FieldHeader(thrift.STRING, 2)
	w.String("")
	w.FieldHeader(thrift.LIST, 3)
	w.ListHeader(thrift.STRING, len(files))
	for _, f := range files {
		w.String(f)
	}
	w.FieldHeader(thrift.STRING, 4)
	w.String(dir)
	w.FieldHeader(thrift.BOOL, 5)
	w.Bool(true)
	w.Stop()
}

// copyChunk reads size bytes at offset of dir/name from the learnee
// (RPC_NFS_COPY) and checks the answer: ERR_OK, the same offset and size,
// exactly size bytes.
func copyChunk(ctx context.Context, c *rpcclient.Conn, dir, name string, offset int64, size int32, last bool) ([]byte, error) {
	r, err := call(ctx, c, codec.RPCNFSCopy, func(w *thrift.Writer) {
		appendCopyRequest(w, dir, name, offset, size, last)
	})
	if err != nil {
		return nil, err
	}
	cr, err := decodeCopyResponse(&r)
	if err != nil {
		return nil, fmt.Errorf("%w: copy_response for %s at offset %d from %s: %w", ErrMaster, name, offset, c.Addr(), err)
	}
	errName, data, gotOff, gotSize := cr.errName, cr.data, cr.offset, cr.size
	if errName != codec.ErrorOK {
		return nil, fmt.Errorf("%w: copying %s at offset %d from %s: %s", ErrMaster, name, offset, c.Addr(), errName)
	}
	if gotOff != offset || gotSize != size || len(data) != int(size) {
		return nil, fmt.Errorf("%w: copying %s at offset %d from %s: answer has offset %d, size %d and %d bytes, want %d bytes",
			ErrMaster, name, offset, c.Addr(), gotOff, gotSize, len(data), size)
	}
	return data, nil
}

// copyResponse is copy_response (wire.md §4.7); offset and size are -1
// when absent.
type copyResponse struct {
	errName string
	data    []byte
	offset  int64
	size    int32
}

func decodeCopyResponse(r *thrift.Reader) (copyResponse, error) {
	cr := copyResponse{offset: -1, size: -1}
	err := r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
		var err error
		var b []byte
		switch {
		case id == 1 && t == thrift.STRUCT:
			b, err = r.ReadString()
			cr.errName = string(b)
		case id == 2 && t == thrift.STRUCT:
			cr.data, err = r.ReadBlob()
		case id == 3 && t == thrift.I64:
			cr.offset, err = r.ReadI64()
		case id == 4 && t == thrift.I32:
			cr.size, err = r.ReadI32()
		default:
			return false, nil
		}
		return true, err
	})
	return cr, err
}

// appendCopyRequest writes copy_request as the C++ client does.
func appendCopyRequest(w *thrift.Writer, dir, name string, offset int64, size int32, last bool) {
	w.FieldHeader(thrift.STRUCT, 1)
	w.RPCAddress(0)
	w.FieldHeader(thrift.STRING, 2)
	w.String(dir)
	w.FieldHeader(thrift.STRING, 3)
	w.String("")
	w.FieldHeader(thrift.STRING, 4)
	w.String(name)
	w.FieldHeader(thrift.I64, 5)
	w.I64(offset)
	w.FieldHeader(thrift.I32, 6)
	w.I32(size)
	w.FieldHeader(thrift.BOOL, 7)
	w.Bool(last)
	w.FieldHeader(thrift.BOOL, 8)
	w.Bool(true)
	w.Stop()
}
