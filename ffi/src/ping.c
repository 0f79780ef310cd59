// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * osp_ping(): ICMP and ICMPv6 echo round-trip times, measured from inside a
 * network namespace.
 *
 * One call:
 *  - the namespace file is opened on the calling thread; a thread of our own
 *    enters it with setns() and does all the work, so the caller (a Deno pool
 *    thread) never changes namespace. An empty path pings from the caller's
 *    own namespace, on the calling thread;
 *  - one socket per address family in use: raw where CAP_NET_RAW allows it,
 *    else an ICMP datagram ("ping") socket where net.ipv4.ping_group_range
 *    allows the caller's group (that sysctl governs ICMPv6 ping sockets too);
 *  - one echo request per target, then replies, ICMP errors and TX
 *    timestamps are collected until every target has a result or the
 *    deadline passes. Sockets are drained while sending, so a large batch
 *    does not overflow the receive buffer.
 *
 * Matching. A raw socket sees every echo reply of its namespace, so a reply
 * counts only if its identifier is this call's (taken from a process-wide
 * counter, so concurrent calls differ), its source is the target, its
 * sequence is the target's index (mod 2^16) and its payload carries this
 * call's random 64-bit cookie and the full index. Datagram sockets receive
 * only replies to their own identifier, which the kernel picks; the rest of
 * the check is the same. ICMP errors are matched on the quoted request the
 * same way (a router may quote only 8 bytes: then identifier, sequence and
 * the quoted destination).
 *
 * Timing. SO_TIMESTAMPING software timestamps, all CLOCK_REALTIME: the TX
 * stamp comes back on the socket's error queue keyed by the per-socket
 * counter of SOF_TIMESTAMPING_OPT_ID (SND from the driver, or SCHED from the
 * qdisc where the driver stamps nothing), the RX stamp rides on the reply.
 * What is missing is replaced by clock_gettime() readings taken just before
 * sendto() and at recvmsg(). A kernel-based RTT that is negative or longer
 * than those readings allow (a clock step, a key counted wrong) is replaced
 * by the CLOCK_MONOTONIC measurement and loses its kernel flags. The driver
 * stamps a request when it leaves, after ARP or neighbour discovery, so the
 * first probe to a new neighbour measures the round trip, not the resolution
 * (with the fallback clock it includes it: 0.2-0.9 ms on a fresh veth pair).
 *
 * Why a socket is kept open (coroot-node-agent's issue #90 is the same
 * finding). The kernel stamps received packets only while its netstamp
 * static key is on, which it is while some socket anywhere has RX
 * timestamping enabled; the first such socket switches it on through a work
 * queue, so packets arriving in the meantime carry no timestamp, and a veth
 * reply (microseconds) beats the work queue. Closing the last such socket
 * switches it off again, also through the work queue. So the first call
 * makes one socket with RX timestamping that is never closed, and waits
 * (once, at most ~220 ms, usually one loopback round trip) until a loopback
 * datagram comes back stamped. Measured on this kernel (6.18), batches over
 * veth 0.5 s apart in two processes: without that socket, 18 of 24 replies
 * had no RX timestamp (all but the first two batches); with it, none.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/icmp6.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <linux/nsfs.h>

#include "internal.h"

/* <linux/icmp.h> clashes with glibc's <netinet/ip_icmp.h>; these two suffice */
#define OSP_ICMP_FILTER 1 /* SOL_RAW option: bit mask of ICMP types to drop */
#define ICMP4_ECHOREPLY 0
#define ICMP4_ECHO 8

#define PING_THREAD_STACK (256 * 1024)
/* drain replies and stamps after this many sends while sending */
#define DRAIN_EVERY 8
/* bytes of receive buffer asked for per target: a reply and two TX stamps */
#define RCVBUF_PER_TARGET 2048
#define RCVBUF_MAX (8 << 20)

_Static_assert(sizeof(struct osp_ping_target) == 24, "osp_ping_target layout");
_Static_assert(sizeof(struct osp_ping_result) == 16, "osp_ping_result layout");

/* The echo message we send: ICMP header, then our payload, 24 bytes. */
struct echo {
	uint8_t type;
	uint8_t code;
	uint16_t cksum;
	uint16_t id;	 /* network order */
	uint16_t seq;	 /* network order: target index mod 2^16 */
	uint64_t cookie; /* this call's random value, echoed back */
	uint32_t index;	 /* target index, host order (echoed verbatim) */
	uint32_t zero;
};
_Static_assert(sizeof(struct echo) == 24, "echo layout");

