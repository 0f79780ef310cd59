// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The systemd journal, read through libsystemd's sd_journal (reference
 * §5.1 "journald"). libsystemd.so.0 is opened with dlopen on first use, so
 * the library loads on hosts without it and only this source goes missing.
 *
 * One handle follows the journal files of one directory (the host's
 * /run/log/journal or /var/log/journal, through the agent's view of the host
 * root): it starts at the end (or just after a cursor a previous reader
 * kept), osp_journal_wait() sleeps on inotify until entries arrive, and
 * osp_journal_read() copies the fields the logs module routes and counts by
 * into the caller's buffer. sd_journal follows journal file rotation and
 * journald restarts by itself (new files appear in the directory).
 *
 * An sd_journal is not thread-safe: the caller must not run two calls on one
 * handle at once (TypeScript awaits each). Closing while a wait runs is safe:
 * the journal is freed when the wait returns (at most its timeout).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <systemd/sd-journal.h>

#include "internal.h"

#define OSP_MAX_JOURNALS 16
/* longest field value copied (MESSAGE is cut here, like the parser's message cap) */
#define OSP_JOURNAL_FIELD_MAX 65536

static struct osp_slot *journal_items[OSP_MAX_JOURNALS];
static uint32_t journal_gens[OSP_MAX_JOURNALS];
static struct osp_table osp_journals = {
	.items = journal_items, .gens = journal_gens, .cap = OSP_MAX_JOURNALS
};

/* the libsystemd calls used, resolved once */
static struct {
	int state; /* 0 not tried, 1 loaded, -errno failed */
	char why[256];
	int (*open_directory)(sd_journal **, const char *, int);
	void (*close)(sd_journal *);
	int (*seek_tail)(sd_journal *);
	int (*seek_cursor)(sd_journal *, const char *);
	int (*test_cursor)(sd_journal *, const char *);
	int (*previous)(sd_journal *);
	int (*next)(sd_journal *);
	int (*wait)(sd_journal *, uint64_t);
	int (*get_data)(sd_journal *, const char *, const void **, size_t *);
	int (*get_realtime_usec)(sd_journal *, uint64_t *);
	int (*get_cursor)(sd_journal *, char **);
	int (*set_data_threshold)(sd_journal *, size_t);
	int (*get_usage)(sd_journal *, uint64_t *);
} sd;

static pthread_mutex_t sd_lock = PTHREAD_MUTEX_INITIALIZER;

#define RESOLVE(lib, field, name)                                                  \
	do {                                                                       \
		*(void **)&sd.field = dlsym(lib, name);                            \
		if (!sd.field) {                                                   \
			snprintf(sd.why, sizeof(sd.why), "libsystemd.so.0 has no %s", name); \
			return -ENOSYS;                                            \
		}                                                                  \
	} while (0)

static int resolve_all(void *lib)
{
	RESOLVE(lib, open_directory, "sd_journal_open_directory");
	RESOLVE(lib, close, "sd_journal_close");
	RESOLVE(lib, seek_tail, "sd_journal_seek_tail");
	RESOLVE(lib, seek_cursor, "sd_journal_seek_cursor");
	RESOLVE(lib, test_cursor, "sd_journal_test_cursor");
	RESOLVE(lib, previous, "sd_journal_previous");
	RESOLVE(lib, next, "sd_journal_next");
	RESOLVE(lib, wait, "sd_journal_wait");
	RESOLVE(lib, get_data, "sd_journal_get_data");
	RESOLVE(lib, get_realtime_usec, "sd_journal_get_realtime_usec");
	RESOLVE(lib, get_cursor, "sd_journal_get_cursor");
	RESOLVE(lib, set_data_threshold, "sd_journal_set_data_threshold");
	RESOLVE(lib, get_usage, "sd_journal_get_usage");
	return 0;
}

static int load_libsystemd(void)
{
	pthread_mutex_lock(&sd_lock);
	if (sd.state == 0) {
		void *lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);

		if (!lib) {
			const char *e = dlerror();

			snprintf(sd.why, sizeof(sd.why), "cannot load libsystemd.so.0: %s",
				 e ? e : "unknown error");
			sd.state = -ENOENT;
		} else {
			int err = resolve_all(lib);

			sd.state = err ? err : 1;
		}
	}
	pthread_mutex_unlock(&sd_lock);
	return sd.state;
}

struct osp_journal {
	struct osp_slot slot;
	sd_journal *j;
};

static void journal_destroy(struct osp_slot *s)
{
	struct osp_journal *o = (struct osp_journal *)s;

	if (o->j)
		sd.close(o->j);
	free(o);
}

