// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * NAT actual destinations from conntrack, over ctnetlink (plain netlink).
 *
 * Why plain netlink and not libnetfilter_conntrack/libmnl: we need three
 * requests (subscribe to NEW events, dump, GET one tuple) and the tuples of
 * each message. The kernel's UAPI headers give all of it in a few hundred
 * lines; the library would add two runtime packages to every host and image,
 * allocate an object per message and parse every attribute through
 * callbacks, where we read 64 events per recvmmsg() into one buffer and look
 * at two nested attributes.
 *
 * Design (osprey.h has the contract):
 * - A thread of ours enters the namespace and creates two NETLINK_NETFILTER
 *   sockets there: an event socket subscribed to NFNLGRP_CONNTRACK_NEW, and
 *   a query socket for the dump and GETs. Sockets keep their namespace, so
 *   any thread may use them afterwards; no caller thread ever calls setns().
 * - NEW events are enough: NAT bindings are made only on unconfirmed
 *   entries (before the POSTROUTING/INPUT confirm), and the NEW event is
 *   delivered at confirm, so it carries the final reply tuple. UPDATE events
 *   (every TCP state change) would multiply the event rate for nothing.
 * - The cache keeps only TCP entries whose reply source differs from the
 *   original destination (DNAT), keyed by the original tuple: a fixed array
 *   used as a FIFO (the oldest entry is evicted when full) plus a chained hash
 *   index. A lookup costs a hash probe, so a miss is cheap.
 * - A miss means "not NATed" because of causality: the conntrack entry of a
 *   connection is confirmed when its SYN passes the NAT point, which is
 *   before the SYN-ACK can come back, so before the connection is
 *   established and before user space asks. The event is queued to our
 *   socket at confirm, and osp_nat_lookup() drains the socket before
 *   answering. The exceptions are events we may have lost: an overrun
 *   (ENOBUFS), a truncated message, or an evicted entry. Each records the
 *   time it was noticed; a miss for a connection that started at or before
 *   that time is asked with a GET (rate-limited, the rest counted).
 * - The event thread sleeps interval_ms after each drain, so it wakes at most
 *   1000 / interval_ms times a second however many connections are made.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "internal.h"

#define OSP_MAX_NATS 16

static struct osp_slot *nat_items[OSP_MAX_NATS];
static uint32_t nat_gens[OSP_MAX_NATS];
static struct osp_table osp_nats = { .items = nat_items, .gens = nat_gens, .cap = OSP_MAX_NATS };

#define DEF_CAPACITY 65536u
#define MAX_CAPACITY (1u << 24)
#define DEF_RCVBUF (8u << 20)
#define DEF_INTERVAL_MS 20u
#define MAX_INTERVAL_MS 60000u
#define DEF_GET_RATE 2000u

/* event receive slots per recvmmsg(); events are a few hundred bytes each */
#define EV_SLOTS 64
#define EV_SLOT_SIZE 4096
/* dump messages come in skbs of at most 32 KiB */
#define DUMP_BUF_SIZE (64 * 1024)
/* messages the event thread handles per lock hold, so lookups get in */
#define DRAIN_CHUNK 512

#define CT_TYPE(msg) ((NFNL_SUBSYS_CTNETLINK << 8) | (msg))
#define SYSCTL_EVENTS "/proc/sys/net/netfilter/nf_conntrack_events"

static const uint8_t v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* one conntrack tuple as parsed from a message */
struct ct_tuple {
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint8_t proto;
	uint8_t have; /* TUPLE_HAVE_* */
};
#define TUPLE_HAVE_SRC 1
#define TUPLE_HAVE_DST 2
#define TUPLE_HAVE_PROTO 4
#define TUPLE_HAVE_SPORT 8
#define TUPLE_HAVE_DPORT 16
#define TUPLE_HAVE_ALL 31

/* the cache key has the layout of struct osp_nat_query's first 40 bytes */
struct nat_key {
	uint8_t saddr[16] __attribute__((aligned(8)));
	uint8_t daddr[16];
	uint16_t sport;
	uint16_t dport;
	uint32_t zero;
};

struct nat_entry {
	struct nat_key key;
	uint8_t addr[16] __attribute__((aligned(8)));
	uint16_t port;
	uint16_t seeded;
	int32_t next;	  /* next entry in the hash chain, -1 end */
	uint64_t ins_ns;  /* CLOCK_BOOTTIME when cached */
};

struct osp_nat {
	struct osp_slot slot;
	/* options */
	uint32_t capacity, flags, rcvbuf, interval_ms, get_rate;
	char netns[256];
	uint64_t netns_inode;
	int events_sysctl; /* as read; -1 unreadable */
	bool events_set;   /* we wrote 1 */
	bool events_on;	   /* subscribed */

	/* thread */
	pthread_t thread;
	bool thread_started;
	pid_t tid;
	int stop_fd;
	clockid_t thread_clock;
	uint64_t final_cpu_ns;
	bool thread_exited;

