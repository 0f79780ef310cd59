// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's end of osprey-broker (ffi/launcher/broker.c, the wire format in
 * include/osprey_broker.h): one request out, its answer back, matched by the
 * sequence number in the first four bytes. TypeScript encodes the request and
 * decodes the answer; this only moves the bytes. One call at a time talks
 * to the broker (a mutex, waited for within the call's timeout), so a call
 * from the JavaScript thread and one from a pool thread never take each
 * other's answers.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "internal.h"

static pthread_mutex_t broker_lock = PTHREAD_MUTEX_INITIALIZER;

/* descriptors the broker passed, which osp_broker_close_fd() may close */
#define MAX_PASSED 1024
static int passed_fds[MAX_PASSED];
static int npassed;

/* under broker_lock */
static int remember_fd(int fd)
{
	if (npassed == MAX_PASSED)
		return -1;
	passed_fds[npassed++] = fd;
	return 0;
}

OSP_API int osp_broker_close_fd(int fd)
{
	int i, found = -EBADF;

	pthread_mutex_lock(&broker_lock);
	for (i = 0; i < npassed; i++) {
		if (passed_fds[i] == fd) {
			passed_fds[i] = passed_fds[--npassed];
			found = 0;
			close(fd);
			break;
		}
	}
	pthread_mutex_unlock(&broker_lock);
	return found;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

OSP_API int osp_broker_check(int fd)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof(type);

	if (fd < 0)
		return -EBADF;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
		return -errno;
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0)
		return -errno;
	return type == SOCK_SEQPACKET && domain == AF_UNIX ? 0 : -ENOTSOCK;
}

static int call_locked(int fd, const uint8_t *req, uint32_t req_len, uint8_t *ans,
		       uint32_t ans_cap, int64_t deadline)
{
	ssize_t n;

	do
		n = send(fd, req, req_len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		{
			char cbuf[CMSG_SPACE(sizeof(int))];
			struct iovec iov = { .iov_base = ans, .iov_len = ans_cap };
			struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
					    .msg_controllen = sizeof(cbuf) };
			struct cmsghdr *c;
			int passed = -1;

			n = recvmsg(fd, &m, MSG_TRUNC | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				return -EPIPE; // the broker is gone
			for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
				    c->cmsg_len == CMSG_LEN(sizeof(int)))
					memcpy(&passed, CMSG_DATA(c), sizeof(int));
			}
			if (n < 16 || memcmp(ans, req, 4) != 0) {
				if (passed >= 0)
					close(passed);
				continue; // the late answer of a request that timed out
			}
			if ((size_t)n > ans_cap) {
				if (passed >= 0)
					close(passed);
				return -EMSGSIZE;
			}
			if (passed >= 0 && remember_fd(passed) != 0) {
				close(passed);
				return -EMFILE;
			}
			memcpy(ans + 12, &passed, sizeof(int));
			return (int)n;
		}
	}
}

OSP_API int osp_broker_call(int fd, const uint8_t *req, uint32_t req_len, uint8_t *ans,
			    uint32_t ans_cap, uint32_t timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct timespec until;
	int err = osp_broker_check(fd);

	if (err)
		return err;
	if (req_len < 4 || ans_cap < 16 || ans_cap > INT32_MAX)
		return -EINVAL;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	err = pthread_mutex_timedlock(&broker_lock, &until);
	if (err)
		return -err;
	err = call_locked(fd, req, req_len, ans, ans_cap, deadline);
	pthread_mutex_unlock(&broker_lock);
	return err;
}
