/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Process lifecycle records (proc.bpf.c → ring buffer "proc_events").
 * Fixed-width fields, largest first, explicit padding, no packing.
 */
#ifndef __OSP_PROC_H
#define __OSP_PROC_H

#include "record.h"

#define OSP_COMM_LEN 16
/* long enough for most paths; longer ones are cut and flagged */
#define OSP_FILENAME_LEN 128

/* osp_proc_event.flags */
#define OSP_PROC_F_OOM_KILLED (1U << 0)	 /* EXIT: an OOM kill marked this process */
#define OSP_PROC_F_FILENAME_TRUNC (1U << 1) /* EXEC: filename filled the buffer */

struct osp_proc_event {
	struct osp_rec_hdr hdr; /* type: OSP_REC_PROC_START/EXEC/EXIT */
	__u64 cgroup_id;	/* cgroup v2 (default hierarchy) id of the task */
	__u32 pid;		/* tgid */
	__u32 ppid;		/* tgid of real_parent */
	__u32 exit_code;	/* EXIT: wait status (status << 8 | signal) */
	__u32 flags;		/* OSP_PROC_F_* */
	char comm[OSP_COMM_LEN];
	char filename[OSP_FILENAME_LEN]; /* EXEC only; "" otherwise */
};

/* indexes into the per-CPU "osp_counters" array of proc.bpf.c */
enum osp_proc_counter {
	OSP_PROC_CNT_OOM_MARKS = 0,    /* oom/mark_victim hits */
	OSP_PROC_CNT_OOM_JOINED = 1,   /* EXIT records that carried the OOM flag */
	OSP_PROC_CNT_OOM_MAP_FULL = 2, /* victims that could not be remembered */
	OSP_PROC_CNT_MAX = 4,
};

#endif /* __OSP_PROC_H */
