// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Last-error text and libbpf log capture. libbpf prints its reasons (the
 * verifier log, a missing attach point) through a print callback; we keep the
 * recent lines in a ring of text so a failing call can hand them to
 * TypeScript with the step that failed, instead of losing them to stderr.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "internal.h"

#define LOG_CAP (32 * 1024)
/* enough for the interesting tail of a verifier log */
#define ERR_CAP (12 * 1024)

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_ring[LOG_CAP];
static uint64_t log_pos; /* bytes ever logged; ring index is log_pos % LOG_CAP */
static bool log_debug;

static char last_err[ERR_CAP];
static size_t last_err_len;

static void log_append(const char *s, size_t n)
{
	if (n > LOG_CAP) { /* only the tail can survive anyway */
		s += n - LOG_CAP;
		n = LOG_CAP;
	}
	for (size_t done = 0; done < n;) {
		size_t at = log_pos % LOG_CAP;
		size_t chunk = LOG_CAP - at < n - done ? LOG_CAP - at : n - done;

		memcpy(log_ring + at, s + done, chunk);
		done += chunk;
		log_pos += chunk;
	}
}

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char small[1024], *text = small;
	va_list ap2;
	int n;

	if (level == LIBBPF_DEBUG && !log_debug)
		return 0;
	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n >= (int)sizeof(small)) {
		/* verifier logs arrive as one big "%s" */
		text = malloc((size_t)n + 1);
		if (text)
			vsnprintf(text, (size_t)n + 1, fmt, ap2);
		else
			text = small, n = sizeof(small) - 1;
	}
	va_end(ap2);
	if (n > 0) {
		pthread_mutex_lock(&log_lock);
		log_append(text, (size_t)n);
		pthread_mutex_unlock(&log_lock);
	}
	if (text != small)
		free(text);
	return 0;
}

__attribute__((constructor)) static void osp_error_init(void)
{
	const char *dbg = getenv("OSPREY_LIBBPF_DEBUG");

	log_debug = dbg && *dbg && strcmp(dbg, "0") != 0;
	libbpf_set_print(print_fn);
}

uint64_t osp_log_mark(void)
{
	uint64_t pos;

	pthread_mutex_lock(&log_lock);
	pos = log_pos;
	pthread_mutex_unlock(&log_lock);
	return pos;
}

static const char *err_text(int err, char *buf, size_t cap)
{
	/* libbpf's own codes (LIBBPF_ERRNO__*) start at 4000 */
	if (libbpf_strerror(err, buf, cap) == 0)
		return buf;
	return strerror(-err);
}

int osp_fail(uint64_t mark, int err, const char *fmt, ...)
{
	char ebuf[128];
	va_list ap;
	size_t n = 0;

	pthread_mutex_lock(&log_lock);
	va_start(ap, fmt);
	n += (size_t)vsnprintf(last_err, ERR_CAP, fmt, ap);
	va_end(ap);
	if (n < ERR_CAP)
		n += (size_t)snprintf(last_err + n, ERR_CAP - n, ": %s (errno %d)",
				      err_text(err, ebuf, sizeof(ebuf)), -err);
	if (log_pos > mark && n + 16 < ERR_CAP) {
		uint64_t avail = log_pos - mark;
		size_t room = ERR_CAP - n - 16;
		size_t take;

		if (avail > LOG_CAP)
			avail = LOG_CAP;
		take = avail < room ? (size_t)avail : room;
		/* libbpf's lines carry their own "libbpf: " prefix */
		last_err[n++] = '\n';
		for (uint64_t p = log_pos - take; p < log_pos; p++)
			last_err[n++] = log_ring[p % LOG_CAP];
		while (n > 0 && (last_err[n - 1] == '\n' || last_err[n - 1] == ' '))
			n--;
		last_err[n] = '\0';
	}
	if (n >= ERR_CAP)
		n = ERR_CAP - 1;
	last_err_len = n;
	pthread_mutex_unlock(&log_lock);
	return err;
}

int osp_copy_text(uint8_t *buf, uint32_t cap, const char *text, size_t len)
{
	if (!buf || cap == 0 || len + 1 > cap)
		return -ENOSPC;
	memcpy(buf, text, len);
	buf[len] = 0;
	return (int)len;
}

OSP_API int osp_last_error(uint8_t *buf, uint32_t cap)
{
	size_t n;

	if (!buf || cap == 0)
		return -EINVAL;
	pthread_mutex_lock(&log_lock);
	n = last_err_len < cap - 1 ? last_err_len : cap - 1;
	memcpy(buf, last_err, n);
	buf[n] = 0;
	pthread_mutex_unlock(&log_lock);
	return (int)n;
}

OSP_API uint32_t osp_abi_version(void)
{
	return OSP_ABI_VERSION;
}
