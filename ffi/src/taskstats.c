// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Delay accounting from the kernel's taskstats interface (generic netlink
 * family "TASKSTATS", Documentation/accounting/taskstats.rst), in batches.
 *
 * A handle owns one NETLINK_GENERIC socket. The family is registered only in
 * the initial network namespace (it does not set netnsok), so when the
 * caller runs in another one the socket is created on a thread of our own
 * that first setns()es into the namespace given by path (the host's, e.g.
 * /host/proc/1/ns/net); a socket keeps the namespace it was created in, so
 * later queries run on any thread without entering anything.
 *
 * One query call takes a buffer of pids and writes one fixed record per pid.
 * Requests are packed many to a sendmsg(): the kernel handles every netlink
 * message of a datagram in turn (netlink_rcv_skb) and queues one answer per
 * request on our socket before sendmsg() returns, either the statistics
 * (TASKSTATS_CMD_NEW) or an NLMSG_ERROR (-ESRCH: no such process). Answers
 * are matched to pids by sequence number and read with recvmmsg(). A batch
 * is sized so its answers fit the receive buffer; a pid whose answer did not
 * arrive anyway (the buffer overran) is asked again alone, once. Whatever
 * goes wrong for one pid (gone, malformed or truncated answer, no answer) is
 * that record's error; the call fails only for bad arguments or a socket
 * that cannot be used at all.
 *
 * Per pid the TGID command answers for the whole thread group: the sum over
 * its live threads plus what its exited threads left in the group's
 * statistics. It carries no start time, so with OSP_TASKSTATS_START a second
 * request per pid (the PID command, for the thread group leader) adds the
 * begin time. Pids are looked up in the caller's PID namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <linux/sockios.h>
#include <linux/taskstats.h>

#include "internal.h"

#define OSP_MAX_TASKSTATS 16
#define TS_THREAD_STACK (256 * 1024)
/* requests per sendmsg(); their answers (about 1.3 KiB of buffer each) must fit rcvbuf */
#define TS_BATCH 64
/* answers read per recvmmsg() */
#define TS_RX_SLOTS 64
/* one answer: a taskstats message is under 1 KiB on 6.x kernels */
#define TS_RX_SLOT_SIZE 4096
#define TS_RCVBUF (1 << 20)
/* one request: nlmsghdr + genlmsghdr + one u32 attribute */
#define TS_REQ_SIZE (NLMSG_LENGTH(GENL_HDRLEN) + NLA_HDRLEN + 4)

_Static_assert(sizeof(struct osp_taskstats_record) == 72, "osp_taskstats_record layout");

static struct osp_slot *ts_items[OSP_MAX_TASKSTATS];
static uint32_t ts_gens[OSP_MAX_TASKSTATS];
static struct osp_table osp_taskstats_table = { .items = ts_items,
						.gens = ts_gens,
						.cap = OSP_MAX_TASKSTATS };

struct ts_conn {
	struct osp_slot slot;
	pthread_mutex_t lock; /* one query at a time: answers are matched by sequence */
	int fd;
	uint16_t family;
	uint32_t seq;
	uint32_t portid;
	uint64_t netns_inode;
	int rcvbuf;
	char netns[256];
	uint8_t *rx; /* TS_RX_SLOTS * TS_RX_SLOT_SIZE */
};

static void ts_destroy(struct osp_slot *s)
{
	struct ts_conn *c = (struct ts_conn *)s;

	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_destroy(&c->lock);
	free(c->rx);
	free(c);
}

/* --- decoding --- */

static const struct nlattr *attr_next(const uint8_t **p, const uint8_t *end)
{
	const struct nlattr *a;
	size_t step;

	if ((size_t)(end - *p) < NLA_HDRLEN)
		return NULL;
	a = (const struct nlattr *)*p;
	if (a->nla_len < NLA_HDRLEN || a->nla_len > (size_t)(end - *p))
		return NULL;
	step = (size_t)NLA_ALIGN(a->nla_len);
	*p += step < (size_t)(end - *p) ? step : (size_t)(end - *p);
	return a;
}

static uint64_t get_u64(const uint8_t *stats, size_t off)
{
	uint64_t v;

	memcpy(&v, stats + off, sizeof(v));
	return v;
}

static uint32_t get_u32(const uint8_t *stats, size_t off)
{
	uint32_t v;

	memcpy(&v, stats + off, sizeof(v));
	return v;
}

