// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * osp_layout(): the C compiler's view of every record that crosses into
 * TypeScript, so a test can compare it with the decoders' offset constants
 * instead of trusting both sides to agree.
 *
 * Lines: "<struct> 0 <sizeof>", "<struct>.<field> <offset> <size>", and
 * "<CONSTANT> <value>" for numbers the decoders mirror.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/taskstats.h>

#include "internal.h"
#include "proc.h"
#include "tcp.h"
#include "logs.h"
#include "l7.h"

struct text {
	char b[8192];
	size_t n;
	bool overflow;
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (t->overflow)
		return;
	va_start(ap, fmt);
	k = vsnprintf(t->b + t->n, sizeof(t->b) - t->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(t->b) - t->n)
		t->overflow = true;
	else
		t->n += (size_t)k;
}

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)
#define STRUCT(s) put(&t, "%s 0 %zu\n", #s, sizeof(struct s))
#define FIELD(s, f) \
	put(&t, "%s.%s %zu %zu\n", #s, #f, offsetof(struct s, f), FIELD_SIZE(struct s, f))
#define CONST(c) put(&t, "%s %lld\n", #c, (long long)(c))

OSP_API int osp_layout(uint8_t *buf, uint32_t cap)
{
	struct text t = { .n = 0 };

	STRUCT(osp_frame_hdr);
	FIELD(osp_frame_hdr, len);
	FIELD(osp_frame_hdr, reserved);

	STRUCT(osp_rec_hdr);
	FIELD(osp_rec_hdr, ts_ns);
	FIELD(osp_rec_hdr, type);
	FIELD(osp_rec_hdr, size);
	FIELD(osp_rec_hdr, cpu);

	STRUCT(osp_file_open_event);
	FIELD(osp_file_open_event, hdr);
	FIELD(osp_file_open_event, cgroup_id);
	FIELD(osp_file_open_event, pid);
	FIELD(osp_file_open_event, fd);
	FIELD(osp_file_open_event, open_flags);
	FIELD(osp_file_open_event, flags);

	STRUCT(osp_proc_event);
	FIELD(osp_proc_event, hdr);
	FIELD(osp_proc_event, cgroup_id);
	FIELD(osp_proc_event, pid);
	FIELD(osp_proc_event, ppid);
	FIELD(osp_proc_event, exit_code);
	FIELD(osp_proc_event, flags);
	FIELD(osp_proc_event, comm);
	FIELD(osp_proc_event, filename);

	STRUCT(osp_l7_event);
	FIELD(osp_l7_event, hdr);
	FIELD(osp_l7_event, sk);
	FIELD(osp_l7_event, cgroup_id);
	FIELD(osp_l7_event, size);
	FIELD(osp_l7_event, pid);
	FIELD(osp_l7_event, fd);
	FIELD(osp_l7_event, netns);
	FIELD(osp_l7_event, family);
	FIELD(osp_l7_event, sport);
	FIELD(osp_l7_event, dport);
	FIELD(osp_l7_event, dir);
	FIELD(osp_l7_event, l4);
	FIELD(osp_l7_event, len);
	FIELD(osp_l7_event, flags);
	FIELD(osp_l7_event, reserved);
	FIELD(osp_l7_event, saddr);
	FIELD(osp_l7_event, daddr);
	FIELD(osp_l7_event, payload);

	STRUCT(osp_tcp_event);
	FIELD(osp_tcp_event, hdr);
	FIELD(osp_tcp_event, sk);
	FIELD(osp_tcp_event, cgroup_id);
	FIELD(osp_tcp_event, start_ns);
	FIELD(osp_tcp_event, duration_ns);
	FIELD(osp_tcp_event, bytes_sent);
	FIELD(osp_tcp_event, bytes_received);
	FIELD(osp_tcp_event, pid);
	FIELD(osp_tcp_event, fd);
	FIELD(osp_tcp_event, netns);
	FIELD(osp_tcp_event, retransmits);
	FIELD(osp_tcp_event, family);
	FIELD(osp_tcp_event, sport);
	FIELD(osp_tcp_event, dport);
	FIELD(osp_tcp_event, aport);
	FIELD(osp_tcp_event, flags);
	FIELD(osp_tcp_event, old_state);
	FIELD(osp_tcp_event, new_state);
	FIELD(osp_tcp_event, reserved);
	FIELD(osp_tcp_event, saddr);
	FIELD(osp_tcp_event, daddr);
	FIELD(osp_tcp_event, aaddr);

	STRUCT(osp_tcp_conn);
	FIELD(osp_tcp_conn, start_ns);
	FIELD(osp_tcp_conn, cgroup_id);
	FIELD(osp_tcp_conn, bytes_sent);
	FIELD(osp_tcp_conn, bytes_received);
	FIELD(osp_tcp_conn, inode);
	FIELD(osp_tcp_conn, pid);
	FIELD(osp_tcp_conn, fd);
	FIELD(osp_tcp_conn, retransmits);
	FIELD(osp_tcp_conn, copied_seq);
	FIELD(osp_tcp_conn, flags);
	FIELD(osp_tcp_conn, end_retransmits);

	STRUCT(osp_map_cursor);
	FIELD(osp_map_cursor, state);
	FIELD(osp_map_cursor, reserved);
	FIELD(osp_map_cursor, token);
	STRUCT(osp_ping_target);
	FIELD(osp_ping_target, addr);
	FIELD(osp_ping_target, family);
	FIELD(osp_ping_target, scope_id);

	STRUCT(osp_ping_result);
	FIELD(osp_ping_result, rtt_ns);
	FIELD(osp_ping_result, flags);
	FIELD(osp_ping_result, icmp_type);
	FIELD(osp_ping_result, icmp_code);
	FIELD(osp_ping_result, reserved);

	CONST(OSP_REC_PROC_START);
	CONST(OSP_REC_PROC_EXEC);
	CONST(OSP_REC_PROC_EXIT);
	CONST(OSP_REC_FILE_OPEN);
	CONST(OSP_FILE_F_RELATIVE);
	CONST(OSP_LOGS_CNT_CANDIDATES);
	CONST(OSP_LOGS_CNT_NOT_REGULAR);
	CONST(OSP_LOGS_CNT_FAILED);
	CONST(OSP_LOGS_CNT_MAX);
	CONST(OSP_JOURNAL_ENTRY_HDR);
	CONST(OSP_JOURNAL_NO_PRIORITY);
	CONST(OSP_JOURNAL_F_CUT);
	CONST(OSP_REC_TCP_CONNECT);
	CONST(OSP_REC_TCP_FAILED);
	CONST(OSP_REC_TCP_END);
	CONST(OSP_REC_TCP_CLOSE);
	CONST(OSP_REC_TCP_LISTEN);
	CONST(OSP_REC_TCP_LISTEN_CLOSE);
	CONST(OSP_REC_L7_PAYLOAD);
	CONST(OSP_L7_PAYLOAD_MAX);
	CONST(OSP_L7_IOV_MAX);
	CONST(OSP_L7_DIR_WRITE);
	CONST(OSP_L7_DIR_READ);
	CONST(OSP_L7_F_VECTORED);
	CONST(OSP_L7_F_CUT);
	CONST(OSP_L7_CNT_ARGS_FULL);
	CONST(OSP_L7_CNT_RECORDS);
	CONST(OSP_L7_CNT_CUT);
	CONST(OSP_L7_CNT_READ_FAULT);
	CONST(OSP_L7_CNT_IOV_LEFT);
	CONST(OSP_L7_CNT_MAX);
	CONST(OSP_REC_BENCH);
	CONST(OSP_REC_TYPE_MAX);
	CONST(OSP_PROC_F_OOM_KILLED);
	CONST(OSP_PROC_F_FILENAME_TRUNC);
	CONST(OSP_PROC_CNT_OOM_MARKS);
	CONST(OSP_PROC_CNT_OOM_JOINED);
	CONST(OSP_PROC_CNT_OOM_MAP_FULL);
	CONST(OSP_PROC_CNT_MAX);
	CONST(OSP_TCP_F_INBOUND);
	CONST(OSP_TCP_F_UNTRACKED);
	CONST(OSP_TCP_F_ENDED);
	CONST(OSP_TCP_F_AFTER_END);
	CONST(OSP_TCP_F_NAT);
	CONST(OSP_TCP_F_ACTIVE_AFTER_END);
	CONST(OSP_TCP_CNT_CONN_FULL);
	CONST(OSP_TCP_CNT_LAZY);
	CONST(OSP_TCP_CNT_CONNECT_UNTRACKED);
	CONST(OSP_TCP_CNT_ACCEPTED);
	CONST(OSP_TCP_CNT_NAT_SEEN);
	CONST(OSP_TCP_CNT_NAT_FULL);
	CONST(OSP_TCP_CNT_NAT_USED);
	CONST(OSP_TCP_CNT_MAX);
	CONST(OSP_MAP_CURSOR_START);
	CONST(OSP_MAP_CURSOR_BATCH);
	CONST(OSP_MAP_CURSOR_BY_KEY);
	CONST(OSP_MAP_CURSOR_DONE);
	CONST(OSP_PROG_TP_BTF);
	CONST(OSP_PROG_RAW_TP);
	CONST(OSP_PROG_SYSCALL);
	CONST(OSP_PROG_FENTRY);
	CONST(OSP_PROG_FEXIT);
	CONST(OSP_PROG_F_AUTOLOAD);
	CONST(OSP_PROG_F_ATTACHED);
	CONST(OSP_ATTACH_SKIPPED);
	CONST(OSP_ATTACH_ON_DEMAND);
	CONST(OSP_OPEN_FORCE_RAW_TP);
	CONST(OSP_OPEN_LEGACY_EXIT);
	CONST(OSP_OPEN_NO_FENTRY);
	CONST(OSP_TCP_F_FIN_COUNTED);
	CONST(OSP_PING_MAX_TARGETS);
	CONST(OSP_PING_MAX_TIMEOUT_MS);
	CONST(OSP_PING_DGRAM_ONLY);
	CONST(OSP_PING_USER_CLOCK);
	CONST(OSP_PING_R_SENT);
	CONST(OSP_PING_R_DGRAM);
	CONST(OSP_PING_R_TX_KERNEL);
	CONST(OSP_PING_R_TX_SCHED);
	CONST(OSP_PING_R_RX_KERNEL);
	CONST(AF_INET);
	CONST(AF_INET6);
	CONST(OSP_FILE_STAT_SIZE);

	STRUCT(osp_nat_options);
	FIELD(osp_nat_options, capacity);
	FIELD(osp_nat_options, flags);
	FIELD(osp_nat_options, rcvbuf);
	FIELD(osp_nat_options, interval_ms);
	FIELD(osp_nat_options, get_rate);
	FIELD(osp_nat_options, reserved);

	STRUCT(osp_nat_query);
	FIELD(osp_nat_query, saddr);
	FIELD(osp_nat_query, daddr);
	FIELD(osp_nat_query, sport);
	FIELD(osp_nat_query, dport);
	FIELD(osp_nat_query, reserved);
	FIELD(osp_nat_query, start_ns);

	STRUCT(osp_nat_result);
	FIELD(osp_nat_result, addr);
	FIELD(osp_nat_result, port);
	FIELD(osp_nat_result, flags);
	FIELD(osp_nat_result, reserved);

	STRUCT(osp_nat_stats);
	FIELD(osp_nat_stats, events);
	FIELD(osp_nat_stats, nat_events);
	FIELD(osp_nat_stats, dumped);
	FIELD(osp_nat_stats, seeded);
	FIELD(osp_nat_stats, cached);
	FIELD(osp_nat_stats, capacity);
	FIELD(osp_nat_stats, evicted);
	FIELD(osp_nat_stats, overruns);
	FIELD(osp_nat_stats, dropped);
	FIELD(osp_nat_stats, truncated);
	FIELD(osp_nat_stats, lookups);
	FIELD(osp_nat_stats, hits);
	FIELD(osp_nat_stats, misses);
	FIELD(osp_nat_stats, gets);
	FIELD(osp_nat_stats, get_found);
	FIELD(osp_nat_stats, get_errors);
	FIELD(osp_nat_stats, unverified);
	FIELD(osp_nat_stats, drains);
	FIELD(osp_nat_stats, thread_cpu_ns);
	FIELD(osp_nat_stats, last_loss_ns);

	CONST(OSP_NAT_SET_EVENTS);
	CONST(OSP_NAT_NO_EVENTS);
	CONST(OSP_NAT_NO_SEED);
	CONST(OSP_NAT_R_FOUND);
	CONST(OSP_NAT_R_GET);
	CONST(OSP_NAT_R_SEEDED);
	CONST(OSP_NAT_R_UNVERIFIED);
	CONST(OSP_NAT_R_BAD_QUERY);

	STRUCT(osp_taskstats_record);
	FIELD(osp_taskstats_record, pid);
	FIELD(osp_taskstats_record, tgid);
	FIELD(osp_taskstats_record, error);
	FIELD(osp_taskstats_record, flags);
	FIELD(osp_taskstats_record, version);
	FIELD(osp_taskstats_record, cpu_count);
	FIELD(osp_taskstats_record, cpu_delay_ns);
	FIELD(osp_taskstats_record, blkio_count);
	FIELD(osp_taskstats_record, blkio_delay_ns);
	FIELD(osp_taskstats_record, cpu_run_real_ns);
	FIELD(osp_taskstats_record, btime);
	FIELD(osp_taskstats_record, elapsed_us);
	CONST(OSP_TASKSTATS_MAX_PIDS);
	CONST(OSP_TASKSTATS_START);
	CONST(OSP_TASKSTATS_R_DELAYS);
	CONST(OSP_TASKSTATS_R_START);
	/* the kernel's answer, for tests that build one (fields only ever appended) */
	FIELD(taskstats, version);
	FIELD(taskstats, cpu_count);
	FIELD(taskstats, cpu_delay_total);
	FIELD(taskstats, blkio_count);
	FIELD(taskstats, blkio_delay_total);
	FIELD(taskstats, cpu_run_real_total);
	FIELD(taskstats, cpu_run_virtual_total);
	FIELD(taskstats, ac_btime);
	FIELD(taskstats, ac_etime);
	FIELD(taskstats, ac_btime64);
	CONST(TASKSTATS_CMD_NEW);
	CONST(TASKSTATS_TYPE_PID);
	CONST(TASKSTATS_TYPE_TGID);
	CONST(TASKSTATS_TYPE_STATS);
	CONST(TASKSTATS_TYPE_AGGR_PID);
	CONST(TASKSTATS_TYPE_AGGR_TGID);
	CONST(NLMSG_ERROR);

	if (t.overflow)
		return -ENOSPC; /* t.b has room to spare; grow it with the list */
	return osp_copy_text(buf, cap, t.b, t.n);
}
