// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * netprobe: the TCP peer of the network module's end-to-end tests (tests/net/). One static
 * binary (it also runs inside the busybox Podman image), every mode writing one JSON object
 * per line on stdout, so a test knows exactly how many connects succeeded and how many bytes
 * went each way, whatever path the bytes took (write, sendfile, splice, io_uring).
 *
 * Servers (run until SIGTERM; SIGUSR1 closes the listening socket and keeps the process):
 *   server ADDR PORT MODE [ARG]   listen on ADDR:PORT (PORT 0: any), print {"listening":port};
 *     MODE close          accept and close at once (churn)
 *     MODE drain          read each connection until EOF, then close
 *     MODE reply M        read until EOF, then write M bytes and close
 *     MODE answer N:M     read N bytes, write M bytes, then read until EOF and close
 *     MODE answer-close N:M   read N bytes, write M bytes and close
 *     MODE sendfile PATH  send PATH with sendfile(2), then close
 *
 * Clients (exit 0 when every step did what it should, 1 otherwise):
 *   connect HOST PORT COUNT SEND RECV [keep]   COUNT connections one after another: write
 *       SEND bytes, shut down the write side, read to EOF (expecting RECV bytes), close; with
 *       "keep", no shutdown: read exactly RECV bytes, then close; prints
 *       {"connected":n,"failed":n,"sent":n,"received":n}
 *   hold HOST PORT COUNT      COUNT connections held open: {"local":ip,"port":n} each, then
 *       {"held":COUNT}; a line "close" (or EOF) on stdin closes them ({"closed":COUNT})
 *   session HOST PORT         one connection driven by stdin lines: "send N" writes N bytes
 *       ({"sent":N}), "close" closes it ({"closed":true}); prints {"local":ip,"port":n}
 *   sendfile HOST PORT PATH   sends PATH with sendfile(2), then reads to EOF
 *   splice HOST PORT N        sends N bytes through a pipe with splice(2), then reads to EOF
 *   uring HOST PORT N         sends N bytes with IORING_OP_SEND and reads to EOF with
 *       IORING_OP_RECV (raw io_uring syscalls: no liburing); exit 3 when io_uring is off
 *   churn HOST PORT SECONDS THREADS   connect and close (SO_LINGER 0: a reset, no TIME_WAIT)
 *       as fast as THREADS threads can for SECONDS; prints {"connected":n,"failed":n,"ms":n}
 *   vanish HOST PORT COUNT    COUNT child processes, each connects and exits at once
 *       without closing (the kernel closes the socket); prints {"connected":n,"failed":n}
 *   unix PATH                 an AF_UNIX stream listener, a connect to it and 100 bytes over it
 *
 * Addresses are IPv4 or IPv6 literals ("::" listens on both families). NETPROBE_MPTCP=1 in the
 * environment makes every stream socket an MPTCP one (IPPROTO_MPTCP).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static char chunk[65536];

static void die(const char *what)
{
	printf("{\"error\":\"%s: %s\"}\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static long num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr, "netprobe: not a count: %s\n", s);
		exit(2);
	}
	return v;
}

static socklen_t parse_addr(const char *host, long port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		return sizeof(*a6);
	}
	fprintf(stderr, "netprobe: not an IP address: %s\n", host);
	exit(2);
}

/* the local end of a socket as {"local":ip,"port":n} */
static void print_local(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "";
	int port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
			port = ntohs(a->sin_port);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
			port = ntohs(a->sin6_port);
		}
	}
	out("{\"local\":\"%s\",\"port\":%d}", ip, port);
}

static long write_all(int fd, long n)
{
	long done = 0;

	while (done < n) {
		size_t want = (size_t)(n - done) < sizeof(chunk) ? (size_t)(n - done) : sizeof(chunk);
		ssize_t w = write(fd, chunk, want);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += w;
	}
	return done;
}

static long read_all(int fd)
{
	static __thread char buf[65536];
	long total = 0;

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return total;
		total += r;
	}
}

