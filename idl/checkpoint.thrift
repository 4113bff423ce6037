// Checkpoint copy for a follower (wire.md §4.7): RPC_QUERY_LAST_CHECKPOINT_INFO
// (learn_request -> learn_response) and the NFS RPCs RPC_NFS_GET_FILE_SIZE and
// RPC_NFS_COPY. Written from the field tables of wire.md §4.7.

include "base.thrift"

namespace go gen.checkpoint

enum checksum_type {
    CST_INVALID = 0,
    CST_NONE = 1,
    CST_MD5 = 2,
}

enum learn_type {
    LT_INVALID = 0,
    LT_CACHE = 1,
    LT_APP = 2,
    LT_LOG = 3,
}

enum partition_status {
    PS_INVALID = 0,
    PS_INACTIVE = 1,
    PS_ERROR = 2,
    PS_PRIMARY = 3,
    PS_SECONDARY = 4,
    PS_POTENTIAL_SECONDARY = 5,
    PS_PARTITION_SPLIT = 6,
}

// Only pid and checksum_type matter for RPC_QUERY_LAST_CHECKPOINT_INFO.
// checksum_type defaults to CST_NONE when absent.
struct learn_request {
    1: base.gpid pid;
    2: base.rpc_address learner;
    3: i64 signature;
    4: i64 last_committed_decree_in_app;
    5: i64 last_committed_decree_in_prepare_list;
    6: base.blob app_specific_learn_request;
    7: optional i64 max_gced_decree;
    8: optional base.host_port hp_learner;
    9: optional checksum_type checksum_type;
}

// files are relative to learn_response.base_local_dir; 6 and 7 only when
// checksum_type >= CST_MD5.
struct learn_state {
    1: i64 from_decree_excluded;
    2: i64 to_decree_included;
    3: base.blob meta;
    4: list<string> files;
    5: optional i64 learn_start_decree;
    6: optional list<i64> file_sizes;
    7: optional list<string> file_checksums;
}

// pop_all and split_sync_to_child default to false when absent.
struct replica_configuration {
    1: base.gpid pid;
    2: i64 ballot;
    3: base.rpc_address primary;
    4: partition_status status = partition_status.PS_INVALID;
    5: i64 learner_signature;
    6: optional bool pop_all;
    7: optional bool split_sync_to_child;
    8: optional base.host_port hp_primary;
}

struct learn_response {
    1: base.error_code err;
    2: replica_configuration config;
    3: i64 last_committed_decree;
    4: i64 prepare_start_decree;
    5: learn_type type = learn_type.LT_INVALID;
    6: learn_state state;
    7: base.rpc_address learnee;
    8: string base_local_dir;
    9: optional string replica_disk_tag;
    10: optional base.host_port hp_learnee;
}

// RPC_NFS_GET_FILE_SIZE. The server uses only source_dir and file_list; an
// empty file_list means every file under source_dir.
struct get_file_size_request {
    1: base.rpc_address source;
    2: string dst_dir;
    3: list<string> file_list;
    4: string source_dir;
    5: bool overwrite;
    6: optional string source_disk_tag;
    7: optional string dest_disk_tag;
    8: optional base.gpid pid;
    9: optional base.host_port hp_source;
}

// error is the integer form of an rDSN error code: 0 = ERR_OK, anything
// else is a failure.
struct get_file_size_response {
    1: i32 error;
    2: list<string> file_list;
    3: list<i64> size_list;
}

// RPC_NFS_COPY: size bytes at offset of source_dir/file_name.
struct copy_request {
    1: base.rpc_address source;
    2: string source_dir;
    3: string dst_dir;
    4: string file_name;
    5: i64 offset;
    6: i32 size;
    7: bool is_last;
    8: bool overwrite;
    9: optional string source_disk_tag;
    10: optional base.gpid pid;
    11: optional base.host_port hp_source;
}

struct copy_response {
    1: base.error_code error;
    2: base.blob file_content;
    3: i64 offset;
    4: i32 size;
}

service replica {
    learn_response query_last_checkpoint_info(1: learn_request req);
}

service nfs {
    get_file_size_response get_file_size(1: get_file_size_request request);
    copy_response copy(1: copy_request request);
}
