// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TCP load for the net benchmarks (bench/net/): one epoll loop per process,
 * IPv4, no threads. Built by the benchmarks with `cc -O2`.
 *
 *   tcpload server <port> <nports> respond|hold
 *       listens on 0.0.0.0:<port>..<port+nports-1> (SO_REUSEPORT: several
 *       servers may share them, each accepting within its descriptor limit;
 *       what none accepts stays established in the queue); "respond" reads a 16-byte
 *       request, answers 16 bytes and closes first (HTTP/1.0 with
 *       Connection: close); "hold" accepts and keeps every connection. Prints
 *       "ready" once listening; exits when stdin reaches EOF.
 *   tcpload churn <addr> <port> <rate> <seconds> <inflight>
 *       connects at <rate> a second (0: as fast as it can) for <seconds>, at
 *       most <inflight> at once; each connection sends the request, reads
 *       the answer until the server's FIN, and closes. Prints "start", then
 *       one JSON line with its own counts when the last connection is done.
 *   tcpload hold <first-addr> <naddrs> <port> <nports> <count> <inflight>
 *       prints "ready", waits for a line on stdin, then opens <count>
 *       connections round-robin over <naddrs> consecutive addresses x
 *       <nports> consecutive ports and keeps them; prints one JSON line once
 *       all are established (or failed); exits (closing them) when stdin
 *       reaches EOF.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG_SIZE 16
#define STDIN_TAG UINT64_MAX

static const char request[MSG_SIZE] = "GET / HTTP/1.0\r\n";
static const char response[MSG_SIZE] = "HTTP/1.0 200 OK\n";

static void die(const char *what)
{
	fprintf(stderr, "tcpload: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Room for n descriptors: the soft limit raised as far as the hard one allows
 * (raising the hard one needs CAP_SYS_RESOURCE, which the development VM's
 * root lacks: its hard limit is 20,000). Returns the limit now.
 */
static rlim_t want_fds(rlim_t n)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) != 0)
		die("getrlimit RLIMIT_NOFILE");
	if (r.rlim_cur >= n)
		return r.rlim_cur;
	r.rlim_cur = n < r.rlim_max ? n : r.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &r) != 0)
		die("setrlimit RLIMIT_NOFILE");
	return r.rlim_cur;
}

static void ep_add(int ep, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		die("epoll_ctl add");
}

static void ep_mod(int ep, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) != 0)
		die("epoll_ctl mod");
}

/* stdin reached EOF (or failed): the parent wants us gone */
static int stdin_closed(void)
{
	char buf[64];
	ssize_t n = read(0, buf, sizeof(buf));

	return n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR));
}

/* ---- server ---------------------------------------------------------------------------- */

/* tags: listeners are 1<<32 | index, connections their fd */
#define LISTEN_TAG (1ULL << 32)

static int server(int port, int nports, int respond)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event evs[256];
	unsigned char *got = NULL; /* request bytes read, by fd */
	size_t got_cap = 0;
	int *lfd = calloc((size_t)nports, sizeof(int));
	long held = 0;

	if (ep < 0 || !lfd)
		die("epoll_create1");
	if (!respond)
		want_fds(1 << 20);
	for (int i = 0; i < nports; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port + i) };
		int one = 1;

		lfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (lfd[i] < 0)
			die("socket");
		setsockopt(lfd[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* several servers may share the ports (each within its descriptor limit) */
		setsockopt(lfd[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (bind(lfd[i], (struct sockaddr *)&a, sizeof(a)) != 0)
			die("bind");
		if (listen(lfd[i], 65535) != 0)
			die("listen");
		ep_add(ep, lfd[i], EPOLLIN, LISTEN_TAG | (uint64_t)i);
	}
	fcntl(0, F_SETFL, O_NONBLOCK);
	ep_add(ep, 0, EPOLLIN, STDIN_TAG);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == STDIN_TAG) {
				if (stdin_closed()) {
					fprintf(stderr, "tcpload server: %ld held\n", held);
					return 0;
				}
				continue;
			}
			if (tag & LISTEN_TAG) {
				int l = lfd[tag & 0xffffffff];

				for (;;) {
					int c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

					if (c < 0) {
						if (errno == EAGAIN || errno == ECONNABORTED)
							break;
						if (errno == EMFILE || errno == ENFILE) {
							/* the rest stay established in the queue */
							fprintf(stderr, "tcpload server: no descriptor "
								"left after %ld; accepting no more\n", held);
							for (int k = 0; k < nports; k++)
								epoll_ctl(ep, EPOLL_CTL_DEL, lfd[k], NULL);
						}
						break;
					}
					if (!respond) {
						held++;
						continue;
					}
					if ((size_t)c >= got_cap) {
						size_t cap = got_cap ? got_cap : 1024;

						while (cap <= (size_t)c)
							cap *= 2;
						got = realloc(got, cap);
						if (!got)
							die("realloc");
						memset(got + got_cap, 0, cap - got_cap);
						got_cap = cap;
					}
					got[c] = 0;
					ep_add(ep, c, EPOLLIN, (uint64_t)c);
				}
				continue;
			}
			{
				int c = (int)tag;
				char buf[256];
				ssize_t r = read(c, buf, sizeof(buf));

				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (r > 0) {
					unsigned total = got[c] + (unsigned)r;

					got[c] = total > 255 ? 255 : (unsigned char)total;
					if (total < MSG_SIZE)
						continue;
					if (write(c, response, MSG_SIZE) < 0) {
						/* the client went away: close all the same */
					}
				}
				close(c); /* the server closes first, as HTTP/1.0 does */
			}
		}
	}
}

