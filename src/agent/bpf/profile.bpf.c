// SPDX-License-Identifier: GPL-2.0
/*
 * Kiln's BPF programs.
 *
 * kiln_sample — CPU: attached to one PERF_COUNT_SW_CPU_CLOCK event per online CPU (frequency mode,
 * 19 Hz by default); each sample adds 1 to a count keyed by {process, kind, user stack, kernel stack,
 * process name}, so the kernel aggregates and user space reads one row per distinct stack per interval.
 * Threads of a process on the same stack share a row: cost follows distinct stacks, not threads.
 *
 * kiln_switch / kiln_sys_exit — off-CPU (loaded only with --off-cpu): sched_switch notes when a
 * thread blocks in a syscall and, when it is switched back in, how long it was blocked. Blocks shorter
 * than a minimum are ignored; blocks shorter than the sampling period are kept with probability
 * length/period and weighted one period, so totals stay unbiased while walks stay bounded by
 * (time blocked)/period. The walk itself happens when the thread leaves that syscall (sys_exit, in its
 * own context: its user stack is exactly the one it blocked on), because kernels without kprobes or
 * fentry (this project's CI kernel has neither) offer no other hook in the woken thread's context. The
 * kernel side of an off-CPU stack is therefore one frame naming the syscall, not the kernel's own
 * stack; blocks outside syscalls (page faults) are counted but not attributed.
 *
 * kiln_exec / kiln_exit — tell the agent when a process it loaded unwind tables for changes image or
 * ends, so tables follow processes without the agent polling /proc for every idle one.
 *
 * Stacks are identified by a 64-bit hash of their frames and kept in a plain hash map, not in a
 * STACK_TRACE map: a stack-trace map has one slot per hash bucket, and when two stacks share a bucket
 * the second is refused for the rest of the interval — every sample of that stack lost, a bias the
 * flame graph cannot show. With 64-bit content hashes, distinct stacks do not collide in practice.
 *
 * Two generations of maps by size class (counts with their user stacks, kernel stacks): the agent flips
 * `config[0]` each interval, waits for in-flight samples, then reads and clears the generation nobody
 * writes any more — reading never races writing and no sample is lost across the swap.
 *
 * Self-contained on purpose (no kernel or libbpf headers): the committed object must rebuild
 * byte-for-byte from these files alone with the flags in build.sh.
 */
#include "kiln.h"
#include "unwind.h"
#include "phases.h"

/* --adaptive: keep probability (× 2^32) of each process's samples, set by the agent. */
struct {
  __uint(type, MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, u32);
  __type(value, u64);
} rates SEC(".maps");

/* Off-CPU: per blocked thread, since when, in which syscall, and the time kept for it so far. LRU:
 * threads that exit while blocked age out. */
struct off_cpu_block {
  u64 since;  /* 0 while the thread runs */
  u64 weight; /* nanoseconds to record when it leaves the syscall */
  u64 nr;     /* the syscall */
};
struct {
  __uint(type, MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, u32);
  __type(value, struct off_cpu_block);
} off_cpu SEC(".maps");

/*
 * Keys counted lately, one slot per hash of the key, tagged with the generation they were counted in.
 * A user-mode sample first asks here whether its key is already counted: on the load most
 * keys are new (a leaf pc, a CPython instruction), and a count lookup that finds nothing cost 1.9 µs
 * of a 22 µs sample (phases.h), for 15–35 % hits. Only a hint: a key found here is looked up as
 * before, one not found is inserted, and an insert that meets the key already counted (another slot's
 * key took this one, or a generation two flips old) adds to it instead. Shared by the CPUs, so a key
 * counted on one is known on the other; a slot is written only when it changes.
 */
#define SEEN_SLOTS 8192
struct {
  __uint(type, MAP_TYPE_ARRAY);
  __uint(max_entries, SEEN_SLOTS);
  __type(key, u32);
  __type(value, u64);
} seen_keys SEC(".maps");

/* A hash of the whole key, its lowest bit replaced by generation `g`. */
INLINE u64 seen_tag(struct sample_key *k, u32 g) {
  const u64 m = 0x9e3779b97f4a7c15ULL;
  u64 h = ((u64)k->pid << 32 | k->kind) * m;
  h = (h ^ k->user_stack) * m;
  h = (h ^ (h >> 29) ^ k->kernel_stack) * m;
  h = (h ^ (h >> 29) ^ ((u64 *)k->comm)[0]) * m;
  h = (h ^ (h >> 29) ^ ((u64 *)k->comm)[1]) * m;
  h ^= h >> 32;
  return (h & ~1ULL) | (g & 1);
}

/* The content hash of the `len` frames in `buf`: 0 when there are none (a user-mode sample has no
 * kernel stack, a kernel thread no user stack); never 1. */