	/* everything below: under lock */
	pthread_mutex_t lock;
	int ev_fd; /* event socket, in the namespace */
	int q_fd;  /* query socket (dump, GET), in the namespace */
	uint32_t q_seq;
	uint32_t q_portid;
	uint8_t *ev_buf; /* EV_SLOTS * EV_SLOT_SIZE */
	uint8_t *q_buf;	 /* DUMP_BUF_SIZE */
	struct nat_entry *entries;
	int32_t *buckets;
	uint32_t nbuckets; /* power of two */
	uint32_t head;	   /* next FIFO position */
	uint32_t count;
	uint64_t seed;
	double get_tokens;
	uint64_t get_refill_ns;
	uint64_t sk_drops_seen;
	struct osp_nat_stats st;
};

static uint64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- the cache --- */

static inline uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static uint32_t key_hash(const struct osp_nat *n, const struct nat_key *k)
{
	uint64_t w[5], h = n->seed;

	memcpy(w, k, sizeof(w));
	for (int i = 0; i < 5; i++)
		h = mix(h, w[i]);
	return (uint32_t)(h ^ (h >> 32));
}

static bool key_eq(const struct nat_key *a, const struct nat_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static struct nat_entry *cache_find(struct osp_nat *n, const struct nat_key *k)
{
	for (int32_t i = n->buckets[key_hash(n, k) & (n->nbuckets - 1)]; i >= 0;
	     i = n->entries[i].next)
		if (key_eq(&n->entries[i].key, k))
			return &n->entries[i];
	return NULL;
}

static void cache_unlink(struct osp_nat *n, uint32_t idx)
{
	int32_t *link = &n->buckets[key_hash(n, &n->entries[idx].key) & (n->nbuckets - 1)];

	while (*link >= 0) {
		if ((uint32_t)*link == idx) {
			*link = n->entries[idx].next;
			return;
		}
		link = &n->entries[*link].next;
	}
}

static void cache_put(struct osp_nat *n, const struct nat_key *k, const uint8_t addr[16],
		      uint16_t port, bool seeded, uint64_t now)
{
	struct nat_entry *e = cache_find(n, k);
	uint32_t b;

	if (e) { /* the same tuple again: a reused port, or dump and event both */
		memcpy(e->addr, addr, 16);
		e->port = port;
		e->seeded = seeded;
		return;
	}
	if (n->count == n->capacity) {
		struct nat_entry *old = &n->entries[n->head];

		cache_unlink(n, n->head);
		/* a connection that started before this entry was cached may miss it now */
		if (old->ins_ns > n->st.last_loss_ns)
			n->st.last_loss_ns = old->ins_ns;
		n->st.evicted++;
		n->count--;
	}
	e = &n->entries[n->head];
	e->key = *k;
	memcpy(e->addr, addr, 16);
	e->port = port;
	e->seeded = seeded;
	e->ins_ns = now;
	b = key_hash(n, k) & (n->nbuckets - 1);
	e->next = n->buckets[b];
	n->buckets[b] = (int32_t)n->head;
	n->head = (n->head + 1) % n->capacity;
	n->count++;
}

/* --- parsing ctnetlink messages --- */

/* attributes of a netlink payload, bounds-checked */
struct attr_iter {
	const uint8_t *p;
	size_t len, off;
};

static bool attr_next(struct attr_iter *it, unsigned *type, const uint8_t **data, size_t *dlen)
{
	struct nlattr a;

	if (it->off + NLA_HDRLEN > it->len)
		return false;
	memcpy(&a, it->p + it->off, sizeof(a));
	if (a.nla_len < NLA_HDRLEN || a.nla_len > it->len - it->off)
		return false;
	*type = a.nla_type & NLA_TYPE_MASK;
	*data = it->p + it->off + NLA_HDRLEN;
	*dlen = a.nla_len - NLA_HDRLEN;
	it->off += NLA_ALIGN(a.nla_len);
	return true;
}

/* messages of one datagram, bounds-checked */
struct msg_iter {
	const uint8_t *p;
	size_t len, off;
	bool bad; /* stopped on a malformed header */
};

static const struct nlmsghdr *msg_next(struct msg_iter *it)
{
	struct nlmsghdr nh;
	const uint8_t *at;

	if (it->off + NLMSG_HDRLEN > it->len)
		return NULL;
	at = it->p + it->off;
	memcpy(&nh, at, sizeof(nh));
	if (nh.nlmsg_len < NLMSG_HDRLEN || nh.nlmsg_len > it->len - it->off) {
		it->bad = true;
		return NULL;
	}
	it->off += NLMSG_ALIGN(nh.nlmsg_len);
	/* receive buffers are 8-aligned and messages 4-aligned: a direct view is fine */
	return (const struct nlmsghdr *)at;
}

static void addr_from(uint8_t out[16], const uint8_t *data, size_t dlen)
{
	if (dlen == 4) {
		memcpy(out, v4_prefix, 12);
		memcpy(out + 12, data, 4);
	} else {
		memcpy(out, data, 16);
	}
}

static void parse_tuple(const uint8_t *p, size_t len, struct ct_tuple *t)
{
	struct attr_iter it = { .p = p, .len = len };
	const uint8_t *d;
	size_t dl;
	unsigned type;
	uint16_t be;

	memset(t, 0, sizeof(*t));
	while (attr_next(&it, &type, &d, &dl)) {
		struct attr_iter in = { .p = d, .len = dl };
		const uint8_t *d2;
		size_t dl2;
		unsigned type2;

		if (type == CTA_TUPLE_IP) {
			while (attr_next(&in, &type2, &d2, &dl2)) {
				if ((type2 == CTA_IP_V4_SRC && dl2 == 4) ||
				    (type2 == CTA_IP_V6_SRC && dl2 == 16)) {
					addr_from(t->src, d2, dl2);
					t->have |= TUPLE_HAVE_SRC;
				} else if ((type2 == CTA_IP_V4_DST && dl2 == 4) ||
					   (type2 == CTA_IP_V6_DST && dl2 == 16)) {
					addr_from(t->dst, d2, dl2);
					t->have |= TUPLE_HAVE_DST;
				}
			}
		} else if (type == CTA_TUPLE_PROTO) {
			while (attr_next(&in, &type2, &d2, &dl2)) {
				if (type2 == CTA_PROTO_NUM && dl2 >= 1) {
					t->proto = d2[0];
					t->have |= TUPLE_HAVE_PROTO;
				} else if (type2 == CTA_PROTO_SRC_PORT && dl2 >= 2) {
					memcpy(&be, d2, 2);
					t->sport = ntohs(be);
					t->have |= TUPLE_HAVE_SPORT;
				} else if (type2 == CTA_PROTO_DST_PORT && dl2 >= 2) {
					memcpy(&be, d2, 2);
					t->dport = ntohs(be);
					t->have |= TUPLE_HAVE_DPORT;
				}
			}
		}
	}
}

/*
 * A ctnetlink conntrack message: its original and reply tuples. Returns 1 if
 * it is a TCP entry with a changed destination (fills key and the real
 * destination), 0 for any other entry, -1 if malformed.
 */
static int parse_ct(const struct nlmsghdr *nh, struct nat_key *key, uint8_t addr[16],
		    uint16_t *port)
{
	const size_t hdr = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
	struct attr_iter it = { .p = (const uint8_t *)nh + hdr };
	const uint8_t *d;
	size_t dl;
	unsigned type;
	struct ct_tuple orig, reply;
	bool have_orig = false, have_reply = false;

	if (nh->nlmsg_len < hdr)
		return -1;
	it.len = nh->nlmsg_len - hdr;
	while (attr_next(&it, &type, &d, &dl)) {
		if (type == CTA_TUPLE_ORIG) {
			parse_tuple(d, dl, &orig);
			have_orig = true;
		} else if (type == CTA_TUPLE_REPLY) {
			parse_tuple(d, dl, &reply);
			have_reply = true;
		}
	}
	if (!have_orig || !have_reply || orig.have != TUPLE_HAVE_ALL ||
	    reply.have != TUPLE_HAVE_ALL)
		return -1;
	if (orig.proto != IPPROTO_TCP)
		return 0;
	if (memcmp(orig.dst, reply.src, 16) == 0 && orig.dport == reply.sport)
		return 0; /* destination unchanged (maybe SNAT only) */
	memset(key, 0, sizeof(*key));
	memcpy(key->saddr, orig.src, 16);
	memcpy(key->daddr, orig.dst, 16);
	key->sport = orig.sport;
	key->dport = orig.dport;
	memcpy(addr, reply.src, 16);
	*port = reply.sport;
	return 1;
}

static bool is_ct_msg(const struct nlmsghdr *nh)
{
	return nh->nlmsg_type == CT_TYPE(IPCTNL_MSG_CT_NEW);
}

/* the error of an NLMSG_ERROR message (0 is an ack), -EBADMSG if short */
static int nl_error(const struct nlmsghdr *nh)
{
	struct nlmsgerr e;

	if (nh->nlmsg_len < NLMSG_HDRLEN + sizeof(e))
		return -EBADMSG;
	memcpy(&e, (const uint8_t *)nh + NLMSG_HDRLEN, sizeof(e));
	return e.error;
}

/* --- the event socket --- */

static void note_loss(struct osp_nat *n, uint64_t now)
{
	if (now > n->st.last_loss_ns)
		n->st.last_loss_ns = now;
}

static void read_drops(struct osp_nat *n)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);

	if (getsockopt(n->ev_fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
	    len > SK_MEMINFO_DROPS * sizeof(uint32_t)) {
		uint32_t d = mem[SK_MEMINFO_DROPS];

		/* a u32 in the kernel: count the wraps */
		n->st.dropped += (uint32_t)(d - (uint32_t)n->sk_drops_seen);
		n->sk_drops_seen = d;
	}
}

