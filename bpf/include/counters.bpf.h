/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * An object's per-CPU event counters, "osp_counters", which user space sums
 * with osp_counters(). Define OSP_COUNTERS_MAX (the object's enum's MAX)
 * before including; include once per object, after vmlinux.h and
 * bpf_helpers.h.
 */
#ifndef __OSP_COUNTERS_BPF_H
#define __OSP_COUNTERS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OSP_COUNTERS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} osp_counters SEC(".maps");

/* adds one to counter idx; per-CPU, so it never contends */
static __always_inline void count(__u32 idx)
{
	__u64 *n = bpf_map_lookup_elem(&osp_counters, &idx);

	if (n)
		*n += 1;
}

#endif /* __OSP_COUNTERS_BPF_H */