/* ---- clients ----------------------------------------------------------------------------- */

enum { CONNECTING = 1, READING = 2 };

struct client {
	int ep;
	long inflight;
	long started, connected, completed, failed, local_errors, received;
	unsigned char *state; /* by fd */
	size_t state_cap;
};

static void track(struct client *cl, int fd, unsigned char st)
{
	if ((size_t)fd >= cl->state_cap) {
		size_t cap = cl->state_cap ? cl->state_cap : 4096;

		while (cap <= (size_t)fd)
			cap *= 2;
		cl->state = realloc(cl->state, cap);
		if (!cl->state)
			die("realloc");
		memset(cl->state + cl->state_cap, 0, cap - cl->state_cap);
		cl->state_cap = cap;
	}
	cl->state[fd] = st;
}

/* starts one nonblocking connect; returns the fd, or -1 (counted) */
static int start_connect(struct client *cl, uint32_t addr, int port, uint32_t events)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = { addr } };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		cl->local_errors++;
		return -1;
	}
	cl->started++;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
		if (errno == EADDRNOTAVAIL || errno == EAGAIN)
			cl->local_errors++; /* no local port free: not the server's fault */
		else
			cl->failed++;
		cl->started--;
		close(fd);
		return -1;
	}
	track(cl, fd, CONNECTING);
	ep_add(cl->ep, fd, events, (uint64_t)fd);
	cl->inflight++;
	return fd;
}

/* EPOLLOUT on a connecting socket: established or failed */
static int finish_connect(struct client *cl, int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		cl->failed++;
		cl->inflight--;
		cl->state[fd] = 0;
		close(fd);
		return -1;
	}
	cl->connected++;
	return 0;
}

