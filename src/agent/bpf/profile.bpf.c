// SPDX-License-Identifier: GPL-2.0
/*
 * Kiln's BPF programs.
 *
 * kiln_sample — CPU: attached to one PERF_COUNT_SW_CPU_CLOCK event per online CPU (frequency mode,
 * 19 Hz by default); each sample adds 1 to a count keyed by {process, kind, user stack, kernel stack,
 * process name}, so the kernel aggregates and user space reads one row per distinct stack per interval.
 * Threads of a process on the same stack share a row: cost follows distinct stacks, not threads.
 *
 * kiln_switch_out / kiln_switch_in — off-CPU (loaded only with --off-cpu): sched_switch notes when a
 * thread blocks; when it runs again (finish_task_switch, in its own context, so its stacks are the
 * ones it blocked on) the time blocked is added to its stacks. Blocks shorter than a minimum are
 * ignored; blocks shorter than the sampling period are kept with probability length/period and
 * weighted one period, so totals stay unbiased while walks stay bounded by (time blocked)/period.
 *
 * kiln_exec / kiln_exit — tell the agent when a process it loaded unwind tables for changes image or
 * ends, so tables follow processes without the agent polling /proc for every idle one.
 *
 * Stacks are identified by a 64-bit hash of their frames and kept in a plain hash map, not in a
 * STACK_TRACE map: a stack-trace map has one slot per hash bucket, and when two stacks share a bucket
 * the second is refused for the rest of the interval — every sample of that stack lost, a bias the
 * flame graph cannot show. With 64-bit content hashes, distinct stacks do not collide in practice.
 *
 * Two generations of (counts, stacks) maps: the agent flips `config[0]` each interval, waits for
 * in-flight samples, then reads and clears the generation nobody writes any more — reading never races
 * writing and no sample is lost across the swap.
 *
 * Self-contained on purpose (no kernel or libbpf headers): the committed object must rebuild
 * byte-for-byte from these files alone with the flags in build.sh.
 */
#include "kiln.h"
#include "unwind.h"

/* --adaptive: keep probability (× 2^32) of each process's samples, set by the agent. */
struct {
  __uint(type, MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, u32);
  __type(value, u64);
} rates SEC(".maps");

/* Off-CPU: when each blocked thread went to sleep. LRU: threads that exit asleep age out. */
struct {
  __uint(type, MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, u32);
  __type(value, u64);
} off_cpu_start SEC(".maps");

/*
 * Stores the `len` frames in the scratch slot under their content hash and returns the hash: 0 when
 * there are none (a user-mode sample has no kernel stack, a kernel thread no user stack), 1 when it
 * could not be stored (the sample is then dropped and counted).
 */
