/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/**
 * @file osprey.h
 * @brief libosprey: Osprey's kernel-facing C library, opened by Deno with
 * Deno.dlopen.
 *
 * The ABI passes numbers and caller-owned byte buffers only: no pointer is
 * returned and no callback is taken, so Deno's --allow-ffi can be scoped to
 * this library's path and every call stays on V8's fast path.
 *
 * Conventions (after libbpf's naming guide):
 * - every symbol starts with osp_; everything else is hidden;
 * - handles are small positive ints indexing tables inside the library; a
 *   closed handle is stale (-EBADF), never reused for the same number soon;
 * - every function returns >= 0 on success or a negative errno; the message
 *   of the last failure (the step that failed plus libbpf's own log lines) is
 *   read with osp_last_error();
 * - text outputs are NUL-terminated and cut to the buffer; binary outputs are
 *   little-endian (host order on every supported target).
 *
 * Threads: osp_ring_wait(), osp_bench_produce(), osp_ping(), osp_nat_open(),
 * osp_taskstats_open(), osp_taskstats_query(), osp_file_read() and osp_journal_wait() block and are meant to run on another thread (Deno:
 * nonblocking: true); every other call is quick.
 * Closing a handle while another thread waits on it is safe: the waiter is
 * woken and returns -ECANCELED, and memory is freed when it leaves.
 */
#ifndef __OSPREY_H
#define __OSPREY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef OSP_API
#define OSP_API __attribute__((visibility("default")))
#endif

/** Bumped on every incompatible ABI change; ffi/lib.ts checks it. */
#define OSP_ABI_VERSION 3

/** Objects osp_object_open() can open; their BPF code is embedded. */
enum osp_object_kind {
	OSP_OBJECT_PROC = 1,  /**< bpf/proc.bpf.c: process lifecycle */
	OSP_OBJECT_BENCH = 2, /**< bpf/bench.bpf.c: ring-buffer benchmark producer */
	OSP_OBJECT_TCP = 3,   /**< bpf/tcp.bpf.c: TCP connections, listens, bytes, retransmits */
	OSP_OBJECT_LOGS = 4,  /**< bpf/logs.bpf.c: files opened for writing under /var/log */
	OSP_OBJECT_L7 = 5,    /**< bpf/l7.bpf.c: payload prefixes of socket reads and writes */
};

/** osp_object_open() flags. */
enum osp_open_flags {
	/** Use the raw_tp variants even where tp_btf works (tests the fallback). */
	OSP_OPEN_FORCE_RAW_TP = 1u << 0,
	/**
	 * Find a process's last exiting thread by signal->live, as kernels
	 * without sched_process_exit's group_dead argument need (tests that path).
	 */
	OSP_OPEN_LEGACY_EXIT = 1u << 1,
	/** Use no fentry/fexit programs even where they load (tests the tracepoint paths). */
	OSP_OPEN_NO_FENTRY = 1u << 2,
};

/** osp_program_flags() low byte: how the program attaches. */
enum osp_program_kind {
	OSP_PROG_OTHER = 0,
	OSP_PROG_TP_BTF = 1,
	OSP_PROG_RAW_TP = 2,
	OSP_PROG_SYSCALL = 3, /**< run on demand with BPF_PROG_TEST_RUN */
	OSP_PROG_FENTRY = 4,
	OSP_PROG_FEXIT = 5,
};

/** osp_program_flags() bits above the kind byte. */
#define OSP_PROG_F_AUTOLOAD (1u << 8) /**< loaded (not switched off by a probe) */
#define OSP_PROG_F_ATTACHED (1u << 9) /**< has a live link */

/** osp_program_attach() results besides 0 (attached) and -errno. */
enum osp_attach_result {
	OSP_ATTACH_OK = 0,
	OSP_ATTACH_SKIPPED = 1,	  /**< autoload off: the feature probe chose the other variant */
	OSP_ATTACH_ON_DEMAND = 2, /**< never attached: run with a test run (syscall programs) */
};

/**
 * Frame osp_ring_drain() writes per record: this header, the record bytes,
 * then zero padding to a multiple of 8.
 */
struct osp_frame_hdr {
	uint32_t len;	   /**< record bytes, without header or padding */
	uint32_t reserved; /**< 0 */
};

/** Bytes of the key position osp_map_read() keeps in a cursor. */
#define OSP_MAP_CURSOR_KEY 64

