/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types, kernel structures, maps and counters shared by Kiln's BPF programs (profile.bpf.c) and its
 * user-stack walker (unwind.h). Self-contained on purpose — no kernel or libbpf headers — so the
 * committed object rebuilds byte-for-byte from these files alone (build.sh).
 *
 * Every layout here is a contract with the TypeScript side; each struct names the file that mirrors it.
 */
#ifndef KILN_H
#define KILN_H

typedef signed char s8;
typedef unsigned char u8;
typedef short s16;
typedef unsigned short u16;
typedef int s32;
typedef unsigned int u32;
typedef long long s64;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name
#define INLINE static __attribute__((always_inline))

/* Values from the kernel's UAPI (include/uapi/linux/bpf.h). */
enum {
  MAP_TYPE_HASH = 1,
  MAP_TYPE_ARRAY = 2,
  MAP_TYPE_PERCPU_ARRAY = 6,
  MAP_TYPE_LRU_HASH = 9,
  MAP_TYPE_LPM_TRIE = 11,
  MAP_TYPE_RINGBUF = 27,
  MAP_TYPE_TASK_STORAGE = 29,
};
#define F_NO_PREALLOC 1          /* BPF_F_NO_PREALLOC */
#define F_MMAPABLE (1 << 10)     /* BPF_F_MMAPABLE */
#define NOEXIST 1                /* BPF_NOEXIST */
#define STORAGE_CREATE 1         /* BPF_LOCAL_STORAGE_GET_F_CREATE */
#define MAX_STACK_DEPTH 127      /* PERF_MAX_STACK_DEPTH */
#define EEXIST 17
#define E2BIG 7

/* Helpers by number (the kernel's enum bpf_func_id). */
static void *(*map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static long (*map_delete_elem)(void *map, const void *key) = (void *)3;
static u64 (*ktime_get_ns)(void) = (void *)5;
static u32 (*get_prandom_u32)(void) = (void *)7;
static u64 (*get_current_pid_tgid)(void) = (void *)14;
static u64 (*get_current_task)(void) = (void *)35;
static long (*get_stack)(void *ctx, void *buf, u32 size, u64 flags) = (void *)67;
static long (*probe_read_user)(void *dst, u32 size, const void *src) = (void *)112;
static long (*probe_read_kernel)(void *dst, u32 size, const void *src) = (void *)113;
static void *(*task_storage_get)(void *map, void *task, void *value, u64 flags) = (void *)156;
static long (*task_storage_delete)(void *map, void *task) = (void *)157;
static void *(*get_current_task_btf)(void) = (void *)158;
static u64 (*task_pt_regs)(void *task) = (void *)175;
static long (*ringbuf_output)(void *ringbuf, void *data, u64 size, u64 flags) = (void *)130;
static long (*bpf_loop)(u32 nr, void *callback, void *ctx, u64 flags) = (void *)181;

/*
 * The few kernel fields the agent reads, relocated by libbpf against the running kernel's BTF
 * (CO-RE): only names and types matter here, not offsets or the fields left out.
 */
struct thread_struct {
  unsigned long fsbase; /* x86_64: the thread pointer, which glibc and musl also return as pthread_self() */
} __attribute__((preserve_access_index));

struct task_struct {
  int pid;
  unsigned int flags;
  struct task_struct *group_leader;
  char comm[16];
  void *mm;
  u64 start_time; /* CLOCK_MONOTONIC ns, the clock of ktime_get_ns */
  struct thread_struct thread;
} __attribute__((preserve_access_index));

#define PF_KTHREAD 0x00200000

/*
 * x86_64 struct pt_regs, UAPI layout: a thread's user registers (task_pt_regs), and the first member of
 * a perf event program's context (the registers at the sample, user or kernel).
 */
struct user_regs {
  u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di;
  u64 orig_ax; /* the syscall number while in a syscall */
  u64 pc, cs, flags, sp, ss;
};
/* Kernel addresses have the top bit set (x86_64 and arm64 alike): a sample's pc says which mode it hit. */
#define IN_KERNEL(pc) ((s64)(pc) < 0)

/* ---- samples (mirrored by src/agent/sampler.ts) ---- */

enum { KIND_CPU = 0, KIND_OFF_CPU = 1 };

struct sample_key {
  u32 pid;  /* process (tgid) */
  u32 kind; /* KIND_CPU: value counts samples; KIND_OFF_CPU: value is nanoseconds blocked */
  u64 user_stack;   /* hash of the user stack; 0: none (kernel thread) */
  u64 kernel_stack; /* hash of the kernel stack; 0: none (sampled in user mode) */
  char comm[16];    /* the process's name: its group leader's comm, never a thread's */
};

/* Frames leaf first; `len` of them are valid (the walker does not zero the tail). A CPython frame has
 * bit 63 set: bits 47–62 the instruction index, bits 0–46 the code object's address (python.ts). A V8
 * JavaScript frame has bit 63 set too, bits 47–62 zero, and bits 0–46 its SharedFunctionInfo's tagged
 * address, whose bit 0 is always set (a heap object's tag), where a code object's never is (v8/frames.ts).
 * The count comes first so that a stored stack of n words is the first n words of this one; one spare
 * slot past the last frame keeps a masked index (& 127) inside the value for the verifier. */
struct stack {
  u64 len;
  u64 ips[MAX_STACK_DEPTH + 1];
};
#define PY_FRAME_TAG (1ULL << 63)
/* An off-CPU sample's only kernel frame: bit 63 | syscall number, below the kernel half (syscalls.ts). */
#define SYSCALL_FRAME (1ULL << 63)
#define PY_ADDR_MASK ((1ULL << 47) - 1)
#define V8_FRAME_TAG (1ULL << 63)

/*
 * Stacks by size class: a stack of fewer than 32 frames is kept in 32 words, a longer one in 128, as its
 * frame count and frames (the first words of struct stack). Inserting a value copies it whole into its
 * element, and on the loaded bench host a 1 KiB copy cost 3.8 µs of a 29 µs sample; most stacks hold
 * fewer than 32 frames (18.6 on average on bench/bpf-walk.ts). Two classes, not more: with
 * 16/32/64/128-word classes the sampler's collect took 2.4–3.8 ms where one map took 1.9–2.4 ms
 * (bench/sampler-read.ts, 3 alternating runs), though an empty map's batch read costs only 23 µs — the
 * cause was not pinned down, so the classes were kept few. The class of a stack follows from its frame
 * count, which its hash covers, so a stack is looked up in one map only. Mirrored by STACK_CLASSES in
 * src/agent/loader.ts.
 */
#define STACK_CLASS(words)                    \
  struct stack_w##words {                     \
    u64 len;                                  \
    u64 ips[words - 1];                       \
  }
