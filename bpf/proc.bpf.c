// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Process lifecycle: START (new process, not thread), EXEC, EXIT (whole
 * thread group gone, with wait status and the OOM-kill flag).
 *
 * Each sched hook exists twice: a tp_btf program (BTF-typed, cheapest) and a
 * raw_tp fallback with the same body. The loader (ffi/src/object.c) probes the
 * kernel and switches the unused variant's autoload off.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "proc.h"
#include "include/ring.bpf.h"
#define OSP_COUNTERS_MAX OSP_PROC_CNT_MAX
#include "include/counters.bpf.h"
#include "include/task.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Set by the loader from vmlinux BTF before load; the verifier then prunes
 * the branch not taken, so a read of an argument the kernel lacks never loads.
 *
 * mark_victim_has_task: 6.8+ passes (struct task_struct *, uid_t), older
 * kernels pass (int pid).
 * exit_has_group_dead: newer sched_process_exit passes (task, bool group_dead);
 * older ones pass (task) only and we test signal->live instead.
 */
const volatile bool mark_victim_has_task = false;
const volatile bool exit_has_group_dead = false;

/*
 * 2 MiB holds about 11,000 records (184 bytes + 8 of header each): a burst of some 3,600
 * short-lived processes while the agent's event loop is busy. User space maps the data area
 * twice, so every MiB here is two MiB of the agent's RSS; losses are counted per type.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 2 << 20);
} proc_events SEC(".maps");

/*
 * OOM victims waiting for their EXIT record, keyed by tgid. LRU so victims
 * whose exit we never see (lost record, detached mid-way) cannot fill it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64); /* boot ns of the mark */
} oom_victims SEC(".maps");

/* the fields every proc record carries; the caller sets cgroup_id */
static __always_inline void fill_task(struct osp_proc_event *e, struct task_struct *task,
				      __u16 type)
{
	osp_rec_hdr_fill(&e->hdr, type, sizeof(*e));
	e->pid = osp_task_tgid(task);
	e->ppid = osp_task_ppid(task);
	e->exit_code = 0;
	e->flags = 0;
	/* zero first: the ring is not cleared and comm may be shorter */
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	/* the process's name, not a thread's: the last thread to exit may be a worker */
	BPF_CORE_READ_STR_INTO(&e->comm, task, group_leader, comm);
	e->filename[0] = '\0';
}

static __always_inline int handle_fork(struct task_struct *child)
{
	struct osp_proc_event *e;

	/* a new thread shares its leader's tgid; only new processes start */
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;

	if (!osp_ringbuf_reserve(&proc_events, e, OSP_REC_PROC_START))
		return 0;
	fill_task(e, child, OSP_REC_PROC_START);
	/* current is the parent; CLONE_INTO_CGROUP may have placed the child elsewhere */
	e->cgroup_id = osp_task_cgroup_id(child);
	osp_ringbuf_submit(&proc_events, e);
	return 0;
}

static __always_inline int handle_exec(struct task_struct *task, struct linux_binprm *bprm)
{
	struct osp_proc_event *e;
	const char *filename;
	long n;

	if (!osp_ringbuf_reserve(&proc_events, e, OSP_REC_PROC_EXEC))
		return 0;
	fill_task(e, task, OSP_REC_PROC_EXEC);
	e->cgroup_id = bpf_get_current_cgroup_id();

	filename = BPF_CORE_READ(bprm, filename);
	n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), filename);
	if (n < 0)
		e->filename[0] = '\0';
	else if (n == sizeof(e->filename))
		e->flags |= OSP_PROC_F_FILENAME_TRUNC;
	osp_ringbuf_submit(&proc_events, e);
	return 0;
}

/* args: the tracepoint arguments as u64 slots (tp_btf ctx or raw_tp args) */
static __always_inline int handle_exit(struct task_struct *task, __u64 *args)
{
	struct osp_proc_event *e;
	__u32 flags = 0;
	__u32 tgid;

	/* only the last thread of the group reports the process exit */
	if (exit_has_group_dead) {
		if (!(__u8)args[1])
			return 0;
	} else if (BPF_CORE_READ(task, signal, live.counter) != 0) {
		return 0;
	}

	/* join the OOM mark exactly once, even if the record below is lost */
	tgid = osp_task_tgid(task);
	if (bpf_map_delete_elem(&oom_victims, &tgid) == 0) {
		flags |= OSP_PROC_F_OOM_KILLED;
		count(OSP_PROC_CNT_OOM_JOINED);
	}

	if (!osp_ringbuf_reserve(&proc_events, e, OSP_REC_PROC_EXIT))
		return 0;
	fill_task(e, task, OSP_REC_PROC_EXIT);
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->exit_code = osp_task_wait_status(task);
	e->flags = flags;
	osp_ringbuf_submit(&proc_events, e);
	return 0;
}

/* tp_btf variants: preferred when the kernel has BPF_PROG_TYPE_TRACING */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(osp_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	return handle_fork(child);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(osp_exec_btf, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return handle_exec(task, bprm);
}

/* not BPF_PROG: that would read args[1] unconditionally */
SEC("tp_btf/sched_process_exit")
int osp_exit_btf(__u64 *ctx)
{
	return handle_exit((struct task_struct *)ctx[0], ctx);
}

/* raw_tp fallbacks: same bodies, arguments as untyped u64 slots */

SEC("raw_tp/sched_process_fork")
int BPF_PROG(osp_fork_raw, struct task_struct *parent, struct task_struct *child)
{
	return handle_fork(child);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(osp_exec_raw, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return handle_exec(task, bprm);
}

SEC("raw_tp/sched_process_exit")
int osp_exit_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return handle_exit((struct task_struct *)ctx->args[0], (__u64 *)ctx->args);
}

/*
 * raw_tp even where tp_btf works: its first argument changed type in 6.8, and
 * a tp_btf program is verified against one prototype only.
 */
SEC("raw_tp/mark_victim")
int osp_oom_victim(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 ts = bpf_ktime_get_boot_ns();
	__u32 tgid;

	if (mark_victim_has_task)
		tgid = osp_task_tgid((struct task_struct *)ctx->args[0]);
	else
		/* a thread id; equal to the tgid unless a non-leader was picked */
		tgid = (__u32)ctx->args[0];

	count(OSP_PROC_CNT_OOM_MARKS);
	if (bpf_map_update_elem(&oom_victims, &tgid, &ts, BPF_ANY) != 0)
		count(OSP_PROC_CNT_OOM_MAP_FULL);
	return 0;
}