enum { FAM_V4, FAM_V6, FAM_N };

enum probe_state {
	P_UNSENT,  /* not sent (yet) */
	P_SENT,	   /* waiting for a reply */
	P_REPLIED, /* reply matched */
	P_FAILED,  /* err is final */
};

enum { TX_NONE, TX_SCHED, TX_SND };

struct probe {
	int64_t mono_tx, real_tx; /* clock_gettime just before sendto() */
	int64_t mono_rx, real_rx; /* clock_gettime at the reply's recvmsg() */
	int64_t k_tx, k_rx;	  /* kernel timestamps (CLOCK_REALTIME ns), 0 = none */
	int err;		  /* negative errno once P_FAILED */
	uint32_t flags;		  /* OSP_PING_R_* gathered so far */
	uint8_t state;
	uint8_t tx_kind;
	uint8_t icmp_type, icmp_code;
};

struct psock {
	int fd;	 /* -1 when no socket */
	int err; /* negative errno when the family has no socket */
	bool dgram;
	bool stamping;	    /* SO_TIMESTAMPING accepted */
	bool keys_ok;	    /* TX stamp keys still counted right */
	bool opened;
	uint16_t id;	    /* raw sockets: our identifier */
	uint32_t nkeys;	    /* TX stamp keys handed out */
	uint32_t *key_target; /* key -> target index */
};

struct job {
	const char *path;
	int nsfd;
	const uint8_t *targets_raw;
	struct osp_ping_target *targets;
	uint8_t *results_raw;
	uint32_t count;
	uint32_t flags;
	int64_t deadline; /* CLOCK_MONOTONIC ns */
	uint64_t cookie;
	uint32_t pending; /* sent, without a result yet */
	uint32_t answered;
	struct psock socks[FAM_N];
	struct probe *probes;
	int ret;
};

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static int64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* --- process-wide state --- */

static pthread_once_t keeper_once = PTHREAD_ONCE_INIT;
static int keeper_fd = -1; /* never closed: keeps RX timestamping on */
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;
static uint64_t seed;
static _Atomic uint32_t id_counter;
static _Atomic uint64_t cookie_counter;

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void seed_init(void)
{
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = splitmix64((uint64_t)now_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32));
}

/* a fresh cookie per call: unpredictable, and distinct within the process */
static uint64_t next_cookie(void)
{
	uint64_t c;

	if (getrandom(&c, sizeof(c), GRND_NONBLOCK) == sizeof(c))
		return c;
	return splitmix64(seed + atomic_fetch_add(&cookie_counter, 1));
}

/* identifiers of raw sockets: random start, then distinct for 65536 calls */
static uint16_t next_id(void)
{
	return (uint16_t)(seed + atomic_fetch_add(&id_counter, 1));
}

/* one loopback datagram to a timestamping socket: did it come back stamped? */
static int loopback_stamped(int fd, const struct sockaddr_in *self)
{
	char data[1], control[256];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control,
		.msg_controllen = sizeof(control),
	};
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (sendto(fd, "x", 1, 0, (const struct sockaddr *)self, sizeof(*self)) != 1)
		return -1;
	if (poll(&pfd, 1, 10) != 1 || recvmsg(fd, &msg, MSG_DONTWAIT) < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
			struct scm_timestamping ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			return ts_ns(&ts.ts[0]) != 0;
		}
	}
	return 0;
}

static void keeper_init(void)
{
	int flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	struct sockaddr_in self = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(self);
	int fd, probe;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags)) < 0) {
		close(fd);
		return;
	}
	keeper_fd = fd; /* unbound, so it never receives anything */

	/*
	 * Wait until the deferred switch has happened, with a second socket
	 * talking to itself over loopback. Bounded: gives up at once when
	 * loopback is down, and after 20 tries (~200 ms) in the worst case.
	 */
	probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return;
	if (setsockopt(probe, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags)) == 0 &&
	    bind(probe, (struct sockaddr *)&self, sizeof(self)) == 0 &&
	    getsockname(probe, (struct sockaddr *)&self, &len) == 0) {
		for (int i = 0; i < 20; i++) {
			int r = loopback_stamped(probe, &self);

			if (r != 0)
				break;
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
		}
	}
	close(probe);
}

