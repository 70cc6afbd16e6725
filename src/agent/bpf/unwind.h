/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The user-stack walker: native frames from unwind tables the agent derives from each binary's
 * .eh_frame (where there are none — JIT code, hand-written assembly — by frame pointer), and CPython
 * frames read from the interpreter's own frame chain, merged where the interpreter's eval loop sits.
 *
 * Tables (written by the agent, src/agent/unwind/):
 *  - unwind_rows: one array for all binaries; a binary's table is a contiguous slice of it, shared by
 *    every process that maps the binary (keyed by build id on the agent's side): a header, a page index,
 *    then its pc-sorted rows (layout below, packed by src/agent/unwind/page-index.ts).
 *  - procs: per process, its executable mappings sorted by address, each with its load bias and its
 *    binary's slice of unwind_rows — one map write when the agent loads a process (an LPM trie of
 *    address prefixes, tried first, took ≈ 60 writes per process: 3 ms of agent CPU each).
 *
 * Each walk takes at most MAX_STACK_DEPTH steps of bpf_loop (one frame each). A step searches the
 * process's mappings only when the pc leaves the range of the last search (a mapping, or the gap
 * between two: JIT code), reads two page-index entries, does a binary search of the few rows of that
 * page (≈ 4 on average; it was ≤ 22 probes over the whole table, e.g. 3 MiB for node, most of them
 * cache misses), and two user-memory reads.
 */
#ifndef KILN_UNWIND_H
#define KILN_UNWIND_H
#include "kiln.h"
#include "phases.h"

/* One row: from `pc` (ELF virtual address, up to the next row's) the caller's frame is found as
 * CFA = (rsp or rbp) + cfa_off; the return address is at CFA − 8 (x86_64 always), the caller's rbp at
 * CFA + 8·rbp_off8 (0: rbp was not saved, it still holds the caller's value). Mirrored by
 * src/agent/unwind/rows.ts.
 *
 * arm64, the same layout: pc stays a u32 ELF address (instructions are 4-byte aligned, so the page
 * index works unchanged), cfa_off is relative to sp or x29 (fp), rbp_off8 becomes x29's saved slot and
 * the return-address rule (x30 saved at CFA + 8·n, or still in x30 at the leaf) takes the spare bits of
 * `type` (7 values used of 256); only the register the walker starts from changes. */
struct unwind_row {
  u32 pc;
  s16 cfa_off;
  u8 type;
  s8 rbp_off8;
};
enum {
  ROW_NONE = 0,        /* no unwind info here (a gap between functions): walk by frame pointer */
  ROW_CFA_RSP = 1,
  ROW_CFA_RBP = 2,
  ROW_CFA_PLT = 3,     /* PLT stubs: CFA = rsp + cfa_off, + 8 once past the stub's push (pc & 15 ≥ 11) */
  ROW_END = 4,         /* the return address is undefined: the outermost frame (_start, clone) */
  ROW_UNSUPPORTED = 5, /* a rule the rows cannot express (DWARF expression, CFA in another register) */
  ROW_CFA_RSP_X8 = 6,  /* CFA = rsp + 8·cfa_off: frames past 32 KiB (libc has a few) */
};

/*
 * A binary's slice of unwind_rows, in 8-byte slots:
 *   [first]                 header: u32 pc of the first row; u32 pages << 5 | page shift
 *   [first + 1]             u32 the table's tag (row_cache below; 0: none), u32 0
 *   [first + 2 …]           page index, two u32 a slot: entry j (0 ≤ j ≤ pages) is the row in force at
 *                           first pc + (j << shift), entry `pages` the last row
 *   [first + 2 + (pages + 2) / 2 …]  the rows
 * The rows of page j are entries j … j+1: the page's rule is found in a few probes within one or two
 * cache lines. The shift is chosen per binary for ≈ 4 rows a page (the index adds ≈ 1 byte a row).
 *
 * Mapped into the agent (BPF_F_MMAPABLE): a table is written with a memcpy. Through
 * bpf_map_update_batch, uploading rows took 8.7 s of kernel time in a 75 s bench run on the project's
 * shared test host (bench/agent-overhead.ts, profiled).
 */
struct unwind_words {
  u32 w[2];
};
struct {
  __uint(type, MAP_TYPE_ARRAY);
  __uint(max_entries, 1 << 21);
  __uint(map_flags, F_MMAPABLE);
  __type(key, u32);
  __type(value, struct unwind_row);
} unwind_rows SEC(".maps");
#define PAGE_SHIFT_BITS 5
#define HEADER_SLOTS 2

/*
 * Rows already found, per CPU: a direct-mapped cache keyed by {table tag, ELF pc}. A busy process's
 * return addresses recur sample after sample, and a table search reads the binary's page index, then
 * its rows further on in a 16 MiB array (cold lines, and most likely two 4 KiB pages): on the issue's
 * load it was half a sample. A hit reads one line of this CPU's cache instead. The tag is unique to one
 * upload of one table (the agent's TableStore counts them), so a slice freed and reused for another
 * binary carries another tag and can never hit the rows of the one before.
 */
