// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * BPF object lifecycle, cut into calls so TypeScript drives each step and
 * can report which one failed: open (choose variants) → load → attach one
 * program at a time → close. The BPF code comes from the skeletons, so the
 * library carries its objects and needs no file paths at run time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "proc.h"
#include "bench.h"
#include "proc.skel.h"
#include "bench.skel.h"

#define OSP_MAX_OBJECTS 64

static struct osp_slot *obj_items[OSP_MAX_OBJECTS];
static uint32_t obj_gens[OSP_MAX_OBJECTS];
struct osp_table osp_objects = { .items = obj_items, .gens = obj_gens, .cap = OSP_MAX_OBJECTS };

/* each sched hook has a tp_btf program and a raw_tp fallback in proc.bpf.c */
static const struct {
	const char *tp;
	const char *btf_prog;
	const char *raw_prog;
} sched_hooks[] = {
	{ "sched_process_fork", "osp_fork_btf", "osp_fork_raw" },
	{ "sched_process_exec", "osp_exec_btf", "osp_exec_raw" },
	{ "sched_process_exit", "osp_exit_btf", "osp_exit_raw" },
};

static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case OSP_OBJECT_PROC:
		return "proc";
	case OSP_OBJECT_BENCH:
		return "bench";
	case OSP_OBJECT_TCP:
		return "tcp";
	case OSP_OBJECT_LOGS:
		return "logs";
	case OSP_OBJECT_L7:
		return "l7";
	default:
		return "?";
	}
}

int osp_object_get(int h, struct osp_object **out)
{
	struct osp_slot *s = osp_table_acquire(&osp_objects, h);

	if (!s)
		return -EBADF;
	*out = (struct osp_object *)s;
	return 0;
}

void osp_object_put(struct osp_object *o)
{
	osp_slot_release(&o->slot);
}

struct bpf_map *osp_object_map(struct osp_object *o, const char *name)
{
	return bpf_object__find_map_by_name(o->obj, name);
}

static void object_on_close(struct osp_slot *s)
{
	struct osp_object *o = (struct osp_object *)s;

	/* children first: a waiter on a ring wakes up with -ECANCELED */
	for (int i = 0; i < OSP_MAX_OBJ_RINGS; i++) {
		int r = __atomic_exchange_n(&o->rings[i], 0, __ATOMIC_ACQ_REL);

		if (r > 0)
			osp_ring_close(r);
	}
}

static void object_destroy(struct osp_slot *s)
{
	struct osp_object *o = (struct osp_object *)s;

	for (int i = 0; i < o->nprogs; i++)
		bpf_link__destroy(o->links[i]);
	if (o->pos_view)
		munmap(o->pos_view, o->pos_view_len);
	if (o->skel)
		o->skel_destroy(o->skel);
	free(o);
}

static void set_autoload(struct bpf_object *obj, const char *prog, bool on)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, prog);

	if (p)
		bpf_program__set_autoload(p, on);
}

static void destroy_proc_skel(void *skel)
{
	proc_bpf__destroy(skel);
}

static void destroy_bench_skel(void *skel)
{
	bench_bpf__destroy(skel);
}

