// SPDX-License-Identifier: GPL-2.0
/*
 * What one perf-event BPF run costs on this host before Kiln's walker does anything: each program here
 * is attached on its own to a 49 Hz CPU clock on every CPU by bench/bpf-floor.ts, beside bpftrace's
 * `profile:hz` program and the same workload as bench/bpf-walk.ts, and bpf_stats gives each its run
 * time per sample. Not part of the agent; built by the bench with the agent's kiln.h.
 */
#include "../src/agent/bpf/kiln.h"
#include "../src/agent/bpf/phases.h"

#define F_USER_STACK (1ULL << 8) /* BPF_F_USER_STACK */

/* What each program did, summed over CPUs: runs that did their work, frames walked, bytes summed. */
enum {
  S_KSTACK_RUNS = 0,
  S_KSTACK_FRAMES = 1,
  S_USTACK_RUNS = 2,
  S_USTACK_FRAMES = 3,
  S_FP_RUNS = 4,
  S_FP_FRAMES = 5,
  S_COLD = 6,
  S_HASH_NEW = 7,
  S_LOOKUP_HITS = 8,
  S_TIMED = 9,   /* timed runs (all programs but floor_empty) */
  S_BATCHED = 10, /* of those, runs starting within 20 µs of another timed run's start on the same CPU */
  S_RING_DROPS = 11, /* floor_ring's records the ring had no room for */
  S_COUNT = 12,
};
PERCPU_SUMS(floor_sums, S_COUNT);

/* Each program's runs timed from entry to exit (two ktime calls), a histogram each (phases.h's
 * HIST_ADD), in the order of bench/bpf-floor.ts' FLOOR_PROGRAMS; floor_empty has none. */
enum { H_KSTACK = 1, H_USTACK, H_FP, H_HASH, H_PAGE1, H_LINES8, H_PAGES8, H_LOOKUP, H_RING, H_COUNT };
PERCPU_SUMS(floor_hist, H_COUNT * HIST_SLOTS);
/* The last timed run's start on this CPU: programs whose clocks expire close together may run in one
 * interrupt, one after the other, and the later ones find the lines they share warm. */
struct {
  __uint(type, MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, u64);
} last_start SEC(".maps");
INLINE u64 timed_start(void) {
  u64 now = ktime_get_ns();
  u32 zero = 0;
  u64 *last = map_lookup_elem(&last_start, &zero);
  sum_add(&floor_sums, S_TIMED, 1);
  if (last) {
    if (now - *last < 20000) sum_add(&floor_sums, S_BATCHED, 1);
    *last = now;
  }
  return now;
}
#define TIMED(h) u64 t0_ = timed_start()
#define DONE(h) HIST_ADD(&floor_hist, (h) * HIST_SLOTS, ktime_get_ns() - t0_)

/* 16 MiB, like unwind_rows: a run reads a few of its lines, chosen at random, so they are cold. */
#define COLD_SLOTS (1 << 21)
#define SLOTS_PER_PAGE 512 /* 4 KiB of u64 */
#define SLOTS_PER_LINE 8
struct {
  __uint(type, MAP_TYPE_ARRAY);
  __uint(max_entries, COLD_SLOTS);
  __type(key, u32);
  __type(value, u64);
} cold SEC(".maps");

/* A count per {pid, pc}, as a profiler's aggregation map: one hash lookup, an insert when new. */
struct pc_key {
  u32 pid;
  u32 pad;
  u64 pc;
};
struct {
  __uint(type, MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct pc_key);
  __type(value, u64);
} pc_counts SEC(".maps");

SEC("perf_event")
int floor_empty(struct user_regs *ctx) {
  return 0;
}

/* One bpf_get_stack call with `flags`; its runs and frames counted from slot `runs`, timed into `h`. */
INLINE int stack_floor(struct user_regs *ctx, u64 flags, u32 runs, u32 h) {
  TIMED(h);
  u32 zero = 0;
  struct stack *buf = map_lookup_elem(&scratch, &zero);
  if (!buf) return 0;
  long bytes = get_stack(ctx, buf->ips, MAX_STACK_DEPTH * 8, flags);
  sum_add(&floor_sums, runs, 1);
  if (bytes > 0) sum_add(&floor_sums, runs + 1, (u64)bytes / 8);
  DONE(h);
  return 0;
}

/* The kernel stack on every sample, as bpftrace's `kstack` asks it (empty in user mode). */
SEC("perf_event")
int floor_kstack(struct user_regs *ctx) {
  return stack_floor(ctx, 0, S_KSTACK_RUNS, H_KSTACK);
}

/* The user stack by the kernel's own frame-pointer walk, as bpftrace's `ustack` asks it. */
SEC("perf_event")
int floor_ustack(struct user_regs *ctx) {
  return stack_floor(ctx, F_USER_STACK, S_USTACK_RUNS, H_USTACK);
}

struct fp_walk {
  u64 bp;
  u32 n;
};
static long fp_cb(u32 i, struct fp_walk *w) {
  u64 frame[2];
  if (w->bp < 0x1000 || probe_read_user(frame, 16, (void *)w->bp) < 0) return 1;
  if (frame[0] <= w->bp) return 1; /* frames grow toward higher addresses */
  w->bp = frame[0];
  w->n++;
  return 0;
}

