// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * L7 payload capture: the first bytes of every read- and write-family
 * syscall on a TCP socket, and on a UDP socket when they read as a DNS
 * message, as one record each in "l7_events". User space (agent/l7/) detects
 * requests, matches each response to its request per connection and measures
 * the duration between the two records' kernel timestamps.
 *
 * Hooks: the syscalls tracepoints (the only ones every kernel has for
 * these calls; kprobes and fentry are not needed). An enter program resolves
 * the descriptor to its socket (task->files->fdt->fd[fd]->private_data->sk,
 * CO-RE) and, for a socket of interest, remembers the call's buffer by
 * thread; the exit program copies what the call really moved (its return
 * value says how much), so a failed or partial call is seen as it was.
 * Vectored calls (readv, writev, sendmsg, recvmsg, sendmmsg) copy from up
 * to OSP_L7_IOV_MAX iovecs, in order, until the payload is full.
 *
 * Every loss is counted: a full argument table (OSP_L7_CNT_ARGS_FULL), a
 * full ring (osp_lost[OSP_REC_L7_PAYLOAD]), an unreadable buffer
 * (OSP_L7_CNT_READ_FAULT), iovecs past OSP_L7_IOV_MAX (OSP_L7_CNT_IOV_LEFT);
 * payloads longer than a record are cut and flagged.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "l7.h"
#include "include/ring.bpf.h"
#define OSP_COUNTERS_MAX OSP_L7_CNT_MAX
#include "include/counters.bpf.h"
#include "include/sock.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* include/uapi/linux/stat.h */
#define OSP_S_IFMT 00170000
#define OSP_S_IFSOCK 0140000

/* 8 MiB: about 40,000 records of a few hundred bytes; drained every 100 ms or at 1/8 full */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} l7_events SEC(".maps");

enum l7_arg_kind {
	ARG_BUF = 1,  /* buf, count */
	ARG_IOV = 2,  /* iovec array, count */
	ARG_MSG = 3,  /* struct user_msghdr * */
	ARG_MMSG = 4, /* struct mmsghdr array, count */
};

/* a call in progress on a socket of interest, by thread */
struct l7_args {
	__u64 sk;
	__u64 buf;
	__u64 count;
	__s32 fd;
	__u8 kind; /* enum l7_arg_kind */
	__u8 dir;  /* OSP_L7_DIR_* */
	__u8 l4;
	__u8 pad;
};

/* LRU: a thread that dies inside a call (or io_uring skipping exits) leaves no entry behind */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct l7_args);
} l7_calls SEC(".maps");

/*
 * The record being built, with room behind the payload so a copy at a
 * masked offset with a bounded size stays inside the value (what the
 * verifier checks).
 */
struct l7_scratch {
	struct osp_l7_event e;
	__u8 spill[OSP_L7_PAYLOAD_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct l7_scratch);
} l7_scratch SEC(".maps");

/* the socket behind a descriptor of the current task, NULL if it is none of ours */
static __always_inline struct sock *fd_sock(int fd, __u8 *l4)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds;
	struct fdtable *fdt;
	struct socket *sock;
	struct file *file;
	struct sock *sk;
	__u16 proto, family;
	umode_t mode;

	if (fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & OSP_S_IFMT) != OSP_S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return NULL;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != OSP_AF_INET && family != OSP_AF_INET6)
		return NULL;
	proto = osp_sk_protocol(sk);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return NULL;
	*l4 = (__u8)proto;
	return sk;
}

static __always_inline int on_enter(__u64 fd, __u64 buf, __u64 n, __u8 kind, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct l7_args a = {
		.buf = buf,
		.count = n,
		.fd = (__s32)fd,
		.kind = kind,
		.dir = dir,
	};
	struct sock *sk = fd_sock((int)fd, &a.l4);

	if (!sk)
		return 0;
	a.sk = (__u64)sk;
	if (bpf_map_update_elem(&l7_calls, &id, &a, BPF_ANY) != 0)
		count(OSP_L7_CNT_ARGS_FULL);
	return 0;
}