OSP_API int osp_journal_open(const uint8_t *dir, const uint8_t *cursor)
{
	uint64_t mark = osp_log_mark();
	const char *d = (const char *)dir;
	const char *c = (const char *)cursor;
	struct osp_journal *o;
	int err, h;

	if (!d || !d[0])
		return osp_fail(mark, -EINVAL, "open journal: empty directory");
	err = load_libsystemd();
	if (err < 0)
		return osp_fail(mark, err, "open journal \"%s\": %s", d, sd.why);
	o = calloc(1, sizeof(*o));
	if (!o)
		return osp_fail(mark, -ENOMEM, "open journal \"%s\"", d);
	o->slot.destroy = journal_destroy;
	err = sd.open_directory(&o->j, d, 0);
	if (err < 0) {
		o->j = NULL;
		journal_destroy(&o->slot);
		return osp_fail(mark, err, "open journal directory \"%s\"", d);
	}
	sd.set_data_threshold(o->j, OSP_JOURNAL_FIELD_MAX + 64);
	err = -1;
	if (c && c[0]) {
		/* resume just after the kept entry, when it still exists */
		err = sd.seek_cursor(o->j, c);
		if (err >= 0 && sd.next(o->j) > 0 && sd.test_cursor(o->j, c) > 0)
			err = 0;
		else
			err = -1;
	}
	if (err < 0) {
		/* the end: the last entry is consumed, next() returns newer ones */
		err = sd.seek_tail(o->j);
		if (err >= 0)
			sd.previous(o->j);
	}
	if (err < 0) {
		journal_destroy(&o->slot);
		return osp_fail(mark, err, "seek to the end of journal \"%s\"", d);
	}
	h = osp_table_insert(&osp_journals, &o->slot);
	if (h < 0) {
		journal_destroy(&o->slot);
		return osp_fail(mark, h, "open journal \"%s\": %d journals already open", d,
				OSP_MAX_JOURNALS);
	}
	return h;
}

OSP_API int osp_journal_wait(int h, uint32_t timeout_ms)
{
	struct osp_slot *s = osp_table_acquire(&osp_journals, h);
	int r;

	if (!s)
		return -EBADF;
	if (timeout_ms > 1000)
		timeout_ms = 1000;
	r = sd.wait(((struct osp_journal *)s)->j, (uint64_t)timeout_ms * 1000);
	osp_slot_release(s);
	return r;
}

/* a field's value without its "NAME=" prefix; len 0 when absent */
static const uint8_t *field(sd_journal *j, const char *name, size_t *len)
{
	const void *data;
	size_t n, k = strlen(name);

	if (sd.get_data(j, name, &data, &n) < 0 || n <= k) {
		*len = 0;
		return NULL;
	}
	*len = n - k - 1;
	return (const uint8_t *)data + k + 1;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put_u64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

OSP_API int osp_journal_read(int h, uint8_t *buf, uint32_t cap, uint32_t max_entries)
{
	struct osp_slot *s = osp_table_acquire(&osp_journals, h);
	uint32_t used = 0, n = 0;
	sd_journal *j;
	int r = 0;

	if (!s)
		return -EBADF;
	j = ((struct osp_journal *)s)->j;
	while (n < max_entries) {
		const uint8_t *msg, *unit, *cid, *prio;
		size_t msg_len, unit_len, cid_len, prio_len;
		uint64_t usec = 0;
		uint32_t priority = OSP_JOURNAL_NO_PRIORITY, flags = 0, len;

		r = sd.next(j);
		if (r <= 0)
			break;
		msg = field(j, "MESSAGE", &msg_len);
		if (!msg)
			continue; /* nothing to count */
		unit = field(j, "_SYSTEMD_UNIT", &unit_len);
		cid = field(j, "CONTAINER_ID_FULL", &cid_len);
		prio = field(j, "PRIORITY", &prio_len);
		if (prio && prio_len == 1 && prio[0] >= '0' && prio[0] <= '7')
			priority = prio[0] - '0';
		if (unit_len > 255)
			unit_len = 0;
		if (cid_len > 255)
			cid_len = 0;
		if (msg_len > OSP_JOURNAL_FIELD_MAX) {
			msg_len = OSP_JOURNAL_FIELD_MAX;
			flags |= OSP_JOURNAL_F_CUT;
		}
		sd.get_realtime_usec(j, &usec);
		len = (uint32_t)(OSP_JOURNAL_ENTRY_HDR + unit_len + cid_len + msg_len);
		len = (len + 7) & ~7u;
		if (len > cap - used) {
			/* stays pending for the next read */
			sd.previous(j);
			if (n == 0)
				r = -ENOSPC;
			break;
		}
		put_u32(buf + used, len);
		put_u32(buf + used + 4, priority);
		put_u64(buf + used + 8, usec);
		put_u32(buf + used + 16, (uint32_t)msg_len);
		buf[used + 20] = (uint8_t)unit_len;
		buf[used + 21] = (uint8_t)cid_len;
		buf[used + 22] = (uint8_t)flags;
		buf[used + 23] = 0;
		memcpy(buf + used + OSP_JOURNAL_ENTRY_HDR, unit, unit_len);
		memcpy(buf + used + OSP_JOURNAL_ENTRY_HDR + unit_len, cid, cid_len);
		memcpy(buf + used + OSP_JOURNAL_ENTRY_HDR + unit_len + cid_len, msg, msg_len);
		memset(buf + used + OSP_JOURNAL_ENTRY_HDR + unit_len + cid_len + msg_len, 0,
		       len - (OSP_JOURNAL_ENTRY_HDR + unit_len + cid_len + msg_len));
		used += len;
		n++;
	}
	osp_slot_release(s);
	if (r < 0 && n == 0)
		return r;
	return (int)used;
}

OSP_API int osp_journal_cursor(int h, uint8_t *buf, uint32_t cap)
{
	struct osp_slot *s = osp_table_acquire(&osp_journals, h);
	char *c = NULL;
	int r;

	if (!s)
		return -EBADF;
	r = sd.get_cursor(((struct osp_journal *)s)->j, &c);
	osp_slot_release(s);
	if (r < 0)
		return r;
	r = osp_copy_text(buf, cap, c, strlen(c));
	free(c);
	return r;
}

OSP_API int osp_journal_close(int h)
{
	return osp_table_close(&osp_journals, h);
}