INLINE u64 stack_hash(struct stack *buf) {
  u64 frames = buf->len;
  if (frames == 0) return 0;
  u64 h = 0xcbf29ce484222325ULL ^ frames;
  for (u32 i = 0; i < MAX_STACK_DEPTH; i++) {
    if (i >= frames) break;
    h ^= buf->ips[i];
    h *= 0x9e3779b97f4a7c15ULL;
    h ^= h >> 31;
  }
  return h <= 1 ? h + 2 : h; /* 0 and 1 are reserved */
}

/*
 * Stores the kernel frames in `buf` under their hash `h` (stack_hash) in generation `gen`'s map of
 * their size class, and returns it: 0 when there are none, 1 when it could not be stored (the sample is
 * then dropped and counted).
 */
INLINE u64 store_stack(u32 gen, struct stack *buf, u64 h) {
  if (h == 0) return 0;
  void *stacks = stacks_for(gen, buf->len);
  /* Most samples repeat a stack already stored this interval: a lookup takes no bucket lock. */
  if (map_lookup_elem(stacks, &h)) return h;
  long err = map_update_elem(stacks, &h, buf, NOEXIST);
  if (err == 0 || err == -EEXIST) return h;
  if (err == -E2BIG) bump(C_STACKS_FULL);
  else bump(C_STACK_ERROR);
  return 1;
}

/* Adds `value` to the count of `key`, inserting it with its user stack (`slot`: the count word, then
 * the stack) when it is new. `absent`: the caller has just looked the key up and not found it, or
 * knows it is most likely new, so the insert is tried first (a lookup costs 2–2.6 µs cold on the loaded
 * bench host, and the insert looks the bucket up anyway). */
INLINE void add_count(void *counts, struct sample_key *key, struct scratch_slot *slot, u64 value, int absent) {
  u64 *count = absent ? 0 : map_lookup_elem(counts, key);
  if (count) {
    __sync_fetch_and_add(count, value);
    return;
  }
  slot->count = value;
  if (map_update_elem(counts, key, slot, NOEXIST) != 0) {
    /* Another CPU may have inserted the same key meanwhile; retry as an add before giving up. */
    count = map_lookup_elem(counts, key);
    PHASE_COUNT(N_ADD_EXISTING, 1);
    if (count) __sync_fetch_and_add(count, value);
    else bump(C_COUNTS_FULL);
  }
}

/* Adds `value` to the current thread's {process, stacks} count of this kind. `sample`: the perf
 * event's registers (CPU); 0 off-CPU, where the kernel stack is the marker frame of `syscall`. */
INLINE void record(struct user_regs *sample, u32 pid, u32 kind, u64 value, u64 syscall) {
  PHASE_START(t);
  u32 zero = 0;
  u32 *gen = map_lookup_elem(&config, &zero);
  struct scratch_slot *slot = map_lookup_elem(&scratch, &zero);
  if (!gen || !slot) return;
  u32 g = *gen;
  struct stack *buf = &slot->stack;

  struct task_struct *task = get_current_task_btf();
  struct sample_key key = {};
  key.pid = pid;
  key.kind = kind;
  /* Two loads through BTF, not a helper call. */
  const u64 *comm = (const u64 *)task->group_leader->comm;
  ((u64 *)key.comm)[0] = comm[0];
  ((u64 *)key.comm)[1] = comm[1];

  /* In user mode the sample's own registers are the user ones; in the kernel, the task's are. */
  int in_kernel = !sample || IN_KERNEL(sample->pc);
  PHASE(t, PH_PROLOGUE);
  walk_user(task, pid, buf, in_kernel ? 0 : sample);
  PHASE_START(t2);
  PHASE_COUNT(N_FRAMES, buf->len);
  key.user_stack = stack_hash(buf);
  void *counts = counts_for(g, buf->len);
  PHASE(t2, PH_HASH);
  u64 tag = 0, *seen = 0;
  if (!in_kernel) {
    /* No kernel stack. A count kept under the same key holds its user stack: then one lookup is the
     * whole sample — asked only when the key was seen counted (seen_keys). */
    tag = seen_tag(&key, g);
    u32 slot = (u32)(tag >> 1) & (SEEN_SLOTS - 1);
    seen = map_lookup_elem(&seen_keys, &slot);
    if (seen && *seen == tag) {
      PHASE_COUNT(N_SEEN, 1);
      u64 *count = map_lookup_elem(counts, &key);
      PHASE(t2, PH_COUNT_LOOKUP);
      if (count) {
        __sync_fetch_and_add(count, value);
        PHASE_COUNT(N_COUNT_HITS, 1);
        return;
      }
    } else {
      PHASE(t2, PH_SEEN);
    }
  } else {
    PHASE_COUNT(N_KERNEL, 1);
  }
  /* The user stack goes in with its count (add_count); a kernel stack, when there is one, into its own
   * map first, so a count's kernel stack is there when the count is. */
  struct stack *kbuf = &slot->kernel;
  kbuf->len = 0;
  if (!sample) {
    kbuf->ips[0] = SYSCALL_FRAME | (syscall & 0xffff);
    kbuf->len = 1;
  } else if (in_kernel) {
    /* Only then: asked in user mode, the kernel finds no stack but still costs about as much as
     * the rest of the sample (3.2 µs of 29 µs on the bench host, ktime deltas of a debug build). */
    long bytes = get_stack(sample, kbuf->ips, MAX_STACK_DEPTH * 8, 0);
    kbuf->len = bytes > 0 ? (u64)bytes / 8 : 0;
  }
  PHASE(t2, PH_KSTACK);
  key.kernel_stack = store_stack(g, kbuf, stack_hash(kbuf));
  PHASE(t2, PH_STORE_KERNEL);
  if (key.kernel_stack == 1) return;
  add_count(counts, &key, slot, value, !in_kernel);
  if (seen && *seen != tag) *seen = tag;
  PHASE(t2, PH_ADD_COUNT);
}

