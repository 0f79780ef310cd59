/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Internals shared by libosprey's translation units; nothing here is exported. */
#ifndef __OSP_INTERNAL_H
#define __OSP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "osprey.h"

struct bpf_object;
struct bpf_program;
struct bpf_link;
struct bpf_map;

/* --- handle tables (table.c) --- */

/*
 * Every handle-owned thing starts with a slot. A slot leaves its table when
 * closed (the handle goes stale at once) but is freed only when the last
 * thread using it lets go, so a blocking call on another thread never sees
 * freed memory.
 */
struct osp_slot {
	int handle;
	int refs;      /* table reference + one per call in progress; under g_lock */
	bool closing;  /* read without the lock by waiters, hence atomics */
	void (*on_close)(struct osp_slot *s); /* wake waiters; may be NULL */
	void (*destroy)(struct osp_slot *s);  /* free everything */
};

struct osp_table {
	struct osp_slot **items;
	uint32_t *gens;
	uint32_t cap;
};

int osp_table_insert(struct osp_table *t, struct osp_slot *s);
/* NULL when the handle is stale or closing; pair with osp_slot_release() */
struct osp_slot *osp_table_acquire(struct osp_table *t, int h);
void osp_slot_release(struct osp_slot *s);
int osp_table_close(struct osp_table *t, int h);
bool osp_slot_closing(const struct osp_slot *s);

/* --- errors and libbpf log capture (error.c) --- */

/* position in the captured libbpf log; messages after it belong to a call */
uint64_t osp_log_mark(void);
/*
 * Record a failure: "<what>: <strerror> (errno N)" plus libbpf's lines logged
 * since mark. Returns err (negative) so callers can `return osp_fail(...)`.
 */
int osp_fail(uint64_t mark, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* copy a NUL-terminated text into a caller buffer; -ENOSPC if it does not fit */
int osp_copy_text(uint8_t *buf, uint32_t cap, const char *text, size_t len);

/* --- objects (object.c) --- */

#define OSP_MAX_PROGS 32
/* rings wake their consumer once this fraction of them is full (ring.bpf.h) */
#define OSP_WAKEUP_FRACTION 8
#define OSP_MAX_OBJ_RINGS 8

struct osp_object {
	struct osp_slot slot;
	uint32_t kind;
	uint32_t flags;
	void *skel; /* struct proc_bpf / bench_bpf */
	void (*skel_destroy)(void *skel);
	struct bpf_object *obj;
	bool loaded;
	int nprogs;
	struct bpf_program *progs[OSP_MAX_PROGS];
	struct bpf_link *links[OSP_MAX_PROGS];
	uint8_t prog_kind[OSP_MAX_PROGS];
	int rings[OSP_MAX_OBJ_RINGS]; /* child ring handles, 0 = free */
	char info[512];
	/* bench: read-only view of the bench ring's positions, for pacing */
	void *pos_view;
	size_t pos_view_len;
};

extern struct osp_table osp_objects;

/* acquire an object by handle; -EBADF if stale or closing */
int osp_object_get(int h, struct osp_object **out);
void osp_object_put(struct osp_object *o);
/* remember a child ring so the object's close closes it; -EMFILE if full */
int osp_object_add_ring(struct osp_object *o, int r);
/* first map of that name; NULL if none */
struct bpf_map *osp_object_map(struct osp_object *o, const char *name);

/* per-kind openers: create the skeleton, choose variants, set load-time constants */
int osp_open_tcp(struct osp_object *o, uint64_t mark);
int osp_open_logs(struct osp_object *o, uint64_t mark);
int osp_open_l7(struct osp_object *o, uint64_t mark);

/* --- rings (ring.c) --- */
extern struct osp_table osp_rings;

/* --- probes (probe.c) --- */

/*
 * vmlinux_btf is a struct btf * (btf__load_vmlinux_btf()), loaded once per
 * caller because parsing it costs ~10 ms and megabytes.
 *
 * 1 if a tp_btf program on this tracepoint loads, 0 if not, -EPERM/-EACCES
 * if we may not even try.
 */
int osp_probe_tp_btf(const void *vmlinux_btf, const char *tp_name);
/*
 * 1 if an fentry program on this kernel function loads (BTF has it, the
 * kernel allows trampolines there), 0 otherwise. Some kernels refuse every
 * fentry with EPERM although tp_btf works.
 */
int osp_probe_fentry(const void *vmlinux_btf, const char *func);
/*
 * Inspect the prototype of vmlinux's btf_trace_<tp_name> typedef: returns the
 * number of tracepoint arguments (without the leading void *) and describes
 * argument arg_idx (0-based); -errno if BTF or the typedef is missing.
 */
struct osp_tp_arg {
	bool is_ptr;  /* after modifiers and typedefs */
	bool is_bool; /* _Bool after modifiers and typedefs */
};
int osp_btf_tp_args(const void *vmlinux_btf, const char *tp_name, int arg_idx,
		    struct osp_tp_arg *arg);

#endif /* __OSP_INTERNAL_H */
