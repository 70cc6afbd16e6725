/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a sample's time goes: a debug build (`KILN_BPF_CFLAGS=-DKILN_PHASES npm run build:bpf -- OUT.o`)
 * adds bpf_ktime_get_ns() deltas per part of kiln_sample, and counts, into the per-CPU array `phases`
 * (read with `bpftool map dump name phases` while the agent runs; bench/bpf-walk.ts prints it when the
 * loaded object has it). Without KILN_PHASES every macro is empty and the object is the committed one.
 * A ktime call costs about 0.05 µs on the bench host, so the parts add up to a little more than a sample.
 */
#ifndef KILN_PHASES_H
#define KILN_PHASES_H
#include "kiln.h"

enum {
  PH_TOTAL = 0,       /* kiln_sample, entry to exit (CPU samples recorded) */
  PH_PROLOGUE = 1,    /* record(): generation, scratch, task, comm */
  PH_PROCS = 2,       /* walk_user before the walk: registers, settings, the CPython and V8 parts (not PH_PROCS_LOOKUP, PH_LEAF_MAPPING) */
  PH_PY_STATE = 3,    /* the CPython thread state */
  PH_WALK = 4,        /* the bpf_loop walks */
  PH_HASH = 5,        /* the user stack's hash */
  PH_COUNT_LOOKUP = 6, /* a user-mode sample's count lookup */
  PH_PROCS_LOOKUP = 7, /* walk_user: the process's procs entry (pid_events for one without: PH_REPORT; slot 7 held the user
                       * stack's store until stop 25, when the user stack went in with its count) */
  PH_KSTACK = 8,      /* bpf_get_stack (kernel-mode samples) */
  PH_STORE_KERNEL = 9, /* the kernel stack's hash and store */
  PH_ADD_COUNT = 10,  /* the count insert or add */
  PH_FIND_MAPPING = 11, /* in the walk: mapping searches */
  PH_FIND_ROW = 12,   /* in the walk: table searches (index and rows) */
  PH_READS = 13,      /* in the walk: user stack window reads */
  PH_PY_EMIT = 14,    /* in the walk: CPython frames */
  PH_LEAF_MAPPING = 15, /* walk_user: the leaf pc's mapping search, in the entry just looked up */
  N_SAMPLES = 16,     /* CPU samples recorded */
  N_FRAMES = 17,      /* frames written */
  N_COUNT_HITS = 18,  /* user-mode samples whose key was counted already */
  N_KERNEL = 19,      /* kernel-mode samples */
  N_FIND_MAPPING = 20,
  N_FIND_ROW = 21,
  N_READS = 22,
  N_PY_EMIT = 23,
  N_PY_SAMPLES = 24,
  N_SEEN = 25,        /* user-mode samples whose key seen_keys knew */
  N_ADD_EXISTING = 26, /* count inserts that found the key counted already (the hint missed it) */
  N_ROW_CACHE_HITS = 27, /* table searches the row cache answered (unwind.h) */
  N_ROW_SEARCHES = 28,  /* table searches that read the table (index and rows) */
  PH_V8_FRAME = 29,   /* in the walk: a V8 process's frames checked for a JavaScript function (in PH_FIND_ROW until stop 27) */
  N_V8_FRAME = 30,
  N_V8_HEAP = 31,     /* V8 frame checks that read the heap (a JavaScript frame's SharedFunctionInfo) */
  PH_HIST = 32,       /* a histogram of PH_TOTAL, one sample at a time (HIST_ADD) */
  N_V8_NAMED = 32 + 130, /* V8 frames whose word became a SharedFunctionInfo */
  PH_V8_HEAP = 32 + 131, /* in the V8 frame checks: the heap reads alone */
  PH_REPORT = 32 + 132, /* in PH_PROCS_LOOKUP: reporting a process without a procs entry (pid_events) */
  N_REPORT = 32 + 133,
  PH_SEEN = 32 + 134, /* a user-mode sample's seen_keys lookup that did not hold its key (in PH_KSTACK until stop 34) */
  PH_SLOTS = 32 + 135,
};

/*
 * A histogram of run times in `HIST_SLOTS` slots of a per-CPU sums map from `first`: 128 buckets of
 * 250 ns, then the count of longer runs and their summed ns. A mean per sample (bpf_stats) hides
 * whether a few long runs (an interrupt, the vCPU descheduled by the host) or every run costs it.
 * Also used by bench/bpf-floor.bpf.c.
 */
#define HIST_STEP_NS 250
#define HIST_LINEAR 128
#define HIST_SLOTS (HIST_LINEAR + 2)
#define HIST_ADD(map, first, ns)                                      \
  do {                                                                \
    u64 ns_ = (ns);                                                   \
    if (ns_ < HIST_STEP_NS * HIST_LINEAR) {                           \
      sum_add(map, (first) + (u32)(ns_ / HIST_STEP_NS), 1);           \
    } else {                                                          \
      sum_add(map, (first) + HIST_LINEAR, 1);                         \
      sum_add(map, (first) + HIST_LINEAR + 1, ns_);                   \
    }                                                                 \
  } while (0)

#ifdef KILN_PHASES
PERCPU_SUMS(phases, PH_SLOTS);
#define phase_add(index, v) sum_add(&phases, index, v)
#define PHASE_START(t) u64 t = ktime_get_ns()
/* PH_TOTAL's samples go into the histogram too, one at a time. */
#define PHASE(t, index)                                         \
  do {                                                          \
    u64 now_ = ktime_get_ns();                                  \
    phase_add(index, now_ - (t));                               \
    if ((index) == PH_TOTAL) HIST_ADD(&phases, PH_HIST, now_ - (t)); \
    (t) = now_;                                                 \
  } while (0)
#define PHASE_COUNT(index, n) phase_add(index, n)
#else
#define PHASE_START(t)
#define PHASE(t, index)
#define PHASE_COUNT(index, n)
#endif

#endif