/* reads exactly n bytes (fewer only at EOF or an error) */
static long read_n(int fd, long n)
{
	static __thread char buf[65536];
	long total = 0;

	while (total < n) {
		size_t want = (size_t)(n - total) < sizeof(buf) ? (size_t)(n - total) : sizeof(buf);
		ssize_t r = read(fd, buf, want);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		total += r;
	}
	return total;
}

static int stream_proto(void)
{
	const char *m = getenv("NETPROBE_MPTCP");

	return m && strcmp(m, "1") == 0 ? IPPROTO_MPTCP : 0;
}

static int connect_to(const char *host, long port, int proto)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(host, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, proto);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ---- server ------------------------------------------------------------------------- */

static volatile sig_atomic_t close_listener;

static void on_usr1(int sig)
{
	(void)sig;
	close_listener = 1;
}

struct job {
	int fd;
	const char *mode;
	const char *arg;
};

static void *serve(void *p)
{
	struct job *j = p;

	if (strcmp(j->mode, "drain") == 0) {
		read_all(j->fd);
	} else if (strcmp(j->mode, "reply") == 0) {
		read_all(j->fd);
		write_all(j->fd, num(j->arg));
	} else if (strcmp(j->mode, "answer") == 0 || strcmp(j->mode, "answer-close") == 0) {
		char *colon = strchr(j->arg, ':');
		long n = colon ? strtol(j->arg, NULL, 10) : 0;
		long m = colon ? strtol(colon + 1, NULL, 10) : 0;

		if (read_n(j->fd, n) == n) {
			write_all(j->fd, m);
			if (strcmp(j->mode, "answer") == 0)
				read_all(j->fd);
		}
	} else if (strcmp(j->mode, "sendfile") == 0) {
		int f = open(j->arg, O_RDONLY);
		struct stat st;
		off_t off = 0;

		if (f >= 0 && fstat(f, &st) == 0) {
			while (off < st.st_size) {
				ssize_t s = sendfile(j->fd, f, &off, (size_t)(st.st_size - off));
				if (s <= 0 && errno != EINTR)
					break;
			}
		}
		if (f >= 0)
			close(f);
	}
	close(j->fd);
	free(j);
	return NULL;
}

static int server(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, lfd;
	pthread_attr_t attr;

	if (argc < 3)
		return 2;
	len = parse_addr(argv[0], num(argv[1]), &ss);
	signal(SIGUSR1, on_usr1);
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(ss.ss_family, SOCK_STREAM, stream_proto());
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) {
		int zero = 0;
		setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (bind(lfd, (struct sockaddr *)&ss, len) != 0)
		die("bind");
	if (listen(lfd, 4096) != 0)
		die("listen");
	len = sizeof(ss);
	getsockname(lfd, (struct sockaddr *)&ss, &len);
	out("{\"listening\":%d}",
	    ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					  : ((struct sockaddr_in6 *)&ss)->sin6_port));
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	for (;;) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		int fd;

		if (close_listener) {
			close(lfd);
			out("{\"closed\":true}");
			for (;;)
				pause();
		}
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (strcmp(argv[2], "close") == 0) {
			close(fd);
			continue;
		}
		struct job *j = malloc(sizeof(*j));
		pthread_t t;

		j->fd = fd;
		j->mode = argv[2];
		j->arg = argc > 3 ? argv[3] : "0";
		if (pthread_create(&t, &attr, serve, j) != 0) {
			close(fd);
			free(j);
		}
	}
}

/* ---- clients ------------------------------------------------------------------------ */