/*
 * Read pending events (without blocking) into the cache, at most max_msgs
 * (0: until the socket is empty). Returns messages read. Under n->lock.
 */
static uint32_t drain_events(struct osp_nat *n, uint32_t max_msgs)
{
	struct mmsghdr msgs[EV_SLOTS];
	struct iovec iov[EV_SLOTS];
	uint32_t total = 0;

	if (n->ev_fd < 0)
		return 0;
	for (;;) {
		uint64_t now;
		int got;

		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < EV_SLOTS; i++) {
			iov[i].iov_base = n->ev_buf + (size_t)i * EV_SLOT_SIZE;
			iov[i].iov_len = EV_SLOT_SIZE;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		got = recvmmsg(n->ev_fd, msgs, EV_SLOTS, MSG_DONTWAIT, NULL);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* the kernel dropped events: which ones, we cannot know */
				n->st.overruns++;
				read_drops(n);
				note_loss(n, boot_ns());
				continue;
			}
			break; /* EAGAIN: empty */
		}
		now = boot_ns();
		for (int i = 0; i < got; i++) {
			struct msg_iter it = { .p = n->ev_buf + (size_t)i * EV_SLOT_SIZE,
					       .len = msgs[i].msg_len };
			const struct nlmsghdr *nh;

			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				n->st.truncated++;
				note_loss(n, now);
				continue;
			}
			while ((nh = msg_next(&it))) {
				struct nat_key key;
				uint8_t addr[16];
				uint16_t port;

				if (!is_ct_msg(nh))
					continue;
				n->st.events++;
				if (parse_ct(nh, &key, addr, &port) == 1) {
					n->st.nat_events++;
					cache_put(n, &key, addr, port, false, now);
				}
			}
		}
		total += (uint32_t)got;
		if (got < EV_SLOTS || (max_msgs && total >= max_msgs))
			break;
	}
	return total;
}

