package rpcclient

import (
	"fmt"
	"strconv"

	"github.com/dupbridge/dupbridge/thrift"
)

// Cold-path decoders of meta responses. They decode by field id with the
// schema of wire.md §4.1-4.3 (rDSN special types carry a STRUCT type byte
// with a primitive payload, §3), check each known field's type byte, and
// skip unknown fields generically (only plain-typed fields are ever added
// to these structs, §3).

func badType(what string, got, want thrift.Type) error {
	return fmt.Errorf("field %s has type %v, want %v", what, got, want)
}

// decodeQueryConfig reads a query_cfg_response struct (wire.md §4.1).
func decodeQueryConfig(r *thrift.Reader) (*TableConfig, string, error) {
	tc := &TableConfig{}
	errName := errOK
	err := r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRUCT: // error_code as a string
			var b []byte
			b, err = r.ReadString()
			errName = string(b)
		case id == 2 && t == thrift.I32:
			tc.AppID, err = r.ReadI32()
		case id == 3 && t == thrift.I32:
			tc.PartitionCount, err = r.ReadI32()
		case id == 4 && t == thrift.BOOL:
			tc.IsStateful, err = r.ReadBool()
		case id == 5 && t == thrift.LIST:
			et, n, err := r.ReadListHeader()
			if err != nil {
				return true, err
			}
			if et != thrift.STRUCT {
				return true, badType("partitions element", et, thrift.STRUCT)
			}
			tc.Partitions = make([]PartitionConfig, n)
			for i := range tc.Partitions {
				if err := decodePartitionConfig(r, &tc.Partitions[i]); err != nil {
					return true, fmt.Errorf("partitions[%d]: %w", i, err)
				}
			}
		case id >= 1 && id <= 5:
			return true, fmt.Errorf("query_cfg_response field %d has unexpected type %v", id, t)
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return nil, "", err
	}
	return tc, errName, nil
}

func decodePartitionConfig(r *thrift.Reader, p *PartitionConfig) error {
	return r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
		if want := partitionConfigFieldType(id); want != 0 && t != want {
			return true, badType("partition_configuration."+strconv.Itoa(int(id)), t, want)
		}
		var err error
		switch id {
		case 1:
			p.AppID, p.Index, err = r.ReadGpid()
		case 2:
			p.Ballot, err = r.ReadI64()
		case 3:
			p.MaxReplicaCount, err = r.ReadI32()
		case 4:
			p.PrimaryAddr, err = r.ReadRPCAddress()
			p.Primary = addrString(p.PrimaryAddr)
		case 5:
			p.SecondaryAddrs, err = readAddrList(r)
			p.Secondaries = make([]string, len(p.SecondaryAddrs))
			for i, a := range p.SecondaryAddrs {
				p.Secondaries[i] = addrString(a)
			}
		case 6:
			p.LastDrops, err = readAddrList(r)
		case 7:
			p.LastCommitted, err = r.ReadI64()
		case 8:
			p.Flags, err = r.ReadI32()
		case 9:
			p.HPPrimary, err = readHostPort(r)
		case 10, 11:
			var hps []string
			hps, err = readHostPortList(r)
			if id == 10 {
				p.HPSecondaries = hps
			}
		default:
			return false, nil
		}
		return true, err
	})
}

