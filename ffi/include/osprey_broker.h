/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The wire format of osprey-broker, the process the Landlock launcher leaves
 * outside the agent's domain to answer the few procfs reads Landlock's ptrace
 * rule refuses the agent (README, "Security model"). One SOCK_SEQPACKET
 * message per request and per answer, host byte order, fixed offsets; the
 * TypeScript side (ffi/broker.ts) writes and reads the same offsets.
 *
 * Request:
 *   0  u32 seq      copied into the answer
 *   4  u32 op       enum osp_broker_op
 *   8  i32 pid      1 .. OSP_BROKER_PID_MAX (not for BIND_PROC)
 *  12  u32 arg      NS_LINK: enum osp_broker_ns; EXE_READ: bytes wanted;
 *                   LOG_FDS: 0 (fds from offset on) or 1 (only fd offset)
 *  16  u64 offset   EXE_READ: file offset; SOCKET_FDS, LOG_FDS: the first fd
 *                   number (LOG_FDS with arg 1: the one fd)
 *  24  path bytes   BIND_PROC: the procfs root; ROOT_STATFS: an absolute path
 *                   in the process's root ("/", no "." or ".." components);
 *                   no NUL, at most OSP_BROKER_PATH_MAX bytes
 *
 * Answer:
 *   0  u32 seq
 *   4  i32 result   0, or a negative errno
 *   8  u32 len      bytes of data that follow
 *  12  u32 0        (the agent's libosprey puts the received descriptor here)
 *  16  data         per op, see enum osp_broker_op
 *
 * The request set is closed: there is no "open this path" or "read this
 * file"; every path the broker opens is built by the broker from the bound
 * procfs root, a validated pid and a fixed name (fd, ns/<kind>, exe, root).
 */
#ifndef OSPREY_BROKER_H
#define OSPREY_BROKER_H

#define OSP_BROKER_REQ_HEADER 24
#define OSP_BROKER_PATH_MAX 4096
#define OSP_BROKER_REQ_MAX (OSP_BROKER_REQ_HEADER + OSP_BROKER_PATH_MAX)
#define OSP_BROKER_ANS_HEADER 16
#define OSP_BROKER_DATA_MAX 65536
#define OSP_BROKER_ANS_MAX (OSP_BROKER_ANS_HEADER + OSP_BROKER_DATA_MAX)
/* PID_MAX_LIMIT on 64-bit kernels */
#define OSP_BROKER_PID_MAX 4194304
/* the file identity EXE_READ puts before the bytes (as osp_file_read()) */
#define OSP_BROKER_STAT_SIZE 48
#define OSP_BROKER_STATFS_SIZE 64
#define OSP_BROKER_FDS_HEADER 16
#define OSP_BROKER_FD_ENTRY 16
/* a LOG_FDS entry: 16 bytes, then the path padded to 8 bytes */
#define OSP_BROKER_LOG_ENTRY 16
/* the prefix LOG_FDS applies to every link target it answers with */
#define OSP_BROKER_LOG_PREFIX "/var/log/"

enum osp_broker_op {
	/* path: the procfs root every later request is relative to; once */
	OSP_BROKER_BIND_PROC = 1,
	/* readlink <proc>/<pid>/ns/<arg>: the link text ("net:[4026531840]") */
	OSP_BROKER_NS_LINK = 2,
	/*
	 * the sockets among <proc>/<pid>/fd/<n> for n >= offset: u32 fds read,
	 * u32 fds gone, u32 more (1: the data is full, ask again from next_fd),
	 * u32 next_fd, then per socket u32 fd, u32 0, u64 inode
	 */
	OSP_BROKER_SOCKET_FDS = 3,
	/* readlink <proc>/<pid>/exe: the link text */
	OSP_BROKER_EXE_LINK = 4,
	/*
	 * open <proc>/<pid>/exe, fstat, pread arg bytes at offset: the 48-byte
	 * identity (dev, ino, size, mtime ns, ctime ns, mode; u64 each), then the
	 * bytes (none for a file that is not regular)
	 */
	OSP_BROKER_EXE_READ = 5,
	/*
	 * statfs of a directory beneath <proc>/<pid>/root, walked one component
	 * at a time without following symbolic links: u64 type, bsize, blocks,
	 * bfree, bavail, files, ffree, frsize; ENOTDIR when a component is a
	 * file or a symbolic link
	 */
	OSP_BROKER_ROOT_STATFS = 6,
	/*
	 * open <proc>/<pid>/ns/net read-only and pass the descriptor with the
	 * answer (SCM_RIGHTS): for setns() by the pinger, NAT and taskstats,
	 * which open namespace files themselves. Only network namespaces.
	 */
	OSP_BROKER_NETNS_OPEN = 7,
	/*
	 * the writable log files among <proc>/<pid>/fd/<n>: the fds whose
	 * fdinfo flags have O_WRONLY or O_RDWR and whose link target starts with
	 * OSP_BROKER_LOG_PREFIX (no other path is ever answered). arg 0: fds n
	 * >= offset, paged as SOCKET_FDS (u32 fds read, u32 fds gone, u32 more,
	 * u32 next_fd); arg 1: only fd offset (ENOENT when it is not open).
	 * Then per file u32 fd, u32 fdinfo flags, u32 path length, u32 0, the
	 * path bytes (no NUL) padded with zeros to a multiple of 8.
	 */
	OSP_BROKER_LOG_FDS = 8,
};

enum osp_broker_ns {
	OSP_BROKER_NS_NET = 1,
	OSP_BROKER_NS_MNT = 2,
	OSP_BROKER_NS_PID = 3,
	OSP_BROKER_NS_UTS = 4,
	OSP_BROKER_NS_IPC = 5,
	OSP_BROKER_NS_CGROUP = 6,
	OSP_BROKER_NS_USER = 7,
};

#endif
