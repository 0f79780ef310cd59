// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Maps of a BPF object seen from user space: resizing one before load, and
 * reading a hash map's entries in batches (the tcp object's per-connection
 * counters are read this way every few seconds).
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"

OSP_API int osp_object_resize_map(int h, const uint8_t *map_name, uint32_t max_entries)
{
	uint64_t mark = osp_log_mark();
	struct osp_object *o;
	struct bpf_map *map;
	int err;

	if (osp_object_get(h, &o))
		return osp_fail(mark, -EBADF, "resize map: bad handle %d", h);
	map = osp_object_map(o, (const char *)map_name);
	if (!map) {
		err = osp_fail(mark, -ENOENT, "resize map '%s': no such map", (const char *)map_name);
	} else if (o->loaded) {
		err = osp_fail(mark, -EBUSY, "resize map '%s': object already loaded",
			       (const char *)map_name);
	} else if (max_entries == 0) {
		err = osp_fail(mark, -EINVAL, "resize map '%s' to 0 entries", (const char *)map_name);
	} else {
		err = bpf_map__set_max_entries(map, max_entries);
		if (err)
			err = osp_fail(mark, err, "resize map '%s' to %u entries",
				       (const char *)map_name, max_entries);
	}
	osp_object_put(o);
	return err;
}

static uint32_t pad8(uint32_t n)
{
	return (n + 7) & ~7u;
}

/* per-key fallback for kernels without batch operations on this map type */
static int read_by_key(int fd, struct osp_map_cursor *cur, uint32_t ksz, uint32_t vsz,
		       uint8_t *keys, uint8_t *vals, uint32_t max)
{
	uint8_t next[OSP_MAP_CURSOR_KEY];
	uint32_t n = 0;

	while (n < max) {
		int err = bpf_map_get_next_key(fd, cur->state == OSP_MAP_CURSOR_START ? NULL :
											 cur->token,
					       next);

		if (err) {
			if (errno == ENOENT) {
				cur->state = OSP_MAP_CURSOR_DONE;
				break;
			}
			return -errno;
		}
		memcpy(cur->token, next, ksz);
		cur->state = OSP_MAP_CURSOR_BY_KEY;
		/* deleted meanwhile: skip it */
		if (bpf_map_lookup_elem(fd, next, vals + (size_t)n * pad8(vsz)) != 0)
			continue;
		memcpy(keys + (size_t)n * pad8(ksz), next, ksz);
		n++;
	}
	return (int)n;
}

OSP_API int osp_map_read(int h, const uint8_t *map_name, uint8_t *cursor, uint32_t cursor_cap,
			 uint8_t *buf, uint32_t cap)
{
	uint64_t mark = osp_log_mark();
	struct osp_map_cursor *cur = (struct osp_map_cursor *)cursor;
	struct osp_object *o;
	struct bpf_map *map;
	uint32_t ksz, vsz, max, count;
	uint8_t *keys, *vals;
	int fd, ret;

	if (!cursor || cursor_cap < sizeof(*cur))
		return osp_fail(mark, -EINVAL, "read map: cursor buffer smaller than %zu bytes",
				sizeof(*cur));
	if (osp_object_get(h, &o))
		return osp_fail(mark, -EBADF, "read map: bad handle %d", h);
	map = osp_object_map(o, (const char *)map_name);
	if (!map || !o->loaded) {
		ret = osp_fail(mark, map ? -EINVAL : -ENOENT, "read map '%s': %s",
			       (const char *)map_name, map ? "object not loaded" : "no such map");
		goto out;
	}
	ksz = bpf_map__key_size(map);
	vsz = bpf_map__value_size(map);
	if (ksz > OSP_MAP_CURSOR_KEY) {
		ret = osp_fail(mark, -E2BIG, "read map '%s': key of %u bytes", (const char *)map_name,
			       ksz);
		goto out;
	}
	if (cur->state == OSP_MAP_CURSOR_DONE) {
		ret = 0;
		goto out;
	}
	max = cap / (pad8(ksz) + pad8(vsz));
	if (max == 0) {
		ret = osp_fail(mark, -ENOSPC, "read map '%s': buffer holds no entry",
			       (const char *)map_name);
		goto out;
	}
	keys = buf;
	vals = buf + (size_t)max * pad8(ksz);
	fd = bpf_map__fd(map);

	if (cur->state == OSP_MAP_CURSOR_BY_KEY || pad8(ksz) != ksz || pad8(vsz) != vsz) {
		ret = read_by_key(fd, cur, ksz, vsz, keys, vals, max);
		goto moved;
	}
	count = max;
	ret = bpf_map_lookup_batch(fd, cur->state == OSP_MAP_CURSOR_START ? NULL : cur->token,
				   cur->token, keys, vals, &count, NULL);
	if (ret == 0 || errno == ENOENT) {
		/* ENOENT: the last batch; count holds what it returned */
		cur->state = ret == 0 ? OSP_MAP_CURSOR_BATCH : OSP_MAP_CURSOR_DONE;
		ret = (int)count;
	} else if (cur->state == OSP_MAP_CURSOR_START && (errno == EINVAL || errno == ENOTSUP ||
							   errno == EOPNOTSUPP || errno == 524)) {
		/* 524 = ENOTSUPP, the kernel-internal "no batch ops for this map" */
		ret = read_by_key(fd, cur, ksz, vsz, keys, vals, max);
	} else if (errno == ENOSPC && count == 0) {
		/* a hash bucket holds more entries than fit: the caller needs a bigger buffer */
		ret = osp_fail(mark, -ENOSPC, "read map '%s': buffer too small for one bucket",
			       (const char *)map_name);
		goto out;
	} else {
		ret = osp_fail(mark, -errno, "read map '%s'", (const char *)map_name);
		goto out;
	}
moved:
	if (ret < 0)
		osp_fail(mark, ret, "read map '%s'", (const char *)map_name);
	else if (keys + (size_t)ret * pad8(ksz) != vals && ret > 0)
		/* fewer than max: close the gap so values follow the keys directly */
		memmove(keys + (size_t)ret * pad8(ksz), vals, (size_t)ret * pad8(vsz));
out:
	osp_object_put(o);
	return ret;
}