/* --- sockets --- */

static bool is_v4(const struct osp_ping_target *t)
{
	return t->family == AF_INET;
}

static void set_rcvbuf(int fd, uint32_t count)
{
	uint64_t want = (uint64_t)count * RCVBUF_PER_TARGET + 65536;
	int v = want > RCVBUF_MAX ? RCVBUF_MAX : (int)want;

	/* FORCE needs CAP_NET_ADMIN; plain SO_RCVBUF is capped by net.core.rmem_max */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

static void open_family(struct job *j, int fam)
{
	struct psock *s = &j->socks[fam];
	int af = fam == FAM_V4 ? AF_INET : AF_INET6;
	int proto = fam == FAM_V4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	int raw_err = 0, fd = -1, on = 1;

	s->opened = true;
	if (!(j->flags & OSP_PING_DGRAM_ONLY)) {
		fd = socket(af, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
		if (fd < 0)
			raw_err = errno;
	}
	if (fd < 0) {
		fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
		if (fd < 0) {
			int e = errno;

			/*
			 * raw: EPERM without CAP_NET_RAW; datagram: EACCES when
			 * ping_group_range leaves out our group. Both: EPERM.
			 */
			if ((e == EACCES || e == EPERM) &&
			    (raw_err == 0 || raw_err == EPERM || raw_err == EACCES))
				e = EPERM;
			s->err = -e;
			return;
		}
		s->dgram = true;
	}
	s->fd = fd;
	s->id = next_id();

	if (fam == FAM_V4) {
		setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
		if (!s->dgram) {
			uint32_t drop = ~(1u << ICMP4_ECHOREPLY);

			setsockopt(fd, SOL_RAW, OSP_ICMP_FILTER, &drop, sizeof(drop));
		}
	} else {
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on));
		if (!s->dgram) {
			struct icmp6_filter f;

			ICMP6_FILTER_SETBLOCKALL(&f);
			ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
			setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f));
		}
	}
	set_rcvbuf(fd, j->count);

	if (!(j->flags & OSP_PING_USER_CLOCK)) {
		int ts = SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_RX_SOFTWARE |
			 SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_TX_SCHED |
			 SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;

		s->stamping = setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts)) == 0;
		s->keys_ok = s->stamping;
		if (s->stamping) {
			s->key_target = calloc(j->count, sizeof(*s->key_target));
			if (!s->key_target)
				s->keys_ok = false;
		}
	}
}

/* --- results of one probe --- */

static void fail_probe(struct job *j, uint32_t i, int err)
{
	struct probe *p = &j->probes[i];

	if (p->state == P_SENT)
		j->pending--;
	p->state = P_FAILED;
	p->err = err;
}

static bool addr_matches(const struct osp_ping_target *t, const struct sockaddr_storage *from)
{
	if (is_v4(t)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)from;

		return sin->sin_family == AF_INET && memcmp(&sin->sin_addr, t->addr + 12, 4) == 0;
	}
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)from;

	return sin6->sin6_family == AF_INET6 && memcmp(&sin6->sin6_addr, t->addr, 16) == 0;
}

/*
 * Which target an echo message (a reply, or the request an ICMP error quotes)
 * belongs to; -1 if none of ours. len may be as short as the 8-byte header.
 */
static int64_t match_echo(const struct job *j, int fam, const uint8_t *msg, size_t len,
			  uint8_t want_type, const struct sockaddr_storage *peer)
{
	const struct psock *s = &j->socks[fam];
	struct echo e = { 0 };
	uint32_t i;

	if (len < 8)
		return -1;
	memcpy(&e, msg, len < sizeof(e) ? len : sizeof(e));
	if (e.type != want_type || e.code != 0)
		return -1;
	if (!s->dgram && ntohs(e.id) != s->id)
		return -1;
	i = ntohs(e.seq);
	if (len >= sizeof(e)) {
		if (e.cookie != j->cookie || (e.index & 0xffff) != i)
			return -1;
		i = e.index;
	}
	if (i >= j->count)
		return -1;
	if ((fam == FAM_V4) != is_v4(&j->targets[i]) || !addr_matches(&j->targets[i], peer))
		return -1;
	return i;
}