static int open_proc(struct osp_object *o, uint64_t mark)
{
	struct proc_bpf *skel = proc_bpf__open();
	struct osp_tp_arg arg;
	struct btf *btf;
	int n_btf = 0, n_raw = 0, nargs;
	const char *victim_arg = "unknown";

	if (!skel)
		return osp_fail(mark, -errno, "open object 'proc'");
	o->skel = skel;
	o->skel_destroy = destroy_proc_skel;
	o->obj = skel->obj;

	/* NULL without BTF: everything falls back, and load explains CO-RE's need */
	btf = btf__load_vmlinux_btf();

	/* prefer tp_btf per hook; raw_tp where the kernel lacks tracing programs */
	for (size_t i = 0; i < sizeof(sched_hooks) / sizeof(sched_hooks[0]); i++) {
		bool use_btf = !(o->flags & OSP_OPEN_FORCE_RAW_TP) &&
			       osp_probe_tp_btf(btf, sched_hooks[i].tp) == 1;

		set_autoload(o->obj, sched_hooks[i].btf_prog, use_btf);
		set_autoload(o->obj, sched_hooks[i].raw_prog, !use_btf);
		use_btf ? n_btf++ : n_raw++;
	}

	/* mark_victim: (int pid) before 6.8, (struct task_struct *, uid_t) after */
	nargs = osp_btf_tp_args(btf, "mark_victim", 0, &arg);
	if (nargs >= 1) {
		skel->rodata->mark_victim_has_task = arg.is_ptr;
		victim_arg = arg.is_ptr ? "task" : "pid";
	}
	/* sched_process_exit grew a bool group_dead argument */
	nargs = osp_btf_tp_args(btf, "sched_process_exit", 1, &arg);
	skel->rodata->exit_has_group_dead =
		nargs >= 2 && arg.is_bool && !(o->flags & OSP_OPEN_LEGACY_EXIT);
	btf__free(btf);
	skel->rodata->osp_wakeup_bytes =
		bpf_map__max_entries(skel->maps.proc_events) / OSP_WAKEUP_FRACTION;

	snprintf(o->info, sizeof(o->info),
		 "object=proc\nattach_mode=%s\nmark_victim_arg=%s\nexit_group_dead_arg=%d\n",
		 n_raw == 0 ? "tp_btf" : n_btf == 0 ? "raw_tp" : "mixed", victim_arg,
		 skel->rodata->exit_has_group_dead);
	return 0;
}

static int open_bench(struct osp_object *o, uint64_t mark)
{
	struct bench_bpf *skel = bench_bpf__open();

	if (!skel)
		return osp_fail(mark, -errno, "open object 'bench'");
	o->skel = skel;
	o->skel_destroy = destroy_bench_skel;
	o->obj = skel->obj;
	snprintf(o->info, sizeof(o->info), "object=bench\n");
	return 0;
}

static uint8_t prog_kind(const struct bpf_program *p)
{
	const char *sec = bpf_program__section_name(p);

	if (!strncmp(sec, "tp_btf/", 7))
		return OSP_PROG_TP_BTF;
	if (!strncmp(sec, "raw_tp/", 7) || !strncmp(sec, "raw_tracepoint/", 15))
		return OSP_PROG_RAW_TP;
	if (!strcmp(sec, "syscall"))
		return OSP_PROG_SYSCALL;
	if (!strncmp(sec, "fentry/", 7))
		return OSP_PROG_FENTRY;
	if (!strncmp(sec, "fexit/", 6))
		return OSP_PROG_FEXIT;
	return OSP_PROG_OTHER;
}

OSP_API int osp_object_open(uint32_t which, uint32_t flags)
{
	uint64_t mark = osp_log_mark();
	struct osp_object *o;
	struct bpf_program *p;
	int err, h;

	o = calloc(1, sizeof(*o));
	if (!o)
		return osp_fail(mark, -ENOMEM, "open object");
	o->kind = which;
	o->flags = flags;
	o->slot.on_close = object_on_close;
	o->slot.destroy = object_destroy;

	switch (which) {
	case OSP_OBJECT_PROC:
		err = open_proc(o, mark);
		break;
	case OSP_OBJECT_BENCH:
		err = open_bench(o, mark);
		break;
	case OSP_OBJECT_TCP:
		err = osp_open_tcp(o, mark);
		break;
	case OSP_OBJECT_LOGS:
		err = osp_open_logs(o, mark);
		break;
	case OSP_OBJECT_L7:
		err = osp_open_l7(o, mark);
		break;
	default:
		err = osp_fail(mark, -EINVAL, "open object %u: unknown object kind", which);
	}
	if (err) {
		object_destroy(&o->slot);
		return err;
	}

	bpf_object__for_each_program(p, o->obj) {
		if (o->nprogs == OSP_MAX_PROGS) {
			object_destroy(&o->slot);
			return osp_fail(mark, -E2BIG, "open object '%s': more than %d programs",
					kind_name(which), OSP_MAX_PROGS);
		}
		o->prog_kind[o->nprogs] = prog_kind(p);
		o->progs[o->nprogs++] = p;
	}

	h = osp_table_insert(&osp_objects, &o->slot);
	if (h < 0) {
		object_destroy(&o->slot);
		return osp_fail(mark, h, "open object '%s': too many open objects", kind_name(which));
	}
	return h;
}