STACK_CLASS(32);
STACK_CLASS(128);

/*
 * Counts, by the user stack's size class: each value is the count, then the user stack itself. A sample
 * with a new key inserts one element (before, its user stack went into a stacks map of its own first:
 * two inserts, ≈ 3 µs of a new key's ≈ 5 µs by stop 24's floor), and one already counted still costs one
 * lookup and one atomic add (the count is the value's first word). The user stack's hash stays in the
 * key: the key is still what a count is kept under. A key's user stack is stored once per key, not once
 * per distinct stack: keys that share a user stack (one differing kernel stack, or comm) each hold it —
 * on a sampled host nearly every user-mode key has a user stack no other key has.
 * Both classes are allocated as keys arrive (BPF_F_NO_PREALLOC): preallocated, the small class held
 * 16384 × 352 bytes (6.0 MB) a generation whatever the load, where an interval of bench/bpf-walk.ts
 * fills ≈ 300 keys (≈ 0.1 MB past the 0.26 MB of buckets), and its inserts cost no less than the
 * allocator's (stop 26: 4.9 µs a sample with a new key both ways, medians of 3 interleaved pairs). Sizes
 * are defaults; the loader sets max_entries from its flags before load.
 */
#define COUNT_CLASS(words)                    \
  struct count_w##words {                     \
    u64 count;                                \
    struct stack_w##words stack;              \
  }
COUNT_CLASS(32);
COUNT_CLASS(128);
#define COUNTS_MAP(name, value_type, flags)   \
  struct {                                    \
    __uint(type, MAP_TYPE_HASH);              \
    __uint(max_entries, 16384);               \
    __uint(map_flags, flags);                 \
    __type(key, struct sample_key);           \
    __type(value, value_type);                \
  } name SEC(".maps")

/* Kernel stacks (kernel-mode samples; off-CPU's syscall frame), by hash, referenced from the key. */
#define STACKS_MAP(name, value_type)          \
  struct {                                    \
    __uint(type, MAP_TYPE_HASH);              \
    __uint(max_entries, 16384);               \
    __uint(map_flags, F_NO_PREALLOC);         \
    __type(key, u64);                         \
    __type(value, value_type);                \
  } name SEC(".maps")

