// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TCP connections: outbound connects (established with their duration, or
 * failed), inbound accepts, the end of each connection, listening sockets
 * opening and closing, and per-connection byte and retransmit counters.
 *
 * Counting stays in the kernel: "tcp_conns" holds one entry per connection
 * with bytes sent and received (at the TCP layer, so sendfile, splice and
 * io_uring are counted too) and the kernel's own retransmit count; user space
 * reads it periodically and gets the final values in the END record. Records
 * cross to user space only for state changes, never per packet or per write.
 *
 * Tracepoints first, fentry/fexit only where no tracepoint says the same
 * (some kernels refuse fentry: the development VM's loads none). Variants
 * chosen by the loader (ffi/src/tcp.c) before load, each tp_btf with a
 * raw_tp twin for kernels without tracing programs:
 * - state changes: sock/inet_sock_set_state;
 * - retransmits: tcp/tcp_retransmit_skb;
 * - bytes sent: sock/sock_send_length (6.4+: every sendmsg, so sendfile and
 *   splice since 6.5, io_uring, kTLS); fexit on tcp_sendmsg_locked and
 *   do_tcp_sendpages where that tracepoint is missing and fentry works;
 * - bytes received: tcp/tcp_rcv_space_adjust, which every reader calls
 *   after it advanced copied_seq (recvmsg, splice's read_sock, zero-copy);
 *   fentry on (__)tcp_cleanup_rbuf where it is missing;
 * - MPTCP: its first TCP subflow is the connection; what the MPTCP socket
 *   sends (sock/sock_send_length) and receives (sock/sock_recv_length) is
 *   counted there, never the subflows' own sequence numbers;
 * - inbound connections: SYN_RECV -> ESTABLISHED creates the entry; its
 *   owner is the task of its first send or receive, or the accepting task
 *   where fexit on inet_csk_accept works;
 * - descriptors (fentry on __sys_connect/__sys_accept4) and NAT (fentry on
 *   __nf_conntrack_confirm) only where fentry works; without it NAT comes
 *   from the C library's conntrack netlink cache (ffi/src/nat.c).
 * A program whose hook is missing is switched off alone and reported.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "tcp.h"
#include "include/ring.bpf.h"
#define OSP_COUNTERS_MAX OSP_TCP_CNT_MAX
#include "include/counters.bpf.h"
#include "include/sock.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * inet_csk_accept()'s arguments before its return value in an fexit context:
 * (sk, arg) since 6.10, (sk, flags, err, kern) before. Set by the loader from
 * BTF; the verifier prunes the slot not taken.
 */
const volatile __u32 accept_nargs = 2;

/*
 * Set by the loader when the fentry programs that fill "connect_fd" and
 * "tcp_nat" are loaded: otherwise those maps stay empty, and looking them up
 * on every connect would cost a hash lookup for nothing.
 */
const volatile __u32 connect_fd_hook = 0;
const volatile __u32 nat_hook = 0;

/*
 * 2 MiB: about 14,000 records, 1.4 s of a 10,000 connections/s churn at
 * three records per connection, drained every 100 ms. Losses are counted.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 2 << 20);
} tcp_events SEC(".maps");

/*
 * Live connections by struct sock address. Not preallocated: the kernel
 * allocates per entry, so a quiet host pays for what it has. The size is
 * set by the loader (--max-connections); a connection that does not fit is
 * counted (OSP_TCP_CNT_CONN_FULL) and reported without counters.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct osp_tcp_conn);
} tcp_conns SEC(".maps");

/* connect() in progress, by thread: its descriptor (LRU: io_uring skips the exit) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __s32);
} connect_fd SEC(".maps");

/* accept() in progress, by thread: the accepted socket, until the descriptor is known */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} accept_sk SEC(".maps");

/*
 * Destination NAT seen by conntrack, by original tuple: where a connection to
 * a Service VIP or a published port really goes. LRU: an entry whose
 * connection never establishes ages out.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct osp_tcp_tuple);
	__type(value, struct osp_tcp_nat);
} tcp_nat SEC(".maps");

static __always_inline __u32 current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

static __always_inline __u32 current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

static __always_inline __u32 sk_copied_seq(const struct sock *sk)
{
	return BPF_CORE_READ((struct tcp_sock *)sk, copied_seq);
}

static __always_inline __u32 sk_total_retrans(const struct sock *sk)
{
	return BPF_CORE_READ((struct tcp_sock *)sk, total_retrans);
}

/* include/uapi/linux/in.h; a #define, so vmlinux.h lacks it */
#define OSP_IPPROTO_MPTCP 262

/* net/mptcp/protocol.h: the subflow an MPTCP socket's connect() opened */
struct mptcp_sock___osp {
	struct sock *first;
} __attribute__((preserve_access_index));

/* include/linux/tcp.h, with CONFIG_MPTCP */
struct tcp_sock___osp {
	bool is_mptcp;
} __attribute__((preserve_access_index));

/*
 * A subflow of an MPTCP socket: the MPTCP socket moves its data, so its
 * copied_seq says nothing of what the application read; its bytes are
 * counted where the application sends and receives (on_send_length,
 * on_recv_length).
 */
static __always_inline bool sk_is_subflow(const struct sock *sk)
{
	if (!bpf_core_field_exists(struct tcp_sock___osp, is_mptcp))
		return false;
	return BPF_CORE_READ((struct tcp_sock___osp *)sk, is_mptcp);
}

/* the first subflow of an MPTCP socket, NULL if it has none (or no MPTCP here) */
static __always_inline struct sock *mptcp_first(const struct sock *msk)
{
	struct sock *sk;

	if (!bpf_core_type_exists(struct mptcp_sock___osp))
		return NULL;
	sk = BPF_CORE_READ((struct mptcp_sock___osp *)msk, first);
	if (!sk || osp_sk_protocol(sk) != IPPROTO_TCP)
		return NULL;
	return sk;
}

/* fills everything but the type-specific fields, which start zeroed */
static __always_inline void fill_event(struct osp_tcp_event *e, const struct sock *sk, __u16 type,
				       const struct osp_tcp_conn *c, int old, int new)
{
	osp_rec_hdr_fill(&e->hdr, type, sizeof(*e));
	e->sk = (__u64)sk;
	e->duration_ns = 0;
	e->aport = 0;
	e->reserved = 0;
	__builtin_memset(e->aaddr, 0, sizeof(e->aaddr));
	e->family = osp_sk_addrs(sk, e->saddr, e->daddr, &e->sport, &e->dport);
	e->netns = osp_sk_netns(sk);
	e->old_state = (__u8)old;
	e->new_state = (__u8)new;
	if (c) {
		e->cgroup_id = c->cgroup_id;
		e->start_ns = c->start_ns;
		e->pid = c->pid;
		e->fd = c->fd;
		e->flags = (__u16)c->flags;
		e->bytes_sent = c->bytes_sent;
		e->bytes_received = c->bytes_received;
		e->retransmits = c->retransmits;
	} else {
		e->cgroup_id = 0;
		e->start_ns = 0;
		e->pid = 0;
		e->fd = -1;
		e->flags = OSP_TCP_F_UNTRACKED;
		e->bytes_sent = 0;
		e->bytes_received = 0;
		e->retransmits = 0;
	}
}

/* a record whose owner is the current task (listen, listen close) */
static __always_inline void emit_current(const struct sock *sk, __u16 type, int old, int new)
{
	struct osp_tcp_event *e;

	if (!osp_ringbuf_reserve(&tcp_events, e, type))
		return;
	fill_event(e, sk, type, NULL, old, new);
	e->flags = 0;
	e->pid = current_tgid();
	e->cgroup_id = bpf_get_current_cgroup_id();
	osp_ringbuf_submit(&tcp_events, e);
}

static __always_inline void start_connect(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	__u32 tid = current_tid();
	struct osp_tcp_conn c = {
		.start_ns = bpf_ktime_get_boot_ns(),
		.cgroup_id = bpf_get_current_cgroup_id(),
		.pid = current_tgid(),
		.fd = -1,
	};
	__s32 *fd = connect_fd_hook ? bpf_map_lookup_elem(&connect_fd, &tid) : NULL;

	if (fd)
		c.fd = *fd;
	if (bpf_map_update_elem(&tcp_conns, &key, &c, BPF_ANY) != 0)
		count(OSP_TCP_CNT_CONN_FULL);
}

/*
 * An inbound connection completed its handshake. This runs in softirq: the
 * owner is set by the accept hook or by the first send or receive.
 */
static __always_inline void start_inbound(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct osp_tcp_conn c = {
		.start_ns = bpf_ktime_get_boot_ns(),
		.fd = -1,
		.flags = OSP_TCP_F_INBOUND,
		.copied_seq = sk_copied_seq(sk),
	};

	if (bpf_map_update_elem(&tcp_conns, &key, &c, BPF_NOEXIST) == 0)
		count(OSP_TCP_CNT_ACCEPTED);
	else if (!bpf_map_lookup_elem(&tcp_conns, &key))
		count(OSP_TCP_CNT_CONN_FULL);
}

static __always_inline void connect_done(const struct sock *sk, struct osp_tcp_conn *c, int new)
{
	__u64 key = (__u64)sk;
	struct osp_tcp_event *e;
	struct osp_tcp_nat *nat;
	struct osp_tcp_tuple t = {};
	__u16 type = new == TCP_ESTABLISHED ? OSP_REC_TCP_CONNECT : OSP_REC_TCP_FAILED;

	if (type == OSP_REC_TCP_CONNECT) {
		if (!c) {
			count(OSP_TCP_CNT_CONNECT_UNTRACKED);
			return;
		}
		c->copied_seq = sk_copied_seq(sk);
	}
	if (!osp_ringbuf_reserve(&tcp_events, e, type))
		goto out;
	fill_event(e, sk, type, c, TCP_SYN_SENT, new);
	if (c)
		e->duration_ns = e->hdr.ts_ns - c->start_ns;
	if (type == OSP_REC_TCP_CONNECT && nat_hook) {
		__builtin_memcpy(t.saddr, e->saddr, sizeof(t.saddr));
		__builtin_memcpy(t.daddr, e->daddr, sizeof(t.daddr));
		t.sport = e->sport;
		t.dport = e->dport;
		nat = bpf_map_lookup_elem(&tcp_nat, &t);
		if (nat) {
			__builtin_memcpy(e->aaddr, nat->addr, sizeof(e->aaddr));
			e->aport = nat->port;
			e->flags |= OSP_TCP_F_NAT;
			bpf_map_delete_elem(&tcp_nat, &t);
			count(OSP_TCP_CNT_NAT_USED);
		}
	}
	osp_ringbuf_submit(&tcp_events, e);
out:
	if (type == OSP_REC_TCP_FAILED && c)
		bpf_map_delete_elem(&tcp_conns, &key);
}

/* include/net/sock.h enum sock_flags: set when the peer's FIN arrived */
#define OSP_SOCK_DONE 1

/*
 * The socket reaches CLOSE while its owner can still read what is queued: a
 * FIN received after the owner's own shutdown(SHUT_WR) (FIN_WAIT2 ->
 * TIME_WAIT closes the socket at once), or a reset. The owner reads the rest
 * from a socket no longer followed, so count what is queued now: the
 * in-order bytes not yet copied, the FIN left out. A close(2) that discarded
 * unread data emptied the queue before the state change: nothing is added.
 */
static __always_inline void add_unread(const struct sock *sk, struct osp_tcp_conn *c)
{
	__u32 unread;

	if (sk_is_subflow(sk) || !BPF_CORE_READ(sk, sk_receive_queue.qlen))
		return;
	unread = BPF_CORE_READ((struct tcp_sock *)sk, rcv_nxt) - c->copied_seq;
	if (unread && (osp_sk_flags(sk) & (1UL << OSP_SOCK_DONE)) &&
	    !(c->flags & OSP_TCP_F_FIN_COUNTED))
		unread--;
	if (!unread)
		return;
	c->copied_seq += unread;
	__sync_fetch_and_add(&c->bytes_received, (__u64)unread);
	if (c->flags & OSP_TCP_F_ENDED)
		c->flags |= OSP_TCP_F_ACTIVE_AFTER_END;
}

/* the connection left ESTABLISHED */
static __always_inline void connection_end(const struct sock *sk, struct osp_tcp_conn *c, int new)
{
	__u64 key = (__u64)sk;
	struct osp_tcp_event *e;
	__u64 sent, received;

	if (c && new == TCP_CLOSE)
		add_unread(sk, c);
	/* what END reports, read once (see below) */
	sent = c ? c->bytes_sent : 0;
	received = c ? c->bytes_received : 0;
	/* inbound connections are counted in the map only; no metric needs their end */
	if (!c || !(c->flags & OSP_TCP_F_INBOUND)) {
		if (osp_ringbuf_reserve(&tcp_events, e, OSP_REC_TCP_END)) {
			fill_event(e, sk, OSP_REC_TCP_END, c, TCP_ESTABLISHED, new);
			e->bytes_sent = sent;
			e->bytes_received = received;
			osp_ringbuf_submit(&tcp_events, e);
		}
	}
	if (!c)
		return;
	if (new == TCP_CLOSE) {
		bpf_map_delete_elem(&tcp_conns, &key);
		return;
	}
	/*
	 * What comes after this (half-closed traffic, FIN retransmits) goes into
	 * CLOSE. The counters keep only that: what END reported is taken off
	 * atomically rather than the counter zeroed, because a send may be adding
	 * at this very moment (sock_send_length runs after the socket lock is
	 * released), and zeroing would lose it.
	 */
	c->flags |= OSP_TCP_F_ENDED;
	__sync_fetch_and_add(&c->bytes_sent, -sent);
	__sync_fetch_and_add(&c->bytes_received, -received);
	c->end_retransmits = c->retransmits;
}

/* the socket reached CLOSE from a state other than SYN_SENT, ESTABLISHED or LISTEN */
static __always_inline void connection_close(const struct sock *sk, struct osp_tcp_conn *c, int old)
{
	__u64 key = (__u64)sk;
	struct osp_tcp_event *e;
	bool after_end, lazy_only;

	add_unread(sk, c);
	/* the flag, or counters a send racing with END left (it saw no ENDED flag yet) */
	after_end = (c->flags & OSP_TCP_F_ENDED) &&
		    ((c->flags & OSP_TCP_F_ACTIVE_AFTER_END) || c->bytes_sent || c->bytes_received);
	/* counted lazily and never seen leaving ESTABLISHED: this is its only record */
	lazy_only = !(c->flags & OSP_TCP_F_ENDED) && (c->flags & OSP_TCP_F_UNTRACKED);

	if (!(c->flags & OSP_TCP_F_INBOUND) && (after_end || lazy_only) &&
	    osp_ringbuf_reserve(&tcp_events, e, OSP_REC_TCP_CLOSE)) {
		fill_event(e, sk, OSP_REC_TCP_CLOSE, c, old, TCP_CLOSE);
		if (after_end) {
			e->flags |= OSP_TCP_F_AFTER_END;
			e->retransmits = c->retransmits - c->end_retransmits;
		}
		osp_ringbuf_submit(&tcp_events, e);
	}
	bpf_map_delete_elem(&tcp_conns, &key);
}

static __always_inline int on_state(const struct sock *sk, int old, int new)
{
	__u64 key = (__u64)sk;
	struct osp_tcp_conn *c;

	if (osp_sk_protocol(sk) != IPPROTO_TCP)
		return 0;

	if (new == TCP_SYN_SENT) {
		if (old == TCP_CLOSE)
			start_connect(sk);
		return 0;
	}
	if (new == TCP_LISTEN) {
		emit_current(sk, OSP_REC_TCP_LISTEN, old, new);
		return 0;
	}
	if (old == TCP_LISTEN) {
		/* a listener's child starts as a copy of it: LISTEN -> SYN_RECV */
		if (new == TCP_CLOSE)
			emit_current(sk, OSP_REC_TCP_LISTEN_CLOSE, old, new);
		return 0;
	}
	if (old == TCP_SYN_RECV && new == TCP_ESTABLISHED) {
		start_inbound(sk);
		return 0;
	}
	/* the steps in between (FIN_WAIT1 -> FIN_WAIT2, CLOSE_WAIT -> LAST_ACK, ...) change nothing */
	if (old != TCP_SYN_SENT && old != TCP_ESTABLISHED && new != TCP_CLOSE)
		return 0;
	c = bpf_map_lookup_elem(&tcp_conns, &key);
	if (old == TCP_SYN_SENT) {
		connect_done(sk, c, new);
		return 0;
	}
	if (old == TCP_ESTABLISHED) {
		connection_end(sk, c, new);
		return 0;
	}
	if (new == TCP_CLOSE && c)
		connection_close(sk, c, old);
	return 0;
}

/*
 * The entry of a connection that opened before the programs were attached
 * (or did not fit then), made when it first sends, receives or retransmits,
 * so its counters are not lost. pid is 0 when the caller runs in softirq.
 * copied_seq is what the new entry starts from; a caller without it passes
 * seq_known false, and it is read only if an entry is made (most calls find
 * one).
 */
static __always_inline struct osp_tcp_conn *conn_lazy(const struct sock *sk, bool owner_is_current,
						      __u32 copied_seq, bool seq_known)
{
	__u64 key = (__u64)sk;
	struct osp_tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &key);
	struct osp_tcp_conn n = {
		.fd = -1,
		.flags = OSP_TCP_F_UNTRACKED,
	};

	if (!c && BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_CLOSE)
		return NULL; /* closed: its reads were counted at the close (add_unread) */
	if (c) {
		/* an inbound connection's owner: the first task that reads or writes it */
		if (!c->pid && owner_is_current) {
			c->pid = current_tgid();
			c->cgroup_id = bpf_get_current_cgroup_id();
		}
		return c;
	}
	if (owner_is_current) {
		n.pid = current_tgid();
		n.cgroup_id = bpf_get_current_cgroup_id();
	}
	n.copied_seq = seq_known ? copied_seq : sk_copied_seq(sk);
	/* what lets user space match it with what it found in /proc at start */
	n.inode = osp_sk_inode(sk);
	if (bpf_map_update_elem(&tcp_conns, &key, &n, BPF_NOEXIST) != 0) {
		c = bpf_map_lookup_elem(&tcp_conns, &key); /* a racing creator won */
		if (!c)
			count(OSP_TCP_CNT_CONN_FULL);
		return c;
	}
	count(OSP_TCP_CNT_LAZY);
	return bpf_map_lookup_elem(&tcp_conns, &key);
}

