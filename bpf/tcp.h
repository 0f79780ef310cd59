/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TCP connection records (tcp.bpf.c → ring buffer "tcp_events") and the
 * per-connection counters kept in the "tcp_conns" map, which user space
 * reads periodically (osp_map_read()). Fixed-width fields, largest first,
 * explicit padding, no packing; checked by ffi/layout_test.ts.
 *
 * A connection is identified by its struct sock address while it lives: the
 * kernel frees a socket only after its last state change to TCP_CLOSE, which
 * is when tcp.bpf.c forgets it.
 */
#ifndef __OSP_TCP_H
#define __OSP_TCP_H

#include "record.h"

/* osp_tcp_event.flags and osp_tcp_conn.flags */
#define OSP_TCP_F_INBOUND (1U << 0)	/* accepted, not connected */
#define OSP_TCP_F_UNTRACKED (1U << 1)	/* opened before the programs were attached */
#define OSP_TCP_F_ENDED (1U << 2)	/* left ESTABLISHED; counters since then follow in CLOSE */
#define OSP_TCP_F_AFTER_END (1U << 3)	/* CLOSE: counters are what came after END */
#define OSP_TCP_F_NAT (1U << 4)		/* CONNECT: aaddr/aport come from conntrack */
#define OSP_TCP_F_ACTIVE_AFTER_END (1U << 5) /* conn only: traffic after END */
#define OSP_TCP_F_FIN_COUNTED (1U << 6)	/* conn only: the peer's FIN was taken off the count */

/*
 * Records, by hdr.type:
 * - OSP_REC_TCP_CONNECT: an outbound connect reached ESTABLISHED
 *   (duration_ns = SYN_SENT → ESTABLISHED);
 * - OSP_REC_TCP_FAILED: an outbound connect went SYN_SENT → CLOSE;
 * - OSP_REC_TCP_END: an outbound (or untracked) connection left
 *   ESTABLISHED, with its counters so far; inbound ones send no records;
 * - OSP_REC_TCP_CLOSE: the socket reached CLOSE after END with traffic or
 *   retransmits since (counters are the increments after END), or an
 *   untracked socket that was counted lazily reached CLOSE;
 * - OSP_REC_TCP_LISTEN / OSP_REC_TCP_LISTEN_CLOSE: a listening socket
 *   opened or closed (saddr/sport are the listen address).
 */
struct osp_tcp_event {
	struct osp_rec_hdr hdr;
	__u64 sk;	      /* struct sock address: identity while the socket lives */
	__u64 cgroup_id;      /* cgroup v2 id of the connecting/accepting task */
	__u64 start_ns;	      /* boot ns of SYN_SENT (outbound) or accept; 0 unknown */
	__u64 duration_ns;    /* CONNECT, FAILED: since SYN_SENT */
	__u64 bytes_sent;     /* END: total; CLOSE: since END */
	__u64 bytes_received; /* END: total; CLOSE: since END */
	__u32 pid;	      /* tgid of the owner; 0 unknown */
	__s32 fd;	      /* owner's descriptor; -1 unknown */
	__u32 netns;	      /* inode of the socket's network namespace */
	__u32 retransmits;    /* END: tcp_sock.total_retrans; CLOSE: since END */
	__u16 family;	      /* AF_INET (2) or AF_INET6 (10) */
	__u16 sport;	      /* local port, host order */
	__u16 dport;	      /* remote port, host order */
	__u16 aport;	      /* CONNECT with OSP_TCP_F_NAT: post-NAT remote port */
	__u16 flags;	      /* OSP_TCP_F_* */
	__u8 old_state;	      /* TCP state before the change (TCP_ESTABLISHED = 1, ...) */
	__u8 new_state;
	__u32 reserved;
	__u8 saddr[16]; /* IPv6, or IPv4-mapped IPv6 (::ffff:a.b.c.d) */
	__u8 daddr[16];
	__u8 aaddr[16]; /* CONNECT with OSP_TCP_F_NAT: post-NAT remote address */
};

/* value of "tcp_conns" (key: __u64 struct sock address) */
struct osp_tcp_conn {
	__u64 start_ns;
	__u64 cgroup_id;
	__u64 bytes_sent;     /* what sendmsg returned on the socket */
	__u64 bytes_received; /* advance of tcp_sock.copied_seq, the FIN left out */
	__u64 inode;	      /* UNTRACKED entries: the socket's inode (/proc/<pid>/fd), else 0 */
	__u32 pid;
	__s32 fd;
	__u32 retransmits;    /* tcp_sock.total_retrans at the last retransmit */
	__u32 copied_seq;     /* tcp_sock.copied_seq already counted */
	__u32 flags;	      /* OSP_TCP_F_* */
	__u32 end_retransmits; /* retransmits reported in END */
};

/* value of "tcp_nat" (key: struct osp_tcp_tuple of the original direction) */
struct osp_tcp_tuple {
	__u8 saddr[16] __attribute__((aligned(8))); /* compared as two __u64 */
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 reserved;
};

struct osp_tcp_nat {
	/* where the connection really goes (reply source); compared as two __u64 */
	__u8 addr[16] __attribute__((aligned(8)));
	__u16 port;
	__u16 reserved[3];
};

/* indexes into the per-CPU "osp_counters" array of tcp.bpf.c */
enum osp_tcp_counter {
	OSP_TCP_CNT_CONN_FULL = 0,	   /* a connection could not be tracked: tcp_conns full */
	OSP_TCP_CNT_LAZY = 1,		   /* connections first seen after they opened */
	OSP_TCP_CNT_CONNECT_UNTRACKED = 2, /* SYN_SENT → ESTABLISHED of an unknown socket */
	OSP_TCP_CNT_ACCEPTED = 3,	   /* inbound connections established */
	OSP_TCP_CNT_NAT_SEEN = 4,	   /* conntrack entries with a changed destination */
	OSP_TCP_CNT_NAT_FULL = 5,	   /* ... that could not be remembered */
	OSP_TCP_CNT_NAT_USED = 6,	   /* connects that found their NAT destination */
	OSP_TCP_CNT_MAX = 8,
};

#endif /* __OSP_TCP_H */