/* --- the query socket: dump and GET --- */

static int nl_socket(int *out, uint32_t *portid)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t len = sizeof(sa);
	int fd, one = 1;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	/* acks without a copy of our request */
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	*out = fd;
	if (portid)
		*portid = sa.nl_pid;
	return 0;
}

static size_t put_attr(uint8_t *buf, size_t off, uint16_t type, const void *data, size_t len)
{
	struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + len), .nla_type = type };

	memcpy(buf + off, &a, sizeof(a));
	if (len)
		memcpy(buf + off + NLA_HDRLEN, data, len);
	memset(buf + off + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	return off + NLA_HDRLEN + NLA_ALIGN(len);
}

/* open a nested attribute at off; close it with nest_end(buf, off, end) */
static size_t nest_end(uint8_t *buf, size_t start, size_t end)
{
	struct nlattr a;

	memcpy(&a, buf + start, sizeof(a));
	a.nla_len = (uint16_t)(end - start);
	memcpy(buf + start, &a, sizeof(a));
	return end;
}

static size_t put_request(uint8_t *buf, uint16_t msg, uint16_t flags, uint8_t family,
			  uint32_t seq)
{
	struct nlmsghdr nh = {
		.nlmsg_len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)),
		.nlmsg_type = CT_TYPE(msg),
		.nlmsg_flags = NLM_F_REQUEST | flags,
		.nlmsg_seq = seq,
	};
	struct nfgenmsg g = { .nfgen_family = family, .version = NFNETLINK_V0, .res_id = 0 };

	memcpy(buf, &nh, sizeof(nh));
	memcpy(buf + NLMSG_HDRLEN, &g, sizeof(g));
	return nh.nlmsg_len;
}

static void set_len(uint8_t *buf, size_t len)
{
	uint32_t l = (uint32_t)len;

	memcpy(buf + offsetof(struct nlmsghdr, nlmsg_len), &l, sizeof(l));
}

