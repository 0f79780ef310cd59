// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor for bench/net/net_kernel_bench.ts: counting-only programs on the
 * attach points of bpf/tcp.bpf.c, of the same program type as the ones the
 * agent attaches here (tp_btf), plus empty ones. The cost of a program run
 * below these is what the kernel charges to run any BPF program there.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} floor_counts SEC(".maps");

static __always_inline int bump(__u32 idx)
{
	__u64 *n = bpf_map_lookup_elem(&floor_counts, &idx);

	if (n)
		*n += 1;
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(count_state)
{
	return bump(0);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(count_send)
{
	return bump(1);
}

SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(count_receive)
{
	return bump(2);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(count_retrans)
{
	return bump(3);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(empty_state)
{
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(empty_send)
{
	return 0;
}

SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(empty_receive)
{
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(empty_retrans)
{
	return 0;
}
