// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Our own consumer of BPF ring buffers (BPF_MAP_TYPE_RINGBUF).
 *
 * Why not libbpf's ring_buffer__consume(): it hands each record to a
 * callback and drops the record when the callback fails, so a consumer whose
 * output buffer is full would lose data. Here draining copies whole records
 * into a caller buffer and stops *before* a record that does not fit.
 *
 * Memory layout the kernel exposes through mmap() of the map fd:
 *   page 0              consumer position (we write it)
 *   page 1              producer position (kernel writes it)
 *   pages 2..           data, mapped twice back to back so a record that
 *                       wraps around the end is still contiguous
 * Each record starts with an 8-byte header: u32 len (BUSY and DISCARD flags
 * in the top bits) and u32 page offset; records are padded to 8 bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <linux/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"

#define OSP_MAX_RINGS 64

static struct osp_slot *ring_items[OSP_MAX_RINGS];
static uint32_t ring_gens[OSP_MAX_RINGS];
struct osp_table osp_rings = { .items = ring_items, .gens = ring_gens, .cap = OSP_MAX_RINGS };

struct osp_ring {
	struct osp_slot slot;
	int map_fd;   /* our own dup: the ring outlives a closed object safely */
	int epoll_fd;
	int event_fd; /* written on close to wake a waiter */
	size_t page_size;
	uint64_t mask; /* data size - 1 (a power of two) */
	unsigned long *consumer_pos;
	unsigned long *producer_pos;
	uint8_t *data;
	size_t data_map_len;
};

static inline uint64_t load_acquire(const unsigned long *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline uint32_t load_acquire_u32(const uint8_t *p)
{
	return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
}

static void ring_on_close(struct osp_slot *s)
{
	struct osp_ring *r = (struct osp_ring *)s;
	uint64_t one = 1;

	if (r->event_fd >= 0 && write(r->event_fd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow with one write per close */
	}
}

static void ring_destroy(struct osp_slot *s)
{
	struct osp_ring *r = (struct osp_ring *)s;

	if (r->consumer_pos)
		munmap(r->consumer_pos, r->page_size);
	if (r->producer_pos)
		munmap(r->producer_pos, r->data_map_len);
	if (r->epoll_fd >= 0)
		close(r->epoll_fd);
	if (r->event_fd >= 0)
		close(r->event_fd);
	if (r->map_fd >= 0)
		close(r->map_fd);
	free(r);
}

static int ring_setup(struct osp_ring *r, int map_fd, uint32_t size, uint64_t mark,
		      const char *name)
{
	struct epoll_event ev = { .events = EPOLLIN };
	void *p;

	r->page_size = (size_t)sysconf(_SC_PAGESIZE);
	r->mask = (uint64_t)size - 1;
	r->map_fd = fcntl(map_fd, F_DUPFD_CLOEXEC, 3);
	if (r->map_fd < 0)
		return osp_fail(mark, -errno, "open ring '%s': dup map fd", name);

	p = mmap(NULL, r->page_size, PROT_READ | PROT_WRITE, MAP_SHARED, r->map_fd, 0);
	if (p == MAP_FAILED)
		return osp_fail(mark, -errno, "open ring '%s': mmap consumer page", name);
	r->consumer_pos = p;

	r->data_map_len = r->page_size + 2 * (size_t)size;
	p = mmap(NULL, r->data_map_len, PROT_READ, MAP_SHARED, r->map_fd, (off_t)r->page_size);
	if (p == MAP_FAILED)
		return osp_fail(mark, -errno, "open ring '%s': mmap producer page and data", name);
	r->producer_pos = p;
	r->data = (uint8_t *)p + r->page_size;

	r->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epoll_fd < 0)
		return osp_fail(mark, -errno, "open ring '%s': epoll_create1", name);
	r->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->event_fd < 0)
		return osp_fail(mark, -errno, "open ring '%s': eventfd", name);
	/*
	 * Edge-triggered: the ring's poll reports readable while any byte is
	 * reserved, so level-triggered epoll would spin on a record still being
	 * written. osp_ring_wait() checks for drainable records before sleeping,
	 * so no wakeup is missed.
	 */
	ev.events = EPOLLIN | EPOLLET;
	ev.data.fd = r->map_fd;
	if (epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, r->map_fd, &ev) < 0)
		return osp_fail(mark, -errno, "open ring '%s': epoll_ctl", name);
	ev.events = EPOLLIN; /* level: once closed, every wait returns at once */
	ev.data.fd = r->event_fd;
	if (epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, r->event_fd, &ev) < 0)
		return osp_fail(mark, -errno, "open ring '%s': epoll_ctl", name);
	return 0;
}

