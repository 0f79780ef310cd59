/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The header every Osprey ring-buffer record starts with, and the record
 * type numbers shared by all tools.
 *
 * Included from BPF code (after vmlinux.h) and from user space (after
 * <linux/types.h>), so it only uses the kernel's fixed-width __u* types.
 * Layouts are checked against the TypeScript decoders by a test
 * (osp_layout() in ffi/, ffi/layout_test.ts): never pack, never reorder
 * without updating both.
 */
#ifndef __OSP_RECORD_H
#define __OSP_RECORD_H

/* record type numbers; TypeScript mirrors them in ffi/records.ts */
enum osp_rec_type {
	OSP_REC_PROC_START = 1,
	OSP_REC_PROC_EXEC = 2,
	OSP_REC_PROC_EXIT = 3,
	OSP_REC_TCP_CONNECT = 10,
	OSP_REC_TCP_FAILED = 11,
	OSP_REC_TCP_END = 12,
	OSP_REC_TCP_CLOSE = 13,
	OSP_REC_TCP_LISTEN = 14,
	OSP_REC_TCP_LISTEN_CLOSE = 15,
	OSP_REC_FILE_OPEN = 20,
	OSP_REC_L7_PAYLOAD = 21,
	OSP_REC_BENCH = 100,
};

/* lost counters are indexed by record type, so types stay below this */
#define OSP_REC_TYPE_MAX 128

struct osp_rec_hdr {
	__u64 ts_ns; /* bpf_ktime_get_boot_ns(): counts suspend, like CLOCK_BOOTTIME */
	__u16 type;  /* enum osp_rec_type */
	__u16 size;  /* sizeof the whole record, header included */
	__u32 cpu;   /* CPU that produced the record */
};

#endif /* __OSP_RECORD_H */
