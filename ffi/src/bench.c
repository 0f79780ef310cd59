// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * osp_bench_produce(): drive the bench object's SEC("syscall") producer with
 * BPF_PROG_TEST_RUN in batches. Before each batch it waits until the ring has
 * room for the whole batch, so the benchmark measures how fast a consumer
 * drains, not how many records an unpaced producer can throw away.
 */
#include <errno.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "bench.h"

/* 4096 records of 192 bytes = 768 KiB, about 1/20 of the 16 MiB ring */
#define BATCH 4096u

/* ring record size: 8-byte kernel header + record, padded to 8 */
#define REC_BYTES ((sizeof(struct osp_proc_event) + 8 + 7) & ~(size_t)7)

static uint64_t free_bytes(const struct osp_object *o, uint64_t ring_size)
{
	const uint8_t *v = o->pos_view;
	size_t page = o->pos_view_len / 2;
	uint64_t cons = __atomic_load_n((const unsigned long *)v, __ATOMIC_ACQUIRE);
	uint64_t prod = __atomic_load_n((const unsigned long *)(v + page), __ATOMIC_ACQUIRE);

	return ring_size - (prod - cons);
}

static void pause_briefly(unsigned spins)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 20000 };

	/* yield first: the consumer usually frees space within microseconds */
	if (spins < 64)
		sched_yield();
	else
		nanosleep(&ts, NULL);
}

OSP_API int osp_bench_produce(int h, uint32_t count)
{
	uint64_t mark = osp_log_mark();
	struct osp_object *o;
	struct bpf_program *prog;
	struct bpf_map *ring;
	uint64_t ring_size;
	uint32_t sent = 0, batch;
	int prog_fd, err = 0;

	if (count > INT32_MAX)
		return osp_fail(mark, -EINVAL, "bench produce: count %u above INT32_MAX", count);
	if (osp_object_get(h, &o))
		return osp_fail(mark, -EBADF, "bench produce: bad handle %d", h);
	if (o->kind != OSP_OBJECT_BENCH || !o->loaded || !o->pos_view) {
		err = osp_fail(mark, -EINVAL, "bench produce: handle %d is not a loaded bench object", h);
		goto out;
	}
	ring = osp_object_map(o, "bench_events");
	prog = bpf_object__find_program_by_name(o->obj, "osp_bench_emit");
	if (!ring || !prog) {
		err = osp_fail(mark, -ENOENT, "bench produce: bench object lacks its ring or program");
		goto out;
	}
	ring_size = bpf_map__max_entries(ring);
	prog_fd = bpf_program__fd(prog);
	/* a batch must fit the ring with room to spare, or we would wait forever */
	batch = ring_size / REC_BYTES / 4 < BATCH ? (uint32_t)(ring_size / REC_BYTES / 4) : BATCH;
	if (batch == 0)
		batch = 1;

	while (sent < count && !err) {
		uint32_t n = count - sent < batch ? count - sent : batch;
		struct osp_bench_ctx ctx = { .seq_base = sent, .count = n };
		LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));

		for (unsigned spins = 0; free_bytes(o, ring_size) < (uint64_t)n * REC_BYTES; spins++) {
			if (osp_slot_closing(&o->slot))
				break;
			pause_briefly(spins);
		}
		if (osp_slot_closing(&o->slot)) {
			err = -ECANCELED;
			break;
		}
		if (bpf_prog_test_run_opts(prog_fd, &opts) < 0)
			err = osp_fail(mark, -errno, "bench produce: run osp_bench_emit");
		else
			sent += n;
	}
out:
	osp_object_put(o);
	return err ? err : (int)sent;
}
