// Replica storage RPCs (wire.md §4.4) and duplication (wire.md §4.6,
// storage.md §2.3). Written from the field tables of those sections.
// Every response `error` is a RocksDB status code (wire.md §4.4), not an
// rDSN error. Keys named "full key" use the wire.md §6.1 layout.

include "base.thrift"

namespace go gen.rrdb

enum filter_type {
    FT_NO_FILTER = 0,
    FT_MATCH_ANYWHERE = 1,
    FT_MATCH_PREFIX = 2,
    FT_MATCH_POSTFIX = 3,
}

enum cas_check_type {
    CT_NO_CHECK = 0,
    CT_VALUE_NOT_EXIST = 1,
    CT_VALUE_NOT_EXIST_OR_EMPTY = 2,
    CT_VALUE_EXIST = 3,
    CT_VALUE_NOT_EMPTY = 4,
    CT_VALUE_MATCH_ANYWHERE = 5,
    CT_VALUE_MATCH_PREFIX = 6,
    CT_VALUE_MATCH_POSTFIX = 7,
    CT_VALUE_BYTES_LESS = 8,
    CT_VALUE_BYTES_LESS_OR_EQUAL = 9,
    CT_VALUE_BYTES_EQUAL = 10,
    CT_VALUE_BYTES_GREATER_OR_EQUAL = 11,
    CT_VALUE_BYTES_GREATER = 12,
    CT_VALUE_INT_LESS = 13,
    CT_VALUE_INT_LESS_OR_EQUAL = 14,
    CT_VALUE_INT_EQUAL = 15,
    CT_VALUE_INT_GREATER_OR_EQUAL = 16,
    CT_VALUE_INT_GREATER = 17,
}

enum mutate_operation {
    MO_PUT = 0,
    MO_DELETE = 1,
}

// update_type (2.6 line): set on puts a primary translated from an atomic
// write (storage.md §2.3).
enum update_type {
    UT_PUT = 0,
    UT_INCR = 1,
    UT_CHECK_AND_SET = 2,
    UT_CHECK_AND_MUTATE_PUT = 3,
    UT_CHECK_AND_MUTATE_REMOVE = 4,
}

// RPC_RRDB_RRDB_PUT (wire.md §4.4.1). expire_ts_seconds counts from the
// 2016-01-01 epoch; 0 = no TTL. Fields 4-7 only on translated atomic writes.
struct update_request {
    1: base.blob key;
    2: base.blob value;
    3: i32 expire_ts_seconds;
    4: optional update_type type;
    5: optional bool check_value_returned;
    6: optional bool check_value_exist;
    7: optional base.blob check_value;
}

struct update_response {
    1: i32 error;
    2: i32 app_id;
    3: i32 partition_index;
    4: i64 decree;
    5: string server;
}

// RPC_RRDB_RRDB_GET result (wire.md §4.4.5).
struct read_response {
    1: i32 error;
    2: base.blob value;
    3: i32 app_id;
    4: i32 partition_index;
    6: string server;
}

// RPC_RRDB_RRDB_TTL result (wire.md §4.4.11).
struct ttl_response {
    1: i32 error;
    2: i32 ttl_seconds;
    3: i32 app_id;
    4: i32 partition_index;
    6: string server;
}

// RPC_RRDB_RRDB_SORTKEY_COUNT result (wire.md §4.4.12).
struct count_response {
    1: i32 error;
    2: i64 count;
    3: i32 app_id;
    4: i32 partition_index;
    6: string server;
}

struct key_value {
    1: base.blob key;
    2: base.blob value;
    3: optional i32 expire_ts_seconds;
}

// RPC_RRDB_RRDB_MULTI_PUT (wire.md §4.4.2); kvs keys are sort keys.
struct multi_put_request {
    1: base.blob hash_key;
    2: list<key_value> kvs;
    3: i32 expire_ts_seconds;
}

// RPC_RRDB_RRDB_MULTI_REMOVE (wire.md §4.4.4); the server rejects an empty
// sort_keys list. max_count is deprecated.
struct multi_remove_request {
    1: base.blob hash_key;
    2: list<base.blob> sort_keys;
    3: i64 max_count;
}

struct multi_remove_response {
    1: i32 error;
    2: i64 count;
    3: i32 app_id;
    4: i32 partition_index;
    5: i64 decree;
    6: string server;
}

// RPC_RRDB_RRDB_MULTI_GET (wire.md §4.4.6).
struct multi_get_request {
    1: base.blob hash_key;
    2: list<base.blob> sort_keys;
    3: i32 max_kv_count;
    4: i32 max_kv_size;
    5: bool no_value;
    6: base.blob start_sortkey;
    7: base.blob stop_sortkey;
    8: bool start_inclusive;
    9: bool stop_inclusive;
    10: filter_type sort_key_filter_type;
    11: base.blob sort_key_filter_pattern;
    12: bool reverse;
}

struct multi_get_response {
    1: i32 error;
    2: list<key_value> kvs;
    3: i32 app_id;
    4: i32 partition_index;
    6: string server;
}