/** osp_map_cursor.state */
enum osp_map_cursor_state {
	OSP_MAP_CURSOR_START = 0,  /**< set by the caller before the first read */
	OSP_MAP_CURSOR_BATCH = 1,  /**< more to read, with batch operations */
	OSP_MAP_CURSOR_BY_KEY = 2, /**< more to read, key by key */
	OSP_MAP_CURSOR_DONE = 3,   /**< every entry was returned */
};

/**
 * Where osp_map_read() left off; the caller zeroes it to start. One pass
 * over a map that changes meanwhile may miss or repeat an entry, never
 * return a torn one.
 */
struct osp_map_cursor {
	uint32_t state; /**< enum osp_map_cursor_state */
	uint32_t reserved;
	uint8_t token[OSP_MAP_CURSOR_KEY];
};

/** @return OSP_ABI_VERSION of this build. */
OSP_API uint32_t osp_abi_version(void);

/**
 * @brief Copy the message of the last failure.
 * @return its length without the NUL (cut to cap - 1), 0 if none.
 */
OSP_API int osp_last_error(uint8_t *buf, uint32_t cap);

/**
 * @brief Probe what the kernel offers, as "key=value\n" lines: abi, btf,
 * bpf_syscall, bpf_errno, tracing_prog, raw_tp, ringbuf, syscall_prog,
 * bpf_loop, tracefs, unprivileged_bpf_disabled.
 * @return bytes written without the NUL, or -ENOSPC.
 */
OSP_API int osp_kernel_probe(uint8_t *buf, uint32_t cap);

/**
 * @brief Write "name offset size\n" for every record struct and field that
 * crosses into TypeScript (a struct's own line has offset 0 and its sizeof),
 * then "NAME value\n" for the constants the TypeScript side mirrors.
 * @return bytes written without the NUL, or -ENOSPC.
 */
OSP_API int osp_layout(uint8_t *buf, uint32_t cap);

/**
 * @brief Open an embedded BPF object (not loaded yet) and decide, by probing
 * the kernel, which program variants load.
 * @param which enum osp_object_kind
 * @param flags enum osp_open_flags
 * @return object handle > 0
 */
OSP_API int osp_object_open(uint32_t which, uint32_t flags);

/** @brief Load (verify) the object's programs and create its maps. */
OSP_API int osp_object_load(int h);

/**
 * @brief Describe the object as "key=value\n" lines: object, loaded and the
 * load-time choices (attach_mode, mark_victim_arg, exit_group_dead_arg).
 */
OSP_API int osp_object_info(int h, uint8_t *buf, uint32_t cap);

/**
 * @brief Detach every program, close the object's rings (waking waiters),
 * free it. Idempotent: a handle already closed returns 0.
 */
OSP_API int osp_object_close(int h);

/** @return number of programs in the object, in a stable order. */
OSP_API int osp_program_count(int h);

/** @brief Copy program i's name. @return its length. */
OSP_API int osp_program_name(int h, int i, uint8_t *buf, uint32_t cap);

/** @return enum osp_program_kind | OSP_PROG_F_* bits. */
OSP_API int osp_program_flags(int h, int i);

/**
 * @brief Attach program i (programs are attached one by one so the caller
 * can tell which one failed and why). Attaching twice is a no-op.
 * @return enum osp_attach_result, or -errno (message in osp_last_error()).
 */
OSP_API int osp_program_attach(int h, int i);

/**
 * @brief Open the ring-buffer map named map_name (NUL-terminated) of a
 * loaded object for consuming. The object's close also closes the ring.
 * @return ring handle > 0
 */
OSP_API int osp_ring_open(int h, const uint8_t *map_name);

/**
 * @brief Wait until records are pending. Blocks: call it from another thread.
 * @return 1 readable, 0 timed out (or interrupted), -ECANCELED when the ring
 * was closed meanwhile, other -errno on failure.
 */
OSP_API int osp_ring_wait(int r, int timeout_ms);

/**
 * @brief Copy whole records into buf as frames (struct osp_frame_hdr, bytes,
 * pad to 8), skipping discarded ones, and release their ring space. Stops
 * before a record that does not fit, without losing it; never blocks.
 * @return bytes written (0 when empty), or -ENOSPC if the first pending
 * record alone is larger than cap.
 */
OSP_API int osp_ring_drain(int r, uint8_t *buf, uint32_t cap);