#define TS_END(field) (offsetof(struct taskstats, field) + sizeof(((struct taskstats *)0)->field))

/*
 * Decode one answer into r. Returns 0, or -errno for this answer: the
 * kernel's error (NLMSG_ERROR), -EMSGSIZE when the message is longer than
 * the bytes received (truncated), -EBADMSG when it is malformed or lacks the
 * fields needed. *seq gets the message's sequence number when at least its
 * header arrived (else it is left alone).
 */
static int decode(const uint8_t *msg, size_t len, uint16_t family, uint32_t *seq,
		  struct osp_taskstats_record *r)
{
	const struct nlmsghdr *nh = (const struct nlmsghdr *)msg;
	const uint8_t *p, *end, *np, *nend;
	const struct nlattr *a, *n;
	const uint8_t *stats = NULL;
	size_t stats_len = 0;
	uint32_t id = 0;
	int aggr = 0;

	if (len < NLMSG_HDRLEN)
		return -EMSGSIZE;
	if (seq)
		*seq = nh->nlmsg_seq;
	if (nh->nlmsg_len < NLMSG_HDRLEN)
		return -EBADMSG;
	if (nh->nlmsg_len > len)
		return -EMSGSIZE;
	if (nh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nh);

		if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(int)))
			return -EMSGSIZE;
		/* an acknowledgement (error 0) answers nothing we asked */
		return e->error < 0 ? e->error : -EBADMSG;
	}
	if (family != 0 && nh->nlmsg_type != family)
		return -EBADMSG;
	if (nh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return -EMSGSIZE;
	if (((const struct genlmsghdr *)NLMSG_DATA(nh))->cmd != TASKSTATS_CMD_NEW)
		return -EBADMSG;

	p = (const uint8_t *)NLMSG_DATA(nh) + GENL_HDRLEN;
	end = msg + nh->nlmsg_len;
	while ((a = attr_next(&p, end))) {
		int type = a->nla_type & NLA_TYPE_MASK;

		if (type != TASKSTATS_TYPE_AGGR_PID && type != TASKSTATS_TYPE_AGGR_TGID)
			continue;
		aggr = type;
		np = (const uint8_t *)a + NLA_HDRLEN;
		nend = (const uint8_t *)a + a->nla_len;
		while ((n = attr_next(&np, nend))) {
			int nt = n->nla_type & NLA_TYPE_MASK;
			const uint8_t *v = (const uint8_t *)n + NLA_HDRLEN;
			size_t vlen = n->nla_len - NLA_HDRLEN;

			if ((nt == TASKSTATS_TYPE_PID || nt == TASKSTATS_TYPE_TGID) && vlen >= 4)
				id = get_u32(v, 0);
			else if (nt == TASKSTATS_TYPE_STATS) {
				stats = v;
				stats_len = vlen;
			}
		}
		if (np != nend)
			return -EBADMSG; /* a nested attribute overran its parent */
	}
	if (p != end)
		return -EBADMSG;
	if (aggr == 0 || stats == NULL || id == 0)
		return -EBADMSG;
	/* version 1 of the struct already holds the delay fields */
	if (stats_len < TS_END(cpu_run_virtual_total))
		return -EBADMSG;

	r->version = (uint16_t)get_u32(stats, 0) & 0xffff;
	if (aggr == TASKSTATS_TYPE_AGGR_TGID) {
		r->tgid = id;
		r->cpu_count = get_u64(stats, offsetof(struct taskstats, cpu_count));
		r->cpu_delay_ns = get_u64(stats, offsetof(struct taskstats, cpu_delay_total));
		r->blkio_count = get_u64(stats, offsetof(struct taskstats, blkio_count));
		r->blkio_delay_ns = get_u64(stats, offsetof(struct taskstats, blkio_delay_total));
		r->cpu_run_real_ns = get_u64(stats, offsetof(struct taskstats, cpu_run_real_total));
		r->flags |= OSP_TASKSTATS_R_DELAYS;
	} else {
		uint64_t etime_us;

		if (stats_len < TS_END(ac_etime))
			return -EBADMSG;
		etime_us = get_u64(stats, offsetof(struct taskstats, ac_etime));
		r->btime = stats_len >= TS_END(ac_btime64)
				   ? get_u64(stats, offsetof(struct taskstats, ac_btime64))
				   : get_u32(stats, offsetof(struct taskstats, ac_btime));
		r->elapsed_us = etime_us;
		r->flags |= OSP_TASKSTATS_R_START;
	}
	return 0;
}