OSP_API int osp_ring_open(int h, const uint8_t *map_name)
{
	uint64_t mark = osp_log_mark();
	const char *name = (const char *)map_name;
	struct osp_object *o;
	struct osp_ring *r = NULL;
	struct bpf_map *map;
	int err, rh;

	if (!name || !memchr(name, 0, 256))
		return osp_fail(mark, -EINVAL, "open ring: map name must be NUL-terminated");
	err = osp_object_get(h, &o);
	if (err)
		return osp_fail(mark, err, "open ring '%s': bad object handle %d", name, h);

	map = osp_object_map(o, name);
	if (!map) {
		err = osp_fail(mark, -ENOENT, "open ring '%s': no such map", name);
		goto out;
	}
	if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF) {
		err = osp_fail(mark, -EINVAL, "open ring '%s': not a ring buffer map", name);
		goto out;
	}
	if (!o->loaded || bpf_map__fd(map) < 0) {
		err = osp_fail(mark, -EINVAL, "open ring '%s': object not loaded", name);
		goto out;
	}

	r = calloc(1, sizeof(*r));
	if (!r) {
		err = osp_fail(mark, -ENOMEM, "open ring '%s'", name);
		goto out;
	}
	r->map_fd = r->epoll_fd = r->event_fd = -1;
	r->slot.on_close = ring_on_close;
	r->slot.destroy = ring_destroy;
	err = ring_setup(r, bpf_map__fd(map), bpf_map__max_entries(map), mark, name);
	if (err)
		goto out;

	rh = osp_table_insert(&osp_rings, &r->slot);
	if (rh < 0) {
		err = osp_fail(mark, rh, "open ring '%s': too many open rings", name);
		goto out;
	}
	r = NULL; /* owned by the table now */
	if (osp_object_add_ring(o, rh) < 0) {
		osp_ring_close(rh);
		err = osp_fail(mark, -EMFILE, "open ring '%s': too many rings on one object", name);
		goto out;
	}
	err = rh;
out:
	if (r)
		ring_destroy(&r->slot);
	osp_object_put(o);
	return err;
}

static struct osp_ring *ring_get(int rh)
{
	return (struct osp_ring *)osp_table_acquire(&osp_rings, rh);
}

static void ring_put(struct osp_ring *r)
{
	osp_slot_release(&r->slot);
}

static uint64_t ring_avail(const struct osp_ring *r)
{
	uint64_t cons = load_acquire(r->consumer_pos);
	uint64_t prod = load_acquire(r->producer_pos);

	return prod - cons;
}

/*
 * A record can be drained now: the one at the consumer position is
 * submitted (or discarded). Data that is only reserved does not count, or a
 * waiter would spin on a record the producer is still writing; its commit
 * wakes us, since the kernel wakes when the consumer had caught up.
 */
static bool ring_ready(const struct osp_ring *r)
{
	uint64_t cons = load_acquire(r->consumer_pos);
	uint64_t prod = load_acquire(r->producer_pos);

	if (cons >= prod)
		return false;
	return !(load_acquire_u32(r->data + (cons & r->mask)) & BPF_RINGBUF_BUSY_BIT);
}

OSP_API int osp_ring_wait(int rh, int timeout_ms)
{
	struct epoll_event evs[2];
	struct osp_ring *r = ring_get(rh);
	int n, ret = 0;

	if (!r)
		return -EBADF;
	/* the kernel only wakes us when we had caught up; check before sleeping */
	if (ring_ready(r)) {
		ret = 1;
		goto out;
	}
	n = epoll_wait(r->epoll_fd, evs, 2, timeout_ms);
	if (osp_slot_closing(&r->slot)) {
		ret = -ECANCELED;
	} else if (n < 0) {
		ret = errno == EINTR ? 0 : -errno;
	} else {
		for (int i = 0; i < n; i++)
			if (evs[i].data.fd == r->map_fd)
				ret = 1;
	}
out:
	ring_put(r);
	return ret;
}

OSP_API int osp_ring_drain(int rh, uint8_t *buf, uint32_t cap)
{
	struct osp_ring *r = ring_get(rh);
	uint64_t cons, prod;
	uint32_t out = 0;
	int ret;

	if (!r)
		return -EBADF;
	if (!buf)
		cap = 0;
	if (cap > INT_MAX) /* the byte count is returned as an int */
		cap = INT_MAX;
	cons = load_acquire(r->consumer_pos);
	prod = load_acquire(r->producer_pos);
	ret = 0;
	while (cons < prod) {
		const uint8_t *hdr = r->data + (cons & r->mask);
		uint32_t len = load_acquire_u32(hdr);
		uint32_t rec_len, total;

		if (len & BPF_RINGBUF_BUSY_BIT)
			break; /* reserved, not yet submitted: it comes next time */
		rec_len = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		total = (rec_len + BPF_RINGBUF_HDR_SZ + 7) & ~7u;

		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			struct osp_frame_hdr fh = { .len = rec_len, .reserved = 0 };

			/* output frames have the same size as ring records */
			if (total > cap - out) {
				if (out == 0)
					ret = -ENOSPC;
				break;
			}
			memcpy(buf + out, &fh, sizeof(fh));
			memcpy(buf + out + sizeof(fh), hdr + BPF_RINGBUF_HDR_SZ, rec_len);
			memset(buf + out + sizeof(fh) + rec_len, 0, total - sizeof(fh) - rec_len);
			out += total;
		}
		cons += total;
		if (cons == prod) /* more may have arrived meanwhile */
			prod = load_acquire(r->producer_pos);
	}
	/* release the space once per drain, not per record */
	__atomic_store_n(r->consumer_pos, cons, __ATOMIC_RELEASE);
	ring_put(r);
	return ret < 0 ? ret : (int)out;
}

OSP_API int osp_ring_pending(int rh)
{
	struct osp_ring *r = ring_get(rh);
	uint64_t n;

	if (!r)
		return -EBADF;
	n = ring_avail(r);
	ring_put(r);
	return n > INT_MAX ? INT_MAX : (int)n;
}

OSP_API int osp_ring_close(int rh)
{
	return osp_table_close(&osp_rings, rh);
}