INLINE u64 store_stack(void *stacks, struct stack *buf) {
  u64 frames = buf->len;
  if (frames == 0) return 0;
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

/* Adds `value` to the current thread's {process, stacks} count of this kind. */
INLINE void record(void *ctx, u32 pid, u32 kind, u64 value) {
  u32 zero = 0;
  u32 *gen = map_lookup_elem(&config, &zero);
  struct stack *buf = map_lookup_elem(&scratch, &zero);
  if (!gen || !buf) return;
  void *counts = *gen ? (void *)&counts_1 : (void *)&counts_0;
  void *stacks = *gen ? (void *)&stacks_1 : (void *)&stacks_0;

  struct task_struct *task = get_current_task_btf();
  struct sample_key key = {};
  key.pid = pid;
  key.kind = kind;
  struct task_struct *leader = 0;
  probe_read_kernel(&leader, sizeof(leader), &task->group_leader);
  if (leader) probe_read_kernel(key.comm, sizeof(key.comm), &leader->comm);

  walk_user(task, pid, buf);
  key.user_stack = store_stack(stacks, buf);
  if (key.user_stack == 1) return;
  long bytes = get_stack(ctx, buf->ips, sizeof(buf->ips), 0);
  buf->len = bytes > 0 ? (u64)bytes / 8 : 0;
  key.kernel_stack = store_stack(stacks, buf);
  if (key.kernel_stack == 1) return;

  u64 *count = map_lookup_elem(counts, &key);
  if (count) {
    __sync_fetch_and_add(count, value);
  } else if (map_update_elem(counts, &key, &value, NOEXIST) != 0) {
    /* Another CPU may have inserted the same key meanwhile; retry as an add before giving up. */
    count = map_lookup_elem(counts, &key);
    if (count) __sync_fetch_and_add(count, value);
    else bump(C_COUNTS_FULL);
  }
}

SEC("perf_event")
int kiln_sample(void *ctx) {
  bump(C_SAMPLES);
  u64 id = get_current_pid_tgid();
  u32 pid = (u32)(id >> 32);
  if ((u32)id == 0) {
    bump(C_IDLE);
    return 0;
  }
  if (setting(SET_FLAGS) & SETF_ADAPTIVE) {
    u64 *keep = map_lookup_elem(&rates, &pid);
    u64 p = keep ? *keep : setting(SET_ADAPTIVE_DEFAULT);
    if ((u64)get_prandom_u32() >= p) {
      bump(C_ADAPTIVE_SKIPPED);
      return 0;
    }
  }
  record(ctx, pid, KIND_CPU, 1);
  return 0;
}

/* sched_switch(preempt, prev, next, prev_state): prev is the current task, about to stop running. */
SEC("tp_btf/sched_switch")
int kiln_switch_out(u64 *ctx) {
  /* Preempted (or yielding) threads are runnable, not blocked: waiting for a CPU is not off-CPU time. */
  if ((u8)ctx[0] || (u32)ctx[3] == 0) return 0;
  u32 tid = (u32)get_current_pid_tgid();
  if (tid == 0) return 0;
  struct task_struct *prev = (struct task_struct *)ctx[1];
  unsigned int flags = 0;
  probe_read_kernel(&flags, sizeof(flags), &prev->flags);
  if (flags & PF_KTHREAD) return 0;
  u64 now = ktime_get_ns();
  map_update_elem(&off_cpu_start, &tid, &now, 0);
  return 0;
}

/* finish_task_switch(prev) runs in the context of the task switched in: it has just stopped blocking. */
SEC("kprobe")
int kiln_switch_in(void *ctx) {
  u64 id = get_current_pid_tgid();
  u32 tid = (u32)id;
  u64 *since = map_lookup_elem(&off_cpu_start, &tid);
  if (!since) return 0;
  u64 blocked = ktime_get_ns() - *since;
  map_delete_elem(&off_cpu_start, &tid);
  if (blocked < setting(SET_OFF_CPU_MIN_NS)) return 0;
  bump(C_OFF_CPU_EVENTS);
  u64 period = setting(SET_OFF_CPU_PERIOD_NS);
  u64 weight = blocked;
  if (blocked < period) {
    if ((u64)get_prandom_u32() % period >= blocked) return 0;
    weight = period;
  }
  bump(C_OFF_CPU_KEPT);
  record(ctx, (u32)(id >> 32), KIND_OFF_CPU, weight);
  return 0;
}

/* A new program image: the loaded tables describe the old one. */
SEC("tp_btf/sched_process_exec")
int kiln_exec(u64 *ctx) {
  u32 pid = (u32)(get_current_pid_tgid() >> 32);
  if (map_lookup_elem(&known_pids, &pid)) {
    map_delete_elem(&known_pids, &pid);
    report(pid, EV_EXEC);
  }
  return 0;
}

/* The main thread exits: the agent checks the process is gone and frees its tables. */
SEC("tp_btf/sched_process_exit")
int kiln_exit(u64 *ctx) {
  u64 id = get_current_pid_tgid();
  u32 pid = (u32)(id >> 32);
  if ((u32)id == pid && map_lookup_elem(&known_pids, &pid)) report(pid, EV_EXIT);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
