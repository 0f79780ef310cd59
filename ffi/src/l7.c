// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Opening the l7 object (bpf/l7.bpf.c): payload capture on the read- and
 * write-family syscall tracepoints. Every kernel with tracepoints has them,
 * so there are no variants to choose; a syscall the kernel lacks (e.g.
 * sendmmsg on an odd architecture) is switched off alone.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "l7.h"
#include "l7.skel.h"

static void destroy_l7_skel(void *skel)
{
	l7_bpf__destroy(skel);
}

/* whether tracefs lists this syscall tracepoint (NULL tracefs: assume it does) */
static bool tp_exists(const char *tracefs, const char *event)
{
	char path[256];

	if (!tracefs)
		return true;
	snprintf(path, sizeof(path), "%s/events/syscalls/%s", tracefs, event);
	return access(path, F_OK) == 0;
}

int osp_open_l7(struct osp_object *o, uint64_t mark)
{
	static const char *const calls[] = { "write", "writev", "sendto", "sendmsg", "sendmmsg",
					     "read",  "readv",  "recvfrom", "recvmsg" };
	const char *tracefs = NULL;
	struct l7_bpf *skel = l7_bpf__open();
	char off[256] = "", name[64], event[64];
	struct bpf_program *p;
	size_t n = 0;
	int on = 0;

	if (!skel)
		return osp_fail(mark, -errno, "open object 'l7'");
	o->skel = skel;
	o->skel_destroy = destroy_l7_skel;
	o->obj = skel->obj;

	if (access("/sys/kernel/tracing/events/syscalls", F_OK) == 0)
		tracefs = "/sys/kernel/tracing";
	else if (access("/sys/kernel/debug/tracing/events/syscalls", F_OK) == 0)
		tracefs = "/sys/kernel/debug/tracing";

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		bool ok;

		snprintf(event, sizeof(event), "sys_enter_%s", calls[i]);
		ok = tp_exists(tracefs, event);
		snprintf(event, sizeof(event), "sys_exit_%s", calls[i]);
		ok = ok && tp_exists(tracefs, event);
		snprintf(name, sizeof(name), "osp_l7_%s_enter", calls[i]);
		p = bpf_object__find_program_by_name(o->obj, name);
		if (p)
			bpf_program__set_autoload(p, ok);
		snprintf(name, sizeof(name), "osp_l7_%s_exit", calls[i]);
		p = bpf_object__find_program_by_name(o->obj, name);
		if (p)
			bpf_program__set_autoload(p, ok);
		if (ok) {
			on++;
		} else if (n < sizeof(off)) {
			int k = snprintf(off + n, sizeof(off) - n, "%s%s", n ? "," : "", calls[i]);

			if (k > 0)
				n += (size_t)k;
		}
	}
	if (!on) {
		l7_bpf__destroy(skel);
		o->skel = NULL;
		return osp_fail(mark, -ENOENT,
				"open object 'l7': the kernel has no syscalls tracepoints "
				"(CONFIG_FTRACE_SYSCALLS)");
	}

	skel->rodata->osp_wakeup_bytes =
		bpf_map__max_entries(skel->maps.l7_events) / OSP_WAKEUP_FRACTION;

	snprintf(o->info, sizeof(o->info),
		 "object=l7\nsyscalls=%d\nsyscalls_missing=%s\ntracefs=%s\npayload_max=%d\n"
		 "wakeup_bytes=%u\n",
		 on, n ? off : "none", tracefs ? tracefs : "unknown", OSP_L7_PAYLOAD_MAX,
		 skel->rodata->osp_wakeup_bytes);
	return 0;
}