/** @return bytes produced but not yet consumed (capped at INT32_MAX). */
OSP_API int osp_ring_pending(int r);

/** @brief Close a ring; idempotent. A waiter returns -ECANCELED. */
OSP_API int osp_ring_close(int r);

/**
 * @brief Sum the object's per-CPU lost-record counters ("osp_lost" map) and
 * write them as u64, indexed by record type.
 * @return number of u64 written (min(cap / 8, OSP_REC_TYPE_MAX)).
 */
OSP_API int osp_lost(int h, uint8_t *buf, uint32_t cap);

/**
 * @brief Sum the object's per-CPU "osp_counters" map into u64s (for proc:
 * enum osp_proc_counter).
 * @return number of u64 written; -ENOENT if the object has no such map.
 */
OSP_API int osp_counters(int h, uint8_t *buf, uint32_t cap);

/**
 * @brief Set a map's size before the object is loaded.
 * @param map_name NUL-terminated
 * @return 0, -EBUSY once loaded, -ENOENT for an unknown map
 */
OSP_API int osp_object_resize_map(int h, const uint8_t *map_name, uint32_t max_entries);

/**
 * @brief Read the next entries of a loaded object's hash map.
 *
 * Writes n keys, each padded to a multiple of 8 bytes, then n values, each
 * padded likewise, at the start of buf, and advances the cursor (struct
 * osp_map_cursor, zeroed to start). Call again until the cursor's state is
 * OSP_MAP_CURSOR_DONE. Uses the kernel's batch lookup where it has one.
 * @return n (0 once done), -ENOSPC when buf cannot hold one hash bucket
 */
OSP_API int osp_map_read(int h, const uint8_t *map_name, uint8_t *cursor, uint32_t cursor_cap,
			 uint8_t *buf, uint32_t cap);

/**
 * @brief Run the bench object's producer until count records were offered
 * to its ring "bench_events", in batches, waiting for free ring space before
 * each batch so a keeping-up consumer sees no loss. Blocks: call it from
 * another thread.
 * @return count, or -ECANCELED if the object was closed meanwhile.
 */
OSP_API int osp_bench_produce(int h, uint32_t count);

/* --- pinger (ping.c) --- */

/** Most targets one osp_ping() call takes (the ICMP sequence is 16 bits). */
#define OSP_PING_MAX_TARGETS 65535
/** Longest timeout osp_ping() accepts, in ms. */
#define OSP_PING_MAX_TIMEOUT_MS 60000

/** One target of osp_ping(): 24 bytes. */
struct osp_ping_target {
	uint8_t addr[16];  /**< IPv6 address, or IPv4 as ::ffff:a.b.c.d (network order) */
	uint32_t family;   /**< AF_INET (2) or AF_INET6 (10); must match addr's form */
	uint32_t scope_id; /**< interface index for an IPv6 link-local address, else 0 */
};

/** One result of osp_ping(), at its target's index: 16 bytes. */
struct osp_ping_result {
	/**
	 * >= 0: round-trip time in ns; < 0: -errno for this target alone:
	 * -ETIMEDOUT (no reply by the deadline), -ENETUNREACH / -EHOSTUNREACH /
	 * -EACCES (refused by routing at send, or an ICMP error came back),
	 * -EPERM (neither a raw nor an ICMP datagram socket is allowed in the
	 * namespace), -EINVAL (a malformed target), ...
	 */
	int64_t rtt_ns;
	uint32_t flags;	   /**< OSP_PING_R_* */
	uint8_t icmp_type; /**< type of the ICMP error that ended the probe, else 0 */
	uint8_t icmp_code; /**< its code */
	uint16_t reserved; /**< 0 */
};

/** osp_ping() flags. */
enum osp_ping_flags {
	/** Use ICMP datagram sockets only, even with CAP_NET_RAW (tests that path). */
	OSP_PING_DGRAM_ONLY = 1u << 0,
	/** Ignore kernel timestamps; time with clock_gettime (tests that path). */
	OSP_PING_USER_CLOCK = 1u << 1,
};

/** osp_ping_result.flags bits. */
enum osp_ping_result_flags {
	OSP_PING_R_SENT = 1u << 0,  /**< the echo request was handed to the kernel */
	OSP_PING_R_DGRAM = 1u << 1, /**< sent on an ICMP datagram ("ping") socket, not raw */
	OSP_PING_R_TX_KERNEL = 1u << 2, /**< send time: the kernel's software TX timestamp */
	OSP_PING_R_TX_SCHED = 1u << 3,	/**< ... taken at the qdisc (the device gave no SND stamp) */
	OSP_PING_R_RX_KERNEL = 1u << 4, /**< receive time: the kernel's software RX timestamp */
};

