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

/*
 * Batched wakeups. A wakeup per record is an inter-processor interrupt:
 * 16.7-25 us per program run under virtualisation against 2-2.7 us without
 * (measured on the development VM). So records are submitted without a
 * wakeup until the ring holds osp_wakeup_bytes; the consumer's wait times out
 * (ffi/ring_buffer.ts: 100 ms) and drains whatever is there, which bounds the
 * delivery latency, and a burst that fills the ring up to the threshold wakes
 * it at once. Set by the loader before load; 0 wakes on every record.
 *
 * Once over the threshold, only the first record after each drain (a new
 * consumer position) forces a wakeup: the consumer is awake or about to be,
 * and waking it again per record would cost that interrupt on every record
 * for as long as it is behind, which is when the producers can least afford
 * it. Producers racing here may wake it a few times. A wakeup that finds the
 * next record still being written drains nothing; the wait's timeout then
 * collects it, within the same 100 ms bound.
 */
const volatile __u32 osp_wakeup_bytes = 0;

/* the consumer position at the last forced wakeup; none yet: ~0 */
static volatile __u64 osp_woken_cons = ~0ULL;

static __always_inline __u64 osp_wakeup_flags(void *ring)
{
	__u64 cons;

	if (!osp_wakeup_bytes)
		return 0;
	if (bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) < osp_wakeup_bytes)
		return BPF_RB_NO_WAKEUP;
	cons = bpf_ringbuf_query(ring, BPF_RB_CONS_POS);
	if (cons == osp_woken_cons)
		return BPF_RB_NO_WAKEUP;
	osp_woken_cons = cons;
	return BPF_RB_FORCE_WAKEUP;
}

/* submit a reserved record under the batched-wakeup policy above */
#define osp_ringbuf_submit(ring, ptr) bpf_ringbuf_submit((ptr), osp_wakeup_flags(ring))

static __always_inline void osp_rec_hdr_fill(struct osp_rec_hdr *hdr, __u16 type, __u16 size)
{
	hdr->ts_ns = bpf_ktime_get_boot_ns();
	hdr->type = type;
	hdr->size = size;
	hdr->cpu = bpf_get_smp_processor_id();
}

#endif /* __OSP_RING_BPF_H */