COUNTS_MAP(counts32_0, struct count_w32, F_NO_PREALLOC);
COUNTS_MAP(counts32_1, struct count_w32, F_NO_PREALLOC);
COUNTS_MAP(counts128_0, struct count_w128, F_NO_PREALLOC);
COUNTS_MAP(counts128_1, struct count_w128, F_NO_PREALLOC);
STACKS_MAP(stacks32_0, struct stack_w32);
STACKS_MAP(stacks32_1, struct stack_w32);
STACKS_MAP(stacks128_0, struct stack_w128);
STACKS_MAP(stacks128_1, struct stack_w128);

/* The stacks map of `gen` for a stack of `frames` frames. */
INLINE void *stacks_for(u32 gen, u64 frames) {
  if (frames < 32) return gen ? (void *)&stacks32_1 : (void *)&stacks32_0;
  return gen ? (void *)&stacks128_1 : (void *)&stacks128_0;
}

/* The counts map of `gen` for a user stack of `frames` frames. */
INLINE void *counts_for(u32 gen, u64 frames) {
  if (frames < 32) return gen ? (void *)&counts32_1 : (void *)&counts32_0;
  return gen ? (void *)&counts128_1 : (void *)&counts128_0;
}

/* config[0]: the generation being written (0 or 1). */
struct {
  __uint(type, MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, u32);
} config SEC(".maps");

/* Settings written once by the loader (indices: SETTING_* in src/agent/loader.ts). */
enum {
  SET_FLAGS = 0,           /* SETF_* */
  SET_OFF_CPU_MIN_NS = 1,  /* blocks shorter than this are not recorded */
  SET_OFF_CPU_PERIOD_NS = 2, /* blocks shorter than this are kept with probability len/period, weighted period */
  SET_ADAPTIVE_DEFAULT = 3, /* keep probability (× 2^32) of a process without its own rate */
  SET_COUNT = 8,
};
enum { SETF_UNWIND = 1, SETF_ADAPTIVE = 2 };
struct {
  __uint(type, MAP_TYPE_ARRAY);
  __uint(max_entries, SET_COUNT);
  __type(key, u32);
  __type(value, u64);
} settings SEC(".maps");

INLINE u64 setting(u32 index) {
  u64 *v = map_lookup_elem(&settings, &index);
  return v ? *v : 0;
}

/*
 * Each CPU walks into its own scratch slot: a stack is too big for the 512-byte BPF stack. The user stack
 * is walked into `stack`, after the count word, so that the first words of the slot are a count_w32 or
 * count_w128 value as they stand; a kernel stack goes to `kernel`, beside it.
 */
struct scratch_slot {
  u64 count;
  struct stack stack;
  struct stack kernel;
};
struct {
  __uint(type, MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, struct scratch_slot);
} scratch SEC(".maps");

/* This CPU's user stack slot in `scratch` (where the walker writes); 0 only if the lookup failed. */
INLINE struct stack *scratch_stack(void) {
  u32 zero = 0;
  struct scratch_slot *slot = map_lookup_elem(&scratch, &zero);
  return slot ? &slot->stack : 0;
}

/* ---- process discovery (mirrored by src/agent/unwind/process-tables.ts) ---- */
/* A process the walker has not seen loaded (no `procs` entry) is reported here. */

/* Flags of a process the agent has loaded (struct proc_info in unwind.h). */
enum { PROC_TABLES = 1, PROC_PYTHON = 2, PROC_V8 = 4 };

/*
 * The agent's doorbell: a record here wakes it for work that should not wait for its next poll (it
 * drains the maps below then, and discards the records). Without it the agent polled twice a second,
 * about a third of its CPU on the bench. A ring buffer wakes its reader only when the
 * reader has consumed everything before the record, so a burst of rings wakes the agent once.
 */
