// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Handle tables. A handle encodes slot index and a per-slot generation, so a
 * stale handle (closed, slot reused) is refused instead of reaching another
 * object. One lock guards all tables; calls are short, contention is nil.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>

#include "internal.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int encode(const struct osp_table *t, uint32_t idx)
{
	return (int)(t->gens[idx] * t->cap + idx + 1);
}

int osp_table_insert(struct osp_table *t, struct osp_slot *s)
{
	int h = -EMFILE;

	pthread_mutex_lock(&g_lock);
	for (uint32_t i = 0; i < t->cap; i++) {
		if (t->items[i])
			continue;
		/* keep handles positive ints; generations wrap long before overflow */
		t->gens[i] = (t->gens[i] + 1) % ((uint32_t)(INT_MAX / t->cap) - 1);
		t->items[i] = s;
		s->refs = 1;
		s->closing = false;
		s->handle = h = encode(t, i);
		break;
	}
	pthread_mutex_unlock(&g_lock);
	return h;
}

static struct osp_slot *lookup_locked(struct osp_table *t, int h)
{
	uint32_t idx;

	if (h <= 0)
		return NULL;
	idx = (uint32_t)(h - 1) % t->cap;
	if (!t->items[idx] || t->items[idx]->handle != h)
		return NULL;
	return t->items[idx];
}

struct osp_slot *osp_table_acquire(struct osp_table *t, int h)
{
	struct osp_slot *s;

	pthread_mutex_lock(&g_lock);
	s = lookup_locked(t, h);
	if (s)
		s->refs++;
	pthread_mutex_unlock(&g_lock);
	return s;
}

void osp_slot_release(struct osp_slot *s)
{
	bool last;

	pthread_mutex_lock(&g_lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&g_lock);
	/* outside the lock: destroying an object closes its rings */
	if (last)
		s->destroy(s);
}

int osp_table_close(struct osp_table *t, int h)
{
	struct osp_slot *s;

	if (h <= 0)
		return -EBADF;
	pthread_mutex_lock(&g_lock);
	s = lookup_locked(t, h);
	if (s) {
		t->items[(uint32_t)(h - 1) % t->cap] = NULL;
		__atomic_store_n(&s->closing, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&g_lock);
	if (!s)
		return 0; /* already closed: close is idempotent */
	if (s->on_close)
		s->on_close(s);
	osp_slot_release(s); /* drop the table's reference */
	return 0;
}

bool osp_slot_closing(const struct osp_slot *s)
{
	return __atomic_load_n(&s->closing, __ATOMIC_ACQUIRE);
}
