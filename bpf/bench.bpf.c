// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ring-buffer benchmark producer. A SEC("syscall") program run with
 * BPF_PROG_TEST_RUN; it emits ctx->count records of the osp_proc_event shape
 * (type OSP_REC_BENCH) into its own ring, counting failed reserves as lost
 * exactly like the real programs do.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "bench.h"
#include "include/ring.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} bench_events SEC(".maps");

struct emit_state {
	__u64 seq_base;
	__u32 last; /* index of the batch's last record */
};

/* "osp-bench" as two little-endian words, so the comm costs two stores */
#define BENCH_COMM_LO 0x636e65622d70736fULL /* "osp-benc" */
#define BENCH_COMM_HI 0x0000000000000068ULL /* "h" + NULs */

static long emit_one(__u32 i, struct emit_state *st)
{
	struct osp_proc_event *e;
	__u64 seq = st->seq_base + i;

	if (!osp_ringbuf_reserve(&bench_events, e, OSP_REC_BENCH))
		return 0; /* keep going: every failed reserve is counted */
	osp_rec_hdr_fill(&e->hdr, OSP_REC_BENCH, sizeof(*e));
	e->cgroup_id = seq;
	e->pid = (__u32)seq;
	e->ppid = 1;
	e->exit_code = 0;
	e->flags = 0;
	*(__u64 *)&e->comm[0] = BENCH_COMM_LO;
	*(__u64 *)&e->comm[8] = BENCH_COMM_HI;
	e->filename[0] = '\0';
	/*
	 * Wake the consumer once per batch, not whenever it had caught up: at
	 * millions of records/s, per-record wakeups (irq_work) would measure the
	 * scheduler instead of the consumer.
	 */
	bpf_ringbuf_submit(e, i == st->last ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("syscall")
int osp_bench_emit(struct osp_bench_ctx *ctx)
{
	struct emit_state st = { .seq_base = ctx->seq_base, .last = ctx->count - 1 };

	bpf_loop(ctx->count, emit_one, &st, 0);
	return 0;
}