static int send_all(int fd, const uint8_t *buf, size_t len)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	for (;;) {
		ssize_t k = sendto(fd, buf, len, 0, (struct sockaddr *)&kernel, sizeof(kernel));

		if (k >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* Dump the table into the cache. Called on the thread, during open. */
static int dump_table(struct osp_nat *n, uint64_t mark)
{
	uint8_t req[64];
	uint32_t seq = ++n->q_seq;
	size_t len = put_request(req, IPCTNL_MSG_CT_GET, NLM_F_DUMP, AF_UNSPEC, seq);
	int err;

	set_len(req, len);
	err = send_all(n->q_fd, req, len);
	if (err)
		return osp_fail(mark, err, "dump conntrack: send");
	for (;;) {
		ssize_t got = recv(n->q_fd, n->q_buf, DUMP_BUF_SIZE, 0);
		struct msg_iter it = { .p = n->q_buf };
		const struct nlmsghdr *nh;
		uint64_t now = boot_ns();

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return osp_fail(mark, -errno, "dump conntrack: receive");
		}
		it.len = (size_t)got;
		while ((nh = msg_next(&it))) {
			struct nat_key key;
			uint8_t addr[16];
			uint16_t port;

			if (nh->nlmsg_seq != seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				int e = nl_error(nh);

				if (e)
					return osp_fail(mark, e, "dump conntrack");
			} else if (is_ct_msg(nh)) {
				n->st.dumped++;
				if (parse_ct(nh, &key, addr, &port) == 1) {
					n->st.seeded++;
					cache_put(n, &key, addr, port, true, now);
				}
			}
		}
		if (it.bad)
			return osp_fail(mark, -EBADMSG, "dump conntrack: malformed message");
	}
}

/*
 * Ask the kernel for one tuple's entry. 1 found with a changed destination
 * (addr/port filled), 0 no such entry or not DNAT, -errno on failure.
 * Under n->lock. The kernel answers inside sendto(), so the reply is queued
 * when it returns.
 */
static int get_tuple(struct osp_nat *n, const struct nat_key *k, uint8_t addr[16],
		     uint16_t *port)
{
	uint8_t req[160];
	bool v4 = memcmp(k->saddr, v4_prefix, 12) == 0;
	uint32_t seq = ++n->q_seq;
	size_t off = put_request(req, IPCTNL_MSG_CT_GET, 0, v4 ? AF_INET : AF_INET6, seq);
	size_t orig, ip, proto;
	uint16_t sport = htons(k->sport), dport = htons(k->dport);
	uint8_t tcp = IPPROTO_TCP;
	int err;

	orig = off;
	off = put_attr(req, off, CTA_TUPLE_ORIG | NLA_F_NESTED, NULL, 0);
	ip = off;
	off = put_attr(req, off, CTA_TUPLE_IP | NLA_F_NESTED, NULL, 0);
	if (v4) {
		off = put_attr(req, off, CTA_IP_V4_SRC, k->saddr + 12, 4);
		off = put_attr(req, off, CTA_IP_V4_DST, k->daddr + 12, 4);
	} else {
		off = put_attr(req, off, CTA_IP_V6_SRC, k->saddr, 16);
		off = put_attr(req, off, CTA_IP_V6_DST, k->daddr, 16);
	}
	nest_end(req, ip, off);
	proto = off;
	off = put_attr(req, off, CTA_TUPLE_PROTO | NLA_F_NESTED, NULL, 0);
	off = put_attr(req, off, CTA_PROTO_NUM, &tcp, 1);
	off = put_attr(req, off, CTA_PROTO_SRC_PORT, &sport, 2);
	off = put_attr(req, off, CTA_PROTO_DST_PORT, &dport, 2);
	nest_end(req, proto, off);
	nest_end(req, orig, off);
	set_len(req, off);

	err = send_all(n->q_fd, req, off);
	if (err)
		return err;
	for (;;) {
		ssize_t got = recv(n->q_fd, n->q_buf, DUMP_BUF_SIZE, MSG_DONTWAIT);
		struct msg_iter it = { .p = n->q_buf };
		const struct nlmsghdr *nh;

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno; /* EAGAIN: no answer, which the kernel never does */
		}
		it.len = (size_t)got;
		while ((nh = msg_next(&it))) {
			struct nat_key key;
			int r;

			if (nh->nlmsg_seq != seq)
				continue; /* an older answer */
			if (nh->nlmsg_type == NLMSG_ERROR) {
				r = nl_error(nh);
				return r == -ENOENT ? 0 : (r ? r : -EBADMSG);
			}
			if (!is_ct_msg(nh))
				continue;
			r = parse_ct(nh, &key, addr, port);
			if (r < 0)
				return -EBADMSG;
			/* the entry may hold our tuple as its reply direction */
			return r == 1 && key_eq(&key, k);
		}
		if (it.bad)
			return -EBADMSG;
	}
}

static bool take_get_token(struct osp_nat *n, uint64_t now)
{
	if (n->get_rate == UINT32_MAX)
		return true;
	if (now > n->get_refill_ns) {
		n->get_tokens += (double)(now - n->get_refill_ns) * n->get_rate / 1e9;
		if (n->get_tokens > n->get_rate)
			n->get_tokens = n->get_rate;
		n->get_refill_ns = now;
	}
	if (n->get_tokens < 1)
		return false;
	n->get_tokens -= 1;
	return true;
}

/* --- the thread --- */

struct nat_start {
	struct osp_nat *n;
	uint64_t mark;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
};

static int read_sysctl(int *value)
{
	char buf[32];
	int fd = open(SYSCTL_EVENTS, O_RDONLY | O_CLOEXEC);
	ssize_t k;

	if (fd < 0)
		return -errno;
	k = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (k <= 0)
		return k < 0 ? -errno : -EIO;
	buf[k] = 0;
	*value = atoi(buf);
	return 0;
}

static int write_sysctl_one(void)
{
	int fd = open(SYSCTL_EVENTS, O_WRONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "1", 1) != 1)
		err = -errno;
	close(fd);
	return err;
}

static int join_group(int fd, int group)
{
	return setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0
		       ? -errno
		       : 0;
}