/**
 * @brief Ping a batch of targets (ICMP echo for IPv4, ICMPv6 echo for IPv6)
 * from inside a network namespace, and wait for the replies.
 *
 * Blocks until every target has a result or timeout_ms passed since the call
 * began: call it from another thread. The namespace is entered on a thread of
 * the library's own, created for the call, so the calling thread never
 * changes namespace. Raw sockets are used where allowed (CAP_NET_RAW), else
 * ICMP datagram sockets (net.ipv4.ping_group_range). The RTT is measured from
 * the kernel's software TX and RX timestamps (SO_TIMESTAMPING), or with
 * clock_gettime around send and receive where the kernel gives none
 * (result flags say which).
 *
 * @param netns_path NUL-terminated path of a network namespace file such as
 *   "/proc/<pid>/ns/net" or "/run/netns/<name>"; "" for the caller's own
 * @param targets struct osp_ping_target records
 * @param targets_len bytes of targets (a multiple of 24)
 * @param results receives one struct osp_ping_result per target
 * @param results_cap bytes of results (at least 16 per target)
 * @param timeout_ms deadline for the whole batch, at most OSP_PING_MAX_TIMEOUT_MS
 * @param flags enum osp_ping_flags
 * @return number of targets that answered; -errno when the whole call failed
 *   (-ENOENT: no such namespace file, -EINVAL: not a network namespace or bad
 *   arguments, -EPERM: setns refused, without CAP_SYS_ADMIN), with the
 *   message in osp_last_error()
 */
OSP_API int osp_ping(const uint8_t *netns_path, const uint8_t *targets, uint32_t targets_len,
		     uint8_t *results, uint32_t results_cap, uint32_t timeout_ms, uint32_t flags);
/**
 * @brief Open a regular file for reading by the bytes of its path (a host
 * path need not be UTF-8, which Deno's file APIs require).
 * @param path NUL-terminated path bytes, absolute
 * @return file handle > 0; -EINVAL for an empty path or a file that is not
 * regular; -EMFILE when the library's 1024 file handles are in use.
 */
OSP_API int osp_file_open(const uint8_t *path);

/**
 * @brief Read up to cap bytes at offset (pread(2), restarted on EINTR).
 * Reading from offset 0 again makes procfs and cgroupfs regenerate the text.
 * @return bytes read, 0 at the end, or -errno (-ENODEV once a cgroup's
 * directory was removed).
 */
OSP_API int osp_file_pread(int f, uint8_t *buf, uint32_t cap, uint64_t offset);

/** @brief Close a file handle; idempotent. */
OSP_API int osp_file_close(int f);
/* --- the systemd journal, through libsystemd (journal.c) --- */

/** Bytes of the header osp_journal_read() writes before each entry's fields. */
#define OSP_JOURNAL_ENTRY_HDR 24
/** osp_journal_read() entry priority when the entry has no valid PRIORITY. */
#define OSP_JOURNAL_NO_PRIORITY 255
/** Entry flag: MESSAGE was longer than 64 KiB and is cut. */
#define OSP_JOURNAL_F_CUT 1

/**
 * @brief Follow the journal files of one directory with sd_journal
 * (libsystemd.so.0 is loaded on first use).
 * @param dir NUL-terminated directory, e.g. "/run/log/journal"
 * @param cursor NUL-terminated cursor of the last entry a previous reader
 *   consumed, or "": the reader starts after it when it still exists, else
 *   at the end of the journal
 * @return journal handle > 0; -ENOENT when libsystemd cannot be loaded,
 *   sd_journal's -errno when the directory cannot be opened
 */
OSP_API int osp_journal_open(const uint8_t *dir, const uint8_t *cursor);

/**
 * @brief Wait until the journal changes (sd_journal_wait). Blocks: call it
 * from another thread, never at the same time as another call on h.
 * @param timeout_ms at most 1000
 * @return 0 nothing new, 1 entries appended, 2 files added or removed
 *   (rotation, journald restart), or -errno
 */
OSP_API int osp_journal_wait(int h, uint32_t timeout_ms);

