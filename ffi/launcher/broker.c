// osprey-broker: the process the launcher forks before it enters the Landlock domain, so that it
// stays outside it and may read what Landlock's ptrace rule refuses the agent: another process's
// fd, ns and exe links and the file systems beneath its root (README, "Security model").
//
// It answers the closed request set of ffi/include/osprey_broker.h over one SOCK_SEQPACKET
// socket, one request at a time, and exits when the agent's end closes. Every path it opens is
// built here from the bound procfs root, a validated pid and a fixed name; a request never names
// a file. Its own confinement, applied before it reads a request:
//
// - capabilities: only CAP_SYS_PTRACE (another uid's /proc links) and CAP_DAC_READ_SEARCH
//   (an executable without read permission) stay, in the effective and permitted sets;
// - no_new_privs, not dumpable (with the agent's domain in between, the agent may not ptrace it
//   anyway: the broker is outside the agent's Landlock domain);
// - seccomp: a fixed list of system calls (read; write and sendmsg on its socket only; openat
//   without any flag that writes or creates; readlinkat, getdents64, fstat, fstatfs, pread64,
//   close, exit); any other system call kills it. No socket, connect, exec, ptrace, mmap.
//
// Landlock cannot confine it: a process in a domain may not ptrace-access processes outside
// that domain, which is exactly the access the broker is for.
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../include/osprey_broker.h"
#include "broker.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

static int proc_fd = -1;
static uint8_t req[OSP_BROKER_REQ_MAX + 1];
static uint8_t ans[OSP_BROKER_ANS_MAX];
static uint8_t dents[32768];
static char log_link[OSP_BROKER_PATH_MAX];
static char fdinfo[4096];

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put_u64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

