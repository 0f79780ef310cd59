// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * osp_file_read(): positional reads of files through the kernel's own path
 * resolution, for the procfs links (/proc/<pid>/exe) Deno's permission layer
 * resolves by their text instead (see osprey.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

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