#define barrier() asm volatile("" ::: "memory")
#define READ_ONCE_U64(x) (*(volatile u64 *)&(x))
#define WRITE_ONCE_U64(x, v) (*(volatile u64 *)&(x) = (v))
#ifndef ROW_CACHE_SLOTS
#define ROW_CACHE_SLOTS 1024
#endif
struct row_cache_slot {
  u64 key; /* tag << 32 | pc; 0: empty */
  struct unwind_row row;
};
struct row_cache {
  struct row_cache_slot s[ROW_CACHE_SLOTS];
};
struct {
  __uint(type, MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, struct row_cache);
} row_caches SEC(".maps");

#define MAX_MAPPINGS 128
struct mapping {
  u64 start;
  u64 end;
  u64 bias;  /* ELF virtual address = runtime address − bias */
  u32 first; /* the binary's slice of unwind_rows (slots: header, index, rows); count 0: no table, */
  u32 count; /* walk by frame pointer; first NEED_TABLE: not loaded yet — the walker asks for it */
};
#define NEED_TABLE 0xffffffffU

/* Binaries a walk stepped into before their table was loaded: {pid, mapping start}. The agent loads
 * tables only for binaries that show up in stacks — a process maps dozens it never runs. */
struct table_request {
  u32 pid;
  u32 pad;
  u64 start;
};
struct {
  __uint(type, MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct table_request);
  __type(value, u32);
} table_requests SEC(".maps");

/* ---- CPython (mirrored by src/agent/python/offsets.ts) ---- */

enum { PY_FRAME_OBJECTS = 0, PY_INTERP_311 = 1, PY_INTERP_312 = 2, PY_INTERP_313 = 3 };
#define PY_NONE 0xffff
struct py_offsets {
  u16 interp_head;      /* _PyRuntimeState.interpreters.head */
  u16 interp_threads;   /* PyInterpreterState.threads.head */
  u16 tstate_next;
  u16 tstate_thread_id; /* pthread_self() of the thread: its fs base on x86_64 */
  u16 tstate_frame;     /* cframe (3.11, 3.12), current_frame (3.13), frame (≤ 3.10) */
  u16 cframe_frame;     /* _PyCFrame.current_frame; PY_NONE when tstate_frame is the frame itself */
  u16 frame_code;       /* f_code, or f_executable (3.13) */
  u16 frame_previous;   /* previous, or f_back (≤ 3.10) */
  u16 frame_instr;      /* prev_instr (3.11, 3.12), instr_ptr (3.13), int f_lasti (≤ 3.10) */
  u16 frame_owner;      /* PY_NONE before 3.11 */
  u16 frame_is_entry;   /* 3.11: first frame of an eval-loop activation; PY_NONE otherwise */
  u16 code_adaptive;    /* offset of the first code unit in a code object (3.11+) */
  u8 kind;              /* PY_* */
  u8 owner_cstack;      /* owner value of the C-stack shim frames that delimit activations (3.12+) */
  u16 pad;
};
struct py_proc {
  u64 runtime;    /* address of _PyRuntime in the process */
  u64 eval_start; /* _PyEval_EvalFrameDefault, where native frames give way to Python ones */
  u64 eval_end;
  u64 interp_start; /* the interpreter's own code (python3.x or libpython): its frames between two */
  u64 interp_end;   /* Python frames are call machinery (_PyEval_Vector …) and are not shown */
  struct py_offsets off;
};

/* ---- V8 (mirrored by src/agent/v8/process.ts) ---- */

/*
 * A node process (or one mapping libnode) whose JavaScript frames the walker names: V8 keeps a frame
 * pointer in every frame of its own code, and a JavaScript frame holds its JSFunction and its context at
 * fixed slots below it (the binary's v8dbg_off_fp_* post-mortem constants); a typed frame (stub, entry,
 * exit…) holds a frame-type marker, an even small integer, where the context is a tagged pointer (odd).
 * Frames checked: those in JIT code (outside every file mapping) and in V8's embedded builtins, where the
 * interpreter's entry and bytecode handlers run interpreted functions. Such a frame's word becomes the
 * function's SharedFunctionInfo (V8_FRAME_TAG; one 8-byte heap read): shared by every closure of the
 * function, and allocated in V8's old space, which a garbage collection compacts far less often than the
 * young space where most JSFunctions are born.
 */
struct v8_proc {
  u64 code_start; /* V8's embedded builtins in the process (runtime addresses); 0, 0: none known */
  u64 code_end;
  s32 fp_function; /* v8dbg_off_fp_function (−16); the context slot is the next word (v8dbg_off_fp_context) */
  u32 shared;      /* v8dbg_class_JSFunction__shared__SharedFunctionInfo: offset in the object */
};

/* ---- processes ---- */

/*
 * Processes the agent has loaded, one entry each (mirrored by src/agent/unwind/proc-info.ts): flags, the
 * CPython and V8 parts (valid under PROC_PYTHON, PROC_V8), then the executable mappings. One entry, not
 * one map per part: a CPython or node sample then finds all it needs in one hash lookup (a second lookup
 * by pid, as py_procs and v8_procs took, cost 1.6–1.9 µs at the median on the bench host). The agent
 * writes each entry whole from one place (process-tables.ts, with the parts the readers handed it), so
 * the walker never sees one part of an old entry beside another of a new one.
 */
