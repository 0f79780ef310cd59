/**
 * The one table of libosprey's symbols (ffi/include/osprey.h). Every
 * parameter carries the C declaration it stands for. Only numbers and
 * caller-owned buffers cross, so `--allow-ffi` can be scoped to the library.
 *
 * `osp_ring_wait`, `osp_bench_produce`, `osp_ping`, `osp_nat_open`,
 * `osp_taskstats_open`, `osp_taskstats_query` and `osp_file_read` block, so they run on Deno's blocking pool
 * (`nonblocking: true`); everything else is a quick sync call.
 *
 * @module
 */

export const symbols = {
  osp_abi_version: {
    parameters: [],
    result: "u32", // uint32_t
  },
  osp_last_error: {
    parameters: [
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_kernel_probe: {
    parameters: [
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_layout: {
    parameters: [
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_object_open: {
    parameters: [
      "u32", // uint32_t which (enum osp_object_kind)
      "u32", // uint32_t flags (enum osp_open_flags)
    ],
    result: "i32",
  },
  osp_object_load: {
    parameters: [
      "i32", // int h
    ],
    result: "i32",
  },
  osp_object_info: {
    parameters: [
      "i32", // int h
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_object_close: {
    parameters: [
      "i32", // int h
    ],
    result: "i32",
  },
  osp_program_count: {
    parameters: [
      "i32", // int h
    ],
    result: "i32",
  },
  osp_program_name: {
    parameters: [
      "i32", // int h
      "i32", // int i
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_program_flags: {
    parameters: [
      "i32", // int h
      "i32", // int i
    ],
    result: "i32",
  },
  osp_program_attach: {
    parameters: [
      "i32", // int h
      "i32", // int i
    ],
    result: "i32",
  },
  osp_ring_open: {
    parameters: [
      "i32", // int h
      "buffer", // const uint8_t *map_name (NUL-terminated)
    ],
    result: "i32",
  },
  osp_ring_wait: {
    parameters: [
      "i32", // int r
      "i32", // int timeout_ms
    ],
    result: "i32",
    nonblocking: true,
  },
  osp_ring_drain: {
    parameters: [
      "i32", // int r
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_ring_pending: {
    parameters: [
      "i32", // int r
    ],
    result: "i32",
  },
  osp_ring_close: {
    parameters: [
      "i32", // int r
    ],
    result: "i32",
  },
  osp_lost: {
    parameters: [
      "i32", // int h
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_counters: {
    parameters: [
      "i32", // int h
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_object_resize_map: {
    parameters: [
      "i32", // int h
      "buffer", // const uint8_t *map_name (NUL-terminated)
      "u32", // uint32_t max_entries
    ],
    result: "i32",
  },
  osp_map_read: {
    parameters: [
      "i32", // int h
      "buffer", // const uint8_t *map_name (NUL-terminated)
      "buffer", // uint8_t *cursor (struct osp_map_cursor)
      "u32", // uint32_t cursor_cap
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_bench_produce: {
    parameters: [
      "i32", // int h
      "u32", // uint32_t count
    ],
    result: "i32",
    nonblocking: true,
  },
  osp_ping: {
    parameters: [
      "buffer", // const uint8_t *netns_path (NUL-terminated; "" = the caller's own)
      "buffer", // const uint8_t *targets (struct osp_ping_target[])
      "u32", // uint32_t targets_len (bytes)
      "buffer", // uint8_t *results (struct osp_ping_result[])
      "u32", // uint32_t results_cap (bytes)
      "u32", // uint32_t timeout_ms
      "u32", // uint32_t flags (enum osp_ping_flags)
    ],
    result: "i32",
    nonblocking: true,
  },
  osp_file_read: {
    parameters: [
      "buffer", // const uint8_t *path
      "u32", // uint32_t path_len
      "u64", // uint64_t offset
      "buffer", // uint8_t *buf
      "u32", // uint32_t len
      "buffer", // uint8_t *st
      "u32", // uint32_t st_cap
    ],
    result: "i32",
    nonblocking: true,
  },
  // the procfs broker (ffi/broker.ts); optional so that a library built before it still loads
  osp_broker_check: {
    parameters: [
      "i32", // int fd
    ],
    result: "i32",
    optional: true,
  },
  osp_broker_call: {
    parameters: [
      "i32", // int fd
      "buffer", // const uint8_t *req
      "u32", // uint32_t req_len
      "buffer", // uint8_t *ans
      "u32", // uint32_t ans_cap
      "u32", // uint32_t timeout_ms
    ],
    result: "i32",
    nonblocking: true,
    optional: true,
  },
  osp_broker_close_fd: {
    parameters: [
      "i32", // int fd
    ],
    result: "i32",
    optional: true,
  },
  // the same C function on the calling thread, for the short procfs link reads
  osp_broker_call_sync: {
    name: "osp_broker_call",
    parameters: [
      "i32", // int fd
      "buffer", // const uint8_t *req
      "u32", // uint32_t req_len
      "buffer", // uint8_t *ans
      "u32", // uint32_t ans_cap
      "u32", // uint32_t timeout_ms
    ],
    result: "i32",
    optional: true,
  },
  osp_file_open: {
    parameters: [
      "buffer", // const uint8_t *path (NUL-terminated bytes)
    ],
    result: "i32",
  },
  osp_file_pread: {
    parameters: [
      "i32", // int f
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
      "u64", // uint64_t offset
    ],
    result: "i32",
  },
  osp_file_close: {
    parameters: [
      "i32", // int f
    ],
    result: "i32",
  },
  osp_journal_open: {
    parameters: [
      "buffer", // const uint8_t *dir (NUL-terminated)
      "buffer", // const uint8_t *cursor (NUL-terminated, "" = the end)
    ],
    result: "i32",
    nonblocking: true, // maps the journal files; loads libsystemd the first time
  },
  osp_journal_wait: {
    parameters: [
      "i32", // int h
      "u32", // uint32_t timeout_ms
    ],
    result: "i32",
    nonblocking: true,
  },
  osp_journal_read: {
    parameters: [
      "i32", // int h
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
      "u32", // uint32_t max_entries
    ],
    result: "i32",
    nonblocking: true, // decompresses entries
  },
  osp_journal_cursor: {
    parameters: [
      "i32", // int h
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_journal_close: {
    parameters: [
      "i32", // int h
    ],
    result: "i32",
  },
  osp_nat_open: {
    parameters: [
      "buffer", // const uint8_t *netns_path (NUL-terminated, "" = the caller's)
      "buffer", // const uint8_t *options (struct osp_nat_options, or NULL)
      "u32", // uint32_t options_len
    ],
    result: "i32",
    nonblocking: true, // enters the namespace and dumps the conntrack table
  },
  osp_nat_info: {
    parameters: [
      "i32", // int h
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_nat_lookup: {
    parameters: [
      "i32", // int h
      "buffer", // const uint8_t *queries (count struct osp_nat_query)
      "u32", // uint32_t count
      "buffer", // uint8_t *results (struct osp_nat_result each)
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_nat_stats: {
    parameters: [
      "i32", // int h
      "buffer", // uint8_t *buf (struct osp_nat_stats)
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_nat_close: {
    parameters: [
      "i32", // int h
    ],
    result: "i32",
  },
  osp_taskstats_open: {
    parameters: [
      "buffer", // const uint8_t *netns_path (NUL-terminated, "" = the caller's)
    ],
    result: "i32",
    nonblocking: true, // may start a thread that enters the namespace
  },
  osp_taskstats_info: {
    parameters: [
      "i32", // int h
      "buffer", // uint8_t *buf
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_taskstats_query: {
    parameters: [
      "i32", // int h
      "buffer", // const uint8_t *pids (count uint32_t)
      "u32", // uint32_t count
      "buffer", // uint8_t *records (struct osp_taskstats_record each)
      "u32", // uint32_t cap
      "u32", // uint32_t flags (enum osp_taskstats_flags)
    ],
    result: "i32",
    nonblocking: true, // a few hundred system calls for 10,000 pids
  },
  osp_taskstats_decode: {
    parameters: [
      "buffer", // const uint8_t *msg
      "u32", // uint32_t len
      "u32", // uint32_t family
      "buffer", // uint8_t *record
      "u32", // uint32_t cap
    ],
    result: "i32",
  },
  osp_taskstats_close: {
    parameters: [
      "i32", // int h
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded library's typed symbols. */
export type OspreySymbols = Deno.DynamicLibrary<typeof symbols>["symbols"];

/** ABI version these bindings were written for (OSP_ABI_VERSION). */
export const ABI_VERSION = 3;

/** OSP_FILE_STAT_SIZE: bytes osp_file_read() describes a file in. */
export const FILE_STAT_SIZE = 48;

/** enum osp_object_kind. */
export const ObjectKindCode = { proc: 1, bench: 2, tcp: 3, logs: 4, l7: 5 } as const;

/** enum osp_open_flags. */
export const OpenFlag = { FORCE_RAW_TP: 1, LEGACY_EXIT: 2, NO_FENTRY: 4 } as const;

/** enum osp_program_kind (low byte of osp_program_flags()). */
export const ProgramKind = {
  OTHER: 0,
  TP_BTF: 1,
  RAW_TP: 2,
  SYSCALL: 3,
  FENTRY: 4,
  FEXIT: 5,
} as const;

/** enum osp_map_cursor_state; the cursor is struct osp_map_cursor. */
export const MapCursor = { START: 0, BATCH: 1, BY_KEY: 2, DONE: 3 } as const;

/** OSP_PROG_F_* bits of osp_program_flags(). */
export const ProgramFlag = { AUTOLOAD: 1 << 8, ATTACHED: 1 << 9 } as const;

/** enum osp_attach_result, besides negative errnos. */
export const AttachCode = { OK: 0, SKIPPED: 1, ON_DEMAND: 2 } as const;