/* everything done inside the namespace; the thread's first steps */
static int nat_setup(struct osp_nat *n, uint64_t mark)
{
	struct stat st;
	int err, v = -1, size;
	socklen_t len = sizeof(size);

	if (n->netns[0]) {
		int fd = open(n->netns, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return osp_fail(mark, -errno, "watch conntrack: open network namespace '%s'",
					n->netns);
		if (setns(fd, CLONE_NEWNET) < 0) {
			err = -errno;
			close(fd);
			if (err == -EINVAL)
				return osp_fail(mark, err,
						"watch conntrack: '%s' is not a network namespace",
						n->netns);
			return osp_fail(mark, err,
					"watch conntrack: enter network namespace '%s' (setns needs "
					"CAP_SYS_ADMIN)",
					n->netns);
		}
		close(fd);
	}
	if (stat("/proc/thread-self/ns/net", &st) == 0)
		n->netns_inode = st.st_ino;

	n->events_sysctl = -1;
	if (read_sysctl(&v) == 0)
		n->events_sysctl = v;
	if (n->events_sysctl == 0 && (n->flags & OSP_NAT_SET_EVENTS)) {
		err = write_sysctl_one();
		if (err)
			return osp_fail(mark, err,
					"watch conntrack: set %s to 1 (it is 0: no conntrack events)",
					SYSCTL_EVENTS);
		n->events_set = true;
		n->events_sysctl = 1;
	}

	err = nl_socket(&n->q_fd, &n->q_portid);
	if (err)
		return osp_fail(mark, err, "watch conntrack: open a netfilter netlink socket");

	/* 0 in the namespace: the kernel sends no events; answer misses with GETs */
	if (!(n->flags & OSP_NAT_NO_EVENTS) && n->events_sysctl != 0) {
		err = nl_socket(&n->ev_fd, NULL);
		if (err)
			return osp_fail(mark, err, "watch conntrack: open the event socket");
		size = (int)n->rcvbuf;
		if (setsockopt(n->ev_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
			setsockopt(n->ev_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
		if (getsockopt(n->ev_fd, SOL_SOCKET, SO_RCVBUF, &size, &len) == 0)
			n->rcvbuf = (uint32_t)size;
		err = join_group(n->ev_fd, NFNLGRP_CONNTRACK_NEW);
		if (err)
			return osp_fail(mark, err,
					"watch conntrack: subscribe to conntrack events (needs "
					"CAP_NET_ADMIN in the namespace)");
		n->events_on = true;
	}

	/* after subscribing, so no entry falls between the dump and the events */
	if (!(n->flags & OSP_NAT_NO_SEED)) {
		err = dump_table(n, mark);
		if (err == -EPERM)
			return osp_fail(mark, err,
					"watch conntrack: dump the table (needs CAP_NET_ADMIN in the "
					"namespace)");
		if (err)
			return err;
	}
	return 0;
}

static void *nat_thread(void *arg)
{
	struct nat_start *start = arg;
	struct osp_nat *n = start->n;
	int err;

	/* all signals blocked (the opener made us so): they belong to the runtime's threads */
	n->tid = (pid_t)syscall(SYS_gettid);
	pthread_getcpuclockid(pthread_self(), &n->thread_clock);

	err = nat_setup(n, start->mark);
	pthread_mutex_lock(&start->lock);
	start->err = err;
	start->done = true;
	pthread_cond_signal(&start->cond);
	pthread_mutex_unlock(&start->lock);
	/* start lives on the opener's stack: not touched after this */
	if (err)
		return NULL;

	for (;;) {
		struct pollfd pf[2] = {
			{ .fd = n->stop_fd, .events = POLLIN },
			{ .fd = n->ev_fd, .events = POLLIN },
		};
		uint32_t got;

		if (poll(pf, n->ev_fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break;
		do {
			pthread_mutex_lock(&n->lock);
			got = drain_events(n, DRAIN_CHUNK);
			n->st.drains++;
			pthread_mutex_unlock(&n->lock);
		} while (got >= DRAIN_CHUNK);
		/* let events gather: wakeups stay at most 1000 / interval_ms a second */
		if (poll(pf, 1, (int)n->interval_ms) > 0)
			break;
	}
	{
		struct timespec ts;

		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		pthread_mutex_lock(&n->lock);
		n->final_cpu_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		n->thread_exited = true;
		pthread_mutex_unlock(&n->lock);
	}
	return NULL;
}

static void nat_stop_thread(struct osp_nat *n)
{
	uint64_t one = 1;

	if (!n->thread_started)
		return;
	if (write(n->stop_fd, &one, sizeof(one)) < 0) {
		/* an eventfd write only fails on overflow, impossible here */
	}
	pthread_join(n->thread, NULL);
	n->thread_started = false;
}

static void nat_on_close(struct osp_slot *s)
{
	nat_stop_thread((struct osp_nat *)s);
}

static void nat_destroy(struct osp_slot *s)
{
	struct osp_nat *n = (struct osp_nat *)s;

	nat_stop_thread(n);
	if (n->ev_fd >= 0)
		close(n->ev_fd);
	if (n->q_fd >= 0)
		close(n->q_fd);
	if (n->stop_fd >= 0)
		close(n->stop_fd);
	pthread_mutex_destroy(&n->lock);
	free(n->ev_buf);
	free(n->q_buf);
	free(n->entries);
	free(n->buckets);
	free(n);
}

static void apply_options(struct osp_nat *n, const uint8_t *options, uint32_t options_len)
{
	struct osp_nat_options o = { 0 };

	if (options && options_len)
		memcpy(&o, options, options_len < sizeof(o) ? options_len : sizeof(o));
	n->capacity = o.capacity ? o.capacity : DEF_CAPACITY;
	if (n->capacity > MAX_CAPACITY)
		n->capacity = MAX_CAPACITY;
	n->flags = o.flags;
	n->rcvbuf = o.rcvbuf ? o.rcvbuf : DEF_RCVBUF;
	if (n->rcvbuf > INT_MAX / 2)
		n->rcvbuf = INT_MAX / 2;
	n->interval_ms = o.interval_ms ? o.interval_ms : DEF_INTERVAL_MS;
	if (n->interval_ms > MAX_INTERVAL_MS)
		n->interval_ms = MAX_INTERVAL_MS;
	n->get_rate = o.get_rate ? o.get_rate : DEF_GET_RATE;
}

OSP_API int osp_nat_open(const uint8_t *netns_path, const uint8_t *options, uint32_t options_len)
{
	uint64_t mark = osp_log_mark();
	const char *path = (const char *)netns_path;
	struct nat_start start = { .mark = mark, .err = 0 };
	sigset_t all, old_mask;
	struct osp_nat *n;
	size_t plen;
	int err, h;

	if (!path || !memchr(path, 0, sizeof(n->netns)))
		return osp_fail(mark, -EINVAL,
				"watch conntrack: namespace path must be NUL-terminated and "
				"shorter than %zu bytes",
				sizeof(n->netns));
	plen = strlen(path);
	if (options_len > 0 && !options)
		return osp_fail(mark, -EINVAL, "watch conntrack: options length without options");

	n = calloc(1, sizeof(*n));
	if (!n)
		return osp_fail(mark, -ENOMEM, "watch conntrack");
	n->slot.on_close = nat_on_close;
	n->slot.destroy = nat_destroy;
	n->ev_fd = n->q_fd = n->stop_fd = -1;
	pthread_mutex_init(&n->lock, NULL);
	memcpy(n->netns, path, plen + 1);
	apply_options(n, options, options_len);
	n->st.capacity = n->capacity;

	/* at least twice as many buckets as entries, a power of two */
	n->nbuckets = 1;
	while (n->nbuckets < 2 * n->capacity)
		n->nbuckets <<= 1;
	n->entries = calloc(n->capacity, sizeof(*n->entries));
	n->buckets = malloc((size_t)n->nbuckets * sizeof(*n->buckets));
	n->ev_buf = malloc((size_t)EV_SLOTS * EV_SLOT_SIZE);
	n->q_buf = malloc(DUMP_BUF_SIZE);
	if (!n->entries || !n->buckets || !n->ev_buf || !n->q_buf) {
		err = osp_fail(mark, -ENOMEM, "watch conntrack: cache of %u entries", n->capacity);
		goto fail;
	}
	memset(n->buckets, 0xff, (size_t)n->nbuckets * sizeof(*n->buckets)); /* all -1 */
	if (getrandom(&n->seed, sizeof(n->seed), GRND_NONBLOCK) != sizeof(n->seed))
		n->seed = boot_ns() ^ (uint64_t)(uintptr_t)n;
	n->get_tokens = n->get_rate;
	n->get_refill_ns = boot_ns();

	n->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->stop_fd < 0) {
		err = osp_fail(mark, -errno, "watch conntrack: eventfd");
		goto fail;
	}

	start.n = n;
	pthread_mutex_init(&start.lock, NULL);
	pthread_cond_init(&start.cond, NULL);
	/* the thread inherits this mask, so no signal ever lands on it */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old_mask);
	err = -pthread_create(&n->thread, NULL, nat_thread, &start);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	if (err) {
		osp_fail(mark, err, "watch conntrack: start thread");
		goto fail_start;
	}
	pthread_setname_np(n->thread, "osp-nat");
	n->thread_started = true;
	pthread_mutex_lock(&start.lock);
	while (!start.done)
		pthread_cond_wait(&start.cond, &start.lock);
	pthread_mutex_unlock(&start.lock);
	err = start.err;
	if (err) {
		pthread_join(n->thread, NULL); /* it returned right after reporting */
		n->thread_started = false;
		goto fail_start;
	}
	pthread_cond_destroy(&start.cond);
	pthread_mutex_destroy(&start.lock);

	h = osp_table_insert(&osp_nats, &n->slot);
	if (h < 0) {
		err = osp_fail(mark, h, "watch conntrack: too many watchers");
		goto fail;
	}
	return h;

fail_start:
	pthread_cond_destroy(&start.cond);
	pthread_mutex_destroy(&start.lock);
fail:
	nat_destroy(&n->slot);
	return err;
}

static struct osp_nat *nat_get(int h)
{
	return (struct osp_nat *)osp_table_acquire(&osp_nats, h);
}

static void nat_put(struct osp_nat *n)
{
	osp_slot_release(&n->slot);
}

OSP_API int osp_nat_info(int h, uint8_t *buf, uint32_t cap)
{
	struct osp_nat *n = nat_get(h);
	char text[768];
	int k;

	if (!n)
		return -EBADF;
	k = snprintf(text, sizeof(text),
		     "netns=%s\nnetns_inode=%llu\nnf_conntrack_events=%d\nevents_set=%d\n"
		     "mode=%s\ncapacity=%u\nrcvbuf=%u\ninterval_ms=%u\nget_rate=%u\n"
		     "thread_tid=%d\n",
		     n->netns[0] ? n->netns : "(caller's)", (unsigned long long)n->netns_inode,
		     n->events_sysctl, n->events_set, n->events_on ? "events" : "get",
		     n->capacity, n->rcvbuf, n->interval_ms, n->get_rate, (int)n->tid);
	nat_put(n);
	if (k < 0 || (size_t)k >= sizeof(text))
		return -ENOSPC;
	return osp_copy_text(buf, cap, text, (size_t)k);
}

OSP_API int osp_nat_lookup(int h, const uint8_t *queries, uint32_t count, uint8_t *results,
			   uint32_t cap)
{
	struct osp_nat *n;
	uint64_t now;

	if ((uint64_t)count * sizeof(struct osp_nat_result) > cap)
		return -ENOSPC;
	if (count > INT_MAX)
		return -EINVAL;
	if (count && (!queries || !results))
		return -EINVAL;
	n = nat_get(h);
	if (!n)
		return -EBADF;

	pthread_mutex_lock(&n->lock);
	/* every event queued before this call is in the cache afterwards */
	drain_events(n, 0);
	now = boot_ns();
	for (uint32_t i = 0; i < count; i++) {
		struct osp_nat_query q;
		struct osp_nat_result r = { .flags = 0 };
		struct nat_key k = { .zero = 0 };
		const struct nat_entry *e;
		bool v4s, v4d;

		memcpy(&q, queries + (size_t)i * sizeof(q), sizeof(q));
		memcpy(k.saddr, q.saddr, 16);
		memcpy(k.daddr, q.daddr, 16);
		k.sport = q.sport;
		k.dport = q.dport;
		n->st.lookups++;
		v4s = memcmp(q.saddr, v4_prefix, 12) == 0;
		v4d = memcmp(q.daddr, v4_prefix, 12) == 0;
		e = cache_find(n, &k);
		if (e) {
			n->st.hits++;
			memcpy(r.addr, e->addr, 16);
			r.port = e->port;
			r.flags = OSP_NAT_R_FOUND | (e->seeded ? OSP_NAT_R_SEEDED : 0);
		} else if (v4s != v4d) {
			n->st.misses++;
			r.flags = OSP_NAT_R_BAD_QUERY;
		} else {
			n->st.misses++;
			/* no events, or one may have been lost since this connection began */
			if (!n->events_on ||
			    (n->st.last_loss_ns && n->st.last_loss_ns >= q.start_ns)) {
				uint8_t addr[16];
				uint16_t port;
				int got;

				if (!take_get_token(n, now)) {
					n->st.unverified++;
					r.flags = OSP_NAT_R_UNVERIFIED;
				} else {
					n->st.gets++;
					r.flags = OSP_NAT_R_GET;
					got = get_tuple(n, &k, addr, &port);
					if (got == 1) {
						n->st.get_found++;
						memcpy(r.addr, addr, 16);
						r.port = port;
						r.flags |= OSP_NAT_R_FOUND;
						cache_put(n, &k, addr, port, false, now);
					} else if (got < 0) {
						n->st.get_errors++;
						n->st.unverified++;
						r.flags |= OSP_NAT_R_UNVERIFIED;
					}
				}
			}
		}
		memcpy(results + (size_t)i * sizeof(r), &r, sizeof(r));
	}
	pthread_mutex_unlock(&n->lock);
	nat_put(n);
	return (int)count;
}

OSP_API int osp_nat_stats(int h, uint8_t *buf, uint32_t cap)
{
	struct osp_nat *n = nat_get(h);
	struct osp_nat_stats st;
	size_t len;

	if (!n)
		return -EBADF;
	pthread_mutex_lock(&n->lock);
	if (n->ev_fd >= 0)
		read_drops(n);
	n->st.cached = n->count;
	st = n->st;
	if (n->thread_exited) {
		st.thread_cpu_ns = n->final_cpu_ns;
	} else {
		struct timespec ts;

		if (clock_gettime(n->thread_clock, &ts) == 0)
			st.thread_cpu_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	pthread_mutex_unlock(&n->lock);
	nat_put(n);
	if (!buf)
		cap = 0;
	len = cap < sizeof(st) ? cap : sizeof(st);
	if (len)
		memcpy(buf, &st, len);
	return (int)len;
}

OSP_API int osp_nat_close(int h)
{
	return osp_table_close(&osp_nats, h);
}