/**
 * @brief Copy up to max_entries new entries that carry a MESSAGE into buf.
 *
 * Each entry: u32 length of the entry (a multiple of 8), u32 priority
 * (0-7, or OSP_JOURNAL_NO_PRIORITY), u64 realtime in microseconds, u32
 * MESSAGE length, u8 _SYSTEMD_UNIT length, u8 CONTAINER_ID_FULL length, u8
 * flags (OSP_JOURNAL_F_*), u8 0; then the unit, the container id and the
 * message bytes, zero padding. Values longer than 255 bytes (unit, id) are
 * left out. An entry that does not fit stays for the next call.
 * @return bytes written (0: nothing new), -ENOSPC when one entry alone does
 *   not fit, or -errno
 */
OSP_API int osp_journal_read(int h, uint8_t *buf, uint32_t cap, uint32_t max_entries);

/**
 * @brief Copy the cursor of the last entry read (for osp_journal_open()).
 * @return its length, -EADDRNOTAVAIL before any entry, -ENOSPC
 */
OSP_API int osp_journal_cursor(int h, uint8_t *buf, uint32_t cap);

/** @brief Close a journal handle; idempotent. */
OSP_API int osp_journal_close(int h);

/* --- NAT: where TCP connections really go, from conntrack (conntrack.c) --- */

/** struct osp_nat_options.flags. */
enum osp_nat_flags {
	/**
	 * If net.netfilter.nf_conntrack_events is 0 in the watched namespace,
	 * write 1 (as the reference agent does). Without it the sysctl is only
	 * read.
	 */
	OSP_NAT_SET_EVENTS = 1u << 0,
	/**
	 * Do not subscribe to events: every cache miss is asked with a
	 * ctnetlink GET (what the watcher falls back to when events are off).
	 */
	OSP_NAT_NO_EVENTS = 1u << 1,
	/** Do not seed the cache from a dump of the table at open. */
	OSP_NAT_NO_SEED = 1u << 2,
};

/**
 * Options of osp_nat_open(), passed as a caller-owned buffer; a zero field
 * takes its default, a shorter buffer leaves the rest at their defaults.
 */
struct osp_nat_options {
	uint32_t capacity;    /**< cached NAT entries; 0: 65536; at most 1 << 24 */
	uint32_t flags;	      /**< enum osp_nat_flags */
	uint32_t rcvbuf;      /**< event socket receive buffer, bytes; 0: 8 MiB */
	uint32_t interval_ms; /**< event thread's pause after each drain; 0: 20 */
	uint32_t get_rate;    /**< ctnetlink GETs per second at most; 0: 2000; UINT32_MAX: no limit */
	uint32_t reserved;    /**< 0 */
};

/**
 * One connection to look up, in its original direction (as the application
 * connected). The first 40 bytes are laid out as bpf/tcp.h's struct
 * osp_tcp_tuple. Addresses are IPv6, or IPv4-mapped IPv6 (::ffff:a.b.c.d)
 * for IPv4; ports in host order.
 */
struct osp_nat_query {
	uint8_t saddr[16] __attribute__((aligned(8))); /**< local address */
	uint8_t daddr[16];			       /**< remote address, e.g. a Service VIP */
	uint16_t sport;				       /**< local port */
	uint16_t dport;				       /**< remote port */
	uint32_t reserved;			       /**< 0 */
	/**
	 * CLOCK_BOOTTIME ns when the connect began (SYN_SENT, as TCP records
	 * carry it), or 0 if unknown. A miss is verified with a GET only when
	 * an event may have been lost (overrun, truncation, eviction) at or
	 * after this time; 0 means "any time since open".
	 */
	uint64_t start_ns;
};

/** struct osp_nat_result.flags. */
enum osp_nat_result_flags {
	OSP_NAT_R_FOUND = 1u << 0,  /**< DNAT: addr/port are the actual destination */
	OSP_NAT_R_GET = 1u << 1,    /**< answered by a ctnetlink GET, not the cache */
	OSP_NAT_R_SEEDED = 1u << 2, /**< the cache entry came from the dump at open */
	/**
	 * Not found, but not verified either: a GET was needed and the GET
	 * budget was spent, or the GET failed. Treat as "not NATed", counted.
	 */
	OSP_NAT_R_UNVERIFIED = 1u << 3,
	OSP_NAT_R_BAD_QUERY = 1u << 4, /**< mixed IPv4/IPv6 addresses: not looked up */
};

