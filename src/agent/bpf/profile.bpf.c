// SPDX-License-Identifier: GPL-2.0
/*
 * Kiln's CPU sampler. Attached to one PERF_COUNT_SW_CPU_CLOCK event per online CPU (frequency mode,
 * 19 Hz by default); each sample adds 1 to a count keyed by {process, thread, user stack, kernel stack,
 * comm}, so the kernel aggregates and user space reads one row per distinct stack per interval.
 *
 * Two generations of (counts, stacks) maps: the agent flips `config[0]` each interval, waits for
 * in-flight samples, then reads and clears the generation nobody writes any more — reading never races
 * writing and no sample is lost across the swap.
 *
 * Self-contained on purpose (no kernel or libbpf headers): the committed object must rebuild
 * byte-for-byte from this file alone with the flags in build.sh.
 */

typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name

/* Values from the kernel's UAPI (include/uapi/linux/bpf.h). */
enum {
  MAP_TYPE_HASH = 1,
  MAP_TYPE_ARRAY = 2,
  MAP_TYPE_STACK_TRACE = 7,
};
#define F_USER_STACK (1ULL << 8) /* BPF_F_USER_STACK */
#define ANY 0                    /* BPF_ANY */
#define NOEXIST 1                /* BPF_NOEXIST */
#define MAX_STACK_DEPTH 127      /* PERF_MAX_STACK_DEPTH */
#define EFAULT 14
#define EEXIST 17
#define ENOMEM 12

/* Helpers by number (the kernel's enum bpf_func_id). */
static void *(*map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static u64 (*get_current_pid_tgid)(void) = (void *)14;
static long (*get_current_comm)(void *buf, u32 size) = (void *)16;
static long (*get_stackid)(void *ctx, void *map, u64 flags) = (void *)27;

struct sample_key {
  u32 pid; /* process (tgid) */
  u32 tid; /* thread (kernel pid) */
  s32 user_stack_id;   /* -1: no user stack (kernel thread) */
  s32 kernel_stack_id; /* -1: sampled in user mode */
  char comm[16];
};

/* Sizes are defaults; the loader sets max_entries from --stack-map-size before load. */
#define COUNTS_MAP(name)                      \
  struct {                                    \
    __uint(type, MAP_TYPE_HASH);              \
    __uint(max_entries, 16384);               \
    __type(key, struct sample_key);           \
    __type(value, u64);                       \
  } name SEC(".maps")

#define STACKS_MAP(name)                                \
  struct {                                              \
    __uint(type, MAP_TYPE_STACK_TRACE);                 \
    __uint(max_entries, 16384);                         \
    __uint(key_size, sizeof(u32));                      \
    __uint(value_size, MAX_STACK_DEPTH * sizeof(u64));  \
  } name SEC(".maps")

COUNTS_MAP(counts_0);
COUNTS_MAP(counts_1);
STACKS_MAP(stacks_0);
STACKS_MAP(stacks_1);

/* config[0]: the generation being written (0 or 1). */
struct {
  __uint(type, MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, u32);
} config SEC(".maps");

/* Drop and health counters, read by the agent for its /metrics. Indices are part of the contract
 * with src/agent/loader.ts (BPF_COUNTERS). */
enum {
  C_SAMPLES = 0,         /* samples seen (including idle and dropped) */
  C_IDLE = 1,            /* samples of the idle task, not recorded */
  C_COUNTS_FULL = 2,     /* counts map full: sample lost */
  C_STACKS_FULL = 3,     /* stack map out of room (ENOMEM): stack lost, sample lost */
  C_STACK_COLLISION = 4, /* stack map hash collision (EEXIST): sample lost */
  C_STACK_ERROR = 5,     /* any other stack id error: sample lost */
  C_COUNT = 6,
};
struct {
  __uint(type, MAP_TYPE_ARRAY);
  __uint(max_entries, C_COUNT);
  __type(key, u32);
  __type(value, u64);
} counters SEC(".maps");

static __attribute__((always_inline)) void bump(u32 index) {
  u64 *c = map_lookup_elem(&counters, &index);
  if (c) __sync_fetch_and_add(c, 1);
}

/* A stack id from the helper: >= 0 is an id; -EFAULT means "no stack of this kind" (a user-mode
 * sample has no kernel stack, a kernel thread no user stack) and is recorded as -1; other errors
 * lose the sample and are counted by cause. Returns -2 for "drop". */
static __attribute__((always_inline)) s32 stack_id(long id) {
  if (id >= 0) return (s32)id;
  if (id == -EFAULT) return -1;
  if (id == -ENOMEM) bump(C_STACKS_FULL);
  else if (id == -EEXIST) bump(C_STACK_COLLISION);
  else bump(C_STACK_ERROR);
  return -2;
}

SEC("perf_event")
int kiln_sample(void *ctx) {
  bump(C_SAMPLES);
  u64 id = get_current_pid_tgid();
  u32 tid = (u32)id;
  if (tid == 0) {
    bump(C_IDLE);
    return 0;
  }

  u32 zero = 0;
  u32 *gen = map_lookup_elem(&config, &zero);
  if (!gen) return 0;
  void *counts = *gen ? (void *)&counts_1 : (void *)&counts_0;
  void *stacks = *gen ? (void *)&stacks_1 : (void *)&stacks_0;

  struct sample_key key = {};
  key.pid = (u32)(id >> 32);
  key.tid = tid;
  get_current_comm(key.comm, sizeof(key.comm));
  key.user_stack_id = stack_id(get_stackid(ctx, stacks, F_USER_STACK));
  key.kernel_stack_id = stack_id(get_stackid(ctx, stacks, 0));
  if (key.user_stack_id == -2 || key.kernel_stack_id == -2) return 0;

  u64 *count = map_lookup_elem(counts, &key);
  if (count) {
    __sync_fetch_and_add(count, 1);
  } else {
    u64 one = 1;
    if (map_update_elem(counts, &key, &one, NOEXIST) != 0) {
      /* Another CPU may have inserted the same key meanwhile; retry as an add before giving up. */
      count = map_lookup_elem(counts, &key);
      if (count) __sync_fetch_and_add(count, 1);
      else bump(C_COUNTS_FULL);
    }
  }
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
