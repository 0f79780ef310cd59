// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Files opened by the bytes of their path. Deno's file APIs take UTF-8
 * paths only (a JavaScript string is converted lossily, and a file: URL
 * with %E9 is refused), so a host file whose path holds other bytes, such as
 * a cgroup named with a raw 0xE9, can be opened only here. Paths cross as
 * NUL-terminated bytes, data as caller buffers; nothing else.
 *
 * The caller keeps a handle between reads: a pread() from offset 0 makes
 * procfs, sysfs and cgroupfs generate the file's text anew, as a kept Deno
 * file read after a seek does.
 */
#include <errno.h>
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