/** One answer of osp_nat_lookup(), in the order of the queries. */
struct osp_nat_result {
	uint8_t addr[16] __attribute__((aligned(8))); /**< reply source: the real peer */
	uint16_t port;				      /**< host order */
	uint16_t flags;				      /**< enum osp_nat_result_flags */
	uint32_t reserved;
};

/** Counters of a NAT watcher, read with osp_nat_stats(); all u64. */
struct osp_nat_stats {
	uint64_t events;	/**< conntrack NEW messages read from the event socket */
	uint64_t nat_events;	/**< ... of them TCP with a changed destination (cached) */
	uint64_t dumped;	/**< entries in the dump at open */
	uint64_t seeded;	/**< ... of them cached (TCP with a changed destination) */
	uint64_t cached;	/**< entries in the cache now */
	uint64_t capacity;	/**< the cache's fixed capacity */
	uint64_t evicted;	/**< entries pushed out, oldest first, by newer ones */
	uint64_t overruns;	/**< ENOBUFS reports of the event socket */
	uint64_t dropped;	/**< events the kernel could not queue (SO_MEMINFO drops) */
	uint64_t truncated;	/**< event messages larger than a receive slot */
	uint64_t lookups;	/**< queries answered */
	uint64_t hits;		/**< found in the cache */
	uint64_t misses;	/**< not in the cache */
	uint64_t gets;		/**< ctnetlink GETs sent for misses */
	uint64_t get_found;	/**< ... that found a DNAT entry */
	uint64_t get_errors;	/**< ... that failed other than "no such entry" */
	uint64_t unverified;	/**< misses that needed a GET and got none (budget, error) */
	uint64_t drains;	/**< times the event thread woke and drained the socket */
	uint64_t thread_cpu_ns; /**< CPU time of the event thread */
	uint64_t last_loss_ns;	/**< CLOCK_BOOTTIME of the last possible event loss; 0 none */
};

/**
 * @brief Watch conntrack in a network namespace and cache where DNATed TCP
 * connections really go.
 *
 * A thread of the library's own enters the namespace (setns; the caller's
 * threads never change namespace), creates the netlink sockets there (they
 * keep it), reads net.netfilter.nf_conntrack_events, subscribes to
 * conntrack NEW events and seeds the cache from a dump of the table; then
 * it drains events in the background. Blocks for the dump: call it from
 * another thread (Deno: nonblocking: true).
 *
 * @param netns_path NUL-terminated path of a network namespace file (e.g.
 * /host/proc/1/ns/net), or "" for the caller's namespace
 * @param options struct osp_nat_options, or NULL
 * @param options_len bytes of options (at most sizeof)
 * @return watcher handle > 0; -ENOENT no such path, -EINVAL not a network
 * namespace, -EPERM no CAP_SYS_ADMIN (setns) or CAP_NET_ADMIN (ctnetlink),
 * -EPROTONOSUPPORT no conntrack netlink in the kernel
 */
OSP_API int osp_nat_open(const uint8_t *netns_path, const uint8_t *options, uint32_t options_len);

/**
 * @brief Describe the watcher as "key=value\n" lines: netns, netns_inode,
 * nf_conntrack_events (the sysctl as read, -1 unreadable), events_set,
 * mode (events or get), capacity, rcvbuf, interval_ms, get_rate,
 * thread_tid.
 */
OSP_API int osp_nat_info(int h, uint8_t *buf, uint32_t cap);

/**
 * @brief Resolve connections: for each struct osp_nat_query write a
 * struct osp_nat_result. First drains the event socket, so every event the
 * kernel queued before the call is in the cache; a miss then means "not
 * NATed" unless an event may have been lost since the query's start_ns, in
 * which case a ctnetlink GET answers it (at most get_rate per second).
 * @param queries count struct osp_nat_query
 * @param results room for count struct osp_nat_result (cap bytes)
 * @return count, -ENOSPC if cap is too small, -EBADF stale handle
 */
OSP_API int osp_nat_lookup(int h, const uint8_t *queries, uint32_t count, uint8_t *results,
			   uint32_t cap);

/**
 * @brief Copy struct osp_nat_stats (cut to cap).
 * @return bytes written
 */
OSP_API int osp_nat_stats(int h, uint8_t *buf, uint32_t cap);