/* A user-mode sample's stack walked by frame pointer in BPF, one 16-byte bpf_probe_read_user a frame. */
SEC("perf_event")
int floor_fp(struct user_regs *ctx) {
  TIMED(H_FP);
  if (IN_KERNEL(ctx->pc)) {
    DONE(H_FP);
    return 0;
  }
  struct fp_walk w = {.bp = ctx->bp};
  bpf_loop(MAX_STACK_DEPTH, fp_cb, &w, 0);
  sum_add(&floor_sums, S_FP_RUNS, 1);
  sum_add(&floor_sums, S_FP_FRAMES, w.n);
  DONE(H_FP);
  return 0;
}

INLINE u64 cold_word(u32 slot) {
  slot &= COLD_SLOTS - 1;
  u64 *v = map_lookup_elem(&cold, &slot);
  return v ? *v : 0;
}

/* Eight lines of one random 4 KiB page of the 16 MiB array: one TLB miss, eight cache misses. */
SEC("perf_event")
int floor_lines8(struct user_regs *ctx) {
  TIMED(H_LINES8);
  u32 base = (get_prandom_u32() % (COLD_SLOTS / SLOTS_PER_PAGE)) * SLOTS_PER_PAGE;
  u64 s = 0;
  for (u32 i = 0; i < 8; i++) s += cold_word(base + i * 8 * SLOTS_PER_LINE);
  sum_add(&floor_sums, S_COLD, s);
  DONE(H_LINES8);
  return 0;
}

/* One line in each of eight random pages: eight TLB misses and eight cache misses. */
SEC("perf_event")
int floor_pages8(struct user_regs *ctx) {
  TIMED(H_PAGES8);
  u32 r = get_prandom_u32();
  u64 s = 0;
  for (u32 i = 0; i < 8; i++) s += cold_word(((r + i * 523) % (COLD_SLOTS / SLOTS_PER_PAGE)) * SLOTS_PER_PAGE + (i * 8) * SLOTS_PER_LINE);
  sum_add(&floor_sums, S_COLD, s);
  DONE(H_PAGES8);
  return 0;
}

/* One line of one random page. */
SEC("perf_event")
int floor_page1(struct user_regs *ctx) {
  TIMED(H_PAGE1);
  u32 r = get_prandom_u32();
  sum_add(&floor_sums, S_COLD, cold_word((r % (COLD_SLOTS / SLOTS_PER_PAGE)) * SLOTS_PER_PAGE));
  DONE(H_PAGE1);
  return 0;
}

/* A profiler's count: one hash lookup of {pid, pc}, an insert when the key is new. */
SEC("perf_event")
int floor_hash(struct user_regs *ctx) {
  TIMED(H_HASH);
  struct pc_key k = {.pid = (u32)(get_current_pid_tgid() >> 32), .pc = ctx->pc};
  u64 *c = map_lookup_elem(&pc_counts, &k);
  if (c) {
    __sync_fetch_and_add(c, 1);
  } else {
    u64 one = 1;
    map_update_elem(&pc_counts, &k, &one, NOEXIST);
    sum_add(&floor_sums, S_HASH_NEW, 1);
  }
  DONE(H_HASH);
  return 0;
}

/* A process's entry, as py_procs or v8_procs hold one: 80 bytes by pid, found on all but its first sample. */
struct proc_entry {
  u64 words[10];
};
struct {
  __uint(type, MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, u32);
  __type(value, struct proc_entry);
} proc_entries SEC(".maps");

/* One hash lookup by pid that finds its entry (what a per-process map costs a sample, e.g. py_procs). */
SEC("perf_event")
int floor_lookup(struct user_regs *ctx) {
  TIMED(H_LOOKUP);
  u32 pid = (u32)(get_current_pid_tgid() >> 32);
  struct proc_entry *e = map_lookup_elem(&proc_entries, &pid);
  if (e) {
    sum_add(&floor_sums, S_LOOKUP_HITS, e->words[9] + 1);
  } else {
    struct proc_entry fresh = {};
    map_update_elem(&proc_entries, &pid, &fresh, NOEXIST);
  }
  DONE(H_LOOKUP);
  return 0;
}

/* A sample sent to user space instead of counted in the kernel: one ring buffer record the size of a
 * 24-frame stack with its key, copied from the per-CPU scratch, without waking the reader (the bench
 * drains the ring every 100 ms). */
#define RB_NO_WAKEUP 1
#define RING_RECORD_BYTES (8 * (5 + 24))
struct {
  __uint(type, MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 22);
} samples_ring SEC(".maps");

SEC("perf_event")
int floor_ring(struct user_regs *ctx) {
  TIMED(H_RING);
  u32 zero = 0;
  struct stack *buf = map_lookup_elem(&scratch, &zero);
  if (!buf) return 0;
  buf->len = get_current_pid_tgid();
  buf->ips[0] = ctx->pc;
  if (ringbuf_output(&samples_ring, buf, RING_RECORD_BYTES, RB_NO_WAKEUP) != 0) sum_add(&floor_sums, S_RING_DROPS, 1);
  DONE(H_RING);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