OSP_API int osp_taskstats_decode(const uint8_t *msg, uint32_t len, uint32_t family,
				 uint8_t *record, uint32_t cap)
{
	struct osp_taskstats_record r;
	int err;

	if (!record || cap < sizeof(r))
		return -ENOSPC;
	if (!msg && len > 0)
		return -EINVAL;
	memcpy(&r, record, sizeof(r));
	err = decode(msg, len, (uint16_t)family, NULL, &r);
	if (err)
		r.error = err;
	memcpy(record, &r, sizeof(r));
	return err;
}

/* --- the socket --- */

static int resolve_family(struct ts_conn *c, uint64_t mark)
{
	struct {
		struct nlmsghdr nh;
		struct genlmsghdr g;
		uint8_t attrs[64];
	} req;
	uint8_t buf[8192];
	struct nlattr *a;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = GENL_ID_CTRL;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = ++c->seq;
	req.g.cmd = CTRL_CMD_GETFAMILY;
	req.g.version = 1;
	a = (struct nlattr *)req.attrs;
	a->nla_type = CTRL_ATTR_FAMILY_NAME;
	a->nla_len = NLA_HDRLEN + sizeof(TASKSTATS_GENL_NAME);
	memcpy((uint8_t *)a + NLA_HDRLEN, TASKSTATS_GENL_NAME, sizeof(TASKSTATS_GENL_NAME));
	req.nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) + NLA_ALIGN(a->nla_len);
	if (send(c->fd, &req, req.nh.nlmsg_len, 0) < 0)
		return osp_fail(mark, -errno, "taskstats: ask for the TASKSTATS family");
	for (;;) {
		const struct nlmsghdr *nh = (const struct nlmsghdr *)buf;
		const uint8_t *p, *end;

		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return osp_fail(mark, -errno, "taskstats: read the TASKSTATS family");
		}
		if ((size_t)n < NLMSG_HDRLEN || nh->nlmsg_len > (size_t)n || nh->nlmsg_seq != c->seq)
			continue;
		if (nh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(nh);
			int err = nh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) ? e->error : -EBADMSG;

			if (err == -ENOENT)
				return osp_fail(mark, err,
						"taskstats: no TASKSTATS generic netlink family in %s "
						"(it answers only in the initial network namespace; "
						"or the kernel lacks CONFIG_TASKSTATS)",
						c->netns[0] ? c->netns : "the caller's network namespace");
			return osp_fail(mark, err, "taskstats: look the TASKSTATS family up");
		}
		p = (const uint8_t *)NLMSG_DATA(nh) + GENL_HDRLEN;
		end = buf + nh->nlmsg_len;
		while ((a = (struct nlattr *)attr_next(&p, end))) {
			if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID &&
			    a->nla_len >= NLA_HDRLEN + 2) {
				memcpy(&c->family, (uint8_t *)a + NLA_HDRLEN, 2);
				return 0;
			}
		}
		return osp_fail(mark, -EBADMSG, "taskstats: the family answer has no id");
	}
}

static int open_socket(struct ts_conn *c)
{
	uint64_t mark = osp_log_mark();
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t salen = sizeof(sa);
	int size = TS_RCVBUF, one = 1, nsfd;
	socklen_t len = sizeof(c->rcvbuf);
	struct stat st;

	c->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (c->fd < 0)
		return osp_fail(mark, -errno, "taskstats: open a generic netlink socket");
	/* rmem_max caps SO_RCVBUF; SO_RCVBUFFORCE (CAP_NET_ADMIN) goes past it */
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	getsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &c->rcvbuf, &len);
	/* errors carry only the header of our request, not the request itself */
	setsockopt(c->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return osp_fail(mark, -errno, "taskstats: bind the netlink socket");
	if (getsockname(c->fd, (struct sockaddr *)&sa, &salen) == 0)
		c->portid = sa.nl_pid;
	nsfd = ioctl(c->fd, SIOCGSKNS);
	if (nsfd >= 0) {
		if (fstat(nsfd, &st) == 0)
			c->netns_inode = st.st_ino;
		close(nsfd);
	}
	return resolve_family(c, mark);
}

struct open_job {
	struct ts_conn *c;
	int nsfd;
	int ret;
};