/* the bench producer paces itself on the ring's positions */
static int map_bench_positions(struct osp_object *o, uint64_t mark)
{
	struct bench_bpf *skel = o->skel;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *v;

	/* consumer page + producer page; read-only mappings are always allowed */
	v = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, bpf_map__fd(skel->maps.bench_events), 0);
	if (v == MAP_FAILED)
		return osp_fail(mark, -errno, "map positions of ring 'bench_events'");
	o->pos_view = v;
	o->pos_view_len = 2 * page;
	return 0;
}

OSP_API int osp_object_load(int h)
{
	uint64_t mark = osp_log_mark();
	struct osp_object *o;
	int err;

	err = osp_object_get(h, &o);
	if (err)
		return osp_fail(mark, err, "load object: bad handle %d", h);
	if (!o->loaded) {
		sigset_t prof, old;

		/*
		 * The verifier gives up with EAGAIN whenever a signal is pending
		 * (kernel/bpf/verifier.c, do_check), and a sampling profiler (V8's
		 * --cpu-prof) sends SIGPROF every millisecond or so: held back here,
		 * it is delivered when the load is done.
		 */
		sigemptyset(&prof);
		sigaddset(&prof, SIGPROF);
		pthread_sigmask(SIG_BLOCK, &prof, &old);
		err = bpf_object__load(o->obj);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (err) {
			err = osp_fail(mark, err < 0 ? err : -EINVAL, "load object '%s'",
				       kind_name(o->kind));
		} else {
			o->loaded = true;
			if (o->kind == OSP_OBJECT_BENCH)
				err = map_bench_positions(o, mark);
		}
	}
	osp_object_put(o);
	return err;
}

OSP_API int osp_object_info(int h, uint8_t *buf, uint32_t cap)
{
	char text[sizeof(((struct osp_object *)0)->info) + 32];
	struct osp_object *o;
	int err, n;

	err = osp_object_get(h, &o);
	if (err)
		return err;
	n = snprintf(text, sizeof(text), "%sloaded=%d\n", o->info, o->loaded);
	osp_object_put(o);
	return osp_copy_text(buf, cap, text, (size_t)n);
}

OSP_API int osp_object_close(int h)
{
	return osp_table_close(&osp_objects, h);
}

OSP_API int osp_program_count(int h)
{
	struct osp_object *o;
	int n;

	if (osp_object_get(h, &o))
		return -EBADF;
	n = o->nprogs;
	osp_object_put(o);
	return n;
}

OSP_API int osp_program_name(int h, int i, uint8_t *buf, uint32_t cap)
{
	struct osp_object *o;
	const char *name;
	int ret;

	if (osp_object_get(h, &o))
		return -EBADF;
	if (i < 0 || i >= o->nprogs) {
		ret = -EINVAL;
	} else {
		name = bpf_program__name(o->progs[i]);
		ret = osp_copy_text(buf, cap, name, strlen(name));
	}
	osp_object_put(o);
	return ret;
}

OSP_API int osp_program_flags(int h, int i)
{
	struct osp_object *o;
	int ret;

	if (osp_object_get(h, &o))
		return -EBADF;
	if (i < 0 || i >= o->nprogs) {
		ret = -EINVAL;
	} else {
		ret = o->prog_kind[i];
		if (bpf_program__autoload(o->progs[i]))
			ret |= OSP_PROG_F_AUTOLOAD;
		if (o->links[i])
			ret |= OSP_PROG_F_ATTACHED;
	}
	osp_object_put(o);
	return ret;
}