// "<pid>/<name>" relative to the procfs root
static int pid_path(char *out, size_t cap, int32_t pid, const char *name)
{
	int n = snprintf(out, cap, "%d/%s", (int)pid, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int read_link(int32_t pid, const char *name, uint32_t *len)
{
	char p[64];
	ssize_t n;
	int err = pid_path(p, sizeof(p), pid, name);

	if (err)
		return err;
	n = readlinkat(proc_fd, p, (char *)ans + OSP_BROKER_ANS_HEADER, 4096);
	if (n < 0)
		return -errno;
	*len = (uint32_t)n;
	return 0;
}

static const char *ns_name(uint32_t kind)
{
	switch (kind) {
	case OSP_BROKER_NS_NET:
		return "ns/net";
	case OSP_BROKER_NS_MNT:
		return "ns/mnt";
	case OSP_BROKER_NS_PID:
		return "ns/pid";
	case OSP_BROKER_NS_UTS:
		return "ns/uts";
	case OSP_BROKER_NS_IPC:
		return "ns/ipc";
	case OSP_BROKER_NS_CGROUP:
		return "ns/cgroup";
	case OSP_BROKER_NS_USER:
		return "ns/user";
	}
	return NULL;
}

// "socket:[123]" -> 123; 0 for any other link text
static uint64_t socket_inode(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i;

	if (n < 10 || memcmp(s, "socket:[", 8) != 0 || s[n - 1] != ']' || n - 9 > 19)
		return 0;
	for (i = 8; i < n - 1; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

static int socket_fds(int32_t pid, uint64_t first, uint32_t *len)
{
	uint8_t *out = ans + OSP_BROKER_ANS_HEADER;
	uint32_t used = OSP_BROKER_FDS_HEADER, fds = 0, gone = 0, more = 0, next_fd = 0;
	char p[64], link[64];
	int dir, err = pid_path(p, sizeof(p), pid, "fd");

	if (err)
		return err;
	dir = openat(proc_fd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	for (;;) {
		long n = syscall(SYS_getdents64, dir, dents, sizeof(dents));
		long at;

		if (n < 0) {
			err = -errno;
			close(dir);
			return err;
		}
		if (n == 0)
			break;
		for (at = 0; at < n;) {
			// struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name
			uint16_t reclen;
			const char *name = (const char *)dents + at + 19;
			char *end;
			unsigned long fd;
			ssize_t k;
			uint64_t ino;

			memcpy(&reclen, dents + at + 16, 2);
			at += reclen;
			if (name[0] < '0' || name[0] > '9')
				continue; // "." and ".."
			fd = strtoul(name, &end, 10);
			if (*end != '\0' || fd < first)
				continue;
			if (used + OSP_BROKER_FD_ENTRY > OSP_BROKER_DATA_MAX) {
				more = 1;
				next_fd = (uint32_t)fd;
				goto done;
			}
			fds++;
			k = readlinkat(dir, name, link, sizeof(link));
			if (k < 0) {
				if (errno == ENOENT) {
					gone++;
					continue;
				}
				err = -errno; // a refusal holds for every fd of the process
				close(dir);
				return err;
			}
			ino = socket_inode(link, (size_t)k);
			if (ino == 0)
				continue;
			put_u32(out + used, (uint32_t)fd);
			put_u32(out + used + 4, 0);
			put_u64(out + used + 8, ino);
			used += OSP_BROKER_FD_ENTRY;
		}
	}
done:
	close(dir);
	put_u32(out, fds);
	put_u32(out + 4, gone);
	put_u32(out + 8, more);
	put_u32(out + 12, next_fd);
	*len = used;
	return 0;
}

// The octal "flags:" value of <pid>/fdinfo/<fd>: 0 and *flags set, or a negative errno
// (EPROTO: no such field).
static int fdinfo_flags(int32_t pid, const char *fd, uint32_t *flags)
{
	char p[64];
	const char *at;
	ssize_t n, got = 0;
	uint32_t v = 0;
	int f, err;
	int k = snprintf(p, sizeof(p), "%d/fdinfo/%s", (int)pid, fd);

	if (k < 0 || (size_t)k >= sizeof(p))
		return -ENAMETOOLONG;
	f = openat(proc_fd, p, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -errno;
	while ((size_t)got < sizeof(fdinfo) - 1) {
		n = read(f, fdinfo + got, sizeof(fdinfo) - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			close(f);
			return err;
		}
		if (n == 0)
			break;
		got += n;
	}
	close(f);
	fdinfo[got] = '\0';
	at = fdinfo;
	for (;;) {
		if (strncmp(at, "flags:", 6) == 0)
			break;
		at = strchr(at, '\n');
		if (at == NULL)
			return -EPROTO;
		at++;
	}
	at += 6;
	while (*at == ' ' || *at == '\t')
		at++;
	if (*at < '0' || *at > '7')
		return -EPROTO;
	for (k = 0; *at >= '0' && *at <= '7'; at++, k++) {
		if (k >= 11)
			return -EPROTO;
		v = v * 8 + (uint32_t)(*at - '0');
	}
	*flags = v;
	return 0;
}

// One fd for LOG_FDS: 1 and the entry written at out (*size bytes) when it is a writable file
// under OSP_BROKER_LOG_PREFIX, 0 when it is not, or a negative errno.
static int log_fd_entry(int dir, int32_t pid, const char *name, uint8_t *out, uint32_t *size)
{
	const size_t plen = sizeof(OSP_BROKER_LOG_PREFIX) - 1;
	uint32_t flags = 0, acc;
	ssize_t k = readlinkat(dir, name, log_link, sizeof(log_link));
	int err;

	if (k < 0)
		return -errno;
	if ((size_t)k >= sizeof(log_link) || (size_t)k <= plen ||
	    memcmp(log_link, OSP_BROKER_LOG_PREFIX, plen) != 0)
		return 0; // cut (over PATH_MAX) or not under the prefix
	err = fdinfo_flags(pid, name, &flags);
	if (err)
		return err;
	acc = flags & O_ACCMODE;
	if (acc != O_WRONLY && acc != O_RDWR)
		return 0;
	put_u32(out, (uint32_t)strtoul(name, NULL, 10));
	put_u32(out + 4, flags);
	put_u32(out + 8, (uint32_t)k);
	put_u32(out + 12, 0);
	memcpy(out + OSP_BROKER_LOG_ENTRY, log_link, (size_t)k);
	*size = OSP_BROKER_LOG_ENTRY + (((uint32_t)k + 7) & ~7u);
	memset(out + OSP_BROKER_LOG_ENTRY + k, 0, *size - OSP_BROKER_LOG_ENTRY - (uint32_t)k);
	return 1;
}

static int log_fds(int32_t pid, uint64_t first, uint32_t only, uint32_t *len)
{
	uint8_t *out = ans + OSP_BROKER_ANS_HEADER;
	uint32_t used = OSP_BROKER_FDS_HEADER, fds = 0, gone = 0, more = 0, next_fd = 0, size;
	char p[64], name[16];
	int dir, r, err = pid_path(p, sizeof(p), pid, "fd");

	if (err)
		return err;
	dir = openat(proc_fd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	if (only) {
		snprintf(name, sizeof(name), "%u", (unsigned)first);
		fds = 1;
		r = log_fd_entry(dir, pid, name, out + used, &size);
		close(dir);
		if (r < 0)
			return r; // ENOENT: the fd is closed
		if (r > 0)
			used += size;
		goto done;
	}
	for (;;) {
		long n = syscall(SYS_getdents64, dir, dents, sizeof(dents));
		long at;

		if (n < 0) {
			err = -errno;
			close(dir);
			return err;
		}
		if (n == 0)
			break;
		for (at = 0; at < n;) {
			uint16_t reclen;
			const char *dname = (const char *)dents + at + 19;
			char *end;
			unsigned long fd;

			memcpy(&reclen, dents + at + 16, 2);
			at += reclen;
			if (dname[0] < '0' || dname[0] > '9')
				continue;
			fd = strtoul(dname, &end, 10);
			if (*end != '\0' || fd < first || fd > INT32_MAX)
				continue;
			// room for the longest entry, so a page never ends inside one
			if (used + OSP_BROKER_LOG_ENTRY + OSP_BROKER_PATH_MAX > OSP_BROKER_DATA_MAX) {
				more = 1;
				next_fd = (uint32_t)fd;
				close(dir);
				goto done;
			}
			fds++;
			r = log_fd_entry(dir, pid, dname, out + used, &size);
			if (r == -ENOENT) {
				gone++;
				continue;
			}
			if (r < 0) {
				close(dir); // a refusal holds for every fd of the process
				return r;
			}
			if (r > 0)
				used += size;
		}
	}
	close(dir);
done:
	put_u32(out, fds);
	put_u32(out + 4, gone);
	put_u32(out + 8, more);
	put_u32(out + 12, next_fd);
	*len = used;
	return 0;
}

static int exe_read(int32_t pid, uint64_t offset, uint32_t want, uint32_t *len)
{
	uint8_t *out = ans + OSP_BROKER_ANS_HEADER;
	char p[64];
	struct stat sb;
	ssize_t n = 0;
	int fd, err = pid_path(p, sizeof(p), pid, "exe");

	if (err)
		return err;
	if (want > OSP_BROKER_DATA_MAX - OSP_BROKER_STAT_SIZE || offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	fd = openat(proc_fd, p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) != 0) {
		err = -errno;
		close(fd);
		return err;
	}
	put_u64(out, (uint64_t)sb.st_dev);
	put_u64(out + 8, (uint64_t)sb.st_ino);
	put_u64(out + 16, (uint64_t)sb.st_size);
	put_u64(out + 24, (uint64_t)sb.st_mtim.tv_sec * 1000000000ull + (uint64_t)sb.st_mtim.tv_nsec);
	put_u64(out + 32, (uint64_t)sb.st_ctim.tv_sec * 1000000000ull + (uint64_t)sb.st_ctim.tv_nsec);
	put_u64(out + 40, (uint64_t)sb.st_mode);
	if (S_ISREG(sb.st_mode) && want > 0) {
		do
			n = pread(fd, out + OSP_BROKER_STAT_SIZE, want, (off_t)offset);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			err = -errno;
			close(fd);
			return err;
		}
	}
	close(fd);
	*len = OSP_BROKER_STAT_SIZE + (uint32_t)n;
	return 0;
}

// Walks path beneath <proc>/<pid>/root one component at a time: no "." or "..", no symbolic
// link followed (O_NOFOLLOW on an O_PATH open gives the link itself, which O_DIRECTORY refuses),
// so the walk cannot leave the process's root. Mount points are crossed as any walk crosses them.
static int root_statfs(int32_t pid, const uint8_t *path, size_t plen, uint32_t *len)
{
	uint8_t *out = ans + OSP_BROKER_ANS_HEADER;
	char p[64], comp[256];
	struct statfs sf;
	size_t i = 0;
	int cur, next, err = pid_path(p, sizeof(p), pid, "root");

	if (err)
		return err;
	if (plen == 0 || path[0] != '/')
		return -EINVAL;
	cur = openat(proc_fd, p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	while (i < plen) {
		size_t start, n;

		while (i < plen && path[i] == '/')
			i++;
		if (i == plen)
			break;
		start = i;
		while (i < plen && path[i] != '/')
			i++;
		n = i - start;
		if (n >= sizeof(comp)) {
			close(cur);
			return -ENAMETOOLONG;
		}
		memcpy(comp, path + start, n);
		comp[n] = '\0';
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			close(cur);
			return -EINVAL;
		}
		next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		err = -errno;
		close(cur);
		if (next < 0)
			return err; // ENOTDIR for a file or a symbolic link on the way
		cur = next;
	}
	if (fstatfs(cur, &sf) != 0) {
		err = -errno;
		close(cur);
		return err;
	}
	close(cur);
	put_u64(out, (uint64_t)sf.f_type);
	put_u64(out + 8, (uint64_t)sf.f_bsize);
	put_u64(out + 16, (uint64_t)sf.f_blocks);
	put_u64(out + 24, (uint64_t)sf.f_bfree);
	put_u64(out + 32, (uint64_t)sf.f_bavail);
	put_u64(out + 40, (uint64_t)sf.f_files);
	put_u64(out + 48, (uint64_t)sf.f_ffree);
	put_u64(out + 56, (uint64_t)sf.f_frsize);
	*len = OSP_BROKER_STATFS_SIZE;
	return 0;
}

static int bind_proc(const uint8_t *path, size_t plen)
{
	char p[OSP_BROKER_PATH_MAX + 1];
	struct statfs sf;
	struct stat sb;
	int fd;

	if (proc_fd >= 0)
		return -EALREADY;
	if (plen == 0 || path[0] != '/')
		return -EINVAL;
	memcpy(p, path, plen);
	p[plen] = '\0';
	fd = openat(AT_FDCWD, p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	// the root of a procfs mount (its root directory is inode 1), nothing else
	if (fstatfs(fd, &sf) != 0 || fstat(fd, &sb) != 0 || sf.f_type != PROC_SUPER_MAGIC ||
	    sb.st_ino != 1) {
		close(fd);
		return -EINVAL;
	}
	proc_fd = fd;
	return 0;
}

static int answer(size_t n, uint32_t *len, int *pass_fd)
{
	uint32_t op, arg;
	int32_t pid;
	uint64_t offset;
	const uint8_t *path = req + OSP_BROKER_REQ_HEADER;
	size_t plen;

	if (n < OSP_BROKER_REQ_HEADER)
		return -EINVAL;
	if (n > OSP_BROKER_REQ_MAX)
		return -ENAMETOOLONG;
	op = get_u32(req + 4);
	memcpy(&pid, req + 8, 4);
	arg = get_u32(req + 12);
	offset = get_u64(req + 16);
	plen = n - OSP_BROKER_REQ_HEADER;
	if (memchr(path, 0, plen) != NULL)
		return -EINVAL;
	if (op == OSP_BROKER_BIND_PROC)
		return bind_proc(path, plen);
	if (op < OSP_BROKER_NS_LINK || op > OSP_BROKER_LOG_FDS)
		return -EOPNOTSUPP;
	if (proc_fd < 0)
		return -ENOTCONN;
	if (pid < 1 || pid > OSP_BROKER_PID_MAX)
		return -ESRCH;
	if (op != OSP_BROKER_ROOT_STATFS && plen != 0)
		return -EINVAL;
	switch (op) {
	case OSP_BROKER_NS_LINK: {
		const char *name = ns_name(arg);

		return name == NULL ? -EINVAL : read_link(pid, name, len);
	}
	case OSP_BROKER_SOCKET_FDS:
		return offset > INT32_MAX ? -EINVAL : socket_fds(pid, offset, len);
	case OSP_BROKER_LOG_FDS:
		if (arg > 1 || offset > INT32_MAX)
			return -EINVAL;
		return log_fds(pid, offset, arg, len);
	case OSP_BROKER_EXE_LINK:
		return read_link(pid, "exe", len);
	case OSP_BROKER_EXE_READ:
		return exe_read(pid, offset, arg, len);
	case OSP_BROKER_ROOT_STATFS:
		return root_statfs(pid, path, plen, len);
	case OSP_BROKER_NETNS_OPEN: {
		char p[64];
		int err = pid_path(p, sizeof(p), pid, "ns/net");

		if (err)
			return err;
		*pass_fd = openat(proc_fd, p, O_RDONLY | O_CLOEXEC);
		return *pass_fd < 0 ? -errno : 0;
	}
	}
	return -EOPNOTSUPP;
}

static int keep_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	uint64_t keep = (1ULL << CAP_SYS_PTRACE) | (1ULL << CAP_DAC_READ_SEARCH);
	uint64_t perm;

	if (syscall(SYS_capget, &h, d) != 0)
		return -1;
	perm = ((uint64_t)d[1].permitted << 32 | d[0].permitted) & keep;
	d[0].permitted = d[0].effective = (uint32_t)perm;
	d[1].permitted = d[1].effective = (uint32_t)(perm >> 32);
	d[0].inheritable = d[1].inheritable = 0;
	return (int)syscall(SYS_capset, &h, d);
}

#define ALLOW_NR(nr)                                         \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

#if defined(__x86_64__)
#define BROKER_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define BROKER_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "osprey-broker: no seccomp architecture for this target"
#endif

// Writes: O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND and O_TMPFILE's own bit
#define OPEN_WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | 020000000)

static int apply_seccomp(int sock)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BROKER_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		// openat: only without a writing or creating flag
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, OPEN_WRITE_FLAGS, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		// write and sendmsg (a namespace descriptor): only to the agent's socket
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sendmsg, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)sock, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		ALLOW_NR(SYS_read),
		ALLOW_NR(SYS_readlinkat),
		ALLOW_NR(SYS_getdents64),
		ALLOW_NR(SYS_fstatfs),
		ALLOW_NR(SYS_pread64),
		ALLOW_NR(SYS_close),
		ALLOW_NR(SYS_newfstatat),
#ifdef SYS_fstat
		ALLOW_NR(SYS_fstat),
#endif
		ALLOW_NR(SYS_exit_group),
		ALLOW_NR(SYS_exit),
		ALLOW_NR(SYS_rt_sigreturn),
		ALLOW_NR(SYS_restart_syscall),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = { .len = (unsigned short)(sizeof(f) / sizeof(f[0])), .filter = f };

	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

void osp_broker_run(int sock, pid_t parent)
{
	// dies with the agent: SIGKILL when the parent exits, EOF when its end closes
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(0);
	prctl(PR_SET_NAME, "osprey-broker");
	if (keep_caps() != 0) {
		fprintf(stderr, "osprey-broker: dropping capabilities: %s\n", strerror(errno));
		_exit(EXIT_BROKER);
	}
	if (prctl(PR_SET_DUMPABLE, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		fprintf(stderr, "osprey-broker: setting no_new_privs: %s\n", strerror(errno));
		_exit(EXIT_BROKER);
	}
	if (apply_seccomp(sock) != 0) {
		fprintf(stderr, "osprey-broker: applying its seccomp filter: %s\n", strerror(errno));
		_exit(EXIT_BROKER);
	}
	for (;;) {
		ssize_t n = read(sock, req, sizeof(req));
		uint32_t len = 0;
		int result;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0); // the agent is gone
		int pass_fd = -1;
		ssize_t sent;

		result = answer((size_t)n, &len, &pass_fd);
		if (result != 0)
			len = 0;
		put_u32(ans, n >= 4 ? get_u32(req) : 0);
		memcpy(ans + 4, &result, 4);
		put_u32(ans + 8, len);
		put_u32(ans + 12, 0);
		if (pass_fd >= 0) {
			// the descriptor rides with the answer, then is closed here
			char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
			struct iovec iov = { .iov_base = ans, .iov_len = OSP_BROKER_ANS_HEADER + len };
			struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
					    .msg_controllen = sizeof(cbuf) };
			struct cmsghdr *c = CMSG_FIRSTHDR(&m);

			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
			sent = sendmsg(sock, &m, MSG_NOSIGNAL);
			close(pass_fd);
		} else {
			sent = write(sock, ans, OSP_BROKER_ANS_HEADER + len);
		}
		if (sent < 0 && errno != EINTR)
			_exit(0);
	}
}