/* copies up to n bytes from user memory at payload offset off; returns what it copied */
static __always_inline __u32 copy_at(struct l7_scratch *s, __u32 off, __u64 src, __u64 n)
{
	__u32 room;

	if (off >= OSP_L7_PAYLOAD_MAX || !src)
		return 0;
	room = OSP_L7_PAYLOAD_MAX - off;
	if (n > OSP_L7_PAYLOAD_MAX)
		n = OSP_L7_PAYLOAD_MAX;
	if (n > room)
		n = room;
	if (!n)
		return 0;
	off &= OSP_L7_PAYLOAD_MAX - 1;
	if (bpf_probe_read_user(s->e.payload + off, n, (const void *)src)) {
		count(OSP_L7_CNT_READ_FAULT);
		return 0;
	}
	return (__u32)n;
}

/*
 * Copies what an iovec array holds into the payload of the per-CPU record
 * being built, in order, until `moved` bytes, the payload's room or
 * OSP_L7_IOV_MAX iovecs (a bounded loop); returns what it copied. nginx
 * answers an HTTP/2 connection's first request with one writev of five
 * iovecs (SETTINGS, WINDOW_UPDATE, SETTINGS ACK, HEADERS frame header,
 * header block). Bytes the call moved past the last iovec read while room
 * remained are counted (OSP_L7_CNT_IOV_LEFT); the record is flagged cut.
 *
 * A global function: the verifier checks it once, with unknown arguments,
 * rather than once per call site (emit is inlined three times per program).
 */
__noinline __u32 osp_l7_copy_iov(__u64 iov, __u64 iovcnt, __u64 moved)
{
	struct l7_scratch *s;
	struct iovec v;
	__u64 want, room;
	__u32 zero = 0, got = 0;
	bool last;

	s = bpf_map_lookup_elem(&l7_scratch, &zero);
	if (!s)
		return 0;
	/*
	 * One path goes round the loop (a whole iovec copied, got still below the
	 * payload's size); every other outcome returns, so the verifier's work
	 * stays linear in OSP_L7_IOV_MAX.
	 */
	for (int i = 0; i < OSP_L7_IOV_MAX; i++) {
		if ((__u64)i >= iovcnt || got >= moved)
			return got;
		if (bpf_probe_read_user(&v, sizeof(v), (const void *)(iov + i * sizeof(v)))) {
			count(OSP_L7_CNT_READ_FAULT);
			return got;
		}
		want = moved - got;
		if (v.iov_len < want)
			want = v.iov_len;
		room = OSP_L7_PAYLOAD_MAX - got;
		last = want >= room;
		if (last)
			want = room;
		/* the compiler knows want <= room <= OSP_L7_PAYLOAD_MAX; the verifier must see it */
		asm volatile("" : "+r"(want));
		if (want > OSP_L7_PAYLOAD_MAX)
			return got;
		if (bpf_probe_read_user(s->e.payload + (got & (OSP_L7_PAYLOAD_MAX - 1)), want,
					v.iov_base)) {
			count(OSP_L7_CNT_READ_FAULT);
			return got;
		}
		if (last)
			return got + (__u32)want;
		got += (__u32)want;
	}
	if (iovcnt > OSP_L7_IOV_MAX && got < moved && got < OSP_L7_PAYLOAD_MAX)
		count(OSP_L7_CNT_IOV_LEFT);
	return got;
}

/* a DNS message header: one question, a standard query (opcode 0) */
static __always_inline bool looks_like_dns(const __u8 *p, __u32 len)
{
	return len >= 12 && p[4] == 0 && p[5] == 1 && ((p[2] >> 3) & 0xf) == 0;
}