OSP_API int osp_program_attach(int h, int i)
{
	uint64_t mark = osp_log_mark();
	struct osp_object *o;
	struct bpf_program *p;
	struct bpf_link *link;
	int ret = 0;

	if (osp_object_get(h, &o))
		return osp_fail(mark, -EBADF, "attach program: bad handle %d", h);
	if (i < 0 || i >= o->nprogs) {
		ret = osp_fail(mark, -EINVAL, "attach program %d: no such program", i);
		goto out;
	}
	p = o->progs[i];
	if (!o->loaded) {
		ret = osp_fail(mark, -EINVAL, "attach program '%s': object not loaded",
			       bpf_program__name(p));
	} else if (!bpf_program__autoload(p)) {
		ret = OSP_ATTACH_SKIPPED;
	} else if (o->prog_kind[i] == OSP_PROG_SYSCALL) {
		ret = OSP_ATTACH_ON_DEMAND;
	} else if (!o->links[i]) {
		link = bpf_program__attach(p);
		if (!link) {
			int err = errno > 0 ? -errno : -EINVAL;

			ret = osp_fail(mark, err, "attach program '%s' (%s)", bpf_program__name(p),
				       bpf_program__section_name(p));
		} else {
			o->links[i] = link;
		}
	}
out:
	osp_object_put(o);
	return ret;
}

static int sum_percpu_array(struct osp_object *o, const char *map_name, uint8_t *buf,
			    uint32_t cap, uint32_t max_out)
{
	struct bpf_map *map = osp_object_map(o, map_name);
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	uint32_t n;
	int fd;

	if (!map)
		return -ENOENT;
	if (!o->loaded)
		return -EINVAL;
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	n = bpf_map__max_entries(map);
	if (n > max_out)
		n = max_out;
	if (n > cap / 8)
		n = cap / 8;
	/* per-CPU values come as one u64 slot per possible CPU */
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	fd = bpf_map__fd(map);
	for (uint32_t k = 0; k < n; k++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(fd, &k, vals) == 0)
			for (int c = 0; c < ncpu; c++)
				sum += vals[c];
		memcpy(buf + 8 * k, &sum, 8);
	}
	free(vals);
	return (int)n;
}

OSP_API int osp_lost(int h, uint8_t *buf, uint32_t cap)
{
	uint64_t mark = osp_log_mark();
	struct osp_object *o;
	int ret;

	if (osp_object_get(h, &o))
		return osp_fail(mark, -EBADF, "read lost counters: bad handle %d", h);
	ret = sum_percpu_array(o, "osp_lost", buf, cap, OSP_REC_TYPE_MAX);
	if (ret < 0)
		osp_fail(mark, ret, "read lost counters of '%s'", kind_name(o->kind));
	osp_object_put(o);
	return ret;
}

OSP_API int osp_counters(int h, uint8_t *buf, uint32_t cap)
{
	uint64_t mark = osp_log_mark();
	struct osp_object *o;
	int ret;

	if (osp_object_get(h, &o))
		return osp_fail(mark, -EBADF, "read counters: bad handle %d", h);
	ret = sum_percpu_array(o, "osp_counters", buf, cap, UINT32_MAX);
	if (ret < 0)
		osp_fail(mark, ret, "read counters of '%s'", kind_name(o->kind));
	osp_object_put(o);
	return ret;
}

int osp_object_add_ring(struct osp_object *o, int r)
{
	for (int i = 0; i < OSP_MAX_OBJ_RINGS; i++) {
		int cur = __atomic_load_n(&o->rings[i], __ATOMIC_ACQUIRE);
		struct osp_slot *s;

		/* a ring closed on its own leaves a stale handle: reuse the entry */
		if (cur > 0) {
			s = osp_table_acquire(&osp_rings, cur);
			if (s) {
				osp_slot_release(s);
				continue;
			}
		}
		if (__atomic_compare_exchange_n(&o->rings[i], &cur, r, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return 0;
	}
	return -EMFILE;
}
