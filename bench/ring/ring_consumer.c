// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The C baseline for bench/ring/ring_bench.ts: the same library calls the
 * TypeScript consumer makes (osp_ring_wait + osp_ring_drain into one reused
 * buffer), against the same producer (osp_bench_produce), with every
 * record's fields read. Prints one JSON line.
 *
 * usage: ring_consumer_c [records] [buffer_bytes] [concurrent|prefilled]
 *
 * concurrent (default): the producer runs on its own thread while we drain;
 *   the rate is end to end: producer, wakeups and consumer together.
 * prefilled: fill the ring (untimed), then time draining it, repeated until
 *   `records` were consumed; the rate is the consumer's alone.
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

/* records per prefill round: ~15 MiB of the 16 MiB bench ring */
#define PREFILL 80000u

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

/* read every field, as the TypeScript decoder does; returns records seen */
static uint64_t consume(const uint8_t *buf, uint32_t n, uint64_t *checksum)
{
	uint64_t got = 0;

	for (uint32_t off = 0; off < n;) {
		struct osp_frame_hdr fh;
		struct osp_proc_event e;

		memcpy(&fh, buf + off, sizeof(fh));
		memcpy(&e, buf + off + sizeof(fh), sizeof(e));
		*checksum += e.hdr.ts_ns + e.hdr.type + e.hdr.cpu + e.cgroup_id + e.pid + e.ppid +
			     e.exit_code + e.flags + strnlen(e.comm, sizeof(e.comm));
		got++;
		off += (uint32_t)(sizeof(fh) + ((fh.len + 7) & ~7u));
	}
	return got;
}

int main(int argc, char **argv)
{
	uint32_t count = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 5000000;
	uint32_t cap = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 256 * 1024;
	const char *mode = argc > 3 ? argv[3] : "concurrent";
	struct producer prod = { .count = count };
	uint64_t got = 0, checksum = 0, waits = 0, drains = 0;
	uint64_t lost[OSP_REC_TYPE_MAX];
	double seconds = 0;
	pthread_t tid;
	uint8_t *buf;
	int h, r, n;

	if (osp_abi_version() != OSP_ABI_VERSION) {
		fprintf(stderr, "ring_consumer_c: libosprey ABI %u, built for %d\n",
			osp_abi_version(), OSP_ABI_VERSION);
		return 1;
	}
	if (strcmp(mode, "concurrent") && strcmp(mode, "prefilled")) {
		fprintf(stderr, "ring_consumer_c: mode must be concurrent or prefilled\n");
		return 2;
	}
	buf = aligned_alloc(8, (cap + 7) & ~7u);
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

	if (!strcmp(mode, "prefilled")) {
		while (got < count) {
			uint32_t want = count - got < PREFILL ? (uint32_t)(count - got) : PREFILL;
			double start;

			n = osp_bench_produce(h, want);
			if (n < 0)
				return die("osp_bench_produce", n);
			prod.result += n;
			start = now_s();
			while ((n = osp_ring_drain(r, buf, cap)) > 0) {
				drains++;
				got += consume(buf, (uint32_t)n, &checksum);
			}
			seconds += now_s() - start;
			if (n < 0)
				return die("osp_ring_drain", n);
		}
	} else {
		double t0 = now_s();

		prod.obj = h;
		if (pthread_create(&tid, NULL, produce, &prod))
			return die("pthread_create", -EAGAIN);
		for (;;) {
			n = osp_ring_drain(r, buf, cap);
			if (n < 0)
				return die("osp_ring_drain", n);
			if (n == 0) {
				if (__atomic_load_n(&prod.done, __ATOMIC_ACQUIRE) &&
				    osp_ring_pending(r) == 0)
					break;
				waits++;
				osp_ring_wait(r, 100);
				continue;
			}
			drains++;
			got += consume(buf, (uint32_t)n, &checksum);
		}
		seconds = now_s() - t0;
		pthread_join(tid, NULL);
		if (prod.result < 0)
			return die("osp_bench_produce", prod.result);
	}

	n = osp_lost(h, (uint8_t *)lost, sizeof(lost));
	if (n < 0)
		return die("osp_lost", n);
	printf("{\"consumer\":\"c\",\"mode\":\"%s\",\"records\":%llu,\"produced\":%d,"
	       "\"seconds\":%.6f,\"records_per_sec\":%.0f,\"lost\":%llu,\"drains\":%llu,"
	       "\"waits\":%llu,\"buffer_bytes\":%u,\"checksum\":%llu}\n",
	       mode, (unsigned long long)got, prod.result, seconds, (double)got / seconds,
	       (unsigned long long)lost[OSP_REC_BENCH], (unsigned long long)drains,
	       (unsigned long long)waits, cap, (unsigned long long)checksum);
	osp_object_close(h);
	free(buf);
	return 0;
}
