// SPDX-License-Identifier: GPL-2.0
/*
 * Kiln's CPU sampler. Attached to one PERF_COUNT_SW_CPU_CLOCK event per online CPU (frequency mode,
 * 19 Hz by default); each sample adds 1 to a count keyed by {process, thread, user stack, kernel stack,
 * comm}, so the kernel aggregates and user space reads one row per distinct stack per interval.
 *
 * Stacks are identified by a 64-bit hash of their addresses and kept in a plain hash map, not in a
 * STACK_TRACE map: a stack-trace map has one slot per hash bucket, and when two stacks share a bucket
 * the second is refused for the rest of the interval — every sample of that stack lost, a bias the
 * flame graph cannot show. With 64-bit content hashes, distinct stacks do not collide in practice.
 *
 * Two generations of (counts, stacks) maps: the agent flips `config[0]` each interval, waits for
 * in-flight samples, then reads and clears the generation nobody writes any more — reading never races
 * writing and no sample is lost across the swap.
 *
 * Self-contained on purpose (no kernel or libbpf headers): the committed object must rebuild
 * byte-for-byte from this file alone with the flags in build.sh.
 */

typedef unsigned int u32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name

/* Values from the kernel's UAPI (include/uapi/linux/bpf.h). */
enum {
  MAP_TYPE_HASH = 1,
  MAP_TYPE_ARRAY = 2,
  MAP_TYPE_PERCPU_ARRAY = 6,
};
#define F_NO_PREALLOC 1          /* BPF_F_NO_PREALLOC: stack memory only for stacks seen */
#define F_USER_STACK (1ULL << 8) /* BPF_F_USER_STACK */
#define NOEXIST 1                /* BPF_NOEXIST */
#define MAX_STACK_DEPTH 127      /* PERF_MAX_STACK_DEPTH */
#define EEXIST 17
#define E2BIG 7

/* Helpers by number (the kernel's enum bpf_func_id). */
static void *(*map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static u64 (*get_current_pid_tgid)(void) = (void *)14;
static long (*get_current_comm)(void *buf, u32 size) = (void *)16;
static long (*get_stack)(void *ctx, void *buf, u32 size, u64 flags) = (void *)67;

struct sample_key {
  u32 pid; /* process (tgid) */
  u32 tid; /* thread (kernel pid) */
  u64 user_stack;   /* hash of the user stack; 0: none (kernel thread) */
  u64 kernel_stack; /* hash of the kernel stack; 0: none (sampled in user mode) */
  char comm[16];
};

struct stack {
  u64 ips[MAX_STACK_DEPTH]; /* leaf first, zero-filled after the last frame */
};

/* Sizes are defaults; the loader sets max_entries from its flags before load. */
#define COUNTS_MAP(name)                      \
  struct {                                    \
    __uint(type, MAP_TYPE_HASH);              \
    __uint(max_entries, 16384);               \
    __type(key, struct sample_key);           \
    __type(value, u64);                       \
  } name SEC(".maps")

#define STACKS_MAP(name)                      \
  struct {                                    \
    __uint(type, MAP_TYPE_HASH);              \
    __uint(max_entries, 16384);               \
    __uint(map_flags, F_NO_PREALLOC);         \
    __type(key, u64);                         \
    __type(value, struct stack);              \
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

/* A stack is too big for the 512-byte BPF stack: each CPU walks into its own scratch slot. */
struct {
  __uint(type, MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, struct stack);
} scratch SEC(".maps");

/* Drop and health counters, read by the agent for its /metrics. Indices are part of the contract
 * with src/agent/loader.ts (BPF_COUNTERS). */
enum {
  C_SAMPLES = 0,     /* samples seen (including idle and dropped) */
  C_IDLE = 1,        /* samples of the idle task, not recorded */
  C_COUNTS_FULL = 2, /* counts map full: sample lost */
  C_STACKS_FULL = 3, /* stacks map full (E2BIG): sample lost */
  C_STACK_ERROR = 4, /* any other error storing a stack, e.g. ENOMEM when the kernel's allocator for
                      * non-preallocated maps is momentarily empty: sample lost */
  C_COUNT = 5,
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

/*
 * Walks one stack into the scratch slot, stores it under its content hash, and returns the hash:
 * 0 when there is no stack of this kind (a user-mode sample has no kernel stack, a kernel thread no
 * user stack), 1 when it could not be stored (the sample is then dropped and counted).
 */
static __attribute__((always_inline)) u64 store_stack(void *ctx, void *stacks, struct stack *buf, u64 flags) {
  long bytes = get_stack(ctx, buf->ips, sizeof(buf->ips), flags);
  if (bytes <= 0) return 0;
  u32 frames = (u32)bytes / 8;
  u64 h = 0xcbf29ce484222325ULL ^ frames;
  for (u32 i = 0; i < MAX_STACK_DEPTH; i++) {
    if (i >= frames) break;
    h ^= buf->ips[i];
    h *= 0x9e3779b97f4a7c15ULL;
    h ^= h >> 31;
  }
  if (h <= 1) h += 2; /* 0 and 1 are reserved */
  long err = map_update_elem(stacks, &h, buf, NOEXIST);
  if (err == 0 || err == -EEXIST) return h;
  if (err == -E2BIG) bump(C_STACKS_FULL);
  else bump(C_STACK_ERROR);
  return 1;
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
  struct stack *buf = map_lookup_elem(&scratch, &zero);
  if (!gen || !buf) return 0;
  void *counts = *gen ? (void *)&counts_1 : (void *)&counts_0;
  void *stacks = *gen ? (void *)&stacks_1 : (void *)&stacks_0;

  struct sample_key key = {};
  key.pid = (u32)(id >> 32);
  key.tid = tid;
  get_current_comm(key.comm, sizeof(key.comm));
  key.user_stack = store_stack(ctx, stacks, buf, F_USER_STACK);
  if (key.user_stack == 1) return 0;
  key.kernel_stack = store_stack(ctx, stacks, buf, 0);
  if (key.kernel_stack == 1) return 0;

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