func readAddrList(r *thrift.Reader) ([]uint64, error) {
	et, n, err := r.ReadListHeader()
	if err != nil {
		return nil, err
	}
	if et != thrift.STRUCT {
		return nil, badType("rpc_address element", et, thrift.STRUCT)
	}
	out := make([]uint64, n)
	for i := range out {
		if out[i], err = r.ReadRPCAddress(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readHostPort reads a host_port (wire.md §3) as "host:port", "" if invalid.
func readHostPort(r *thrift.Reader) (string, error) {
	host, port, typ, err := r.ReadHostPort()
	if err != nil {
		return "", err
	}
	if typ != 1 {
		return "", nil
	}
	return string(host) + ":" + strconv.Itoa(int(port)), nil
}

func readHostPortList(r *thrift.Reader) ([]string, error) {
	et, n, err := r.ReadListHeader()
	if err != nil {
		return nil, err
	}
	if et != thrift.STRUCT {
		return nil, badType("host_port element", et, thrift.STRUCT)
	}
	out := make([]string, n)
	for i := range out {
		if out[i], err = readHostPort(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeErrAndI32 reads a struct {1: error_code err, 2: i32} such as
// configuration_create_app_response (or drop_app_response, which has only
// field 1).
func decodeErrAndI32(r *thrift.Reader) (string, int32, error) {
	errName := errOK
	var v int32
	err := r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
		switch {
		case id == 1 && t == thrift.STRUCT:
			b, err := r.ReadString()
			errName = string(b)
			return true, err
		case id == 2 && t == thrift.I32:
			var err error
			v, err = r.ReadI32()
			return true, err
		case id == 1 || id == 2:
			return true, fmt.Errorf("response field %d has unexpected type %v", id, t)
		}
		return false, nil
	})
	if err != nil {
		return "", 0, err
	}
	return errName, v, nil
}

// decodeListApps reads configuration_list_apps_response (wire.md §4.3).
func decodeListApps(r *thrift.Reader) ([]AppInfo, string, error) {
	errName := errOK
	var infos []AppInfo
	err := r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
		switch {
		case id == 1 && t == thrift.STRUCT:
			b, err := r.ReadString()
			errName = string(b)
			return true, err
		case id == 2 && t == thrift.LIST:
			et, n, err := r.ReadListHeader()
			if err != nil {
				return true, err
			}
			if et != thrift.STRUCT {
				return true, badType("infos element", et, thrift.STRUCT)
			}
			infos = make([]AppInfo, n)
			for i := range infos {
				if err := decodeAppInfo(r, &infos[i]); err != nil {
					return true, fmt.Errorf("infos[%d]: %w", i, err)
				}
			}
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return nil, "", err
	}
	return infos, errName, nil
}

func decodeAppInfo(r *thrift.Reader, a *AppInfo) error {
	a.InitPartitionCount = -1
	return r.ReadStruct(func(t thrift.Type, id int16) (bool, error) {
		if want := appInfoFieldType(id); want != 0 && t != want {
			return true, badType("app_info."+strconv.Itoa(int(id)), t, want)
		}
		var b []byte
		var i32 int32
		var err error
		switch id {
		case 1:
			i32, err = r.ReadI32()
			a.Status = AppStatus(i32)
		case 2:
			b, err = r.ReadString()
			a.AppType = string(b)
		case 3:
			b, err = r.ReadString()
			a.AppName = string(b)
		case 4:
			a.AppID, err = r.ReadI32()
		case 5:
			a.PartitionCount, err = r.ReadI32()
		case 6:
			a.Envs, err = readStringMap(r)
		case 7:
			a.IsStateful, err = r.ReadBool()
		case 8:
			a.MaxReplicaCount, err = r.ReadI32()
		case 9:
			a.ExpireSecond, err = r.ReadI64()
		case 10:
			a.CreateSecond, err = r.ReadI64()
		case 11:
			a.DropSecond, err = r.ReadI64()
		case 12:
			a.Duplicating, err = r.ReadBool()
		case 13:
			a.InitPartitionCount, err = r.ReadI32()
		case 14:
			a.IsBulkLoading, err = r.ReadBool()
		case 15:
			a.AtomicIdempotent, err = r.ReadBool()
		default:
			return false, nil
		}
		return true, err
	})
}

func readStringMap(r *thrift.Reader) (map[string]string, error) {
	kt, vt, n, err := r.ReadMapHeader()
	if err != nil {
		return nil, err
	}
	if kt != thrift.STRING || vt != thrift.STRING {
		return nil, fmt.Errorf("envs map has types %v/%v, want STRING/STRING", kt, vt)
	}
	m := make(map[string]string, n)
	for i := 0; i < n; i++ {
		k, err := r.ReadString()
		if err != nil {
			return nil, err
		}
		v, err := r.ReadString()
		if err != nil {
			return nil, err
		}
		m[string(k)] = string(v)
	}
	return m, nil
}

// partitionConfigFieldType is the wire type of partition_configuration's
// known fields (wire.md §4.1, special types as STRUCT per §3); 0 if unknown.
func partitionConfigFieldType(id int16) thrift.Type {
	switch id {
	case 1, 4, 9:
		return thrift.STRUCT
	case 2, 7:
		return thrift.I64
	case 3, 8:
		return thrift.I32
	case 5, 6, 10, 11:
		return thrift.LIST
	}
	return 0
}

// appInfoFieldType is the wire type of app_info's known fields (wire.md
// §4.3); 0 if unknown.
func appInfoFieldType(id int16) thrift.Type {
	switch id {
	case 1, 4, 5, 8, 13:
		return thrift.I32
	case 2, 3:
		return thrift.STRING
	case 6:
		return thrift.MAP
	case 7, 12, 14, 15:
		return thrift.BOOL
	case 9, 10, 11:
		return thrift.I64
	}
	return 0
}