static void *open_thread(void *arg)
{
	struct open_job *j = arg;

	pthread_setname_np(pthread_self(), "osp-taskstats");
	if (setns(j->nsfd, CLONE_NEWNET) < 0) {
		int err = -errno;

		j->ret = osp_fail(osp_log_mark(), err, "taskstats: enter network namespace \"%s\"%s",
				  j->c->netns, err == -EPERM ? " (setns needs CAP_SYS_ADMIN)" : "");
		return NULL;
	}
	j->ret = open_socket(j->c);
	return NULL;
}

static int open_in_netns(struct ts_conn *c)
{
	uint64_t mark = osp_log_mark();
	struct open_job j = { .c = c, .nsfd = -1 };
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int err, type;

	j.nsfd = open(c->netns, O_RDONLY | O_CLOEXEC);
	if (j.nsfd < 0)
		return osp_fail(mark, -errno, "taskstats: open network namespace \"%s\"", c->netns);
	type = ioctl(j.nsfd, NS_GET_NSTYPE);
	if (type != CLONE_NEWNET) {
		err = type < 0 && errno != ENOTTY ? -errno : -EINVAL;
		close(j.nsfd);
		return osp_fail(mark, err, "taskstats: \"%s\" is not a network namespace", c->netns);
	}
	/* the thread takes no signals: they belong to the runtime's threads */
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, TS_THREAD_STACK);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&tid, &attr, open_thread, &j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		close(j.nsfd);
		return osp_fail(mark, -err, "taskstats: start the namespace thread");
	}
	pthread_join(tid, NULL);
	close(j.nsfd);
	return j.ret;
}

OSP_API int osp_taskstats_open(const uint8_t *netns_path)
{
	uint64_t mark = osp_log_mark();
	struct ts_conn *c;
	size_t len;
	int ret, h;

	if (!netns_path)
		return osp_fail(mark, -EINVAL, "taskstats: no namespace path");
	len = strnlen((const char *)netns_path, sizeof(c->netns));
	if (len >= sizeof(c->netns))
		return osp_fail(mark, -ENAMETOOLONG, "taskstats: namespace path too long");
	c = calloc(1, sizeof(*c));
	if (!c)
		return osp_fail(mark, -ENOMEM, "taskstats: allocate a handle");
	c->fd = -1;
	c->slot.destroy = ts_destroy;
	pthread_mutex_init(&c->lock, NULL);
	memcpy(c->netns, netns_path, len);
	c->rx = malloc((size_t)TS_RX_SLOTS * TS_RX_SLOT_SIZE);
	if (!c->rx) {
		ts_destroy(&c->slot);
		return osp_fail(mark, -ENOMEM, "taskstats: allocate receive buffers");
	}
	ret = len == 0 ? open_socket(c) : open_in_netns(c);
	if (ret < 0) {
		ts_destroy(&c->slot);
		return ret;
	}
	h = osp_table_insert(&osp_taskstats_table, &c->slot);
	if (h < 0) {
		ts_destroy(&c->slot);
		return osp_fail(mark, h, "taskstats: all %d handles in use", OSP_MAX_TASKSTATS);
	}
	return h;
}

OSP_API int osp_taskstats_info(int h, uint8_t *buf, uint32_t cap)
{
	struct osp_slot *s = osp_table_acquire(&osp_taskstats_table, h);
	struct ts_conn *c;
	char text[512];
	int n;

	if (!s)
		return -EBADF;
	c = (struct ts_conn *)s;
	n = snprintf(text, sizeof(text),
		     "netns=%s\nnetns_inode=%llu\nfamily_id=%u\nrcvbuf=%d\nbatch=%d\n",
		     c->netns[0] ? c->netns : "(caller's)", (unsigned long long)c->netns_inode,
		     c->family, c->rcvbuf, TS_BATCH);
	osp_slot_release(s);
	return osp_copy_text(buf, cap, text, (size_t)n);
}

OSP_API int osp_taskstats_close(int h)
{
	return osp_table_close(&osp_taskstats_table, h);
}

/* --- queries --- */

struct query {
	struct ts_conn *c;
	struct osp_taskstats_record *recs;
	uint32_t count;
	bool start;
	uint32_t seq_base;  /* seq of (index i, part k) = seq_base + 2 * i + k */
	uint8_t *answered;  /* per record: bit 0 delays part, bit 1 start part */
};

static void put_u32_attr(uint8_t *p, uint16_t type, uint32_t v)
{
	struct nlattr a = { .nla_len = NLA_HDRLEN + 4, .nla_type = type };

	memcpy(p, &a, sizeof(a));
	memcpy(p + NLA_HDRLEN, &v, 4);
}