/**
 * @brief Stop the event thread and free the watcher. Safe while another
 * thread is inside osp_nat_lookup() (that call finishes; memory is freed
 * when it leaves). Idempotent.
 */
OSP_API int osp_nat_close(int h);

/** Bytes osp_file_read() writes to its st buffer. */
#define OSP_FILE_STAT_SIZE 48

/**
 * @brief Read a file the way the kernel resolves its path, and describe it.
 *
 * Opens path read-only (O_NONBLOCK, so a FIFO never blocks the open),
 * fstat()s it, reads up to len bytes at offset if it is a regular file, and
 * closes it. Procfs links are followed by the kernel: /proc/<pid>/exe opens
 * the process's executable in its own mount namespace (Deno's own file
 * APIs resolve such a link by its text, in the agent's namespace). Blocks on
 * a hung file system: call it from another thread. Sets no osp_last_error()
 * message: the errno says what failed.
 *
 * @param path the path's bytes, without a NUL
 * @param path_len their number (1 to PATH_MAX - 1)
 * @param offset where to read
 * @param buf where the bytes go
 * @param len bytes wanted (at most INT32_MAX)
 * @param st OSP_FILE_STAT_SIZE bytes: u64 st_dev, st_ino, st_size,
 * st_mtim in ns, st_ctim in ns, st_mode
 * @param st_cap its size (>= OSP_FILE_STAT_SIZE)
 * @return bytes read (0 at the end of the file or for a file that is not
 * regular), or -errno (-EINVAL for an empty path or one holding a NUL,
 * -ENAMETOOLONG, -ENOSPC for a short st)
 */
OSP_API int osp_file_read(const uint8_t *path, uint32_t path_len, uint64_t offset, uint8_t *buf,
			  uint32_t len, uint8_t *st, uint32_t st_cap);

/* --- the procfs broker's agent end (broker.c; wire format: osprey_broker.h) --- */

/**
 * @brief Check that fd is a SOCK_SEQPACKET UNIX socket (the broker's).
 * @return 0, -ENOTSOCK for another kind of descriptor, or -errno (-EBADF)
 */
OSP_API int osp_broker_check(int fd);

/**
 * @brief Send one request to osprey-broker and wait for its answer.
 *
 * Answers whose first four bytes (the sequence number) differ from the
 * request's are dropped: they belong to requests that timed out earlier. A
 * descriptor passed with the answer (SCM_RIGHTS, close-on-exec) is written
 * into the answer's bytes 12..15 (-1 when none); close it with
 * osp_broker_close_fd().
 * Blocks up to timeout_ms: run it on another thread.
 *
 * @param fd the broker socket (OSPREY_BROKER_FD)
 * @param req the request (at least 4 bytes)
 * @param ans where the answer goes (at least 16 bytes)
 * @return the answer's length, or -errno (-ETIMEDOUT, -EPIPE when the broker
 *         is gone, -EMSGSIZE when ans is short, -ENOTSOCK)
 */
OSP_API int osp_broker_call(int fd, const uint8_t *req, uint32_t req_len, uint8_t *ans,
			    uint32_t ans_cap, uint32_t timeout_ms);

/**
 * @brief Close a descriptor the broker passed (an answer's bytes 12..15).
 * @return 0, or -EBADF for a descriptor the broker did not pass (left open)
 */
OSP_API int osp_broker_close_fd(int fd);

/* --- delay accounting: netlink taskstats (taskstats.c) --- */

/** Most pids one osp_taskstats_query() call takes. */
#define OSP_TASKSTATS_MAX_PIDS 65536

/** osp_taskstats_query() flags. */
enum osp_taskstats_flags {
	/**
	 * Also ask for each pid's begin time (a second request per pid, the
	 * PID command for the thread group leader): fills btime and elapsed_us.
	 */
	OSP_TASKSTATS_START = 1u << 0,
};

/** osp_taskstats_record.flags bits. */
enum osp_taskstats_record_flags {
	OSP_TASKSTATS_R_DELAYS = 1u << 0, /**< tgid, counts, delays and run time are set */
	OSP_TASKSTATS_R_START = 1u << 1,  /**< btime and elapsed_us are set */
};

/**
 * One answer of osp_taskstats_query(), at its pid's index: 72 bytes. The
 * delay and run-time fields are the thread group's: its live threads plus
 * what its exited threads left behind. All zero while delay accounting is
 * off (kernel.task_delayacct=0, the default since Linux 5.14).
 */
