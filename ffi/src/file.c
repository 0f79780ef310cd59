// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Files opened by the kernel's own path resolution, for what Deno's file
 * APIs cannot open:
 *
 * - paths that are not UTF-8 (a JavaScript string is converted lossily, and
 *   a file: URL with %E9 is refused), such as a cgroup named with a raw 0xE9:
 *   osp_file_open() / osp_file_pread() / osp_file_close(), a handle kept
 *   between reads (a pread() from offset 0 makes procfs, sysfs and cgroupfs
 *   generate the file's text anew, as a kept Deno file read after a seek does);
 * - procfs links such as /proc/<pid>/exe, which Deno's permission layer
 *   resolves by their text in the agent's mount namespace: osp_file_read(),
 *   one call that opens, fstat()s, reads and closes, on a pool thread.
 *
 * Paths cross as bytes, data as caller buffers; nothing else.
 */
#include <errno.h>
#include <string.h>
#include <limits.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "internal.h"

#define OSP_MAX_FILES 1024

static struct osp_slot *file_items[OSP_MAX_FILES];
static uint32_t file_gens[OSP_MAX_FILES];
static struct osp_table osp_files = { .items = file_items, .gens = file_gens, .cap = OSP_MAX_FILES };

struct osp_file {
	struct osp_slot slot;
	int fd;
};

static void file_destroy(struct osp_slot *s)
{
	struct osp_file *f = (struct osp_file *)s;

	close(f->fd);
	free(f);
}

int osp_file_open(const uint8_t *path)
{
	uint64_t mark = osp_log_mark();
	const char *p = (const char *)path;
	struct osp_file *f;
	struct stat st;
	int fd, h;

	if (!p || !p[0])
		return osp_fail(mark, -EINVAL, "open file: empty path");
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return osp_fail(mark, -errno, "open file \"%s\"", p);
	if (fstat(fd, &st) < 0) {
		int err = -errno;

		close(fd);
		return osp_fail(mark, err, "stat file \"%s\"", p);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return osp_fail(mark, -EINVAL, "open file \"%s\": not a regular file", p);
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return osp_fail(mark, -ENOMEM, "open file \"%s\"", p);
	}
	f->fd = fd;
	f->slot.destroy = file_destroy;
	h = osp_table_insert(&osp_files, &f->slot);
	if (h < 0) {
		file_destroy(&f->slot);
		return osp_fail(mark, h, "open file \"%s\": %d files already open", p, OSP_MAX_FILES);
	}
	return h;
}

int osp_file_pread(int h, uint8_t *buf, uint32_t cap, uint64_t offset)
{
	struct osp_slot *s;
	ssize_t n;

	if (offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (cap > INT32_MAX)
		cap = INT32_MAX; /* the result must fit the int */
	s = osp_table_acquire(&osp_files, h);
	if (!s)
		return -EBADF;
	do
		n = pread(((struct osp_file *)s)->fd, buf, cap, (off_t)offset);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	osp_slot_release(s);
	return (int)n;
}

int osp_file_close(int h)
{
	return osp_table_close(&osp_files, h);
}

static void put_u64(uint8_t *out, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

OSP_API int osp_file_read(const uint8_t *path, uint32_t path_len, uint64_t offset, uint8_t *buf,
			  uint32_t len, uint8_t *st, uint32_t st_cap)
{
	char p[PATH_MAX];
	struct stat sb;
	ssize_t n = 0;
	int fd, err;

	if (path_len == 0 || memchr(path, 0, path_len))
		return -EINVAL;
	if (path_len >= sizeof(p))
		return -ENAMETOOLONG;
	if (st_cap < OSP_FILE_STAT_SIZE)
		return -ENOSPC;
	if (len > INT32_MAX || offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	memcpy(p, path, path_len);
	p[path_len] = '\0';

	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb)) {
		err = -errno;
		close(fd);
		return err;
	}
	put_u64(st, (uint64_t)sb.st_dev);
	put_u64(st + 8, (uint64_t)sb.st_ino);
	put_u64(st + 16, (uint64_t)sb.st_size);
	put_u64(st + 24, (uint64_t)sb.st_mtim.tv_sec * 1000000000ull + (uint64_t)sb.st_mtim.tv_nsec);
	put_u64(st + 32, (uint64_t)sb.st_ctim.tv_sec * 1000000000ull + (uint64_t)sb.st_ctim.tv_nsec);
	put_u64(st + 40, (uint64_t)sb.st_mode);
	if (S_ISREG(sb.st_mode) && len > 0) {
		do
			n = pread(fd, buf, len, (off_t)offset);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			err = -errno;
			close(fd);
			return err;
		}
	}
	close(fd);
	return (int)n;
}