// RPC_RRDB_RRDB_BATCH_GET (wire.md §4.4.7).
struct full_key {
    1: base.blob hash_key;
    2: base.blob sort_key;
}

struct batch_get_request {
    1: list<full_key> keys;
}

struct full_data {
    1: base.blob hash_key;
    2: base.blob sort_key;
    3: base.blob value;
}

struct batch_get_response {
    1: i32 error;
    2: list<full_data> data;
    3: i32 app_id;
    4: i32 partition_index;
    6: string server;
}

// RPC_RRDB_RRDB_INCR (wire.md §4.4.8).
struct incr_request {
    1: base.blob key;
    2: i64 increment;
    3: i32 expire_ts_seconds;
}

struct incr_response {
    1: i32 error;
    2: i64 new_value;
    3: i32 app_id;
    4: i32 partition_index;
    5: i64 decree;
    6: string server;
}

// RPC_RRDB_RRDB_CHECK_AND_SET (wire.md §4.4.9).
struct check_and_set_request {
    1: base.blob hash_key;
    2: base.blob check_sort_key;
    3: cas_check_type check_type;
    4: base.blob check_operand;
    5: bool set_diff_sort_key;
    6: base.blob set_sort_key;
    7: base.blob set_value;
    8: i32 set_expire_ts_seconds;
    9: bool return_check_value;
}

struct check_and_set_response {
    1: i32 error;
    2: bool check_value_returned;
    3: bool check_value_exist;
    4: base.blob check_value;
    5: i32 app_id;
    6: i32 partition_index;
    7: i64 decree;
    8: string server;
}

// RPC_RRDB_RRDB_CHECK_AND_MUTATE (wire.md §4.4.10).
struct mutate {
    1: mutate_operation operation;
    2: base.blob sort_key;
    3: base.blob value;
    4: i32 set_expire_ts_seconds;
}

struct check_and_mutate_request {
    1: base.blob hash_key;
    2: base.blob check_sort_key;
    3: cas_check_type check_type;
    4: base.blob check_operand;
    5: list<mutate> mutate_list;
    6: bool return_check_value;
}

struct check_and_mutate_response {
    1: i32 error;
    2: bool check_value_returned;
    3: bool check_value_exist;
    4: base.blob check_value;
    5: i32 app_id;
    6: i32 partition_index;
    7: i64 decree;
    8: string server;
}

// RPC_RRDB_RRDB_GET_SCANNER (wire.md §4.4.13); keys are full keys.
// only_return_count defaults to false when absent.
struct get_scanner_request {
    1: base.blob start_key;
    2: base.blob stop_key;
    3: bool start_inclusive;
    4: bool stop_inclusive;
    5: i32 batch_size;
    6: bool no_value;
    7: filter_type hash_key_filter_type;
    8: base.blob hash_key_filter_pattern;
    9: filter_type sort_key_filter_type;
    10: base.blob sort_key_filter_pattern;
    11: optional bool validate_partition_hash;
    12: optional bool return_expire_ts;
    13: optional bool full_scan;
    14: optional bool only_return_count;
}

// RPC_RRDB_RRDB_SCAN.
struct scan_request {
    1: i64 context_id;
}

// context_id: >= 0 continue, -1 completed, -2 no such context.
struct scan_response {
    1: i32 error;
    2: list<key_value> kvs;
    3: i64 context_id;
    4: i32 app_id;
    5: i32 partition_index;
    6: string server;
    7: optional i32 kv_count;
}

// RPC_RRDB_RRDB_DUPLICATE (wire.md §4.6). A sender older than v2.4.0 sends
// one duplicate_entry as the whole request (field 1 is then I64, not LIST).
// raw_message is the original write body including its one-field wrapper.
struct duplicate_entry {
    1: optional i64 timestamp;
    2: optional base.task_code task_code;
    3: optional base.blob raw_message;
    4: optional i8 cluster_id;
    5: optional bool verify_timetag;
}

struct duplicate_request {
    1: list<duplicate_entry> entries;
}

// A follower must never answer error 4 (InvalidArgument): the master aborts.
struct duplicate_response {
    1: optional i32 error;
    2: optional string error_hint;
}

// Method names as go-client registers them (RPC names: wire.md §5.1).
service rrdb {
    update_response put(1: update_request update);
    update_response multi_put(1: multi_put_request request);
    update_response remove(1: base.blob key);
    multi_remove_response multi_remove(1: multi_remove_request request);
    incr_response incr(1: incr_request request);
    check_and_set_response check_and_set(1: check_and_set_request request);
    check_and_mutate_response check_and_mutate(1: check_and_mutate_request request);
    read_response get(1: base.blob key);
    multi_get_response multi_get(1: multi_get_request request);
    batch_get_response batch_get(1: batch_get_request request);
    count_response sortkey_count(1: base.blob hash_key);
    ttl_response ttl(1: base.blob key);
    scan_response get_scanner(1: get_scanner_request request);
    scan_response scan(1: scan_request request);
    oneway void clear_scanner(1: i64 context_id);
    duplicate_response duplicate(1: duplicate_request request);
}
