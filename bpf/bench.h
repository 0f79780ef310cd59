/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ring-buffer benchmark producer (bench.bpf.c). It emits records of the
 * osp_proc_event shape with type OSP_REC_BENCH, so consumers exercise the same
 * decoder as for real process events.
 */
#ifndef __OSP_BENCH_H
#define __OSP_BENCH_H

#include "proc.h"

/* context passed to the SEC("syscall") program through BPF_PROG_TEST_RUN */
struct osp_bench_ctx {
	__u64 seq_base; /* sequence number of the first record of this run */
	__u32 count;	/* records to emit */
	__u32 pad;
};

#endif /* __OSP_BENCH_H */