static void on_tx_stamp(struct job *j, struct psock *s, uint32_t key, uint32_t kind,
			const struct timespec *ts)
{
	struct probe *p;
	int64_t ns = ts_ns(ts);

	if (key >= s->nkeys || ns == 0)
		return;
	p = &j->probes[s->key_target[key]];
	if (kind == SCM_TSTAMP_SND) {
		p->k_tx = ns;
		p->tx_kind = TX_SND;
	} else if (kind == SCM_TSTAMP_SCHED && p->tx_kind != TX_SND) {
		p->k_tx = ns;
		p->tx_kind = TX_SCHED;
	}
}

/* --- receiving --- */

struct rx {
	uint8_t data[2048];
	uint8_t control[512];
	struct sockaddr_storage from;
	struct iovec iov;
	struct msghdr msg;
};

static ssize_t rx_recv(struct rx *r, int fd, int flags)
{
	r->iov = (struct iovec){ .iov_base = r->data, .iov_len = sizeof(r->data) };
	r->msg = (struct msghdr){
		.msg_name = &r->from,
		.msg_namelen = sizeof(r->from),
		.msg_iov = &r->iov,
		.msg_iovlen = 1,
		.msg_control = r->control,
		.msg_controllen = sizeof(r->control),
	};
	memset(&r->from, 0, sizeof(r->from));
	return recvmsg(fd, &r->msg, flags | MSG_DONTWAIT);
}

/* the error queue: TX timestamps and ICMP errors about our requests */
static void drain_errors(struct job *j, int fam, struct rx *r)
{
	struct psock *s = &j->socks[fam];
	uint8_t request = fam == FAM_V4 ? ICMP4_ECHO : ICMP6_ECHO_REQUEST;

	for (;;) {
		struct sock_extended_err ee;
		struct scm_timestamping ts;
		bool have_ee = false, have_ts = false;
		ssize_t n = rx_recv(r, s->fd, MSG_ERRQUEUE);
		int64_t i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* EAGAIN: empty */
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&r->msg); c; c = CMSG_NXTHDR(&r->msg, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING &&
			    c->cmsg_len >= CMSG_LEN(sizeof(ts))) {
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				have_ts = true;
			} else if (((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
				    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) &&
				   c->cmsg_len >= CMSG_LEN(sizeof(ee))) {
				memcpy(&ee, CMSG_DATA(c), sizeof(ee));
				have_ee = true;
			}
		}
		if (!have_ee)
			continue;
		if (ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING) {
			if (have_ts)
				on_tx_stamp(j, s, ee.ee_data, ee.ee_info, &ts.ts[0]);
			continue;
		}
		if (ee.ee_origin != SO_EE_ORIGIN_ICMP && ee.ee_origin != SO_EE_ORIGIN_ICMP6)
			continue; /* local errors name no target */
		/* payload: the request the error quotes; msg_name: its destination */
		i = match_echo(j, fam, r->data, (size_t)n, request, &r->from);
		if (i < 0 || j->probes[i].state != P_SENT || ee.ee_errno == 0)
			continue;
		fail_probe(j, (uint32_t)i, -(int)ee.ee_errno);
		j->probes[i].icmp_type = ee.ee_type;
		j->probes[i].icmp_code = ee.ee_code;
	}
}

static void drain_replies(struct job *j, int fam, struct rx *r)
{
	struct psock *s = &j->socks[fam];
	uint8_t reply = fam == FAM_V4 ? ICMP4_ECHOREPLY : ICMP6_ECHO_REPLY;
	int errors = 0;

	for (;;) {
		ssize_t n = rx_recv(r, s->fd, 0);
		const uint8_t *msg = r->data;
		size_t len;
		int64_t mono = now_ns(CLOCK_MONOTONIC), real = now_ns(CLOCK_REALTIME), i;
		struct probe *p;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK || ++errors > 4)
				return;
			/* a pending socket error (an ICMP error): its details are on the error queue */
			drain_errors(j, fam, r);
			continue;
		}
		len = (size_t)n;
		if (fam == FAM_V4 && !s->dgram) { /* raw IPv4 sockets see the IP header */
			size_t ihl = len > 0 ? (size_t)(msg[0] & 0x0f) * 4 : 0;

			if (ihl < 20 || ihl > len)
				continue;
			msg += ihl;
			len -= ihl;
		}
		if (len < sizeof(struct echo))
			continue;
		i = match_echo(j, fam, msg, len, reply, &r->from);
		if (i < 0)
			continue;
		p = &j->probes[i];
		if (p->state != P_SENT)
			continue; /* a duplicate, or the probe already failed */
		p->state = P_REPLIED;
		p->mono_rx = mono;
		p->real_rx = real;
		j->pending--;
		j->answered++;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&r->msg); c; c = CMSG_NXTHDR(&r->msg, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING &&
			    c->cmsg_len >= CMSG_LEN(sizeof(struct scm_timestamping))) {
				struct scm_timestamping ts;

				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				p->k_rx = ts_ns(&ts.ts[0]);
			}
		}
	}
}

