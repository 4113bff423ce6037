// Meta server RPCs a duplication master sends to the follower cluster's meta
// (wire.md §4.1-§4.3, §5.1), plus drop/list for tools and tests.
// Written from the field tables of wire.md; ids, types and requiredness
// follow those tables. "optional" fields are written only when set.

include "base.thrift"

namespace go gen.meta

// app_status (wire.md §4.3).
enum app_status {
    AS_INVALID = 0,
    AS_AVAILABLE = 1,
    AS_CREATING = 2,
    AS_CREATE_FAILED = 3,
    AS_DROPPING = 4,
    AS_DROP_FAILED = 5,
    AS_DROPPED = 6,
    AS_RECALLING = 7,
}

// pattern_match_type (wire.md §4.3).
enum pattern_match_type {
    PMT_INVALID = 0,
    PMT_MATCH_ALL = 1,
    PMT_MATCH_EXACT = 2,
    PMT_MATCH_ANYWHERE = 3,
    PMT_MATCH_PREFIX = 4,
    PMT_MATCH_POSTFIX = 5,
    PMT_MATCH_REGEX = 6,
}

// partition_configuration (wire.md §4.1). Fields 9-11 are the host_port
// forms of 4-6, sent by the 2.6 line; old readers cannot skip them (§3).
struct partition_configuration {
    1: base.gpid pid;
    2: i64 ballot;
    3: i32 max_replica_count;
    4: base.rpc_address primary;
    5: list<base.rpc_address> secondaries;
    6: list<base.rpc_address> last_drops;
    7: i64 last_committed_decree;
    8: i32 partition_flags;
    9: optional base.host_port hp_primary;
    10: optional list<base.host_port> hp_secondaries;
    11: optional list<base.host_port> hp_last_drops;
}

// RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX request (wire.md §4.1). An empty
// partition_indices means every partition.
struct query_cfg_request {
    1: string app_name;
    2: list<i32> partition_indices;
}

struct query_cfg_response {
    1: base.error_code err;
    2: i32 app_id;
    3: i32 partition_count;
    4: bool is_stateful;
    5: list<partition_configuration> partitions;
}

// RPC_CM_CREATE_APP (wire.md §4.2).
struct create_app_options {
    1: i32 partition_count;
    2: i32 replica_count;
    3: bool success_if_exist;
    4: string app_type;
    5: bool is_stateful;
    6: map<string, string> envs;
    // Default false when absent (2.6 line).
    7: optional bool atomic_idempotent;
}

struct configuration_create_app_request {
    1: string app_name;
    2: create_app_options options;
}

struct configuration_create_app_response {
    1: base.error_code err;
    2: i32 appid;
}

// RPC_CM_DROP_APP.
struct drop_app_options {
    1: bool success_if_not_exist;
    2: optional i64 reserve_seconds;
}

struct configuration_drop_app_request {
    1: string app_name;
    2: drop_app_options options;
}

struct configuration_drop_app_response {
    1: base.error_code err;
}

// app_info (wire.md §4.3). Optional bools default to false when absent.
struct app_info {
    1: app_status status = app_status.AS_INVALID;
    2: string app_type;
    3: string app_name;
    4: i32 app_id;
    5: i32 partition_count;
    6: map<string, string> envs;
    7: bool is_stateful;
    8: i32 max_replica_count;
    9: i64 expire_second;
    10: i64 create_second;
    11: i64 drop_second;
    12: optional bool duplicating;
    13: i32 init_partition_count = -1;
    14: optional bool is_bulk_loading;
    15: optional bool atomic_idempotent;
}

// RPC_CM_LIST_APPS (wire.md §4.3). The pattern applies only when both 2 and
// 3 are set.
struct configuration_list_apps_request {
    1: app_status status = app_status.AS_INVALID;
    2: optional string app_name_pattern;
    3: optional pattern_match_type match_type;
}

struct configuration_list_apps_response {
    1: base.error_code err;
    2: list<app_info> infos;
    3: optional string hint_message;
}

// The THFT method names go-client uses for these RPCs; args hold the request
// in field 1, results the response in field 0 (wire.md §4).
service meta {
    query_cfg_response query_cfg(1: query_cfg_request query);
    configuration_create_app_response create_app(1: configuration_create_app_request req);
    configuration_drop_app_response drop_app(1: configuration_drop_app_request req);
    configuration_list_apps_response list_apps(1: configuration_list_apps_request req);
}
