// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Files opened for writing under /var/log (reference §5.1): the logs module
 * learns the (pid, fd) of every such open, then reads the descriptor's path
 * and flags from /proc/<pid>/fd and fdinfo and applies the path rules.
 *
 * Syscall tracepoints only (no kprobes, no fentry): the enter hook of open,
 * openat, openat2 and creat keeps the flags of a candidate open per thread;
 * the exit hook sends a record when the open succeeded and the descriptor is
 * a regular file. A candidate opens for writing (O_WRONLY or O_RDWR) with an
 * absolute path under "/var/log/", or a relative path (its directory is only
 * known once the descriptor exists: user space resolves it). Paths under
 * /proc, /sys and /dev never qualify.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "logs.h"
#include "include/ring.bpf.h"
#define OSP_COUNTERS_MAX OSP_LOGS_CNT_MAX
#include "include/counters.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define O_ACCMODE 00000003
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define S_IFMT 00170000
#define S_IFREG 0100000

/* 256 KiB: some 6,500 records, opens of log files are rare */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} file_events SEC(".maps");

/* candidate opens between enter and exit, by pid_tgid; LRU: a lost exit cannot fill it */
struct pending_open {
	__u32 open_flags;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct pending_open);
} pending_opens SEC(".maps");

static __always_inline int on_enter(const char *filename, __u64 open_flags)
{
	struct pending_open p = {};
	char s[10] = {};
	__u64 id;

	if (!(open_flags & O_ACCMODE & (O_WRONLY | O_RDWR)))
		return 0;
	if (bpf_probe_read_user_str(s, sizeof(s), filename) <= 0)
		return 0;
	if (s[0] == '/') {
		if (s[1] != 'v' || s[2] != 'a' || s[3] != 'r' || s[4] != '/' || s[5] != 'l' ||
		    s[6] != 'o' || s[7] != 'g' || s[8] != '/')
			return 0;
	} else {
		p.flags = OSP_FILE_F_RELATIVE;
	}
	p.open_flags = (__u32)open_flags;
	id = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending_opens, &id, &p, BPF_ANY);
	count(OSP_LOGS_CNT_CANDIDATES);
	return 0;
}

/* the mode of the file behind fd in the current task's table; 0 if unreadable */
static __always_inline __u32 fd_mode(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *f = NULL;

	if (!fds || fd < 0 || fd >= max)
		return 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	return BPF_CORE_READ(f, f_inode, i_mode);
}

static __always_inline int on_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct osp_file_open_event *e;
	struct pending_open *p;
	struct pending_open copy;

	p = bpf_map_lookup_elem(&pending_opens, &id);
	if (!p)
		return 0;
	copy = *p;
	bpf_map_delete_elem(&pending_opens, &id);
	if (ret < 0) {
		count(OSP_LOGS_CNT_FAILED);
		return 0;
	}
	if ((fd_mode(ret) & S_IFMT) != S_IFREG) {
		count(OSP_LOGS_CNT_NOT_REGULAR);
		return 0;
	}
	if (!osp_ringbuf_reserve(&file_events, e, OSP_REC_FILE_OPEN))
		return 0;
	osp_rec_hdr_fill(&e->hdr, OSP_REC_FILE_OPEN, sizeof(*e));
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->pid = id >> 32;
	e->fd = (__u32)ret;
	e->open_flags = copy.open_flags;
	e->flags = copy.flags;
	osp_ringbuf_submit(&file_events, e);
	return 0;
}

/* open(filename, flags, mode): x86-64 and others with the legacy call */
SEC("tracepoint/syscalls/sys_enter_open")
int osp_logs_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *)ctx->args[0], ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_open")
int osp_logs_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

/* creat(filename, mode) = open(filename, O_CREAT | O_WRONLY | O_TRUNC, mode) */
SEC("tracepoint/syscalls/sys_enter_creat")
int osp_logs_enter_creat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *)ctx->args[0], O_CREAT | O_WRONLY | O_TRUNC);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int osp_logs_exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

/* openat(dfd, filename, flags, mode) */
SEC("tracepoint/syscalls/sys_enter_openat")
int osp_logs_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *)ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int osp_logs_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

/* openat2(dfd, filename, struct open_how *how, size) */
SEC("tracepoint/syscalls/sys_enter_openat2")
int osp_logs_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	__u64 flags = 0;

	if (bpf_probe_read_user(&flags, sizeof(flags), (void *)ctx->args[2]))
		return 0;
	return on_enter((const char *)ctx->args[1], flags);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int osp_logs_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}