static void service(struct job *j, struct rx *r)
{
	for (int fam = 0; fam < FAM_N; fam++) {
		if (j->socks[fam].fd < 0)
			continue;
		drain_errors(j, fam, r);
		drain_replies(j, fam, r);
	}
}

/*
 * Wait until a socket has something to read (or, with only_fd >= 0, until
 * that one is writable or readable) or the deadline passes; false once it
 * has passed.
 */
static bool wait_events(struct job *j, int only_fd)
{
	struct pollfd pfd[FAM_N];
	nfds_t n = 0;
	int64_t left = j->deadline - now_ns(CLOCK_MONOTONIC);

	if (left <= 0)
		return false;
	if (only_fd >= 0) {
		pfd[n++] = (struct pollfd){ .fd = only_fd, .events = POLLOUT | POLLIN };
	} else {
		for (int fam = 0; fam < FAM_N; fam++) {
			if (j->socks[fam].fd >= 0)
				pfd[n++] = (struct pollfd){ .fd = j->socks[fam].fd, .events = POLLIN };
		}
	}
	if (n == 0)
		return false;
	struct timespec ts = { .tv_sec = left / 1000000000, .tv_nsec = left % 1000000000 };

	ppoll(pfd, n, &ts, NULL);
	return true;
}

/* --- sending --- */