static __always_inline void add_sent(const struct sock *sk, long ret)
{
	struct osp_tcp_conn *c;

	if (ret <= 0)
		return;
	c = conn_lazy(sk, true, 0, false);
	if (!c)
		return;
	__sync_fetch_and_add(&c->bytes_sent, (__u64)ret);
	if (c->flags & OSP_TCP_F_ENDED)
		c->flags |= OSP_TCP_F_ACTIVE_AFTER_END;
}

/* state changes: tp_btf where the kernel has tracing programs, else raw_tp */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(osp_tcp_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	return on_state(sk, oldstate, newstate);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(osp_tcp_state_raw, const struct sock *sk, const int oldstate, const int newstate)
{
	return on_state(sk, oldstate, newstate);
}

/*
 * tcp_sock.total_retrans already counts this retransmission when the
 * tracepoint fires (__tcp_retransmit_skb adds before sending), so the entry
 * holds exactly what `ss -ti` shows as retrans:N/<total>.
 */
static __always_inline int on_retransmit(const struct sock *sk)
{
	struct osp_tcp_conn *c;

	if (osp_sk_protocol(sk) != IPPROTO_TCP)
		return 0;
	c = conn_lazy(sk, false, 0, false);
	if (!c)
		return 0;
	c->retransmits = sk_total_retrans(sk);
	if (c->flags & OSP_TCP_F_ENDED)
		c->flags |= OSP_TCP_F_ACTIVE_AFTER_END;
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(osp_tcp_retrans_btf, const struct sock *sk)
{
	return on_retransmit(sk);
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(osp_tcp_retrans_raw, const struct sock *sk)
{
	return on_retransmit(sk);
}

/* where fexit works: the accepting task owns the socket from the start */
SEC("fexit/inet_csk_accept")
int osp_tcp_accept(__u64 *ctx)
{
	struct osp_tcp_conn *c;
	struct sock *sk;
	__u64 key;
	__u32 tid;

	/*
	 * The return value follows the arguments. Written plainly, clang merges the two loads into
	 * one from ctx + (2 or 4) * 8, which the verifier refuses ("dereference of modified ctx
	 * ptr"; seen on 6.1 in the kernel matrix). The empty asm in one branch keeps two loads at
	 * constant offsets; accept_nargs is read-only data, so the verifier drops the dead one.
	 */
	if (accept_nargs == 2) {
		sk = (struct sock *)ctx[2];
		asm volatile("" : "+r"(sk));
	} else {
		sk = (struct sock *)ctx[4];
	}
	if (!sk || osp_sk_protocol(sk) != IPPROTO_TCP)
		return 0;
	key = (__u64)sk;
	c = bpf_map_lookup_elem(&tcp_conns, &key);
	if (!c)
		return 0; /* untracked (table full) or closed already */
	c->pid = current_tgid();
	c->cgroup_id = bpf_get_current_cgroup_id();
	tid = current_tid();
	bpf_map_update_elem(&accept_sk, &tid, &key, BPF_ANY);
	return 0;
}

/* accept(2) and accept4(2) both end here; the result is the new descriptor */
SEC("fexit/__sys_accept4")
int BPF_PROG(osp_tcp_accept4_exit, int fd, struct sockaddr *addr, int *addrlen, int flags, int ret)
{
	__u32 tid = current_tid();
	__u64 *key = bpf_map_lookup_elem(&accept_sk, &tid);
	struct osp_tcp_conn *c;

	if (!key)
		return 0;
	if (ret >= 0) {
		c = bpf_map_lookup_elem(&tcp_conns, key);
		if (c)
			c->fd = ret;
	}
	bpf_map_delete_elem(&accept_sk, &tid);
	return 0;
}

SEC("fentry/__sys_connect")
int BPF_PROG(osp_tcp_connect_enter, int fd)
{
	__u32 tid = current_tid();
	__s32 v = fd;

	bpf_map_update_elem(&connect_fd, &tid, &v, BPF_ANY);
	return 0;
}

SEC("fexit/__sys_connect")
int BPF_PROG(osp_tcp_connect_exit, int fd, struct sockaddr *addr, int addrlen, int ret)
{
	__u32 tid = current_tid();

	bpf_map_delete_elem(&connect_fd, &tid);
	return 0;
}

/*
 * Bytes sent: sock_sendmsg() reports what every sendmsg returned (write,
 * send*, io_uring, kTLS's plaintext, and since 6.5 sendfile and splice,
 * which send with MSG_SPLICE_PAGES).
 */
static __always_inline int on_send_length(struct sock *sk, int ret)
{
	__u16 proto;

	if (ret <= 0 || !sk)
		return 0;
	proto = osp_sk_protocol(sk);
	if (proto == OSP_IPPROTO_MPTCP) {
		/*
		 * An MPTCP socket sends through its TCP subflows, which no
		 * sendmsg reports: its bytes go to its first subflow, the TCP
		 * connection whose connect is counted.
		 */
		sk = mptcp_first(sk);
		if (!sk)
			return 0;
	} else if (proto != IPPROTO_TCP) {
		return 0;
	}
	add_sent(sk, ret);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(osp_tcp_send_btf, struct sock *sk, int ret, int flags)
{
	return on_send_length(sk, ret);
}

SEC("raw_tp/sock_send_length")
int BPF_PROG(osp_tcp_send_raw, struct sock *sk, int ret, int flags)
{
	return on_send_length(sk, ret);
}

/* before sock_send_length (6.4): every TCP send ends in tcp_sendmsg_locked */
SEC("fexit/tcp_sendmsg_locked")
int BPF_PROG(osp_tcp_sendmsg, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	add_sent(sk, ret);
	return 0;
}

/* before 6.5, sendfile and splice queued pages here instead */
SEC("fexit/do_tcp_sendpages")
int BPF_PROG(osp_tcp_sendpages, struct sock *sk, struct page *page, int offset, size_t size,
	     int flags, long ret)
{
	add_sent(sk, ret);
	return 0;
}

/*
 * Bytes received: the advance of copied_seq, the next byte the application
 * will read, since the last count. A MSG_PEEK read does not move it. The
 * peer's FIN takes one sequence number: recvmsg moves copied_seq past it
 * after its last tcp_rcv_space_adjust(), but tcp_read_sock() (splice)
 * before; so an advance that ends exactly at rcv_nxt after the FIN arrived
 * is one byte too many, once.
 */
static __always_inline void add_received(struct sock *sk, __u32 seq, __u32 copied)
{
	struct osp_tcp_conn *c;
	__u32 advance;

	c = conn_lazy(sk, true, seq - copied, true);
	if (!c)
		return;
	advance = seq - c->copied_seq;
	c->copied_seq = seq;
	if (copied && advance > copied)
		advance = copied;
	if (!copied && advance && !(c->flags & OSP_TCP_F_FIN_COUNTED) &&
	    (osp_sk_flags(sk) & (1UL << OSP_SOCK_DONE)) &&
	    seq == BPF_CORE_READ((struct tcp_sock *)sk, rcv_nxt)) {
		c->flags |= OSP_TCP_F_FIN_COUNTED;
		advance--;
	}
	if (!advance)
		return;
	__sync_fetch_and_add(&c->bytes_received, (__u64)advance);
	if (c->flags & OSP_TCP_F_ENDED)
		c->flags |= OSP_TCP_F_ACTIVE_AFTER_END;
}

static __always_inline int on_space_adjust(struct sock *sk)
{
	if (!sk || osp_sk_protocol(sk) != IPPROTO_TCP || sk_is_subflow(sk))
		return 0;
	add_received(sk, sk_copied_seq(sk), 0);
	return 0;
}

SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(osp_tcp_rcv_btf, struct sock *sk)
{
	return on_space_adjust(sk);
}

SEC("raw_tp/tcp_rcv_space_adjust")
int BPF_PROG(osp_tcp_rcv_raw, struct sock *sk)
{
	return on_space_adjust(sk);
}

/* include/linux/socket.h */
#define OSP_MSG_PEEK 2

/*
 * Bytes an MPTCP socket's reader received (sock_recvmsg's result, 6.4+),
 * counted on its first subflow like its sends; plain TCP sockets are counted
 * by their copied_seq above. Not counted: reads after that subflow closed (a
 * client that half-closed and reads the answer once the DATA_FINs were
 * exchanged), as its entry is gone by then.
 */
static __always_inline int on_recv_length(struct sock *sk, int ret, int flags)
{
	struct osp_tcp_conn *c;

	if (ret <= 0 || !sk || (flags & OSP_MSG_PEEK) || osp_sk_protocol(sk) != OSP_IPPROTO_MPTCP)
		return 0;
	sk = mptcp_first(sk);
	if (!sk)
		return 0;
	c = conn_lazy(sk, true, 0, false);
	if (!c)
		return 0;
	__sync_fetch_and_add(&c->bytes_received, (__u64)ret);
	if (c->flags & OSP_TCP_F_ENDED)
		c->flags |= OSP_TCP_F_ACTIVE_AFTER_END;
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(osp_tcp_mptcp_recv_btf, struct sock *sk, int ret, int flags)
{
	return on_recv_length(sk, ret, flags);
}

SEC("raw_tp/sock_recv_length")
int BPF_PROG(osp_tcp_mptcp_recv_raw, struct sock *sk, int ret, int flags)
{
	return on_recv_length(sk, ret, flags);
}

/*
 * Without that tracepoint: every reader cleans the receive buffer up after
 * advancing copied_seq, with the bytes it copied; the smaller of the two
 * leaves the FIN out. __tcp_cleanup_rbuf (6.3+) is what both
 * tcp_cleanup_rbuf and tcp_read_skb call.
 */
SEC("fentry/__tcp_cleanup_rbuf")
int BPF_PROG(osp_tcp_rbuf_inner, struct sock *sk, int copied)
{
	if (copied > 0 && !sk_is_subflow(sk))
		add_received(sk, sk_copied_seq(sk), (__u32)copied);
	return 0;
}

SEC("fentry/tcp_cleanup_rbuf")
int BPF_PROG(osp_tcp_rbuf, struct sock *sk, int copied)
{
	if (copied > 0 && !sk_is_subflow(sk))
		add_received(sk, sk_copied_seq(sk), (__u32)copied);
	return 0;
}

/* include/uapi/linux/netfilter/nf_conntrack_common.h: _nfct's low bits hold ctinfo */
#define OSP_NFCT_PTRMASK (~7UL)

static __always_inline void ct_addr(__u8 out[16], const union nf_inet_addr *a, __u16 l3num)
{
	if (l3num == OSP_AF_INET)
		osp_addr_v4mapped(out, BPF_CORE_READ(a, ip));
	else
		bpf_core_read(out, 16, &a->all); /* not BPF_CORE_READ_INTO: out is a pointer */
}

static __always_inline bool same_addr(const __u8 a[16], const __u8 b[16])
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1];
}

/*
 * NAT: conntrack confirms a connection's entry once, on its first packet,
 * after the NAT hooks rewrote the reply tuple. If the reply comes from
 * somewhere else than the original destination, remember where.
 */
SEC("fentry/__nf_conntrack_confirm")
int BPF_PROG(osp_tcp_nat_confirm, struct sk_buff *skb)
{
	struct nf_conn *ct = (struct nf_conn *)(BPF_CORE_READ(skb, _nfct) & OSP_NFCT_PTRMASK);
	struct nf_conntrack_tuple *orig, *reply;
	struct osp_tcp_tuple key = {};
	struct osp_tcp_nat nat = {};
	__u16 l3num;

	if (!ct)
		return 0;
	orig = &ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	reply = &ct->tuplehash[IP_CT_DIR_REPLY].tuple;
	if (BPF_CORE_READ(orig, dst.protonum) != IPPROTO_TCP)
		return 0;
	l3num = BPF_CORE_READ(orig, src.l3num);
	if (l3num != OSP_AF_INET && l3num != OSP_AF_INET6)
		return 0;
	ct_addr(key.saddr, &orig->src.u3, l3num);
	ct_addr(key.daddr, &orig->dst.u3, l3num);
	key.sport = __builtin_bswap16(BPF_CORE_READ(orig, src.u.tcp.port));
	key.dport = __builtin_bswap16(BPF_CORE_READ(orig, dst.u.tcp.port));
	ct_addr(nat.addr, &reply->src.u3, l3num);
	nat.port = __builtin_bswap16(BPF_CORE_READ(reply, src.u.tcp.port));
	if (nat.port == key.dport && same_addr(nat.addr, key.daddr))
		return 0;
	count(OSP_TCP_CNT_NAT_SEEN);
	if (bpf_map_update_elem(&tcp_nat, &key, &nat, BPF_ANY) != 0)
		count(OSP_TCP_CNT_NAT_FULL);
	return 0;
}