static int cmd_connect(int argc, char **argv)
{
	long count, send_n, recv_n, connected = 0, failed = 0, sent = 0, received = 0;
	int proto = stream_proto(), ok = 1, keep;

	if (argc < 5)
		return 2;
	count = num(argv[2]);
	send_n = num(argv[3]);
	recv_n = num(argv[4]);
	keep = argc > 5 && strcmp(argv[5], "keep") == 0;
	for (long i = 0; i < count; i++) {
		int fd = connect_to(argv[0], num(argv[1]), proto);
		long w, r;

		if (fd < 0) {
			if (proto == IPPROTO_MPTCP &&
			    (errno == EPROTONOSUPPORT || errno == ENOPROTOOPT || errno == EINVAL)) {
				out("{\"error\":\"mptcp: %s\"}", strerror(errno));
				return 3;
			}
			failed++;
			continue;
		}
		connected++;
		w = write_all(fd, send_n);
		if (keep) {
			r = read_n(fd, recv_n);
		} else {
			shutdown(fd, SHUT_WR);
			r = read_all(fd);
		}
		close(fd);
		if (w != send_n || r != recv_n)
			ok = 0;
		sent += w > 0 ? w : 0;
		received += r > 0 ? r : 0;
	}
	out("{\"connected\":%ld,\"failed\":%ld,\"sent\":%ld,\"received\":%ld}", connected, failed,
	    sent, received);
	return ok ? 0 : 1;
}

static int cmd_hold(int argc, char **argv)
{
	long count;
	int *fds;
	char line[64];

	if (argc < 3)
		return 2;
	count = num(argv[2]);
	fds = calloc((size_t)count + 1, sizeof(int));
	for (long i = 0; i < count; i++) {
		fds[i] = connect_to(argv[0], num(argv[1]), stream_proto());
		if (fds[i] < 0)
			die("connect");
		print_local(fds[i]);
	}
	out("{\"held\":%ld}", count);
	while (fgets(line, sizeof(line), stdin) && strncmp(line, "close", 5) != 0) {
	}
	for (long i = 0; i < count; i++)
		close(fds[i]);
	out("{\"closed\":%ld}", count);
	/* stay until stdin closes, so the test decides when the process goes */
	while (fgets(line, sizeof(line), stdin)) {
	}
	return 0;
}

static int cmd_session(int argc, char **argv)
{
	char line[64];
	int fd;

	if (argc < 2)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	fd = connect_to(argv[0], num(argv[1]), stream_proto());
	if (fd < 0)
		die("connect");
	print_local(fd);
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "send ", 5) == 0) {
			line[strcspn(line, "\n")] = '\0';
			out("{\"sent\":%ld}", write_all(fd, num(line + 5)));
		} else if (strncmp(line, "close", 5) == 0) {
			close(fd);
			out("{\"closed\":true}");
		}
	}
	return 0;
}

/* after sending: shut the write side, read the answer to EOF, print both counts */
static int finish(int fd, long sent, long want_sent)
{
	long r;

	shutdown(fd, SHUT_WR);
	r = read_all(fd);
	close(fd);
	out("{\"sent\":%ld,\"received\":%ld}", sent, r);
	return sent == want_sent && r >= 0 ? 0 : 1;
}

static int cmd_sendfile(int argc, char **argv)
{
	struct stat st;
	off_t off = 0;
	int fd, f;

	if (argc < 3)
		return 2;
	f = open(argv[2], O_RDONLY);
	if (f < 0 || fstat(f, &st) != 0)
		die("open");
	fd = connect_to(argv[0], num(argv[1]), stream_proto());
	if (fd < 0)
		die("connect");
	while (off < st.st_size) {
		ssize_t s = sendfile(fd, f, &off, (size_t)(st.st_size - off));
		if (s < 0 && errno != EINTR)
			die("sendfile");
		if (s == 0)
			break;
	}
	close(f);
	return finish(fd, (long)off, (long)st.st_size);
}

static int cmd_splice(int argc, char **argv)
{
	long n, done = 0;
	int fd, p[2];

	if (argc < 3)
		return 2;
	n = num(argv[2]);
	fd = connect_to(argv[0], num(argv[1]), stream_proto());
	if (fd < 0)
		die("connect");
	if (pipe(p) != 0)
		die("pipe");
	while (done < n) {
		long want = n - done < 16384 ? n - done : 16384;
		ssize_t w = write(p[1], chunk, (size_t)want);
		long in_pipe;

		if (w < 0)
			die("write pipe");
		in_pipe = w;
		while (in_pipe > 0) {
			ssize_t s = splice(p[0], NULL, fd, NULL, (size_t)in_pipe, SPLICE_F_MOVE);
			if (s < 0) {
				if (errno == EINTR)
					continue;
				die("splice");
			}
			in_pipe -= s;
			done += s;
		}
	}
	close(p[0]);
	close(p[1]);
	return finish(fd, done, n);
}