/* builds and sends one record of `moved` bytes whose data sit at buf (per kind) */
static __always_inline void emit(const struct l7_args *a, __u64 buf, __u64 nvec, __u8 kind,
				 __u64 moved)
{
	const struct sock *sk = (const struct sock *)a->sk;
	struct l7_scratch *s;
	struct osp_l7_event *e;
	__u32 zero = 0, len, size;

	s = bpf_map_lookup_elem(&l7_scratch, &zero);
	if (!s)
		return;
	e = &s->e;
	e->flags = 0;
	if (kind == ARG_BUF) {
		len = copy_at(s, 0, buf, moved);
	} else {
		e->flags |= OSP_L7_F_VECTORED;
		len = osp_l7_copy_iov(buf, nvec, moved);
	}
	if (len > OSP_L7_PAYLOAD_MAX)
		len = OSP_L7_PAYLOAD_MAX;
	if (a->l4 == IPPROTO_UDP && !looks_like_dns(e->payload, len))
		return;
	if (moved > len)
		e->flags |= OSP_L7_F_CUT;
	e->sk = a->sk;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->size = moved;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->fd = a->fd;
	e->netns = osp_sk_netns(sk);
	e->family = osp_sk_addrs(sk, e->saddr, e->daddr, &e->sport, &e->dport);
	e->dir = a->dir;
	e->l4 = a->l4;
	e->len = (__u16)len;
	e->reserved = 0;
	size = (__u32)__builtin_offsetof(struct osp_l7_event, payload) + ((len + 7) & ~7U);
	if (size > sizeof(*e))
		size = sizeof(*e);
	osp_rec_hdr_fill(&e->hdr, OSP_REC_L7_PAYLOAD, (__u16)size);
	if (bpf_ringbuf_output(&l7_events, e, size, osp_wakeup_flags(&l7_events)) != 0) {
		osp_count_lost(OSP_REC_L7_PAYLOAD);
		return;
	}
	count(OSP_L7_CNT_RECORDS);
	if (e->flags & OSP_L7_F_CUT)
		count(OSP_L7_CNT_CUT);
}

static __always_inline int on_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct user_msghdr msg;
	struct mmsghdr mm;
	struct l7_args *p, a;

	p = bpf_map_lookup_elem(&l7_calls, &id);
	if (!p)
		return 0;
	a = *p;
	bpf_map_delete_elem(&l7_calls, &id);
	if (ret <= 0)
		return 0;
	switch (a.kind) {
	case ARG_BUF:
	case ARG_IOV:
		emit(&a, a.buf, a.count, a.kind, (__u64)ret);
		break;
	case ARG_MSG:
		if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)a.buf))
			break;
		emit(&a, (__u64)msg.msg_iov, msg.msg_iovlen, ARG_IOV, (__u64)ret);
		break;
	case ARG_MMSG:
		/* ret messages went out; glibc's resolver sends its A and AAAA queries as two */
		for (int i = 0; i < 2; i++) {
			if (i >= ret)
				break;
			if (bpf_probe_read_user(&mm, sizeof(mm),
						(const void *)(a.buf + i * sizeof(mm))))
				break;
			emit(&a, (__u64)mm.msg_hdr.msg_iov, mm.msg_hdr.msg_iovlen, ARG_IOV,
			     mm.msg_len);
		}
		break;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_write")
int osp_l7_write_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2], ARG_BUF, OSP_L7_DIR_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int osp_l7_writev_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2], ARG_IOV, OSP_L7_DIR_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int osp_l7_sendto_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2], ARG_BUF, OSP_L7_DIR_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int osp_l7_sendmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], 1, ARG_MSG, OSP_L7_DIR_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int osp_l7_sendmmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2], ARG_MMSG, OSP_L7_DIR_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_read")
int osp_l7_read_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2], ARG_BUF, OSP_L7_DIR_READ);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int osp_l7_readv_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2], ARG_IOV, OSP_L7_DIR_READ);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int osp_l7_recvfrom_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2], ARG_BUF, OSP_L7_DIR_READ);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int osp_l7_recvmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], 1, ARG_MSG, OSP_L7_DIR_READ);
}

/* every exit shares one program body; each tracepoint needs its own program */
#define L7_EXIT(name)                                                          \
	SEC("tracepoint/syscalls/sys_exit_" #name)                              \
	int osp_l7_##name##_exit(struct trace_event_raw_sys_exit *ctx)          \
	{                                                                      \
		return on_exit(ctx->ret);                                      \
	}

L7_EXIT(write)
L7_EXIT(writev)
L7_EXIT(sendto)
L7_EXIT(sendmsg)
L7_EXIT(sendmmsg)
L7_EXIT(read)
L7_EXIT(readv)
L7_EXIT(recvfrom)
L7_EXIT(recvmsg)
