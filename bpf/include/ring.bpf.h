/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Ring-buffer helpers shared by every Osprey BPF object: a per-CPU lost
 * counter per record type, and reserve-or-count-lost.
 *
 * Include once per object, after vmlinux.h, bpf_helpers.h and record.h.
 */
#ifndef __OSP_RING_BPF_H
#define __OSP_RING_BPF_H

/*
 * Records that could not be reserved (ring full), per record type. Per-CPU so
 * counting a loss never contends; user space sums the CPUs (osp_lost()).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OSP_REC_TYPE_MAX);
	__type(key, __u32);
	__type(value, __u64);
} osp_lost SEC(".maps");

static __always_inline void osp_count_lost(__u32 type)
{
	__u64 *n = bpf_map_lookup_elem(&osp_lost, &type);

	if (n)
		*n += 1;
}

/*
 * Reserve a record of a constant size, or count it as lost. The size must be
 * a compile-time constant for the verifier, hence the macro.
 */
#define osp_ringbuf_reserve(ring, ptr, rec_type)                                \
	({                                                                     \
		(ptr) = bpf_ringbuf_reserve((ring), sizeof(*(ptr)), 0);       \
		if (!(ptr))                                                    \
			osp_count_lost(rec_type);                              \
		(ptr);                                                         \
	})

static __always_inline void osp_rec_hdr_fill(struct osp_rec_hdr *hdr, __u16 type, __u16 size)
{
	hdr->ts_ns = bpf_ktime_get_boot_ns();
	hdr->type = type;
	hdr->size = size;
	hdr->cpu = bpf_get_smp_processor_id();
}

#endif /* __OSP_RING_BPF_H */