static uint16_t inet_cksum(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint32_t sum = 0;

	for (size_t k = 0; k + 1 < len; k += 2)
		sum += (uint32_t)(b[k] << 8 | b[k + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* sendto() failures decided before the datagram is built: no TX key was used */
static bool error_before_key(int err)
{
	switch (err) {
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EACCES:
	case EINVAL:
	case ENETDOWN:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
	case EDESTADDRREQ:
		return true;
	default:
		return false;
	}
}

static int validate_target(const struct osp_ping_target *t)
{
	bool mapped = memcmp(t->addr, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;

	if (t->family == AF_INET)
		return mapped ? 0 : -EINVAL;
	if (t->family == AF_INET6)
		return mapped ? -EINVAL : 0; /* IPv4 goes as AF_INET */
	return -EAFNOSUPPORT;
}

static void send_one(struct job *j, uint32_t i, struct rx *r)
{
	const struct osp_ping_target *t = &j->targets[i];
	struct probe *p = &j->probes[i];
	int fam = is_v4(t) ? FAM_V4 : FAM_V6;
	struct psock *s = &j->socks[fam];
	struct sockaddr_storage to = { 0 };
	socklen_t tolen;
	struct echo e = {
		.type = fam == FAM_V4 ? ICMP4_ECHO : ICMP6_ECHO_REQUEST,
		.id = htons(s->id),
		.seq = htons((uint16_t)i),
		.cookie = j->cookie,
		.index = i,
	};
	bool retried = false;

	if (s->fd < 0) {
		fail_probe(j, i, s->err);
		return;
	}
	if (s->dgram)
		p->flags |= OSP_PING_R_DGRAM;
	if (fam == FAM_V4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&to;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, t->addr + 12, 4);
		tolen = sizeof(*sin);
		if (!s->dgram) /* the kernel sums datagram sockets' and all ICMPv6 messages */
			e.cksum = inet_cksum(&e, sizeof(e));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&to;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, t->addr, 16);
		sin6->sin6_scope_id = t->scope_id;
		tolen = sizeof(*sin6);
	}

	for (;;) {
		ssize_t n;
		int err;

		p->mono_tx = now_ns(CLOCK_MONOTONIC);
		p->real_tx = now_ns(CLOCK_REALTIME);
		n = sendto(s->fd, &e, sizeof(e), MSG_DONTWAIT, (struct sockaddr *)&to, tolen);
		if (n >= 0)
			break;
		err = errno;
		if (err == EINTR)
			continue;
		if (s->stamping && !error_before_key(err))
			s->keys_ok = false; /* the datagram may have used a key */
		if (err == EAGAIN || err == EWOULDBLOCK) {
			/* send buffer full: read what came back, wait for room, retry */
			service(j, r);
			if (!wait_events(j, s->fd)) {
				fail_probe(j, i, -ETIMEDOUT);
				return;
			}
			continue;
		}
		if (!retried) {
			/*
			 * An ICMP error that arrived earlier is also reported
			 * by the next sendto(); reading the error queue clears
			 * it, so retry once before blaming this target.
			 */
			retried = true;
			drain_errors(j, fam, r);
			continue;
		}
		fail_probe(j, i, -err);
		return;
	}
	p->state = P_SENT;
	p->flags |= OSP_PING_R_SENT;
	j->pending++;
	if (s->keys_ok)
		s->key_target[s->nkeys++] = i;
}

/* --- the batch --- */

static void finish(struct job *j)
{
	for (uint32_t i = 0; i < j->count; i++) {
		struct probe *p = &j->probes[i];
		struct osp_ping_result res = { .flags = p->flags };

		if (p->state == P_REPLIED) {
			int64_t user = p->mono_rx - p->mono_tx;
			int64_t tx = p->real_tx, rx = p->real_rx, rtt;
			uint32_t kflags = 0;

			if (p->tx_kind != TX_NONE) {
				tx = p->k_tx;
				kflags |= OSP_PING_R_TX_KERNEL;
				if (p->tx_kind == TX_SCHED)
					kflags |= OSP_PING_R_TX_SCHED;
			}
			if (p->k_rx != 0) {
				rx = p->k_rx;
				kflags |= OSP_PING_R_RX_KERNEL;
			}
			rtt = kflags ? rx - tx : user;
			/*
			 * The kernel's send and receive times lie between our
			 * readings, so its RTT is at most ours (plus clock
			 * slewing, under 0.1%).
			 */
			if (kflags && (rtt < 0 || rtt > user + user / 1000 + 1000)) {
				rtt = user;
				kflags = 0;
			}
			res.rtt_ns = rtt;
			res.flags |= kflags;
		} else if (p->state == P_FAILED) {
			res.rtt_ns = p->err;
			res.icmp_type = p->icmp_type;
			res.icmp_code = p->icmp_code;
		} else {
			res.rtt_ns = -ETIMEDOUT;
		}
		memcpy(j->results_raw + (size_t)i * sizeof(res), &res, sizeof(res));
	}
}

static int run(struct job *j)
{
	struct rx *r = malloc(sizeof(*r));
	uint32_t i;

	if (!r)
		return osp_fail(osp_log_mark(), -ENOMEM, "allocate a ping receive buffer");
	for (i = 0; i < j->count; i++) {
		const struct osp_ping_target *t = &j->targets[i];
		int err = validate_target(t);
		int fam = is_v4(t) ? FAM_V4 : FAM_V6;

		if (err) {
			fail_probe(j, i, err);
			continue;
		}
		if (!j->socks[fam].opened)
			open_family(j, fam);
	}

	for (i = 0; i < j->count; i++) {
		if (now_ns(CLOCK_MONOTONIC) >= j->deadline)
			break; /* the rest stay unsent: ETIMEDOUT */
		if (j->probes[i].state != P_UNSENT)
			continue;
		send_one(j, i, r);
		if (i % DRAIN_EVERY == DRAIN_EVERY - 1)
			service(j, r);
	}
	service(j, r);
	while (j->pending > 0 && wait_events(j, -1))
		service(j, r);
	/* TX stamps are queued before the reply can arrive; pick up the last ones */
	service(j, r);
	finish(j);
	free(r);
	return (int)j->answered;
}

static void *ping_thread(void *arg)
{
	struct job *j = arg;

	pthread_setname_np(pthread_self(), "osp-ping");
	if (setns(j->nsfd, CLONE_NEWNET) < 0) {
		int err = -errno;

		j->ret = osp_fail(osp_log_mark(), err, "enter network namespace \"%s\"%s", j->path,
				  err == -EPERM ? " (setns needs CAP_SYS_ADMIN)" : "");
		return NULL;
	}
	j->ret = run(j);
	return NULL;
}

/* open the namespace file and check it is a network namespace */
static int open_netns(const char *path)
{
	uint64_t mark = osp_log_mark();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int type;

	if (fd < 0)
		return osp_fail(mark, -errno, "open network namespace \"%s\"", path);
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type != CLONE_NEWNET) {
		int err = type < 0 && errno != ENOTTY ? -errno : -EINVAL;

		close(fd);
		return osp_fail(mark, err, "\"%s\" is not a network namespace", path);
	}
	return fd;
}

static int start_thread(struct job *j)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int err;

	/* the thread takes no signals: they belong to the runtime's threads */
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, PING_THREAD_STACK);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&tid, &attr, ping_thread, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		return osp_fail(osp_log_mark(), -err, "start the ping thread");
	pthread_join(tid, NULL);
	return j->ret;
}

