// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel feature probes: what the agent can say is missing, and what the
 * loader uses to pick program variants.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "internal.h"

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

static int find_tp_typedef(const struct btf *btf, const char *tp_name)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", tp_name);
	return btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
}

/*
 * Load "r0 = 0; exit" as a tp_btf program on the tracepoint. We do not use
 * libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING): libbpf 1.1 reports it
 * unsupported even where tp_btf works (it loads without an attach target).
 */
int osp_probe_tp_btf(const void *vmlinux_btf, const char *tp_name)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP);
	int id, fd;

	if (!vmlinux_btf)
		return 0;
	id = find_tp_typedef(vmlinux_btf, tp_name);
	if (id < 0)
		return 0;
	opts.attach_btf_id = (__u32)id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &opts);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	/* not permitted tells nothing about support */
	return errno == EPERM || errno == EACCES ? -errno : 0;
}

int osp_probe_fentry(const void *vmlinux_btf, const char *func)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY);
	int id, fd;

	if (!vmlinux_btf)
		return 0;
	id = btf__find_by_name_kind(vmlinux_btf, func, BTF_KIND_FUNC);
	if (id < 0)
		return 0;
	opts.attach_btf_id = (__u32)id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &opts);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return 0;
}

int osp_btf_tp_args(const void *vmlinux_btf, const char *tp_name, int arg_idx,
		    struct osp_tp_arg *arg)
{
	const struct btf *btf = vmlinux_btf;
	const struct btf_type *t;
	const struct btf_param *params;
	int id, vlen;

	if (!btf)
		return -ENODATA;
	id = find_tp_typedef(btf, tp_name);
	if (id < 0)
		return -ENOENT;
	/* typedef → pointer → func proto (void *__data, tracepoint args...) */
	t = btf__type_by_id(btf, id);
	t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_ptr(t))
		return -EINVAL;
	t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_func_proto(t))
		return -EINVAL;
	vlen = btf_vlen(t);
	params = btf_params(t);
	if (arg) {
		memset(arg, 0, sizeof(*arg));
		if (arg_idx >= 0 && arg_idx + 1 < vlen) {
			t = btf__type_by_id(btf, params[arg_idx + 1].type);
			while (t && (btf_is_mod(t) || btf_is_typedef(t)))
				t = btf__type_by_id(btf, t->type);
			arg->is_ptr = t && btf_is_ptr(t);
			arg->is_bool = t && btf_is_int(t) && (btf_int_encoding(t) & BTF_INT_BOOL);
		}
	}
	return vlen - 1;
}

struct text {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len)
		t->overflow = true;
	else
		t->len += (size_t)n;
}

static int read_int_file(const char *path)
{
	FILE *f = fopen(path, "re");
	int v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

OSP_API int osp_kernel_probe(uint8_t *buf, uint32_t cap)
{
	struct text t = { .buf = (char *)buf, .cap = cap };
	struct btf *btf = NULL;
	struct utsname u;
	int fd, bpf_errno = 0, tracing = 0;
	bool btf_file = access(VMLINUX_BTF, R_OK) == 0;

	if (!buf || cap == 0)
		return -EINVAL;
	buf[0] = 0;

	/* the cheapest thing that needs the bpf() syscall and privilege */
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "osp_probe", 4, 4, 1, NULL);
	if (fd >= 0)
		close(fd);
	else
		bpf_errno = errno;

	if (btf_file && !bpf_errno) {
		btf = btf__load_vmlinux_btf();
		tracing = osp_probe_tp_btf(btf, "sched_process_exec");
		btf__free(btf);
	}

	put(&t, "abi=%d\n", OSP_ABI_VERSION);
	if (uname(&u) == 0)
		put(&t, "kernel=%s\n", u.release);
	put(&t, "btf=%d\n", btf_file);
	put(&t, "bpf_syscall=%d\n", bpf_errno == 0);
	put(&t, "bpf_errno=%d\n", bpf_errno);
	put(&t, "tracing_prog=%d\n", tracing == 1);
	put(&t, "raw_tp=%d\n", libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL) == 1);
	put(&t, "ringbuf=%d\n", libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1);
	put(&t, "syscall_prog=%d\n", libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SYSCALL, NULL) == 1);
	put(&t, "bpf_loop=%d\n",
	    libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_FUNC_loop, NULL) == 1);
	put(&t, "tracefs=%d\n",
	    access("/sys/kernel/tracing/events", F_OK) == 0 ||
		    access("/sys/kernel/debug/tracing/events", F_OK) == 0);
	put(&t, "unprivileged_bpf_disabled=%d\n",
	    read_int_file("/proc/sys/kernel/unprivileged_bpf_disabled"));
	return t.overflow ? -ENOSPC : (int)t.len;
}
