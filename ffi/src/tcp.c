// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Opening the tcp object (bpf/tcp.bpf.c): which variant of each hook the
 * running kernel takes, decided from its BTF and by loading tiny probe
 * programs before the real load. Tracepoints come first (tp_btf, else
 * raw_tp); fentry/fexit only where no tracepoint carries the same fact and
 * the kernel loads them. A hook that is missing is switched off alone, and
 * osp_object_info() says what that costs.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "tcp.h"
#include "tcp.skel.h"

static void destroy_tcp_skel(void *skel)
{
	tcp_bpf__destroy(skel);
}

static void set_autoload(struct bpf_object *obj, const char *prog, bool on)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, prog);

	if (p)
		bpf_program__set_autoload(p, on);
}

/* number of parameters of a kernel function, -ENOENT if BTF lacks it */
static int func_nargs(const struct btf *btf, const char *name)
{
	const struct btf_type *t;
	int id;

	if (!btf)
		return -ENODATA;
	id = btf__find_by_name_kind(btf, name, BTF_KIND_FUNC);
	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, id);
	t = t ? btf__type_by_id(btf, t->type) : NULL;
	if (!t || !btf_is_func_proto(t))
		return -EINVAL;
	return btf_vlen(t);
}

/*
 * One hook with a tp_btf program and its raw_tp twin: "tp_btf", "raw_tp",
 * or "off" when the kernel has no such tracepoint.
 */
static const char *choose_tp(struct osp_object *o, const struct btf *btf, const char *tp,
			     const char *btf_prog, const char *raw_prog)
{
	char name[128];
	bool exists, use_btf;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	/* without BTF we cannot tell; raw_tp attaches or reports itself */
	exists = !btf || btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) >= 0;
	use_btf = exists && !(o->flags & OSP_OPEN_FORCE_RAW_TP) && osp_probe_tp_btf(btf, tp) == 1;
	set_autoload(o->obj, btf_prog, use_btf);
	set_autoload(o->obj, raw_prog, exists && !use_btf);
	return !exists ? "off" : use_btf ? "tp_btf" : "raw_tp";
}

int osp_open_tcp(struct osp_object *o, uint64_t mark)
{
	struct tcp_bpf *skel = tcp_bpf__open();
	const char *state, *retrans, *send, *recv, *mptcp_recv;
	bool fentry, nat, fd_hooks, accept_hook;
	struct btf *btf;
	int accept_nargs;

	if (!skel)
		return osp_fail(mark, -errno, "open object 'tcp'");
	o->skel = skel;
	o->skel_destroy = destroy_tcp_skel;
	o->obj = skel->obj;

	/* NULL without BTF: raw_tp only, and load explains CO-RE's need */
	btf = btf__load_vmlinux_btf();

	state = choose_tp(o, btf, "inet_sock_set_state", "osp_tcp_state_btf", "osp_tcp_state_raw");
	retrans = choose_tp(o, btf, "tcp_retransmit_skb", "osp_tcp_retrans_btf",
			    "osp_tcp_retrans_raw");
	send = choose_tp(o, btf, "sock_send_length", "osp_tcp_send_btf", "osp_tcp_send_raw");
	recv = choose_tp(o, btf, "tcp_rcv_space_adjust", "osp_tcp_rcv_btf", "osp_tcp_rcv_raw");
	/* what MPTCP sockets read (their subflows' sequence numbers are not counted) */
	mptcp_recv = choose_tp(o, btf, "sock_recv_length", "osp_tcp_mptcp_recv_btf",
			       "osp_tcp_mptcp_recv_raw");

	/* some kernels load tp_btf but refuse every fentry (EPERM): probe a real target */
	fentry = !(o->flags & OSP_OPEN_NO_FENTRY) && osp_probe_fentry(btf, "tcp_v4_connect") == 1;

	if (*send == 'o') {
		bool a = fentry && func_nargs(btf, "tcp_sendmsg_locked") == 3;

		set_autoload(o->obj, "osp_tcp_sendmsg", a);
		send = a ? "fexit" : "off";
	} else {
		set_autoload(o->obj, "osp_tcp_sendmsg", false);
	}
	/* before 6.5 sendfile and splice bypassed sendmsg */
	set_autoload(o->obj, "osp_tcp_sendpages", fentry && func_nargs(btf, "do_tcp_sendpages") == 5);

	if (*recv == 'o') {
		bool inner = fentry && func_nargs(btf, "__tcp_cleanup_rbuf") == 2;
		bool outer = fentry && !inner && func_nargs(btf, "tcp_cleanup_rbuf") == 2;

		set_autoload(o->obj, "osp_tcp_rbuf_inner", inner);
		set_autoload(o->obj, "osp_tcp_rbuf", outer);
		recv = inner || outer ? "fentry" : "off";
	} else {
		set_autoload(o->obj, "osp_tcp_rbuf_inner", false);
		set_autoload(o->obj, "osp_tcp_rbuf", false);
	}

	/* (sk, arg) since 6.10; (sk, flags, err, kern) before */
	accept_nargs = func_nargs(btf, "inet_csk_accept");
	if (accept_nargs == 2 || accept_nargs == 4)
		skel->rodata->accept_nargs = (__u32)accept_nargs;
	accept_hook = fentry && (accept_nargs == 2 || accept_nargs == 4);
	set_autoload(o->obj, "osp_tcp_accept", accept_hook);
	fd_hooks = fentry && func_nargs(btf, "__sys_connect") == 3 &&
		   func_nargs(btf, "__sys_accept4") == 4;
	set_autoload(o->obj, "osp_tcp_accept4_exit", fd_hooks && accept_hook);
	set_autoload(o->obj, "osp_tcp_connect_enter", fd_hooks);
	set_autoload(o->obj, "osp_tcp_connect_exit", fd_hooks);
	skel->rodata->connect_fd_hook = fd_hooks;
	/*
	 * conntrack built in, or a loaded module with BTF (libbpf finds module
	 * functions itself); an fentry on a function nobody has would fail the
	 * whole load, so it stays off otherwise.
	 */
	nat = fentry && (func_nargs(btf, "__nf_conntrack_confirm") == 1 ||
			 access("/sys/kernel/btf/nf_conntrack", R_OK) == 0);
	set_autoload(o->obj, "osp_tcp_nat_confirm", nat);
	skel->rodata->nat_hook = nat;
	btf__free(btf);

	if (*state == 'o') {
		tcp_bpf__destroy(skel);
		o->skel = NULL;
		return osp_fail(mark, -ENOENT,
				"open object 'tcp': the kernel has no sock/inet_sock_set_state tracepoint");
	}

	/* wake the consumer once an eighth of the ring is full (ring.bpf.h) */
	skel->rodata->osp_wakeup_bytes =
		bpf_map__max_entries(skel->maps.tcp_events) / OSP_WAKEUP_FRACTION;

	snprintf(o->info, sizeof(o->info),
		 "object=tcp\nstate_hook=%s\nretransmit_hook=%s\nsend_hook=%s\nreceive_hook=%s\n"
		 "mptcp_receive_hook=%s\nfentry=%d\naccept_owner=%s\ndescriptors=%d\nnat=%s\n"
		 "wakeup_bytes=%u\n",
		 state, retrans, send, recv, mptcp_recv, fentry, accept_hook ? "accept" : "first_io",
		 fd_hooks,
		 nat ? "fentry" : "netlink", skel->rodata->osp_wakeup_bytes);
	return 0;
}