SEC("perf_event")
int kiln_sample(struct user_regs *ctx) {
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
  PHASE_START(t);
  record(ctx, pid, KIND_CPU, 1, 0);
  PHASE(t, PH_TOTAL);
  PHASE_COUNT(N_SAMPLES, 1);
  return 0;
}

/* sched_switch(preempt, prev, next, prev_state) runs as prev, about to stop running. */
SEC("tp_btf/sched_switch")
int kiln_switch(u64 *ctx) {
  u64 now = ktime_get_ns();
  /* prev blocks — unless preempted or yielding: runnable threads waiting for a CPU are not off-CPU. */
  u32 tid = (u32)get_current_pid_tgid();
  if (tid != 0 && !(u8)ctx[0] && (u32)ctx[3] != 0) {
    struct task_struct *prev = (struct task_struct *)ctx[1];
    unsigned int flags = 0;
    probe_read_kernel(&flags, sizeof(flags), &prev->flags);
    struct user_regs *regs = flags & PF_KTHREAD ? 0 : (struct user_regs *)task_pt_regs(prev);
    u64 nr = (u64)-1;
    if (regs) probe_read_kernel(&nr, sizeof(nr), &regs->orig_ax);
    if ((s64)nr < 0) {
      if (regs) bump(C_OFF_CPU_NOT_SYSCALL);
    } else {
      struct off_cpu_block *b = map_lookup_elem(&off_cpu, &tid);
      if (b) {
        b->since = now;
        b->nr = nr;
      } else {
        struct off_cpu_block fresh = {.since = now, .nr = nr};
        map_update_elem(&off_cpu, &tid, &fresh, 0);
      }
    }
  }
  /* next runs again: how long was it blocked, and is this block kept? */
  int next_tid = 0;
  probe_read_kernel(&next_tid, sizeof(next_tid), &((struct task_struct *)ctx[2])->pid);
  u32 key = (u32)next_tid;
  struct off_cpu_block *b = map_lookup_elem(&off_cpu, &key);
  if (!b || b->since == 0) return 0;
  u64 blocked = now - b->since;
  b->since = 0;
  if (blocked >= setting(SET_OFF_CPU_MIN_NS)) {
    bump(C_OFF_CPU_EVENTS);
    u64 period = setting(SET_OFF_CPU_PERIOD_NS);
    if (blocked >= period) {
      b->weight += blocked;
      bump(C_OFF_CPU_KEPT);
    } else if ((u64)get_prandom_u32() % period < blocked) {
      b->weight += period;
      bump(C_OFF_CPU_KEPT);
    }
  }
  if (b->weight == 0) map_delete_elem(&off_cpu, &key);
  return 0;
}

/* sys_exit(regs, ret), in the context of the thread leaving the syscall it blocked in. */
SEC("tp_btf/sys_exit")
int kiln_sys_exit(u64 *ctx) {
  u64 id = get_current_pid_tgid();
  u32 tid = (u32)id;
  struct off_cpu_block *b = map_lookup_elem(&off_cpu, &tid);
  if (!b || b->since != 0) return 0;
  u64 weight = b->weight, nr = b->nr;
  map_delete_elem(&off_cpu, &tid);
  if (weight) record(0, (u32)(id >> 32), KIND_OFF_CPU, weight, nr);
  return 0;
}

/* A new program image: the loaded tables describe the old one. */
SEC("tp_btf/sched_process_exec")
int kiln_exec(u64 *ctx) {
  u32 pid = (u32)(get_current_pid_tgid() >> 32);
  if (map_lookup_elem(&procs, &pid)) {
    map_delete_elem(&procs, &pid);
    report(pid, EV_EXEC, 1);
  }
  return 0;
}

/* The main thread exits: the agent checks the process is gone and frees its tables. */
SEC("tp_btf/sched_process_exit")
int kiln_exit(u64 *ctx) {
  u64 id = get_current_pid_tgid();
  u32 pid = (u32)(id >> 32);
  if ((u32)id == pid && map_lookup_elem(&procs, &pid)) report(pid, EV_EXIT, 0);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