static int churn(const char *host, int port, double rate, double seconds, long max_inflight)
{
	struct client cl = { 0 };
	struct epoll_event evs[512];
	struct in_addr addr;
	double t0, stop, end;

	if (inet_pton(AF_INET, host, &addr) != 1) {
		fprintf(stderr, "tcpload: bad IPv4 address %s\n", host);
		return 2;
	}
	if (want_fds((rlim_t)max_inflight + 64) < (rlim_t)max_inflight + 64) {
		fprintf(stderr, "tcpload churn: <inflight> above the descriptor limit\n");
		return 1;
	}
	cl.ep = epoll_create1(EPOLL_CLOEXEC);
	if (cl.ep < 0)
		die("epoll_create1");
	printf("start\n");
	fflush(stdout);
	t0 = now_ms();
	stop = t0 + seconds * 1e3;
	for (;;) {
		double t = now_ms();
		int n;

		if (t < stop) {
			long due = rate > 0 ? (long)((t - t0) * rate / 1e3) + 1 : LONG_MAX;

			while (cl.started < due && cl.inflight < max_inflight) {
				if (start_connect(&cl, addr.s_addr, port, EPOLLOUT) < 0)
					break; /* counted; try again on the next tick */
			}
		} else if (cl.inflight == 0 || t > stop + 10e3) {
			break;
		}
		n = epoll_wait(cl.ep, evs, 512, 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = (int)evs[i].data.u64;

			if (cl.state[fd] == CONNECTING) {
				if (finish_connect(&cl, fd) < 0)
					continue;
				if (write(fd, request, MSG_SIZE) != MSG_SIZE) {
					cl.failed++;
					cl.inflight--;
					cl.state[fd] = 0;
					close(fd);
					continue;
				}
				cl.state[fd] = READING;
				ep_mod(cl.ep, fd, EPOLLIN, (uint64_t)fd);
				continue;
			}
			{
				char buf[256];
				ssize_t r = read(fd, buf, sizeof(buf));

				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (r > 0) {
					cl.received += r;
					continue; /* until the server's FIN */
				}
				if (r == 0)
					cl.completed++;
				else
					cl.failed++;
				cl.inflight--;
				cl.state[fd] = 0;
				close(fd);
			}
		}
	}
	end = now_ms();
	printf("{\"started\":%ld,\"connected\":%ld,\"completed\":%ld,\"failed\":%ld,"
	       "\"local_errors\":%ld,\"unfinished\":%ld,\"bytes_received\":%ld,\"ms\":%.1f,"
	       "\"load_ms\":%.1f}\n",
	       cl.started, cl.connected, cl.completed, cl.failed, cl.local_errors, cl.inflight,
	       cl.received, end - t0, seconds * 1e3);
	fflush(stdout);
	return 0;
}

static int hold(const char *first, int naddrs, int port, int nports, long count, long max_inflight)
{
	struct client cl = { 0 };
	struct epoll_event evs[512];
	struct in_addr base;
	long next = 0, dests = (long)naddrs * nports;
	char line[64];
	double t0;

	if (inet_pton(AF_INET, first, &base) != 1) {
		fprintf(stderr, "tcpload: bad IPv4 address %s\n", first);
		return 2;
	}
	if (want_fds((rlim_t)count + 64) < (rlim_t)count + 64) {
		fprintf(stderr, "tcpload hold: %ld connections need more descriptors than the hard "
				"limit allows: use more processes\n", count);
		return 1;
	}
	cl.ep = epoll_create1(EPOLL_CLOEXEC);
	if (cl.ep < 0)
		die("epoll_create1");
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 0; /* closed before "go" */
	t0 = now_ms();
	while (next < count || cl.inflight > 0) {
		int n;

		while (next < count && cl.inflight < max_inflight) {
			long d = next % dests;
			uint32_t a = htonl(ntohl(base.s_addr) + (uint32_t)(d / nports));

			if (start_connect(&cl, a, port + (int)(d % nports), EPOLLOUT) < 0) {
				if (cl.local_errors > 1000) {
					fprintf(stderr, "tcpload hold: no local ports left\n");
					count = next;
				}
				break;
			}
			next++;
		}
		n = epoll_wait(cl.ep, evs, 512, 10);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = (int)evs[i].data.u64;

			if (finish_connect(&cl, fd) < 0)
				continue;
			cl.inflight--;
			cl.state[fd] = 0;
			/* kept open, no longer watched */
			epoll_ctl(cl.ep, EPOLL_CTL_DEL, fd, NULL);
		}
	}
	printf("{\"connected\":%ld,\"failed\":%ld,\"local_errors\":%ld,\"destinations\":%ld,"
	       "\"ms\":%.1f}\n",
	       cl.connected, cl.failed, cl.local_errors, dests < count ? dests : count, now_ms() - t0);
	fflush(stdout);
	while (!stdin_closed()) {
	}
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 5 && strcmp(argv[1], "server") == 0)
		return server(atoi(argv[2]), atoi(argv[3]), strcmp(argv[4], "respond") == 0);
	if (argc == 7 && strcmp(argv[1], "churn") == 0)
		return churn(argv[2], atoi(argv[3]), atof(argv[4]), atof(argv[5]), atol(argv[6]));
	if (argc == 8 && strcmp(argv[1], "hold") == 0)
		return hold(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atol(argv[6]),
			    atol(argv[7]));
	fprintf(stderr, "usage: tcpload server <port> <nports> respond|hold\n"
			"       tcpload churn <addr> <port> <rate> <seconds> <inflight>\n"
			"       tcpload hold <first-addr> <naddrs> <port> <nports> <count> "
			"<inflight>\n");
	return 2;
}