struct {
  __uint(type, MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} doorbell SEC(".maps");

INLINE void ring(void) {
  u64 one = 1;
  ringbuf_output(&doorbell, &one, sizeof(one), 0); /* full (agent not reading): its next poll finds the work */
}

/* What the agent should look at: pid → EV_* bits, and how many samples asked (the agent loads the
 * busiest processes first). Drained by the agent at each poll. */
enum { EV_NEW = 1, EV_EXEC = 2, EV_EXIT = 4 };
struct pid_event {
  u32 events;
  u32 rung; /* the doorbell was rung for this entry */
  u64 hits;
};
struct {
  __uint(type, MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, u32);
  __type(value, struct pid_event);
} pid_events SEC(".maps");

/* How old a new process must be before its reports ring the doorbell (MIN_AGE_MS in
 * src/agent/unwind/process-tables.ts, which loads no younger one). */
#define RING_AGE_NS (200ULL * 1000 * 1000)
/* Ring for a new process at its third sample since the agent last looked (LOAD_AT_SAMPLES in
 * process-tables.ts), ≈ 150 ms of its CPU at 19 Hz: on a loaded host a shell one-liner lives past 200 ms
 * of wall time but is rarely sampled that often, and ringing (and loading) for each had the agent load
 * a process every few seconds. */
#define RING_AT_NEW 3

/* Records `ev` for the agent; rings the doorbell, once per entry, when the entry has `ring_at` samples
 * (0: never; exits wait for the next poll, as a dead process's entry harms nothing until its pid is reused,
 * and a reused pid's exec rings). */
INLINE void report(u32 pid, u32 ev, u64 ring_at) {
  struct pid_event *cur = map_lookup_elem(&pid_events, &pid);
  if (cur) {
    if (!(cur->events & ev)) cur->events |= ev; /* racy but harmless: the agent only needs to look once */
    u64 hits = __sync_fetch_and_add(&cur->hits, 1) + 1;
    if (ring_at && hits >= ring_at && !cur->rung) {
      cur->rung = 1; /* racy too: at worst two rings */
      ring();
    }
    return;
  }
  struct pid_event fresh = {.events = ev, .rung = ring_at == 1, .hits = 1};
  if (map_update_elem(&pid_events, &pid, &fresh, NOEXIST) == 0 && ring_at == 1) ring();
}

/* Drop, health and unwinding counters, read by the agent for its /metrics (summed over CPUs). Indices
 * are part of the contract with src/agent/loader.ts (BPF_COUNTERS). Per CPU: every sample bumps two or
 * three of them, and shared atomics would bounce their cache line between CPUs on each one. */
enum {
  C_SAMPLES = 0,     /* samples seen (including idle and dropped) */
  C_IDLE = 1,        /* samples of the idle task, not recorded */
  C_COUNTS_FULL = 2, /* counts map full (or out of memory for a new count): sample lost */
  C_STACKS_FULL = 3, /* kernel stacks map full (E2BIG): sample lost */
  C_STACK_ERROR = 4, /* any other error storing a stack, e.g. ENOMEM when the kernel's allocator for
                      * non-preallocated maps is momentarily empty: sample lost */
  /* User stacks walked, and how each walk ended (exactly one of the U_* below per walk). */
  C_U_WALKS = 5,
  C_U_COMPLETE = 6,     /* reached the outermost frame (undefined return address, or a zero frame pointer) */
  C_U_TRUNCATED = 7,    /* deeper than MAX_STACK_DEPTH frames */
  C_U_READ_ERROR = 8,   /* user memory unreadable (a saved register or return address) */
  C_U_BAD_PC = 9,       /* a return address that cannot be code (garbage frame pointer) */
  C_U_UNSUPPORTED = 10, /* a CFA rule the tables cannot express (DWARF expression, other register) */
  C_U_NO_TABLES = 11,   /* the process was not loaded yet: frame pointers only */
  C_U_FP_FALLBACK = 12, /* frames walked by frame pointer (JIT code, code without unwind info) — not a failure */
  C_U_PY_FRAMES = 13,   /* CPython frames emitted */
  C_U_PY_ERROR = 14,    /* a CPython thread state or frame could not be read */
  C_OFF_CPU_EVENTS = 15, /* blocks long enough to be considered */
  C_OFF_CPU_KEPT = 16,   /* of those, recorded (after duration-weighted sampling) */
  C_ADAPTIVE_SKIPPED = 17, /* CPU samples skipped by adaptive sampling */
  C_OFF_CPU_NOT_SYSCALL = 18, /* blocks outside a syscall (e.g. a page fault): not attributed */
  C_COUNT = 19,
};
/* A per-CPU array of `slots` u64 sums (the counters here, phases.h's debug timings). */
#define PERCPU_SUMS(name, slots)              \
  struct {                                    \
    __uint(type, MAP_TYPE_PERCPU_ARRAY);      \
    __uint(max_entries, slots);               \
    __type(key, u32);                         \
    __type(value, u64);                       \
  } name SEC(".maps")
PERCPU_SUMS(counters, C_COUNT);

/* Still an atomic add: a tracepoint program (off-CPU) can be interrupted on its CPU by the sampling
 * one, but on a line only this CPU writes it costs a few cycles. */
INLINE void sum_add(void *sums, u32 index, u64 n) {
  u64 *c = map_lookup_elem(sums, &index);
  if (c) __sync_fetch_and_add(c, n);
}
INLINE void add(u32 index, u64 n) { sum_add(&counters, index, n); }
INLINE void bump(u32 index) { add(index, 1); }

#endif
