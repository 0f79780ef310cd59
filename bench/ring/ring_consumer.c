// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The C baseline for bench/ring/ring_bench.ts: the same library calls the
 * TypeScript consumer makes (osp_ring_wait + osp_ring_drain into one reused
 * buffer), against the same producer (osp_bench_produce on its own thread),
 * with every record's fields read. Prints one JSON line.
 *
 * usage: ring_consumer_c [records] [buffer_bytes]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/types.h>

#include "osprey.h"
#include "proc.h"

struct producer {
	int obj;
	uint32_t count;
	int result;
	int done;
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	p->result = osp_bench_produce(p->obj, p->count);
	__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what, int err)
{
	char msg[4096];

	osp_last_error((uint8_t *)msg, sizeof(msg));
	fprintf(stderr, "ring_consumer_c: %s failed: %s (errno %d)\n%s\n", what, strerror(-err),
		-err, msg);
	return 1;
}

int main(int argc, char **argv)
{
	uint32_t count = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 5000000;
	uint32_t cap = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 256 * 1024;
	struct producer prod = { .count = count };
	uint64_t got = 0, checksum = 0, waits = 0, drains = 0;
	uint64_t lost[OSP_REC_TYPE_MAX];
	pthread_t tid;
	uint8_t *buf;
	double t0, t1;
	int h, r, n;

	if (osp_abi_version() != OSP_ABI_VERSION) {
		fprintf(stderr, "ring_consumer_c: libosprey ABI %u, built for %d\n",
			osp_abi_version(), OSP_ABI_VERSION);
		return 1;
	}
	buf = aligned_alloc(8, cap);
	if (!buf)
		return die("allocate buffer", -ENOMEM);
	h = osp_object_open(OSP_OBJECT_BENCH, 0);
	if (h < 0)
		return die("osp_object_open", h);
	n = osp_object_load(h);
	if (n < 0)
		return die("osp_object_load", n);
	r = osp_ring_open(h, (const uint8_t *)"bench_events");
	if (r < 0)
		return die("osp_ring_open", r);

	prod.obj = h;
	t0 = now_s();
	if (pthread_create(&tid, NULL, produce, &prod))
		return die("pthread_create", -EAGAIN);

	for (;;) {
		n = osp_ring_drain(r, buf, cap);
		if (n < 0)
			return die("osp_ring_drain", n);
		if (n == 0) {
			if (__atomic_load_n(&prod.done, __ATOMIC_ACQUIRE) && osp_ring_pending(r) == 0)
				break;
			waits++;
			osp_ring_wait(r, 100);
			continue;
		}
		drains++;
		for (uint32_t off = 0; off < (uint32_t)n;) {
			struct osp_frame_hdr fh;
			struct osp_proc_event e;

			memcpy(&fh, buf + off, sizeof(fh));
			/* read every field, as the TypeScript decoder does */
			memcpy(&e, buf + off + sizeof(fh), sizeof(e));
			checksum += e.hdr.ts_ns + e.hdr.type + e.hdr.cpu + e.cgroup_id + e.pid + e.ppid +
				    e.exit_code + e.flags + strnlen(e.comm, sizeof(e.comm));
			got++;
			off += (uint32_t)(sizeof(fh) + ((fh.len + 7) & ~7u));
		}
	}
	t1 = now_s();
	pthread_join(tid, NULL);
	if (prod.result < 0)
		return die("osp_bench_produce", prod.result);

	n = osp_lost(h, (uint8_t *)lost, sizeof(lost));
	if (n < 0)
		return die("osp_lost", n);
	printf("{\"consumer\":\"c\",\"records\":%llu,\"produced\":%d,\"seconds\":%.6f,"
	       "\"records_per_sec\":%.0f,\"lost\":%llu,\"drains\":%llu,\"waits\":%llu,"
	       "\"buffer_bytes\":%u,\"checksum\":%llu}\n",
	       (unsigned long long)got, prod.result, t1 - t0, (double)got / (t1 - t0),
	       (unsigned long long)lost[OSP_REC_BENCH], (unsigned long long)drains,
	       (unsigned long long)waits, cap, (unsigned long long)checksum);
	osp_object_close(h);
	free(buf);
	return 0;
}