struct osp_taskstats_record {
	uint32_t pid;  /**< as asked */
	uint32_t tgid; /**< the thread group answered for (the kernel's TASKSTATS_TYPE_TGID) */
	/**
	 * 0, or -errno for this pid alone: -ESRCH no such process (exited),
	 * -EINVAL pid 0 or above INT32_MAX (not asked), -EMSGSIZE the answer
	 * was truncated, -EBADMSG a malformed answer, -ENOBUFS no answer (the
	 * receive buffer overran, also when asked again), or the kernel's
	 * error (-EPERM without CAP_NET_ADMIN)
	 */
	int32_t error;
	uint16_t flags;		  /**< OSP_TASKSTATS_R_* */
	uint16_t version;	  /**< struct taskstats version the kernel answered with */
	uint64_t cpu_count;	  /**< cpu_count: times it waited for a CPU */
	uint64_t cpu_delay_ns;	  /**< cpu_delay_total: runnable, waiting for a CPU */
	uint64_t blkio_count;	  /**< blkio_count */
	uint64_t blkio_delay_ns;  /**< blkio_delay_total: waiting for synchronous block I/O */
	uint64_t cpu_run_real_ns; /**< cpu_run_real_total: user + system time */
	uint64_t btime;		  /**< with OSP_TASKSTATS_START: begin time, s since 1970 */
	uint64_t elapsed_us;	  /**< with OSP_TASKSTATS_START: µs since it began */
};

/**
 * @brief Open a taskstats (generic netlink TASKSTATS) socket.
 *
 * The family exists only in the initial network namespace. With a path, a
 * thread of the library's own enters that namespace (setns, CAP_SYS_ADMIN)
 * and creates the socket there; the socket keeps it, and queries then run
 * on any thread. Blocks briefly: call it from another thread.
 *
 * @param netns_path NUL-terminated path of the host's network namespace
 *   file (e.g. /host/proc/1/ns/net), or "" for the caller's own
 * @return handle > 0; -ENOENT no such path, or no TASKSTATS family in that
 *   namespace (not the initial one, or no CONFIG_TASKSTATS); -EINVAL not a
 *   network namespace; -EPERM setns refused; message in osp_last_error()
 */
OSP_API int osp_taskstats_open(const uint8_t *netns_path);

/**
 * @brief Describe the socket as "key=value\n" lines: netns, netns_inode
 * (of the socket's namespace), family_id, rcvbuf, batch.
 */
OSP_API int osp_taskstats_info(int h, uint8_t *buf, uint32_t cap);

/**
 * @brief Ask for the statistics of a batch of processes (thread groups).
 *
 * Requests are sent many to a datagram and answers matched by sequence
 * number, so 10,000 pids take a few hundred system calls. What fails for
 * one pid is that record's error; the call fails only as a whole for bad
 * arguments or a broken socket. One query at a time per handle (others
 * wait). Blocks: call it from another thread.
 *
 * @param pids count uint32_t pids (host order, any alignment), in the
 *   caller's PID namespace
 * @param count at most OSP_TASKSTATS_MAX_PIDS
 * @param records receives count struct osp_taskstats_record
 * @param cap bytes of records
 * @param flags enum osp_taskstats_flags
 * @return records without an error; -EBADF stale handle, -ENOSPC short
 *   records, -E2BIG too many pids, -EINVAL bad flags, or -errno of the socket
 */
OSP_API int osp_taskstats_query(int h, const uint8_t *pids, uint32_t count, uint8_t *records,
				uint32_t cap, uint32_t flags);

/**
 * @brief Decode one taskstats answer (a netlink message as received) into a
 * record, the way osp_taskstats_query() does: for tests of malformed and
 * truncated answers. The record is read first and updated (error set on
 * failure).
 * @param family the TASKSTATS family id to expect, or 0 for any
 * @return 0, or the record's new -errno (-EMSGSIZE truncated, -EBADMSG
 *   malformed, the kernel's error for an NLMSG_ERROR); -ENOSPC short record
 */
OSP_API int osp_taskstats_decode(const uint8_t *msg, uint32_t len, uint32_t family,
				 uint8_t *record, uint32_t cap);

/** @brief Close the socket and free the handle; idempotent. */
OSP_API int osp_taskstats_close(int h);

#ifdef __cplusplus
}
#endif

#endif /* __OSPREY_H */