struct proc_info {
  u32 flags; /* PROC_* */
  u32 count; /* mappings used, sorted by start */
  struct py_proc py;
  struct v8_proc v8;
  struct mapping maps[MAX_MAPPINGS];
};
struct {
  __uint(type, MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __uint(map_flags, F_NO_PREALLOC);
  __type(key, u32);
  __type(value, struct proc_info);
} procs SEC(".maps");

/* ---- the walk ---- */

struct walk {
  u64 pc, sp, bp;
  /* The range of the last mapping search — a mapping, or the gap between two (rows 0 there) — and
   * the table of that mapping, from its header. */
  u64 map_start, map_end, map_bias;
  u32 rows_first, rows; /* rows 0: no table, walk by frame pointer */
  u32 index_first, pages;
  u32 pc_first, page_shift;
  u32 tag, pad_tag; /* the table's tag (row_cache; 0: not cached) */
  u64 py_frame;     /* next CPython frame to emit (0: none left) */
  u64 py_eval_start, py_eval_end;
  u64 py_interp_start, py_interp_end;
  u32 py_emitting;  /* emitting the Python frames of one eval activation */
  u32 py_last;      /* the last frame written was a Python one */
  u32 pid;
  u32 n;            /* frames written */
  u32 status;       /* a C_U_* counter once the walk ended, 0 while it goes on */
  u32 leaf;         /* the next native frame is the leaf (its pc is exact, not a return address) */
  u32 tables;       /* the process's tables are loaded */
  u32 fp_frames;
  u32 py_frames;
  u32 py_span; /* bytes of a frame read at once (py_frame_span) */
  u32 win_len;  /* bytes of user stack held in the window (stack_read), from win_lo */
  u64 win_lo;
  u64 v8_start, v8_end; /* struct v8_proc */
  s32 v8_fp_function;
  u32 v8_shared;
  u32 v8;         /* a V8 process: its JavaScript frames are named (v8_frame) */
  u32 in_gap;     /* the current range is a gap between mappings (JIT code), not a mapping */
  u32 emitted;    /* this step wrote the current frame's word (the last in the buffer) */
  struct py_offsets off;
};

#define MIN_USER_PC 0x1000ULL
#define MAX_USER_PC (1ULL << 47)


INLINE int read_u64(u64 *dst, u64 addr) { return probe_read_user(dst, 8, (void *)addr); }

/*
 * The user stack is read ahead, a window at a time: a frame's saved registers lie a few dozen to a
 * few hundred bytes above the last one's, so one read serves several frames. Each user read has a
 * fixed cost of its own (a helper call, the user-access checks), and on a loaded host scattered 16-byte
 * reads each pay a cold line where one longer read streams them. A window never crosses a page (the
 * next one may not be mapped), except for the one read that needs it.
 */
#ifndef STACK_WINDOW
#define STACK_WINDOW 512
#endif
#define USER_PAGE 4096
struct stack_window {
  u8 b[2 * STACK_WINDOW]; /* room past the window, so a masked offset is always in bounds */
};
struct {
  __uint(type, MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, struct stack_window);
} stack_windows SEC(".maps");

/* Reads `n` (8 or 16) bytes of the user stack at `addr` into dst, through the walk's window. */
INLINE int stack_read(struct walk *w, struct stack_window *win, u64 *dst, u64 addr, u32 n) {
  u64 off = addr - w->win_lo;
  if (addr < w->win_lo || off + n > w->win_len) {
    u64 rest = USER_PAGE - (addr & (USER_PAGE - 1));
    u32 len = rest < STACK_WINDOW ? (u32)rest : STACK_WINDOW;
    if (len < n) len = n;
    if (len > STACK_WINDOW) len = STACK_WINDOW;
    PHASE_START(tr);
    long rd = probe_read_user(win->b, len, (void *)addr);
    PHASE(tr, PH_READS);
    PHASE_COUNT(N_READS, 1);
    if (rd < 0) {
      w->win_len = 0;
      return -1;
    }
    w->win_lo = addr;
    w->win_len = len;
    off = 0;
  }
  off &= STACK_WINDOW - 1;
  dst[0] = *(u64 *)&win->b[off];
  if (n == 16) dst[1] = *(u64 *)&win->b[off + 8];
  return 0;
}

/* Entry j of a page index starting at slot `first` (two u32 a slot); ~0 when out of the array. */
INLINE u32 index_entry(u32 first, u32 j) {
  u32 slot = first + (j >> 1);
  struct unwind_words *s = map_lookup_elem(&unwind_rows, &slot);
  return s ? s->w[j & 1] : 0xffffffffU;
}

/* The row in force at `vaddr` in the current mapping's table: the last with pc ≤ vaddr. */
INLINE struct unwind_row *search_row(struct walk *w, u64 vaddr) {
  u64 page = (vaddr - w->pc_first) >> (w->page_shift & 31);
  u32 lo = w->rows - 1, hi = w->rows - 1;
  if (page < w->pages) {
    lo = index_entry(w->index_first, (u32)page);
    hi = index_entry(w->index_first, (u32)page + 1);
  }
  if (lo > hi || hi >= w->rows) return 0;
  lo += w->rows_first;
  hi += w->rows_first + 1; /* exclusive */
  for (int i = 0; i < 22; i++) {
    if (hi - lo <= 1) break;
    u32 mid = lo + (hi - lo) / 2;
    struct unwind_row *r = map_lookup_elem(&unwind_rows, &mid);
    if (!r) return 0;
    if (r->pc <= (u32)vaddr) lo = mid;
    else hi = mid;
  }
  return map_lookup_elem(&unwind_rows, &lo);
}

/* The same through this CPU's row cache: copies the row into `out`; 0 when none is in force. */
INLINE int find_row(struct walk *w, u64 vaddr, struct unwind_row *out) {
  if (w->rows == 0 || vaddr < w->pc_first || vaddr > 0xffffffffULL) return 0;
  u32 zero = 0, pc = (u32)vaddr;
  u64 key = (u64)w->tag << 32 | pc;
  struct row_cache *c = w->tag ? map_lookup_elem(&row_caches, &zero) : 0;
#ifdef KILN_NO_ROW_CACHE /* a debug build without the cache, to measure what it saves */
  c = 0;
#endif
  struct row_cache_slot *slot = 0;
  if (c) {
    slot = &c->s[((pc * 0x9E3779B1U) ^ (w->tag * 0x85EBCA6BU)) >> 22 & (ROW_CACHE_SLOTS - 1)];
    /* The key read on both sides of the row, and written cleared first: a program that ran in between
     * on this CPU and rewrote the slot makes the two reads differ (no program here can, in practice:
     * sched_switch runs with interrupts off). */
    u64 k1 = READ_ONCE_U64(slot->key);
    struct unwind_row row = slot->row;
    barrier();
    if (k1 == key && READ_ONCE_U64(slot->key) == key) {
      *out = row;
      PHASE_COUNT(N_ROW_CACHE_HITS, 1);
      return 1;
    }
  }
  struct unwind_row *r = search_row(w, vaddr);
  PHASE_COUNT(N_ROW_SEARCHES, 1);
  if (!r) return 0;
  *out = *r;
  if (slot) {
    WRITE_ONCE_U64(slot->key, 0);
    barrier();
    slot->row = *out;
    barrier();
    WRITE_ONCE_U64(slot->key, key);
  }
  return 1;
}

/* Points the walk at the table of a mapping's slice: its header says where the index and rows are. */
INLINE void use_table(struct walk *w, u32 first, u32 slots) {
  w->rows = 0;
  if (slots < HEADER_SLOTS + 1) return;
  struct unwind_words *h = map_lookup_elem(&unwind_rows, &first);
  u32 second = first + 1;
  struct unwind_words *t = map_lookup_elem(&unwind_rows, &second);
  if (!h || !t) return;
  /* The tag before the header and rows: the agent writes it last (page-index.ts publishTag), so a walk
   * that reads a table's tag finds its rows in place (x86 keeps loads in order; the barrier keeps
   * clang from moving the header's loads above this one). */
  u32 tag = *(volatile u32 *)&t->w[0];
  barrier();
  u32 pages = h->w[1] >> PAGE_SHIFT_BITS;
  u32 index_slots = (pages + 2) / 2;
  if (slots <= HEADER_SLOTS + index_slots) return;
  w->pc_first = h->w[0];
  w->page_shift = h->w[1] & ((1 << PAGE_SHIFT_BITS) - 1);
  w->pages = pages;
  w->tag = tag;
  w->index_first = first + HEADER_SLOTS;
  w->rows_first = first + HEADER_SLOTS + index_slots;
  w->rows = slots - HEADER_SLOTS - index_slots;
}

/*
 * Finds the mapping of process `pi` holding `at` (the last one starting at or below it, if it ends
 * above it) and makes it the walk's current range; outside every mapping (JIT code, anonymous memory)
 * the current range becomes the gap around `at`, without a table, so the next frames there search nothing.
 */
INLINE void find_mapping_in(struct walk *w, struct proc_info *pi, u64 at) {
  w->rows = 0;
  w->map_start = 0;
  w->map_end = MAX_USER_PC;
  w->in_gap = 1;
  if (!pi) return;
  u32 lo = 0, hi = pi->count;
  if (hi > MAX_MAPPINGS) hi = MAX_MAPPINGS;
  if (hi == 0) return;
  if (pi->maps[0].start > at) {
    w->map_end = pi->maps[0].start;
    return;
  }
  u32 n = hi;
  for (int i = 0; i < 8; i++) {
    if (hi - lo <= 1) break;
    u32 mid = (lo + (hi - lo) / 2) & (MAX_MAPPINGS - 1);
    if (pi->maps[mid].start <= at) lo = mid;
    else hi = mid;
  }
  struct mapping *m = &pi->maps[lo & (MAX_MAPPINGS - 1)];
  if (at >= m->end) {
    w->map_start = m->end;
    if (lo + 1 < n) w->map_end = pi->maps[(lo + 1) & (MAX_MAPPINGS - 1)].start;
    return;
  }
  w->map_start = m->start;
  w->map_end = m->end;
  w->map_bias = m->bias;
  w->in_gap = 0;
  if (m->first == NEED_TABLE) {
    struct table_request req = {.pid = w->pid, .start = m->start};
    u32 one = 1;
    if (map_update_elem(&table_requests, &req, &one, NOEXIST) == 0) ring();
    return;
  }
  use_table(w, m->first, m->count);
}

/* The same from inside the walk, where the process's entry is looked up again: a global function's
 * walk state cannot hold a map value pointer. */
INLINE void find_mapping(struct walk *w, u64 at) {
  u32 pid = w->pid;
  find_mapping_in(w, map_lookup_elem(&procs, &pid), at);
}

/* One frame-pointer step: [bp] holds the caller's bp, [bp + 8] the return address. */
INLINE int fp_step(struct walk *w, struct stack_window *win) {
  if (w->bp == 0) {
    w->status = C_U_COMPLETE;
    return 1;
  }
  if (w->bp < w->sp && !w->leaf) {
    w->status = C_U_BAD_PC; /* frames only grow toward higher addresses */
    return 1;
  }
  u64 frame[2];
  if (stack_read(w, win, frame, w->bp, 16) < 0) {
    w->status = C_U_READ_ERROR;
    return 1;
  }
  w->sp = w->bp + 16;
  w->bp = frame[0];
  w->pc = frame[1];
  w->fp_frames++;
  return 0;
}

/*
 * The frame just written, if V8 code runs it (JIT code or the embedded builtins) and it is a JavaScript
 * frame: its word becomes its function's SharedFunctionInfo. bp is that frame's own frame pointer here
 * (V8 code always keeps one); a leaf caught before its frame is set up is named as its caller.
 */
INLINE void v8_frame(struct walk *w, struct stack_window *win, struct stack *buf, u64 at) {
  if (!w->in_gap && (at < w->v8_start || at >= w->v8_end)) return;
  u64 slots[2]; /* the JSFunction, then the context or a frame-type marker */
  if (w->bp < MIN_USER_PC || stack_read(w, win, slots, w->bp + (s64)w->v8_fp_function, 16) < 0) return;
  u64 fn = slots[0], sfi = 0;
  if (!(slots[1] & 1) || !(fn & 1) || fn < MIN_USER_PC || fn >= MAX_USER_PC) return;
  /* Timed apart (phases.h PH_V8_HEAP): in one debug run on the load this one heap read averaged
   * 5.95 µs, against 0.68 µs for a read of the stack window in the same run. */
  PHASE_START(th);
  long rd = read_u64(&sfi, fn - 1 + (w->v8_shared & 0xfff));
  PHASE(th, PH_V8_HEAP);
  PHASE_COUNT(N_V8_HEAP, 1);
  if (rd < 0 || !(sfi & 1) || sfi < MIN_USER_PC || sfi >= MAX_USER_PC) return;
  PHASE_COUNT(N_V8_NAMED, 1);
  buf->ips[(w->n - 1) & 127] = V8_FRAME_TAG | (sfi & PY_ADDR_MASK);
}

/* One native step: from (pc, sp, bp) of a frame to its caller's. Returns 1 when the walk ends. */
INLINE int native_step(struct walk *w, struct stack_window *win, struct stack *buf) {
  u64 at = w->leaf ? w->pc : w->pc - 1; /* a return address points after the call */
  w->leaf = 0;
  if (!w->tables) return fp_step(w, win);
  PHASE_START(tf);
  if (at < w->map_start || at >= w->map_end) {
    find_mapping(w, at);
    PHASE(tf, PH_FIND_MAPPING);
    PHASE_COUNT(N_FIND_MAPPING, 1);
  }
  if (w->v8 && w->emitted && w->n > 0) {
    v8_frame(w, win, buf, at);
    PHASE(tf, PH_V8_FRAME);
    PHASE_COUNT(N_V8_FRAME, 1);
  }
  struct unwind_row row;
  struct unwind_row *r = &row;
  int found = find_row(w, at - w->map_bias, &row);
  PHASE(tf, PH_FIND_ROW);
  PHASE_COUNT(N_FIND_ROW, 1);
  if (!found || r->type == ROW_NONE) return fp_step(w, win);
  u64 cfa;
  switch (r->type) {
  case ROW_CFA_RSP:
    cfa = w->sp + r->cfa_off;
    break;
  case ROW_CFA_RBP:
    cfa = w->bp + r->cfa_off;
    break;
  case ROW_CFA_PLT:
    cfa = w->sp + r->cfa_off + ((at & 15) >= 11 ? 8 : 0);
    break;
  case ROW_CFA_RSP_X8:
    cfa = w->sp + (s64)r->cfa_off * 8;
    break;
  case ROW_END:
    w->status = C_U_COMPLETE;
    return 1;
  default:
    w->status = C_U_UNSUPPORTED;
    return 1;
  }
  /* The caller's rbp is nearly always saved just below the return address (push rbp in the
   * prologue): then one 16-byte read fetches both. */
  s8 rbp_off8 = r->rbp_off8;
  u64 pair[2];
  if (rbp_off8 == -2) {
    if (stack_read(w, win, pair, cfa - 16, 16) < 0) {
      w->status = C_U_READ_ERROR;
      return 1;
    }
    w->bp = pair[0];
  } else {
    if (stack_read(w, win, &pair[1], cfa - 8, 8) < 0 || (rbp_off8 != 0 && stack_read(w, win, &w->bp, cfa + (s64)rbp_off8 * 8, 8) < 0)) {
      w->status = C_U_READ_ERROR;
      return 1;
    }
  }
  w->sp = cfa;
  w->pc = pair[1];
  return 0;
}

INLINE int py_read(void *dst, u64 base, u16 off) {
  if (off == PY_NONE) return -1;
  return probe_read_user(dst, 8, (void *)(base + off));
}

INLINE u8 py_byte(u64 base, u16 off) {
  u64 v = 0;
  py_read(&v, base, off);
  return (u8)v;
}

/* A CPython frame's or thread state's fields, read in one go: each user read has a fixed cost, and
 * the fields the walker reads all lie within the first PY_SPAN bytes (the largest offsets: 104 in a
 * frame, 3.8's f_lasti; 176 in a thread state, 3.8–3.10's thread_id). A power of two, so a masked
 * offset stays in bounds. */
#define PY_SPAN 256
struct py_frame_bytes {
  u8 b[PY_SPAN];
};
struct {
  __uint(type, MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, struct py_frame_bytes);
} py_scratch SEC(".maps");

/* Bytes of a frame that hold every field the walker reads (0: none readable). */
INLINE u32 py_frame_span(struct py_offsets *o) {
  u32 span = 0;
  u16 words[3] = {o->frame_code, o->frame_previous, o->frame_instr};
  for (int i = 0; i < 3; i++)
    if (words[i] != PY_NONE && words[i] + 8U > span) span = words[i] + 8U;
  if (o->frame_owner != PY_NONE && o->frame_owner + 1U > span) span = o->frame_owner + 1U;
  if (o->frame_is_entry != PY_NONE && o->frame_is_entry + 1U > span) span = o->frame_is_entry + 1U;
  return span <= PY_SPAN ? span : 0;
}

/* A field of a frame read into `fb`: fields are 8-byte aligned (u64 and pointers). */
INLINE u64 py_word(struct py_frame_bytes *fb, u16 off) {
  return *(u64 *)&fb->b[off & (PY_SPAN - 8)];
}

/*
 * Emits the next CPython frame of the current eval-loop activation and moves to the one before it.
 * Returns 1 when the activation has no more frames: 3.11 marks its first frame `is_entry`; 3.12+ put a
 * C-stack shim frame below it (skipped); before 3.11 an activation runs exactly one frame. Frames that
 * have not started yet (no instruction executed) are skipped. Unreadable memory ends the Python walk.
 */
INLINE int py_emit_inner(struct walk *w, struct stack *buf);
INLINE int py_emit(struct walk *w, struct stack *buf) {
  PHASE_START(tp);
  int r = py_emit_inner(w, buf);
  PHASE(tp, PH_PY_EMIT);
  PHASE_COUNT(N_PY_EMIT, 1);
  return r;
}
INLINE int py_emit_inner(struct walk *w, struct stack *buf) {
  u64 f = w->py_frame;
  u32 zero = 0;
  struct py_frame_bytes *fb = map_lookup_elem(&py_scratch, &zero);
  u32 span = w->py_span;
  if (!fb || span == 0 || span > PY_SPAN || w->off.frame_code == PY_NONE || w->off.frame_previous == PY_NONE ||
      w->off.frame_instr == PY_NONE || probe_read_user(fb->b, span, (void *)f) < 0) {
    bump(C_U_PY_ERROR);
    w->py_frame = 0;
    return 1;
  }
  u64 code = py_word(fb, w->off.frame_code), prev = py_word(fb, w->off.frame_previous), instr = py_word(fb, w->off.frame_instr);
  int last = 1;
  if (w->off.kind == PY_FRAME_OBJECTS) {
    instr = (u32)instr; /* int f_lasti */
  } else {
    if (w->off.kind >= PY_INTERP_312 && fb->b[w->off.frame_owner & (PY_SPAN - 1)] == w->off.owner_cstack) {
      w->py_frame = prev; /* a shim on top: this activation has not pushed its frame yet */
      return 1;
    }
    last = w->off.kind == PY_INTERP_311 ? fb->b[w->off.frame_is_entry & (PY_SPAN - 1)] != 0 : 0;
    u64 base = code + w->off.code_adaptive;
    instr = instr >= base ? (instr - base) / 2 : 0xffff;
  }
  if (code != 0 && instr != 0xffff && w->n < MAX_STACK_DEPTH) {
    if (instr > 0xfffe) instr = 0xfffe;
    buf->ips[w->n & 127] = PY_FRAME_TAG | (instr << 47) | (code & PY_ADDR_MASK);
    w->n++;
    w->py_frames++;
    w->py_last = 1;
  }
  w->py_frame = prev;
  if (w->off.kind >= PY_INTERP_312 && prev != 0 && py_byte(prev, w->off.frame_owner) == w->off.owner_cstack) {
    u64 below = 0;
    py_read(&below, prev, w->off.frame_previous);
    w->py_frame = below;
    return 1;
  }
  return last || prev == 0;
}

/*
 * One step of the walk: writes one frame (native or Python) and moves to the next. A global function,
 * so the verifier checks it once with every field of `w` unknown rather than once per path that
 * reaches it (as a static bpf_loop callback it went past the 1M-instruction limit).
 */
__attribute__((noinline)) int walk_step(struct walk *w) {
  u32 zero = 0;
  struct stack *buf = scratch_stack();
  struct stack_window *win = map_lookup_elem(&stack_windows, &zero);
  if (!buf || !win || !w) return 1;
  if (w->n >= MAX_STACK_DEPTH) {
    w->status = C_U_TRUNCATED;
    return 1;
  }
  if (w->py_emitting) {
    if (py_emit(w, buf)) w->py_emitting = 0;
    return 0;
  }
  if (w->pc < MIN_USER_PC || w->pc >= MAX_USER_PC) {
    w->status = w->pc == 0 ? C_U_COMPLETE : C_U_BAD_PC;
    return 1;
  }
  /* The eval loop's own frame gives way to the Python frames it is running. */
  w->emitted = 0;
  if (w->py_frame != 0 && w->pc >= w->py_eval_start && w->pc < w->py_eval_end) {
    w->py_emitting = !py_emit(w, buf);
  } else if (!(w->py_last && w->py_frame != 0 && w->pc >= w->py_interp_start && w->pc < w->py_interp_end)) {
    buf->ips[w->n & 127] = w->pc;
    w->n++;
    w->py_last = 0;
    w->emitted = 1;
  }
  return native_step(w, win, buf);
}

/* Python frames left when the native walk ended early are kept, outermost last. */
__attribute__((noinline)) int py_rest_step(struct walk *w) {
  struct stack *buf = scratch_stack();
  if (!buf || !w || w->py_frame == 0 || w->n >= MAX_STACK_DEPTH) return 1;
  py_emit(w, buf);
  return 0;
}

static long walk_cb(u32 i, struct walk *w) { return walk_step(w) ? 1 : 0; }
static long py_rest_cb(u32 i, struct walk *w) { return py_rest_step(w) ? 1 : 0; }

/*
 * Each Python thread's state, found once and kept with the thread (task-local storage): finding it
 * walks _PyRuntime → interpreter → its threads, matched by thread id, which cost 5.4 µs a Python
 * sample on the loaded bench host (ktime deltas of a debug build), where task storage is a field of the
 * running task. `fsbase` is the thread id it was found under; a thread state is trusted only while its
 * thread id still reads so (a freed state, or a new image after exec, is searched again).
 */
struct py_thread {
  u64 tstate;
  u64 fsbase;
};
struct {
  __uint(type, MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct py_thread);
} py_threads SEC(".maps");

/* Bytes of a thread state that hold its next, thread id and frame fields (0: more than PY_SPAN). */
INLINE u32 py_tstate_span(struct py_offsets *o) {
  u32 span = o->tstate_next;
  if (o->tstate_thread_id > span) span = o->tstate_thread_id;
  if (o->tstate_frame > span) span = o->tstate_frame;
  span += 8;
  return span <= PY_SPAN ? span : 0;
}

/* Reads the thread state at `ts` (its first `span` bytes) into `fb`; 0 on success. */
INLINE int py_read_tstate(struct py_frame_bytes *fb, u64 ts, u32 span) {
  if (span == 0 || span >= PY_SPAN) return -1;
  /* The mask changes nothing (span < PY_SPAN), but clang drops a bound it can prove and the verifier
   * then sees none: in asm it stays. */
  u64 n = span;
  asm volatile("%[n] &= 255" : [n] "+r"(n));
  return probe_read_user(fb->b, n, (void *)ts) < 0 ? -1 : 0;
}

/* The frame a thread state read into `fb` is running (its cframe's current frame on 3.11 and 3.12). */
INLINE u64 py_tstate_frame(struct py_proc *py, struct py_frame_bytes *fb) {
  u64 frame = py_word(fb, py->off.tstate_frame);
  if (py->off.cframe_frame != PY_NONE && frame != 0 && read_u64(&frame, frame + py->off.cframe_frame) < 0) return 0;
  return frame;
}

/* Finds the running thread's CPython frame: the thread state whose thread id is this thread's fs base. */
INLINE u64 py_current_frame(struct py_proc *py, struct task_struct *task) {
  u32 zero = 0;
  struct py_frame_bytes *fb = map_lookup_elem(&py_scratch, &zero);
  if (!fb) return 0;
  u64 fsbase = 0, interp = 0, ts = 0;
  probe_read_kernel(&fsbase, 8, &task->thread.fsbase);
  u32 span = py_tstate_span(&py->off);
  struct py_thread *known = task_storage_get(&py_threads, task, 0, STORAGE_CREATE);
  if (known && known->tstate != 0 && known->fsbase == fsbase && py_read_tstate(fb, known->tstate, span) == 0 &&
      py_word(fb, py->off.tstate_thread_id) == fsbase)
    return py_tstate_frame(py, fb);
  if (read_u64(&interp, py->runtime + py->off.interp_head) < 0 || interp == 0) return 0;
  if (read_u64(&ts, interp + py->off.interp_threads) < 0) return 0;
  for (int i = 0; i < 32 && ts != 0; i++) {
    if (py_read_tstate(fb, ts, span) < 0) return 0;
    if (py_word(fb, py->off.tstate_thread_id) == fsbase) {
      if (known) {
        known->tstate = ts;
        known->fsbase = fsbase;
      }
      return py_tstate_frame(py, fb);
    }
    ts = py_word(fb, py->off.tstate_next);
  }
  return 0;
}

/*
 * Walks the current thread's user stack into `buf` and returns the frame count (0: no user stack).
 * Counts how the walk ended in `counters`. `at`: the user registers at the sample when the sampled CPU
 * was in user mode (the perf event's own, read from its context at no cost); 0: read them from the
 * task (a kernel-mode sample, or off-CPU), which costs a helper call and three kernel reads.
 */
INLINE u32 walk_user(struct task_struct *task, u32 pid, struct stack *buf, struct user_regs *at) {
  if (!task->mm) return 0; /* kernel thread */
  PHASE_START(t);
  struct walk w = {};
  if (at) {
    w.pc = at->pc;
    w.sp = at->sp;
    w.bp = at->bp;
  } else {
    struct user_regs *regs = (struct user_regs *)task_pt_regs(task);
    if (!regs || probe_read_kernel(&w.pc, 8, &regs->pc) < 0 || probe_read_kernel(&w.sp, 8, &regs->sp) < 0 ||
        probe_read_kernel(&w.bp, 8, &regs->bp) < 0)
      return 0;
  }
  w.pid = pid;
  w.leaf = 1;
  PHASE(t, PH_PROCS);
  struct proc_info *pi = map_lookup_elem(&procs, &pid);
  u32 flags = pi ? pi->flags : 0;
  PHASE(t, PH_PROCS_LOOKUP);
  if (!pi) {
    report(pid, EV_NEW, ktime_get_ns() - task->group_leader->start_time >= RING_AGE_NS ? RING_AT_NEW : 0);
    PHASE(t, PH_REPORT);
    PHASE_COUNT(N_REPORT, 1);
  }
  w.tables = (flags & PROC_TABLES) && (setting(SET_FLAGS) & SETF_UNWIND);
  /* The leaf's mapping is searched here, with the entry just looked up, not from the walk, which
   * looks `procs` up again for each search (a global function's state holds no map pointers). The
   * leaf's search was about a third of the walks' searches on bench/bpf-walk.ts (phases.h). */
  if (w.tables && w.pc >= MIN_USER_PC && w.pc < MAX_USER_PC) {
    PHASE(t, PH_PROCS);
    find_mapping_in(&w, pi, w.pc);
    PHASE(t, PH_LEAF_MAPPING);
  }
  if (pi && (flags & PROC_PYTHON)) {
    struct py_proc *py = &pi->py;
    w.off = py->off;
    w.py_span = py_frame_span(&w.off);
    w.py_eval_start = py->eval_start;
    w.py_eval_end = py->eval_end;
    w.py_interp_start = py->interp_start;
    w.py_interp_end = py->interp_end;
    PHASE(t, PH_PROCS);
    w.py_frame = py_current_frame(py, task);
    PHASE(t, PH_PY_STATE);
    PHASE_COUNT(N_PY_SAMPLES, 1);
  }
  if (pi && (flags & PROC_V8)) {
    struct v8_proc *v8 = &pi->v8;
    w.v8 = 1;
    w.v8_start = v8->code_start;
    w.v8_end = v8->code_end;
    w.v8_fp_function = v8->fp_function;
    w.v8_shared = v8->shared;
  }
  PHASE(t, PH_PROCS);
  bump(C_U_WALKS);
  bpf_loop(MAX_STACK_DEPTH, walk_cb, &w, 0);
  if (w.py_frame != 0) bpf_loop(MAX_STACK_DEPTH, py_rest_cb, &w, 0);
  if (w.status == 0) w.status = C_U_TRUNCATED;
  if (!w.tables && w.status != C_U_COMPLETE) w.status = C_U_NO_TABLES;
  bump(w.status);
  if (w.fp_frames) add(C_U_FP_FALLBACK, w.fp_frames);
  if (w.py_frames) add(C_U_PY_FRAMES, w.py_frames);
  PHASE(t, PH_WALK);
  buf->len = w.n;
  return w.n;
}

#endif