/* write one request (part 0: TGID, part 1: PID) at p */
static void put_request(const struct query *q, uint8_t *p, uint32_t i, int part)
{
	struct nlmsghdr nh = {
		.nlmsg_len = TS_REQ_SIZE,
		.nlmsg_type = q->c->family,
		.nlmsg_flags = NLM_F_REQUEST,
		.nlmsg_seq = q->seq_base + 2 * i + (uint32_t)part,
		.nlmsg_pid = 0,
	};
	struct genlmsghdr g = { .cmd = TASKSTATS_CMD_GET, .version = TASKSTATS_GENL_VERSION };

	memcpy(p, &nh, sizeof(nh));
	memcpy(p + NLMSG_HDRLEN, &g, sizeof(g));
	put_u32_attr(p + NLMSG_LENGTH(GENL_HDRLEN),
		     part == 0 ? TASKSTATS_CMD_ATTR_TGID : TASKSTATS_CMD_ATTR_PID, q->recs[i].pid);
}

/* one answer: find its record by sequence and decode into it */
static void take(struct query *q, const uint8_t *msg, size_t len, bool truncated)
{
	struct osp_taskstats_record tmp;
	uint32_t seq = 0, i;
	int part, err;

	memset(&tmp, 0, sizeof(tmp));
	err = decode(msg, len, q->c->family, &seq, &tmp);
	if (len < NLMSG_HDRLEN)
		return; /* not even a header: cannot tell whose */
	if (seq - q->seq_base >= 2 * q->count)
		return; /* a stale answer of an earlier call */
	i = (seq - q->seq_base) / 2;
	part = (int)((seq - q->seq_base) % 2);
	if (q->answered[i] & (1u << part))
		return;
	q->answered[i] |= (uint8_t)(1u << part);
	if (truncated && err == 0)
		err = -EMSGSIZE;
	if (part == 0) {
		struct osp_taskstats_record *r = &q->recs[i];

		if (err) {
			r->error = err;
			return;
		}
		r->tgid = tmp.tgid;
		r->version = tmp.version;
		r->cpu_count = tmp.cpu_count;
		r->cpu_delay_ns = tmp.cpu_delay_ns;
		r->blkio_count = tmp.blkio_count;
		r->blkio_delay_ns = tmp.blkio_delay_ns;
		r->cpu_run_real_ns = tmp.cpu_run_real_ns;
		r->flags |= OSP_TASKSTATS_R_DELAYS;
		if (r->error == -ENODATA)
			r->error = 0;
	} else if (err == 0) {
		struct osp_taskstats_record *r = &q->recs[i];

		r->btime = tmp.btime;
		r->elapsed_us = tmp.elapsed_us;
		r->flags |= OSP_TASKSTATS_R_START;
	}
}

/* read every answer queued on the socket now */
static int drain(struct query *q)
{
	struct mmsghdr msgs[TS_RX_SLOTS];
	struct iovec iov[TS_RX_SLOTS];
	int n;

	for (;;) {
		for (int k = 0; k < TS_RX_SLOTS; k++) {
			iov[k].iov_base = q->c->rx + (size_t)k * TS_RX_SLOT_SIZE;
			iov[k].iov_len = TS_RX_SLOT_SIZE;
			memset(&msgs[k], 0, sizeof(msgs[k]));
			msgs[k].msg_hdr.msg_iov = &iov[k];
			msgs[k].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(q->c->fd, msgs, TS_RX_SLOTS, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == ENOBUFS)
				continue; /* an answer was dropped: the caller asks again */
			return -errno;
		}
		for (int k = 0; k < n; k++) {
			const uint8_t *m = iov[k].iov_base;
			size_t len = msgs[k].msg_len;
			bool trunc = (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) != 0;

			if (len > TS_RX_SLOT_SIZE)
				len = TS_RX_SLOT_SIZE;
			/* one datagram may carry several messages */
			while (len >= NLMSG_HDRLEN) {
				const struct nlmsghdr *nh = (const struct nlmsghdr *)m;
				size_t step = NLMSG_ALIGN(nh->nlmsg_len);

				take(q, m, len, trunc && nh->nlmsg_len > len);
				if (nh->nlmsg_len < NLMSG_HDRLEN || step >= len)
					break;
				m += step;
				len -= step;
			}
		}
		if (n < TS_RX_SLOTS)
			return 0;
	}
}

