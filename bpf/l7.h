/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * L7 payload records (l7.bpf.c → ring buffer "l7_events"): the first bytes
 * of what one read- or write-family syscall moved on a TCP socket (or a UDP
 * socket carrying DNS), with the socket's identity, so user space can detect
 * requests and match each response to its request per connection. Fixed-width
 * fields, largest first, explicit padding, no packing; checked by
 * ffi/layout_test.ts.
 *
 * The socket is named by its struct sock address, as in tcp.h, so a record
 * joins the TCP module's connection (destination, actual destination).
 * Records are variable-sized: hdr.size covers the header and `len` payload
 * bytes, rounded up to 8.
 */
#ifndef __OSP_L7_H
#define __OSP_L7_H

#include "record.h"

/* most payload bytes a record carries */
#define OSP_L7_PAYLOAD_MAX 1024

/* most iovecs of one vectored call (writev, sendmsg, readv, recvmsg, ...) a record copies from */
#define OSP_L7_IOV_MAX 16

/* osp_l7_event.dir */
#define OSP_L7_DIR_WRITE 0 /* the process sent it (write, writev, send*) */
#define OSP_L7_DIR_READ 1  /* the process received it (read, readv, recv*) */

/* osp_l7_event.flags */
#define OSP_L7_F_VECTORED (1U << 0) /* from an iovec array (its first OSP_L7_IOV_MAX iovecs) */
#define OSP_L7_F_CUT (1U << 1)	    /* the syscall moved more than the payload holds */

struct osp_l7_event {
	struct osp_rec_hdr hdr; /* type OSP_REC_L7_PAYLOAD; ts_ns: the syscall's return */
	__u64 sk;		/* struct sock address: identity while the socket lives */
	__u64 cgroup_id;	/* cgroup v2 id of the calling task */
	__u64 size;		/* bytes the syscall moved (its return value) */
	__u32 pid;		/* tgid of the caller */
	__s32 fd;		/* the caller's descriptor */
	__u32 netns;		/* inode of the socket's network namespace */
	__u16 family;		/* AF_INET (2) or AF_INET6 (10) */
	__u16 sport;		/* local port, host order */
	__u16 dport;		/* remote port, host order (0: an unconnected UDP socket) */
	__u8 dir;		/* OSP_L7_DIR_* */
	__u8 l4;		/* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u16 len;		/* payload bytes that follow */
	__u16 flags;		/* OSP_L7_F_* */
	__u32 reserved;
	__u8 saddr[16]; /* IPv6, or IPv4-mapped IPv6 (::ffff:a.b.c.d) */
	__u8 daddr[16];
	__u8 payload[OSP_L7_PAYLOAD_MAX];
};

/* indexes into the per-CPU "osp_counters" array of l7.bpf.c */
enum osp_l7_counter {
	OSP_L7_CNT_ARGS_FULL = 0,   /* a syscall's arguments could not be remembered */
	OSP_L7_CNT_RECORDS = 1,	    /* records written */
	OSP_L7_CNT_CUT = 2,	    /* records whose syscall moved more than they hold */
	OSP_L7_CNT_READ_FAULT = 3,  /* the user buffer (or iovec array) could not be read */
	OSP_L7_CNT_IOV_LEFT = 4,    /* a vectored call moved bytes past OSP_L7_IOV_MAX iovecs */
	OSP_L7_CNT_MAX = 5,
};

#endif /* __OSP_L7_H */
