/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * CO-RE readers for struct task_struct, shared by programs that describe a
 * process. Every read goes through BPF_CORE_READ, so the same code serves
 * tp_btf (BTF pointers) and raw_tp (plain kernel pointers) programs.
 */
#ifndef __OSP_TASK_BPF_H
#define __OSP_TASK_BPF_H

/*
 * include/linux/sched/signal.h; a #define, so vmlinux.h lacks it. The value
 * has been 0x4 since it was introduced (2.6), see do_group_exit().
 */
#define OSP_SIGNAL_GROUP_EXIT 0x00000004

static __always_inline __u32 osp_task_tgid(struct task_struct *task)
{
	return BPF_CORE_READ(task, tgid);
}

static __always_inline __u32 osp_task_ppid(struct task_struct *task)
{
	return BPF_CORE_READ(task, real_parent, tgid);
}

/*
 * Default-hierarchy (cgroup v2) id, what bpf_get_current_cgroup_id() returns
 * for current. kernfs_node.id is a u64 since 5.5 (ringbuf needs 5.8).
 */
static __always_inline __u64 osp_task_cgroup_id(struct task_struct *task)
{
	return BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
}

/*
 * The status wait(2) would report for this thread group: the group exit code
 * when the group was torn down (exit_group, fatal signal), else the leader's
 * own code (a zombie leader keeps it until the last thread is gone). Mirrors
 * the choice wait_task_zombie() makes for the leader.
 */
static __always_inline __u32 osp_task_wait_status(struct task_struct *task)
{
	struct signal_struct *sig = BPF_CORE_READ(task, signal);

	if (BPF_CORE_READ(sig, flags) & OSP_SIGNAL_GROUP_EXIT)
		return BPF_CORE_READ(sig, group_exit_code);
	return BPF_CORE_READ(task, group_leader, exit_code);
}

#endif /* __OSP_TASK_BPF_H */
