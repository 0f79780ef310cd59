// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Opening the logs object (bpf/logs.bpf.c): syscall tracepoints on the open
 * calls. A syscall the architecture lacks (open and creat on arm64) has no
 * tracepoint: its two programs are switched off when tracefs says so, and
 * osp_object_info() names the syscalls followed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "logs.h"
#include "logs.skel.h"

static const char *const tracefs_dirs[] = {
	"/sys/kernel/tracing",
	"/sys/kernel/debug/tracing",
};

static const struct {
	const char *syscall;
	const char *enter_prog;
	const char *exit_prog;
} open_calls[] = {
	{ "open", "osp_logs_enter_open", "osp_logs_exit_open" },
	{ "creat", "osp_logs_enter_creat", "osp_logs_exit_creat" },
	{ "openat", "osp_logs_enter_openat", "osp_logs_exit_openat" },
	{ "openat2", "osp_logs_enter_openat2", "osp_logs_exit_openat2" },
};

static void destroy_logs_skel(void *skel)
{
	logs_bpf__destroy(skel);
}

static void set_autoload(struct bpf_object *obj, const char *prog, bool on)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, prog);

	if (p)
		bpf_program__set_autoload(p, on);
}

/* the tracefs mount libbpf will use, or NULL when none is readable */
static const char *find_tracefs(void)
{
	char path[128];

	for (size_t i = 0; i < sizeof(tracefs_dirs) / sizeof(tracefs_dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/syscalls", tracefs_dirs[i]);
		if (access(path, R_OK) == 0)
			return tracefs_dirs[i];
	}
	return NULL;
}

int osp_open_logs(struct osp_object *o, uint64_t mark)
{
	struct logs_bpf *skel = logs_bpf__open();
	const char *tracefs;
	char followed[96] = "";
	size_t used = 0;

	if (!skel)
		return osp_fail(mark, -errno, "open object 'logs'");
	o->skel = skel;
	o->skel_destroy = destroy_logs_skel;
	o->obj = skel->obj;

	tracefs = find_tracefs();
	for (size_t i = 0; i < sizeof(open_calls) / sizeof(open_calls[0]); i++) {
		char path[192];
		bool on = true;

		/* without tracefs nothing can be told: attach reports what is missing */
		if (tracefs) {
			snprintf(path, sizeof(path), "%s/events/syscalls/sys_exit_%s", tracefs,
				 open_calls[i].syscall);
			on = access(path, F_OK) == 0;
		}
		set_autoload(o->obj, open_calls[i].enter_prog, on);
		set_autoload(o->obj, open_calls[i].exit_prog, on);
		if (on) {
			int k = snprintf(followed + used, sizeof(followed) - used, "%s%s",
					 used ? "," : "", open_calls[i].syscall);

			if (k > 0 && (size_t)k < sizeof(followed) - used)
				used += (size_t)k;
		}
	}
	skel->rodata->osp_wakeup_bytes =
		bpf_map__max_entries(skel->maps.file_events) / OSP_WAKEUP_FRACTION;
	snprintf(o->info, sizeof(o->info), "object=logs\ntracefs=%s\nsyscalls=%s\n",
		 tracefs ? tracefs : "none", followed);
	return 0;
}