/* ---- io_uring, by its raw system calls ---------------------------------------------- */

struct uring {
	int fd;
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int uring_init(struct uring *u)
{
	struct io_uring_params p;
	void *sq, *cq;
	size_t sq_len, cq_len;

	memset(&p, 0, sizeof(p));
	u->fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (u->fd < 0)
		return -1;
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sq_len = cq_len = sq_len > cq_len ? sq_len : cq_len;
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
		  IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return -1;
	cq = (p.features & IORING_FEAT_SINGLE_MMAP)
		     ? sq
		     : mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
			    IORING_OFF_CQ_RING);
	if (cq == MAP_FAILED)
		return -1;
	u->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQES);
	if (u->sqes == MAP_FAILED)
		return -1;
	u->sq_head = (unsigned *)((char *)sq + p.sq_off.head);
	u->sq_tail = (unsigned *)((char *)sq + p.sq_off.tail);
	u->sq_mask = (unsigned *)((char *)sq + p.sq_off.ring_mask);
	u->sq_array = (unsigned *)((char *)sq + p.sq_off.array);
	u->cq_head = (unsigned *)((char *)cq + p.cq_off.head);
	u->cq_tail = (unsigned *)((char *)cq + p.cq_off.tail);
	u->cq_mask = (unsigned *)((char *)cq + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)((char *)cq + p.cq_off.cqes);
	return 0;
}