OSP_API int osp_ping(const uint8_t *netns_path, const uint8_t *targets, uint32_t targets_len,
		     uint8_t *results, uint32_t results_cap, uint32_t timeout_ms, uint32_t flags)
{
	int64_t start = now_ns(CLOCK_MONOTONIC);
	uint64_t mark = osp_log_mark();
	const uint32_t known = OSP_PING_DGRAM_ONLY | OSP_PING_USER_CLOCK;
	struct job j = { .nsfd = -1 };
	uint32_t count;
	int ret;

	if (!netns_path)
		return osp_fail(mark, -EINVAL, "ping: no namespace path");
	if (flags & ~known)
		return osp_fail(mark, -EINVAL, "ping: unknown flags 0x%x", flags & ~known);
	if (targets_len % sizeof(struct osp_ping_target) != 0)
		return osp_fail(mark, -EINVAL, "ping: %u bytes of targets are not whole %zu-byte records",
				targets_len, sizeof(struct osp_ping_target));
	count = targets_len / (uint32_t)sizeof(struct osp_ping_target);
	if (count > OSP_PING_MAX_TARGETS)
		return osp_fail(mark, -E2BIG, "ping: %u targets, at most %d per call", count,
				OSP_PING_MAX_TARGETS);
	if ((uint64_t)count * sizeof(struct osp_ping_result) > results_cap)
		return osp_fail(mark, -ENOSPC, "ping: %u bytes cannot hold %u results", results_cap,
				count);
	if (timeout_ms > OSP_PING_MAX_TIMEOUT_MS)
		return osp_fail(mark, -EINVAL, "ping: timeout of %u ms, at most %d", timeout_ms,
				OSP_PING_MAX_TIMEOUT_MS);
	if (count == 0)
		return 0;
	if (count > 0 && !targets)
		return osp_fail(mark, -EINVAL, "ping: no targets buffer");

	pthread_once(&seed_once, seed_init);
	if (!(flags & OSP_PING_USER_CLOCK))
		pthread_once(&keeper_once, keeper_init);

	j.path = (const char *)netns_path;
	j.count = count;
	j.flags = flags;
	j.results_raw = results;
	j.deadline = start + (int64_t)timeout_ms * 1000000;
	j.cookie = next_cookie();
	for (int fam = 0; fam < FAM_N; fam++)
		j.socks[fam].fd = -1;
	j.targets = malloc((size_t)count * sizeof(*j.targets));
	j.probes = calloc(count, sizeof(*j.probes));
	if (!j.targets || !j.probes) {
		ret = osp_fail(mark, -ENOMEM, "ping: allocate state for %u targets", count);
		goto out;
	}
	memcpy(j.targets, targets, (size_t)count * sizeof(*j.targets)); /* any alignment */

	if (netns_path[0] == 0) {
		ret = run(&j);
	} else {
		j.nsfd = open_netns(j.path);
		ret = j.nsfd < 0 ? j.nsfd : start_thread(&j);
	}
out:
	if (j.nsfd >= 0)
		close(j.nsfd);
	for (int fam = 0; fam < FAM_N; fam++) {
		if (j.socks[fam].fd >= 0)
			close(j.socks[fam].fd);
		free(j.socks[fam].key_target);
	}
	free(j.targets);
	free(j.probes);
	return ret;
}
