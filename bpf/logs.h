/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Files opened for writing where a log may be (logs.bpf.c → ring buffer
 * "file_events"). Fixed-width fields, largest first, explicit padding.
 */
#ifndef __OSP_LOGS_H
#define __OSP_LOGS_H

#include "record.h"

/* osp_file_open_event.flags */
#define OSP_FILE_F_RELATIVE (1U << 0) /* the path was relative (resolved by user space) */

struct osp_file_open_event {
	struct osp_rec_hdr hdr; /* type: OSP_REC_FILE_OPEN */
	__u64 cgroup_id;	/* cgroup v2 id of the opening task */
	__u32 pid;		/* tgid of the opener */
	__u32 fd;		/* the descriptor the open returned */
	__u32 open_flags;	/* flags as passed to the syscall (O_WRONLY, O_APPEND, ...) */
	__u32 flags;		/* OSP_FILE_F_* */
};

/* indexes into the per-CPU "osp_counters" array of logs.bpf.c */
enum osp_logs_counter {
	OSP_LOGS_CNT_CANDIDATES = 0, /* write opens of /var/log/... or relative paths */
	OSP_LOGS_CNT_NOT_REGULAR = 1, /* candidates that opened something else than a file */
	OSP_LOGS_CNT_FAILED = 2,      /* candidates whose open failed */
	OSP_LOGS_CNT_MAX = 4,
};

#endif /* __OSP_LOGS_H */