/* one operation, submitted and waited for; returns its result (bytes or -errno) */
static int uring_op(struct uring *u, __u8 op, int fd, void *buf, unsigned len)
{
	unsigned tail = __atomic_load_n(u->sq_tail, __ATOMIC_ACQUIRE);
	unsigned idx = tail & *u->sq_mask, head;
	struct io_uring_sqe *sqe = &u->sqes[idx];
	int res;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = fd;
	sqe->addr = (unsigned long)buf;
	sqe->len = len;
	u->sq_array[idx] = idx;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, u->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	head = __atomic_load_n(u->cq_head, __ATOMIC_ACQUIRE);
	while (head == __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE)) {
		if (syscall(__NR_io_uring_enter, u->fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
			return -errno;
	}
	res = u->cqes[head & *u->cq_mask].res;
	__atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

static int cmd_uring(int argc, char **argv)
{
	static char buf[65536];
	struct uring u;
	long n, sent = 0, received = 0;
	int fd, r;

	if (argc < 3)
		return 2;
	n = num(argv[2]);
	if (uring_init(&u) != 0) {
		out("{\"error\":\"io_uring: %s\"}", strerror(errno));
		return 3;
	}
	fd = connect_to(argv[0], num(argv[1]), stream_proto());
	if (fd < 0)
		die("connect");
	while (sent < n) {
		unsigned want = n - sent < (long)sizeof(chunk) ? (unsigned)(n - sent) : sizeof(chunk);
		r = uring_op(&u, IORING_OP_SEND, fd, chunk, want);
		if (r < 0 && r != -EINTR && r != -EAGAIN) {
			errno = -r;
			die("IORING_OP_SEND");
		}
		if (r > 0)
			sent += r;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		r = uring_op(&u, IORING_OP_RECV, fd, buf, sizeof(buf));
		if (r == -EINTR || r == -EAGAIN)
			continue;
		if (r < 0) {
			errno = -r;
			die("IORING_OP_RECV");
		}
		if (r == 0)
			break;
		received += r;
	}
	close(fd);
	close(u.fd);
	out("{\"sent\":%ld,\"received\":%ld}", sent, received);
	return sent == n ? 0 : 1;
}

/* ---- churn -------------------------------------------------------------------------- */

struct churn {
	struct sockaddr_storage ss;
	socklen_t len;
	struct timespec until;
	long connected, failed;
};

static int before(const struct timespec *until)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < until->tv_sec ||
	       (now.tv_sec == until->tv_sec && now.tv_nsec < until->tv_nsec);
}

static void *churn_worker(void *p)
{
	struct churn *c = p;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	while (before(&c->until)) {
		for (int i = 0; i < 64; i++) {
			int fd = socket(c->ss.ss_family, SOCK_STREAM, 0);

			if (fd < 0) {
				c->failed++;
				continue;
			}
			if (connect(fd, (struct sockaddr *)&c->ss, c->len) == 0) {
				c->connected++;
				setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			} else {
				c->failed++;
			}
			close(fd);
		}
	}
	return NULL;
}

static int cmd_churn(int argc, char **argv)
{
	long seconds, threads, connected = 0, failed = 0;
	struct churn *cs;
	pthread_t *ts;
	struct timespec t0, t1;

	if (argc < 4)
		return 2;
	seconds = num(argv[2]);
	threads = num(argv[3]);
	cs = calloc((size_t)threads, sizeof(*cs));
	ts = calloc((size_t)threads, sizeof(*ts));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < threads; i++) {
		cs[i].len = parse_addr(argv[0], num(argv[1]), &cs[i].ss);
		cs[i].until = t0;
		cs[i].until.tv_sec += seconds;
		pthread_create(&ts[i], NULL, churn_worker, &cs[i]);
	}
	for (long i = 0; i < threads; i++) {
		pthread_join(ts[i], NULL);
		connected += cs[i].connected;
		failed += cs[i].failed;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out("{\"connected\":%ld,\"failed\":%ld,\"ms\":%ld}", connected, failed,
	    (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	return 0;
}

/* ---- processes that vanish, and a socket family the module does not follow ----------- */

static int cmd_vanish(int argc, char **argv)
{
	long count, connected = 0, failed = 0;

	if (argc < 3)
		return 2;
	count = num(argv[2]);
	for (long i = 0; i < count; i++) {
		pid_t pid = fork();
		int status;

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			int fd = connect_to(argv[0], num(argv[1]), stream_proto());
			_exit(fd < 0 ? 1 : 0); /* the kernel closes the socket */
		}
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
			connected++;
		else
			failed++;
	}
	out("{\"connected\":%ld,\"failed\":%ld}", connected, failed);
	return 0;
}

static int cmd_unix(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int l, c, s;
	long r;

	if (argc < 1)
		return 2;
	strncpy(a.sun_path, argv[0], sizeof(a.sun_path) - 1);
	unlink(argv[0]);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 16) != 0)
		die("unix listen");
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0)
		die("unix connect");
	s = accept(l, NULL, NULL);
	if (s < 0)
		die("unix accept");
	write_all(c, 100);
	close(c);
	r = read_all(s);
	close(s);
	close(l);
	unlink(argv[0]);
	out("{\"unix\":%ld}", r);
	return r == 100 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: netprobe server|connect|hold|session|sendfile|splice|uring|"
				"churn|vanish|unix ...\n");
		return 2;
	}
	memset(chunk, 'x', sizeof(chunk));
	signal(SIGPIPE, SIG_IGN);
	argc -= 2;
	argv += 2;
	if (strcmp(argv[-1], "server") == 0)
		return server(argc, argv);
	if (strcmp(argv[-1], "connect") == 0)
		return cmd_connect(argc, argv);
	if (strcmp(argv[-1], "hold") == 0)
		return cmd_hold(argc, argv);
	if (strcmp(argv[-1], "session") == 0)
		return cmd_session(argc, argv);
	if (strcmp(argv[-1], "sendfile") == 0)
		return cmd_sendfile(argc, argv);
	if (strcmp(argv[-1], "splice") == 0)
		return cmd_splice(argc, argv);
	if (strcmp(argv[-1], "uring") == 0)
		return cmd_uring(argc, argv);
	if (strcmp(argv[-1], "churn") == 0)
		return cmd_churn(argc, argv);
	if (strcmp(argv[-1], "vanish") == 0)
		return cmd_vanish(argc, argv);
	if (strcmp(argv[-1], "unix") == 0)
		return cmd_unix(argc, argv);
	fprintf(stderr, "netprobe: unknown mode %s\n", argv[-1]);
	return 2;
}
