/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * CO-RE readers for struct sock: protocol, network namespace and the
 * connection's addresses, shared by programs that describe a socket. Every
 * read goes through BPF_CORE_READ, so BTF-typed (tp_btf, fentry) and plain
 * kernel pointers (raw_tp) both work.
 */
#ifndef __OSP_SOCK_BPF_H
#define __OSP_SOCK_BPF_H

/* include/linux/socket.h; #defines, so vmlinux.h lacks them */
#define OSP_AF_INET 2
#define OSP_AF_INET6 10

/*
 * sk_protocol was an 8-bit bitfield before 5.6 and is a __u16 since; the
 * probed bitfield read handles both layouts.
 */
static __always_inline __u16 osp_sk_protocol(const struct sock *sk)
{
	return (__u16)BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

/* inode number of the socket's network namespace (what /proc/<pid>/ns/net names) */
static __always_inline __u32 osp_sk_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* struct sock before sk_flags moved into sock_common (6.x) */
struct sock___flags_in_sock {
	unsigned long sk_flags;
} __attribute__((preserve_access_index));

/* sk_flags: enum sock_flags bits (SOCK_DEAD, SOCK_DONE, ...) */
static __always_inline unsigned long osp_sk_flags(const struct sock *sk)
{
	if (bpf_core_field_exists(sk->__sk_common.skc_flags))
		return BPF_CORE_READ(sk, __sk_common.skc_flags);
	return BPF_CORE_READ((struct sock___flags_in_sock *)sk, sk_flags);
}

/* inode number of the socket's file, as /proc/<pid>/fd and /proc/net/tcp show it; 0 if orphaned */
static __always_inline __u64 osp_sk_inode(const struct sock *sk)
{
	struct socket *sock = BPF_CORE_READ(sk, sk_socket);

	if (!sock)
		return 0;
	return BPF_CORE_READ(sock, file, f_inode, i_ino);
}

/* ::ffff:a.b.c.d for an IPv4 address in network order */
static __always_inline void osp_addr_v4mapped(__u8 out[16], __u32 addr)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &addr, 4);
}

/*
 * The socket's local port, host order. skc_num (inet_num) is what bind and
 * connect set, but __inet_put_port (net/ipv4/inet_hashtables.c) zeroes it
 * when the socket reaches TCP_CLOSE (tcp_done, e.g. a half-closed client's
 * FIN_WAIT2 -> TIME_WAIT) while its owner may still read what was queued.
 * inet_sport, the same port in network order, is cleared only on a failed
 * connect, so it stands in then.
 */
static __always_inline __u16 osp_sk_sport(const struct sock *sk)
{
	__u16 num = BPF_CORE_READ(sk, __sk_common.skc_num);

	if (num)
		return num;
	return __builtin_bswap16(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
}

/*
 * The socket's family, local and remote address (16 bytes each: IPv6 or
 * IPv4-mapped) and ports in host order (the local one by osp_sk_sport).
 * Returns the family, 0 for neither.
 */
static __always_inline __u16 osp_sk_addrs(const struct sock *sk, __u8 saddr[16], __u8 daddr[16],
					  __u16 *sport, __u16 *dport)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	*sport = osp_sk_sport(sk);
	*dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == OSP_AF_INET) {
		osp_addr_v4mapped(saddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		osp_addr_v4mapped(daddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
		return family;
	}
	if (family == OSP_AF_INET6) {
		/*
		 * An explicit size: BPF_CORE_READ_INTO copies sizeof(*dst), and dst is a
		 * parameter here, a pointer to one byte.
		 */
		bpf_core_read(saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(daddr, 16, &sk->__sk_common.skc_v6_daddr);
		return family;
	}
	return 0;
}

#endif /* __OSP_SOCK_BPF_H */