/* send the requests for records [from, to) (and their PID parts with start) */
static int send_range(struct query *q, uint8_t *out, uint32_t from, uint32_t to, bool only_missing)
{
	size_t off = 0;
	ssize_t n;

	for (uint32_t i = from; i < to; i++) {
		if (q->recs[i].error == -EINVAL)
			continue;
		for (int part = 0; part < (q->start ? 2 : 1); part++) {
			if (only_missing && (q->answered[i] & (1u << part)))
				continue;
			put_request(q, out + off, i, part);
			off += TS_REQ_SIZE;
		}
	}
	if (off == 0)
		return 0;
	do
		n = send(q->c->fd, out, off, 0);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

OSP_API int osp_taskstats_query(int h, const uint8_t *pids, uint32_t count, uint8_t *records,
				uint32_t cap, uint32_t flags)
{
	uint64_t mark = osp_log_mark();
	struct osp_slot *s;
	struct query q = { 0 };
	uint8_t *out = NULL;
	int ret = 0, ok = 0;

	if (flags & ~(uint32_t)OSP_TASKSTATS_START)
		return osp_fail(mark, -EINVAL, "taskstats: unknown flags 0x%x",
				flags & ~(uint32_t)OSP_TASKSTATS_START);
	if (count > OSP_TASKSTATS_MAX_PIDS)
		return osp_fail(mark, -E2BIG, "taskstats: %u pids, at most %d per call", count,
				OSP_TASKSTATS_MAX_PIDS);
	if ((uint64_t)count * sizeof(struct osp_taskstats_record) > cap)
		return osp_fail(mark, -ENOSPC, "taskstats: %u bytes cannot hold %u records", cap,
				count);
	if (count == 0)
		return 0;
	if (!pids || !records)
		return osp_fail(mark, -EINVAL, "taskstats: no pid or record buffer");
	s = osp_table_acquire(&osp_taskstats_table, h);
	if (!s)
		return -EBADF;
	q.c = (struct ts_conn *)s;
	q.count = count;
	q.start = (flags & OSP_TASKSTATS_START) != 0;
	q.recs = calloc(count, sizeof(*q.recs));
	q.answered = calloc(count, 1);
	out = malloc((size_t)TS_BATCH * 2 * TS_REQ_SIZE);
	if (!q.recs || !q.answered || !out) {
		ret = osp_fail(mark, -ENOMEM, "taskstats: allocate state for %u pids", count);
		goto out;
	}
	for (uint32_t i = 0; i < count; i++) {
		uint32_t pid;

		memcpy(&pid, pids + (size_t)i * 4, 4); /* any alignment */
		q.recs[i].pid = pid;
		/* the kernel's pid_t is signed; 0 would ask about the caller */
		q.recs[i].error = pid == 0 || pid > INT32_MAX ? -EINVAL : -ENODATA;
	}

	pthread_mutex_lock(&q.c->lock);
	/* sequence numbers of this call: 2 per record, after the last call's */
	q.seq_base = q.c->seq + 1;
	q.c->seq += 2 * count + 1;
	/* answers a timed-out earlier call left behind would only be skipped */
	ret = drain(&q);
	for (uint32_t from = 0; ret == 0 && from < count; from += TS_BATCH) {
		uint32_t to = from + TS_BATCH < count ? from + TS_BATCH : count;

		ret = send_range(&q, out, from, to, false);
		if (ret == 0)
			ret = drain(&q);
		/* an answer the receive buffer could not take: ask again, one at a time */
		for (uint32_t i = from; ret == 0 && i < to; i++) {
			uint8_t want = q.start ? 3 : 1;

			if (q.recs[i].error == -EINVAL || (q.answered[i] & want) == want)
				continue;
			ret = send_range(&q, out, i, i + 1, true);
			if (ret == 0)
				ret = drain(&q);
			if ((q.answered[i] & 1) == 0)
				q.recs[i].error = -ENOBUFS;
		}
	}
	pthread_mutex_unlock(&q.c->lock);
	if (ret < 0) {
		ret = osp_fail(mark, ret, "taskstats: query %u pids", count);
		goto out;
	}
	for (uint32_t i = 0; i < count; i++) {
		if (q.recs[i].error == -ENODATA)
			q.recs[i].error = -EBADMSG; /* answered without the statistics */
		if (q.recs[i].error == 0)
			ok++;
	}
	memcpy(records, q.recs, (size_t)count * sizeof(*q.recs));
	ret = ok;
out:
	free(out);
	free(q.recs);
	free(q.answered);
	osp_slot_release(s);
	return ret;
}
