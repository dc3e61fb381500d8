/* runtime/migrate_frames.c — the migration state machine: migration points
 * (__moj_mig_poll, moj_migrate), the unwind that collects every frame's
 * record, the hand-off of the image, and the rewind that gives each frame its
 * record back and re-points addresses (relocations) as soon as both ends of
 * one exist.  The compiler side is passes/MojMigrate.cpp; the protocol is
 * described in include/mojave/migrate_abi.h.
 *
 * A failed hand-off never loses the program: the source rewinds from the
 * records it just took, so "migration failed" and "arrived" run the same
 * rewind code, once with local addresses and once with the destination's. */
#include "migrate_int.h"
#include "../migrate/ctl.h"
#include "../migrate/ctl_internal.h"
#include "../migrate/wire.h"
#include "mojave/cc_abi.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

MOJ_EXPORT volatile uint32_t __moj_mig_state MOJ_RTVAR;
MOJ_EXPORT uint32_t __moj_mig_block MOJ_RTVAR;

static struct mig {
  mig_frame_t *frames;
  uint32_t     nframes, cap, next;
  mig_relocs_t relocs;
  uint32_t    *bstart;           /* relocations of bucket b start at bstart[b + 1] */
  moj_img_t    cap_img;          /* the source's model while a hand-off is running */
  moj_img_t   *img;              /* the model the rewind uses (cap_img or decoded)  */
  void        *img_bytes;        /* destination: the decoded image's storage owner  */
  uint32_t    *symref;           /* registry row -> SYMS index + 1                  */
  const char **symnames;
  uint32_t     nsymnames, capsymnames;
  uint8_t    **sym_addr;         /* SYMS index -> address here (rewind)            */
  int          main_seen, argc, at_dest, explicit_call, pending;
  unsigned long skip;            /* MOJAVE_CHECKPOINT_SKIP: polls to let pass */
  char       **argv, **envp;
  char         host[64];
  int          mode;
  int          err;
  char         reason[512];
  double       t_begin;          /* CLOCK_MONOTONIC seconds, for MOJAVE_MIGRATE_STATS */
  struct mig_layout *layouts;    /* slot layouts by descriptor (open addressing)       */
  uint32_t     nlayouts, caplayouts;
} M MOJ_RTVAR;

/* A descriptor's slot offsets off[k] and sizes off[nslots + k]. */
typedef struct mig_layout {
  const moj_mig_fdesc_t *d;
  uint32_t *off;
} mig_layout_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* MOJAVE_MIGRATE_STATS=1: one line per hand-off with the time of each phase
 * (the benchmark in examples/migrate_bench reads it). */
static void stats(const char *outcome, double t_unwound, double t_encoded, double t_shipped,
                  double t_done, size_t bytes) {
  const char *e = getenv("MOJAVE_MIGRATE_STATS");
  if (!e || !*e || *e == '0') return;
  char line[400];
  int k = snprintf(line, sizeof line,
                   "mojave: migration %s to %s: unwind %.3f ms, capture+encode %.3f ms (%zu-byte image), "
                   "ship+restore %.3f ms, commit %.3f ms, frozen %.3f ms\n",
                   outcome, M.host, (t_unwound - M.t_begin) * 1e3, (t_encoded - t_unwound) * 1e3, bytes,
                   (t_shipped - t_encoded) * 1e3, (t_done - t_shipped) * 1e3, (t_done - M.t_begin) * 1e3);
  if (k > 0) { ssize_t w = write(2, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1); (void)w; }
}

MOJ_EXPORT const char *moj_migrate_error(void) { return M.reason; }

static void fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(M.reason, sizeof M.reason, fmt, ap);
  va_end(ap);
  M.err = err;
}

/* ---- checks before an unwind -------------------------------------------- */


/* The stack from here to main must be instrumented frames only, one run:
 * the runtime's own frames on top, then mojcc code, then libc's start-up.
 * An instrumented frame below a foreign one (a signal handler's trampoline,
 * qsort calling back) cannot be unwound. */
static int stack_capturable(void) {
  enum { MAXF = 1 << 16 };
  void **pcs = malloc(MAXF * sizeof *pcs);
  if (!pcs) return 0;
  int n = backtrace(pcs, MAXF), i = 0, ok = n < MAXF;
  while (i < n && !__moj_cc_is_instrumented(pcs[i])) i++;
  if (i == n) ok = 0;
  while (i < n && __moj_cc_is_instrumented(pcs[i])) i++;
  for (; i < n; i++)
    if (__moj_cc_is_instrumented(pcs[i])) ok = 0;
  free(pcs);
  return ok;
}

static int can_start(void) {
  if (!M.main_seen) {
    fail(ENOTSUP, "the program's main was not built by mojcc");
    return 0;
  }
  if (_moj_rt && _moj_rt->depth > 0) {
    fail(EBUSY, "a speculation is active (commit or abort it first)");
    return 0;
  }
  if (_moj_rt && _moj_threads_running() > 0) {
    fail(EBUSY, "other threads are running");
    return 0;
  }
  if (__moj_dsm_mig_undo_pending && __moj_dsm_mig_undo_pending(M.reason, sizeof M.reason)) {
    M.err = EBUSY;
    return 0;
  }
  if (__moj_mig_block) {
    fail(EBUSY, "a function that cannot be captured is on the stack (variable-length array, varargs, or a returns-twice call other than a direct setjmp)");
    return 0;
  }
  if (!stack_capturable()) {
    fail(EBUSY, "the stack holds frames of uninstrumented code (a signal handler or a library callback)");
    return 0;
  }
  return 1;
}

/* ---- descriptors ------------------------------------------------------------ */

/* A descriptor's references are relative (include/mojave/migrate_abi.h). */
static const char *d_name(const moj_mig_fdesc_t *d) { return moj_mig_rel(&d->name); }
static const uint8_t *d_types(const moj_mig_fdesc_t *d) { return moj_mig_rel(&d->slot_type); }
static const uint32_t *d_obj_size(const moj_mig_fdesc_t *d) { return moj_mig_rel(&d->obj_size); }
static const uint32_t *d_obj_align(const moj_mig_fdesc_t *d) { return moj_mig_rel(&d->obj_align); }

/* Descriptors give each slot's type and alignment, not its offset or size
 * (include/mojave/migrate_abi.h): the record's layout is derived here, once
 * per descriptor per migration, and checked against the record's size. */
static uint32_t *layout_derive(const moj_mig_fdesc_t *d) {
  static const uint32_t fixed[16] = MOJ_MIG_SLOT_SIZES;
  const uint8_t *types = d_types(d);
  const uint32_t *bytes_size = moj_mig_rel(&d->bytes_size);
  uint32_t *off = malloc(((size_t)d->nslots * 2 + 1) * sizeof *off);
  if (!off) _moj_fatal("out of memory laying out the frame of %s", d_name(d));
  uint64_t end = d->objs_off + (uint64_t)d->nobjs * sizeof(void *);
  uint64_t maxa = _Alignof(void *) > 4 ? _Alignof(void *) : 4;
  uint32_t nbytes = 0;
  for (uint32_t k = 0; k < d->nslots; k++) {
    unsigned t = MOJ_MIG_SLOT_TYPE(types[k]);
    uint64_t a = 1ull << MOJ_MIG_SLOT_ALIGN_LOG2(types[k]);
    if (t < MOJ_SLOT_I1 || t > MOJ_SLOT_BYTES || (t == MOJ_SLOT_BYTES && !bytes_size))
      _moj_fatal("migration: the frame descriptor of %s has value %u of type %u, which this runtime "
                 "does not know (code from another mojcc?)", d_name(d), k, t);
    uint32_t size = t == MOJ_SLOT_BYTES ? bytes_size[nbytes++] : fixed[t];
    end = (end + a - 1) & ~(a - 1);
    off[k] = (uint32_t)end;
    off[d->nslots + k] = size;
    end += (size + a - 1) & ~(a - 1);
    if (a > maxa) maxa = a;
  }
  end = (end + maxa - 1) & ~(maxa - 1);
  if (end != d->rec_size)
    _moj_fatal("migration: the frame descriptor of %s does not match this runtime: its %u values "
               "end at byte %llu, its record has %u bytes (code from another mojcc?)",
               d_name(d), d->nslots, (unsigned long long)end, d->rec_size);
  return off;
}

static uint32_t layout_hash(const moj_mig_fdesc_t *d, uint32_t mask) {
  return (uint32_t)(((uint64_t)(uintptr_t)d * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

/* Offsets (off[k]) and sizes (off[nslots + k]) of d's slots. */
static const uint32_t *layout_of(const moj_mig_fdesc_t *d) {
  if (2 * (M.nlayouts + 1) > M.caplayouts) {
    uint32_t ncap = M.caplayouts ? M.caplayouts * 2 : 64;
    mig_layout_t *nv = calloc(ncap, sizeof *nv);
    if (!nv) _moj_fatal("out of memory laying out frames");
    for (uint32_t i = 0; i < M.caplayouts; i++)
      if (M.layouts[i].d) {
        uint32_t j = layout_hash(M.layouts[i].d, ncap - 1);
        while (nv[j].d) j = (j + 1) & (ncap - 1);
        nv[j] = M.layouts[i];
      }
    free(M.layouts);
    M.layouts = nv;
    M.caplayouts = ncap;
  }
  uint32_t i = layout_hash(d, M.caplayouts - 1);
  while (M.layouts[i].d && M.layouts[i].d != d) i = (i + 1) & (M.caplayouts - 1);
  if (!M.layouts[i].d) {
    M.layouts[i] = (mig_layout_t){d, layout_derive(d)};
    M.nlayouts++;
  }
  return M.layouts[i].off;
}

static void layouts_free(void) {
  for (uint32_t i = 0; i < M.caplayouts; i++) free(M.layouts[i].off);
  free(M.layouts);
  M.layouts = NULL;
  M.nlayouts = M.caplayouts = 0;
}

/* ---- rewind --------------------------------------------------------------- */

static void frames_free(void) {
  for (uint32_t f = 0; f < M.nframes; f++) {
    mig_frame_t *fr = &M.frames[f];
    if (!M.at_dest || fr->rec) free(fr->rec);
    if (!M.at_dest)
      for (uint32_t o = 0; o < fr->nobjs; o++) free(fr->obj_data[o]);
    free(fr->obj_data);
    free(fr->obj_size);
    free(fr->obj_align);
    free(fr->old_addr);
    free(fr->new_addr);
  }
  free(M.frames);
  M.frames = NULL;
  M.nframes = M.cap = M.next = 0;
  free(M.relocs.v);
  M.relocs = (mig_relocs_t){0};
  free(M.bstart);
  M.bstart = NULL;
  free(M.sym_addr);
  M.sym_addr = NULL;
  layouts_free();
}

static int bucket_of(const moj_img_reloc_t *r) {
  int w = (r->where == MOJ_AT_SLOT || r->where == MOJ_AT_ALLOCA) ? (int)r->where_id : -1;
  int t = r->target == MOJ_TO_STACK ? (int)r->tid : -1;
  return w > t ? w : t;
}

/* Counting sort of the relocations by the frame whose entry completes them. */
static void relocs_bucket(void) {
  M.bstart = calloc((size_t)M.nframes + 2, sizeof *M.bstart);
  moj_img_reloc_t *sorted = malloc((M.relocs.n ? M.relocs.n : 1) * sizeof *sorted);
  if (!M.bstart || !sorted) _moj_fatal("out of memory sorting %u relocations", M.relocs.n);
  for (uint32_t i = 0; i < M.relocs.n; i++) M.bstart[bucket_of(&M.relocs.v[i]) + 1]++;
  uint32_t sum = 0;
  for (uint32_t b = 0; b < M.nframes + 1; b++) {
    uint32_t c = M.bstart[b];
    M.bstart[b] = sum;
    sum += c;
  }
  M.bstart[M.nframes + 1] = sum;
  uint32_t *pos = calloc((size_t)M.nframes + 1, sizeof *pos);
  if (!pos) _moj_fatal("out of memory sorting relocations");
  for (uint32_t i = 0; i < M.relocs.n; i++) {
    int b = bucket_of(&M.relocs.v[i]) + 1;
    sorted[M.bstart[b] + pos[b]++] = M.relocs.v[i];
  }
  free(pos);
  free(M.relocs.v);
  M.relocs.v = sorted;
}

static uint8_t *sym_addr(uint32_t s) {
  if (!M.sym_addr[s]) {
    const moj_mig_sym_t *row = _moj_mig_sym_named(M.img->syms[s]);
    if (!row) _moj_fatal("migration: this program has no symbol '%s' that the image refers to", M.img->syms[s]);
    M.sym_addr[s] = row->addr;
  }
  return M.sym_addr[s];
}

static moj_entry_t *live_entry(uint32_t i) {
  moj_rt_t *rt = _moj_rt;
  if (i == 0 || i >= rt->top || rt->table[i].owner == MOJ_OWNER_FREE || !rt->table[i].base)
    _moj_fatal("migration: the image refers to heap object %u, which does not exist", i);
  return &rt->table[i];
}

static void apply(const moj_img_reloc_t *r) {
  uint64_t v = 0;
  switch (r->target) {
  case MOJ_TO_SYM: v = (uint64_t)(uintptr_t)sym_addr(r->tid); break;
  case MOJ_TO_STACK: v = M.frames[r->tid].new_addr[r->tsub]; break;
  case MOJ_TO_HEAP: v = (uint64_t)(uintptr_t)live_entry(r->tid)->base; break;
  case MOJ_TO_FILE: v = (uint64_t)(uintptr_t)_moj_mig_stream(M.img, r->tid, M.at_dest); break;
  default: _moj_fatal("migration: relocation target kind %u unknown", r->target);
  }
  v += (uint64_t)r->toff;
  uint8_t *at = NULL;
  switch (r->where) {
  case MOJ_AT_HEAP: {
    moj_entry_t *e = live_entry(r->where_id);
    if (r->where_off + 8 > e->size) _moj_fatal("migration: relocation outside heap object %u", r->where_id);
    at = (uint8_t *)e->base + r->where_off;
    break;
  }
  case MOJ_AT_GLOBAL: at = _moj_mig_global_addr(M.img, r->where_id) + r->where_off; break;
  case MOJ_AT_ALLOCA: at = (uint8_t *)M.frames[r->where_id].new_addr[r->where_sub] + r->where_off; break;
  case MOJ_AT_SLOT: {
    mig_frame_t *fr = &M.frames[r->where_id];
    at = fr->rec + layout_of(fr->desc)[r->where_sub] + r->where_off;
    break;
  }
  default: _moj_fatal("migration: relocation place kind %u unknown", r->where);
  }
  memcpy(at, &v, 8);
}

static void apply_bucket(int b) {
  for (uint32_t i = M.bstart[b + 1]; i < M.bstart[b + 2]; i++) apply(&M.relocs.v[i]);
}

/* Start rewinding from M.img / M.frames: heap and globals are in place. */
static void rewind_begin(void) {
  M.sym_addr = calloc(M.img->nsyms ? M.img->nsyms : 1, sizeof *M.sym_addr);
  if (!M.sym_addr) _moj_fatal("out of memory starting the rewind");
  relocs_bucket();
  apply_bucket(-1);
  M.next = 0;
  __moj_mig_state = MOJ_MIG_REWINDING;
  __moj_mig_req = 1; /* a frame resuming at a loop header calls its poll */
}

MOJ_EXPORT void *__moj_mig_pop(const moj_mig_fdesc_t *d) {
  const char *name = d_name(d);
  if (M.next >= M.nframes)
    _moj_fatal("migration: %s re-entered below the captured stack (%u frames)", name, M.nframes);
  mig_frame_t *fr = &M.frames[M.next++];
  if (strcmp(fr->name, name))
    _moj_fatal("migration: frame %u is %s in the image but the program entered %s",
               M.next - 1, fr->name, name);
  if (!fr->desc) { /* destination: build the record from the image's frame */
    const moj_img_frame_t *f = fr->img;
    if (f->nslots != d->nslots || f->nallocas != d->nobjs)
      _moj_fatal("migration: frame %s has %u values and %u stack objects in the image, %u and %u here",
                 name, f->nslots, f->nallocas, d->nslots, d->nobjs);
    fr->desc = d;
    fr->rec = calloc(1, d->rec_size);
    if (!fr->rec) _moj_fatal("out of memory rewinding %s", name);
    memcpy(fr->rec, &f->site, 4);
    const uint32_t *off = layout_of(d), *size = off + d->nslots, *obj_size = d_obj_size(d);
    const uint8_t *types = d_types(d);
    for (uint32_t k = 0; k < d->nslots; k++) {
      unsigned t = MOJ_MIG_SLOT_TYPE(types[k]);
      if (f->slots[k].type != t || f->slots[k].size != size[k])
        _moj_fatal("migration: frame %s value %u has type %u size %u in the image, type %u size %u here",
                   name, k, f->slots[k].type, f->slots[k].size, t, size[k]);
      memcpy(fr->rec + off[k], f->slots[k].data, f->slots[k].size);
    }
    for (uint32_t o = 0; o < d->nobjs; o++)
      if (f->allocas[o].size != obj_size[o])
        _moj_fatal("migration: frame %s stack object %u is %u bytes in the image, %u here",
                   name, o, f->allocas[o].size, obj_size[o]);
  }
  return fr->rec;
}

MOJ_EXPORT void __moj_mig_entered(void *rec) {
  uint32_t f = M.next - 1;
  mig_frame_t *fr = &M.frames[f];
  const moj_mig_fdesc_t *d = fr->desc;
  const uint32_t *obj_size = d_obj_size(d);
  memcpy(fr->new_addr, (uint8_t *)rec + d->objs_off, (size_t)d->nobjs * sizeof(uintptr_t));
  for (uint32_t o = 0; o < d->nobjs; o++)
    memcpy((void *)fr->new_addr[o], fr->obj_data[o], obj_size[o]);
  apply_bucket((int)f);
}

/* The innermost site was reached again: the stack is back.  1 = arrived at a
 * destination, 0 = resumed at the source after a failed hand-off. */
static int rewind_end(void) {
  if (M.next != M.nframes)
    _moj_fatal("migration: the rewind stopped after %u of %u frames", M.next, M.nframes);
  __moj_mig_state = MOJ_MIG_NORMAL;
  __moj_mig_req = 0;
  int arrived = M.at_dest;
  frames_free();
  moj_img_t *done_img = NULL; /* destination: freed once its SEM_UNDO records are adopted */
  if (M.img != &M.cap_img) {
    done_img = M.img;
  } else {
    /* source after a failed hand-off: adjustments taken off for the image come back */
    _moj_mig_undo_adopt(&M.cap_img);
    _moj_mig_capture_free(&M.cap_img);
  }
  M.img = NULL;
  free(M.symref);
  M.symref = NULL;
  free(M.symnames);
  M.symnames = NULL;
  M.nsymnames = M.capsymnames = 0;
  if (arrived) {
    M.at_dest = 0;
    if (moj_ctl_restored() != 0) _exit(0);
    _moj_mig_undo_adopt(done_img); /* after GO: the SEM_UNDO adjustments are ours now */
  }
  moj_img_free(done_img);
  return arrived;
}

/* ---- unwind ---------------------------------------------------------------- */

MOJ_EXPORT void *__moj_mig_push(const moj_mig_fdesc_t *d, uint32_t site) {
  if (M.nframes == M.cap) {
    uint32_t ncap = M.cap ? M.cap * 2 : 64;
    mig_frame_t *nv = realloc(M.frames, ncap * sizeof *nv);
    if (!nv) _moj_fatal("out of memory capturing %u frames", M.nframes);
    M.frames = nv;
    M.cap = ncap;
  }
  mig_frame_t *fr = &M.frames[M.nframes++];
  memset(fr, 0, sizeof *fr);
  fr->desc = d;
  fr->name = d_name(d);
  fr->nobjs = d->nobjs;
  fr->rec = calloc(1, d->rec_size);
  fr->obj_data = calloc(d->nobjs + 1, sizeof *fr->obj_data);
  fr->obj_size = calloc(d->nobjs + 1, sizeof *fr->obj_size);
  fr->obj_align = calloc(d->nobjs + 1, sizeof *fr->obj_align);
  fr->old_addr = calloc(d->nobjs + 1, sizeof *fr->old_addr);
  fr->new_addr = calloc(d->nobjs + 1, sizeof *fr->new_addr);
  if (!fr->rec || !fr->obj_data || !fr->obj_size || !fr->obj_align || !fr->old_addr || !fr->new_addr)
    _moj_fatal("out of memory capturing frame %s", fr->name);
  memcpy(fr->rec, &site, 4);
  return fr->rec;
}

MOJ_EXPORT void __moj_mig_saved(void *rec) {
  mig_frame_t *fr = &M.frames[M.nframes - 1];
  const moj_mig_fdesc_t *d = fr->desc;
  const uint32_t *obj_size = d_obj_size(d), *obj_align = d_obj_align(d);
  memcpy(fr->old_addr, (uint8_t *)rec + d->objs_off, (size_t)d->nobjs * sizeof(uintptr_t));
  for (uint32_t o = 0; o < d->nobjs; o++) {
    fr->obj_size[o] = obj_size[o];
    fr->obj_align[o] = obj_align[o];
    fr->obj_data[o] = malloc(obj_size[o] ? obj_size[o] : 1);
    if (!fr->obj_data[o]) _moj_fatal("out of memory capturing frame %s", fr->name);
    memcpy(fr->obj_data[o], (void *)fr->old_addr[o], obj_size[o]);
  }
}

uint32_t _moj_mig_symref(size_t row) {
  if (!M.symref[row]) {
    if (M.nsymnames == M.capsymnames) {
      uint32_t ncap = M.capsymnames ? M.capsymnames * 2 : 64;
      const char **nv = realloc(M.symnames, ncap * sizeof *nv);
      if (!nv) _moj_fatal("out of memory listing symbols");
      M.symnames = nv;
      M.capsymnames = ncap;
    }
    M.symnames[M.nsymnames++] = _moj_mig_sym(row)->name;
    M.symref[row] = M.nsymnames;
  }
  return M.symref[row] - 1;
}

/* Append a relocation for every word of data[0, len) that points somewhere
 * known.  precise: the bytes are one pointer-typed value (PTR slot).  Untyped
 * memory is scanned conservatively: a number equal to the address of a known
 * global, literal or stack object is re-pointed like a pointer would be. */
void _moj_mig_scan(mig_relocs_t *r, uint8_t where, uint32_t id, uint32_t sub,
                   const uint8_t *data, uint64_t len, int precise) {
  uint64_t step = 8, start = 0;
  if (!precise && ((uintptr_t)data & 7)) start = 8 - ((uintptr_t)data & 7);
  for (uint64_t off = start; off + 8 <= len; off += step) {
    uint64_t w;
    memcpy(&w, data + off, 8);
    mig_target_t t;
    if (!_moj_mig_classify(w, &t)) continue;
    /* Raw addresses inside heap objects only exist in registers (translated
     * pointers; memory holds handles), so in memory such a word is data that
     * happens to look like one: leave it (a 1 GB heap of random numbers has
     * dozens of them). */
    if (t.kind == MOJ_TO_HEAP && where != MOJ_AT_SLOT) continue;
    if (r->n == r->cap) {
      uint32_t ncap = r->cap ? r->cap * 2 : 1024;
      moj_img_reloc_t *nv = realloc(r->v, ncap * sizeof *nv);
      if (!nv) _moj_fatal("out of memory recording %u relocations", r->n);
      r->v = nv;
      r->cap = ncap;
    }
    uint32_t tid = t.kind == MOJ_TO_SYM ? _moj_mig_symref(t.tid) : t.tid;
    r->v[r->n++] = (moj_img_reloc_t){where, id, sub, off, t.kind, tid, t.tsub, t.toff};
  }
}

/* Image frames from the captured frames (records decoded by descriptor). */
static moj_img_frame_t *frames_to_image(void) {
  moj_img_frame_t *out = calloc(M.nframes + 1, sizeof *out);
  if (!out) return NULL;
  for (uint32_t f = 0; f < M.nframes; f++) {
    mig_frame_t *fr = &M.frames[f];
    const moj_mig_fdesc_t *d = fr->desc;
    moj_img_slot_t *slots = calloc(d->nslots + 1, sizeof *slots);
    moj_img_alloca_t *objs = calloc(d->nobjs + 1, sizeof *objs);
    if (!slots || !objs) { free(slots); free(objs); return NULL; }
    const uint32_t *off = layout_of(d), *size = off + d->nslots;
    const uint8_t *types = d_types(d);
    for (uint32_t k = 0; k < d->nslots; k++) {
      int t = MOJ_MIG_SLOT_TYPE(types[k]);
      slots[k] = (moj_img_slot_t){(uint8_t)t, size[k], fr->rec + off[k]};
      if (t == MOJ_SLOT_PTR || t == MOJ_SLOT_I64 || t == MOJ_SLOT_BYTES)
        _moj_mig_scan(&M.relocs, MOJ_AT_SLOT, f, k, slots[k].data, size[k], t != MOJ_SLOT_BYTES);
    }
    for (uint32_t o = 0; o < d->nobjs; o++) {
      objs[o] = (moj_img_alloca_t){fr->obj_size[o], fr->obj_align[o], fr->obj_data[o]};
      _moj_mig_scan(&M.relocs, MOJ_AT_ALLOCA, f, o, fr->obj_data[o], fr->obj_size[o], 0);
    }
    memcpy(&out[f].site, fr->rec, 4);
    out[f].func = fr->name;
    out[f].nslots = d->nslots;
    out[f].slots = slots;
    out[f].nallocas = d->nobjs;
    out[f].allocas = objs;
  }
  return out;
}

static void frames_image_free(moj_img_t *img) {
  for (uint32_t f = 0; f < img->nframes; f++) {
    free((void *)img->frames[f].slots);
    free((void *)img->frames[f].allocas);
  }
  free((void *)img->frames);
  img->frames = NULL;
  img->nframes = 0;
}

/* Checkpoint to a file ("file:PATH"): written whole, then renamed in place. */
static int write_file(const char *path, const void *buf, size_t len) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
    fail(ENAMETOOLONG, "checkpoint path too long");
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) { fail(errno, "cannot create %s: %s", tmp, strerror(errno)); return -1; }
  const char *p = buf;
  size_t left = len;
  while (left) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) { fail(errno, "cannot write %s: %s", tmp, strerror(errno)); close(fd); unlink(tmp); return -1; }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) || close(fd) || rename(tmp, path)) {
    fail(errno, "cannot finish %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* Called by main's wrapper once every frame has returned. */
MOJ_EXPORT void __moj_mig_unwound(void) {
  double t_unwound = now_s(), t_encoded = 0, t_shipped = 0;
  /* innermost first -> outermost first */
  for (uint32_t i = 0, j = M.nframes ? M.nframes - 1 : 0; i < j; i++, j--) {
    mig_frame_t t = M.frames[i];
    M.frames[i] = M.frames[j];
    M.frames[j] = t;
  }
  fflush(NULL); /* output in flight leaves from here, before the image: never twice */
  moj_img_t *img = &M.cap_img;
  memset(img, 0, sizeof *img);
  _moj_mig_syms_env(environ); /* getenv results point into the environment as it is now */
  M.symref = calloc(_moj_mig_nsyms() + 1, sizeof *M.symref);
  void *bytes = NULL;
  size_t len = 0;
  int told = 0;
  int ok = M.symref != NULL;
  if (!ok) fail(ENOMEM, "out of memory building the image");
  if (ok && _moj_mig_capture_files(img, M.reason, sizeof M.reason)) { /* streams flushed first */
    M.err = errno;
    ok = 0;
  }
  if (ok && _moj_mig_capture_dsm(img, M.reason, sizeof M.reason)) { /* DSM pages back to their homes */
    M.err = errno;
    ok = 0;
  }
  if (ok && _moj_mig_index_build(M.frames, M.nframes)) {
    fail(ENOMEM, "out of memory building the image");
    ok = 0;
  }
  if (ok) { /* across instruction sets only IR moves; the image records which */
    int m = moj_ship_mode_for(M.host, M.mode, M.reason, sizeof M.reason);
    if (m < 0) {
      M.err = errno;
      ok = 0;
    } else {
      M.mode = m;
    }
  }
  if (ok) {
    img->meta.mode = M.mode == 2 ? MOJ_IMG_IR : MOJ_IMG_BINARY;
    if (_moj_mig_capture_state(img, &M.relocs, M.reason, sizeof M.reason)) {
      M.err = errno;
      ok = 0;
    }
  }
  if (ok) {
    img->frames = frames_to_image();
    img->nframes = M.nframes;
    if (!img->frames) { fail(ENOMEM, "out of memory building the image"); ok = 0; }
  }
  _moj_mig_index_free();
  if (ok) {
    img->syms = M.symnames;
    img->nsyms = M.nsymnames;
    img->relocs = M.relocs.v;
    img->nrelocs = M.relocs.n;
    char err[256];
    if (moj_img_encode(img, 0, &bytes, &len, err, sizeof err)) {
      fail(EINVAL, "cannot encode the image: %s", err);
      ok = 0;
    }
  }
  t_encoded = now_s();
  if (ok && !strncmp(M.host, "file:", 5)) {
    if (write_file(M.host + 5, bytes, len) == 0) {
      stats("written", t_unwound, t_encoded, now_s(), now_s(), len);
      _exit(0);
    }
    ok = 0;
  } else if (ok) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    moj_ship_t *s = NULL;
    char why[256] = "";
    errno = 0;
    int shipped = moj_ship_begin(M.host, M.mode, exe, bytes, len, &s, NULL, why, sizeof why);
    t_shipped = now_s();
    if (shipped || moj_ship_commit(s, why, sizeof why)) {
      fail(errno ? errno : EIO, "%s", why[0] ? why : "the transport failed");
      told = 1; /* the transport reported it to the supervisor */
      moj_ship_abort(s);
      ok = 0;
    } else {
      stats("done", t_unwound, t_encoded, t_shipped, now_s(), len);
      moj_ctl_moved(M.host, moj_ship_job(s));
      _exit(0);
    }
  }
  free(bytes);
  /* Failed: carry on here.  Relocations stay as captured; the rewind applies
   * them to this process's own addresses. */
  if (!M.explicit_call && !told) {
    char line[700];
    int k = snprintf(line, sizeof line, "migration to %s failed: %s", M.host, M.reason);
    if (k > 0 && moj_ctl_fd() >= 0) {
      moj_ctl_notify(MG_FAILED, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
    } else if (k > 0) {
      k = snprintf(line, sizeof line, "mojave: migration to %s failed: %s; the program continues here\n",
                   M.host, M.reason);
      ssize_t w = write(2, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
      (void)w;
    }
  }
  img->syms = M.symnames; /* owned by M; the rewind resolves them here */
  img->nsyms = M.nsymnames;
  img->relocs = NULL;      /* M.relocs is what the rewind applies */
  frames_image_free(img);
  M.img = img;
  rewind_begin();
}

/* ---- migration points ------------------------------------------------------ */

static int begin(const char *host, int mode, int explicit_call) {
  if (!can_start()) return -1;
  snprintf(M.host, sizeof M.host, "%s", host);
  M.mode = mode;
  M.explicit_call = explicit_call;
  M.reason[0] = 0;
  M.err = 0;
  M.nframes = 0;
  M.t_begin = now_s();
  __moj_mig_state = MOJ_MIG_UNWINDING;
  return 0;
}

MOJ_EXPORT void __moj_mig_poll(void) {
  if (__moj_mig_state == MOJ_MIG_REWINDING) {
    rewind_end();
    return;
  }
  if (__moj_mig_state != MOJ_MIG_NORMAL) return;
  if (M.pending && M.skip) { /* deterministic "later": the N-th migration point */
    M.skip--;
    return;
  }
  if (!M.pending) {
    if (!moj_ctl_take_request(M.host, sizeof M.host, &M.mode)) {
      __moj_mig_req = 0;
      return;
    }
    M.pending = 1;
  }
  char host[64], last[sizeof M.reason];
  snprintf(host, sizeof host, "%s", M.host);
  memcpy(last, M.reason, sizeof last);
  int last_err = M.err;
  if (begin(host, M.mode, 0) == 0) {
    M.pending = 0;
    __moj_mig_req = 0;
    return;
  }
  if (M.err == ENOTSUP) { /* never possible in this program: drop the request */
    M.pending = 0;
    __moj_mig_req = 0;
    char line[700];
    int k = snprintf(line, sizeof line, "mojave: cannot migrate to %s: %s\n", host, M.reason);
    if (k > 0) { ssize_t w = write(2, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1); (void)w; }
  }
  /* EBUSY: keep the request; a later migration point may be capturable.
   * Not a failed migration: moj_migrate_error() keeps the last real one. */
  memcpy(M.reason, last, sizeof last);
  M.err = last_err;
  __moj_mig_req = 1; /* taking the request cleared it */
}

MOJ_EXPORT int moj_migrate(const char *host, int flags) {
  if (__moj_mig_state == MOJ_MIG_REWINDING) {
    int err = M.err;
    if (rewind_end()) return MOJ_MIGRATE_ARRIVED;
    errno = err;
    return -1;
  }
  if (!host || !*host || strlen(host) >= sizeof M.host ||
      (flags & ~(MOJ_MIGRATE_BINARY | MOJ_MIGRATE_IR)) ||
      (flags & MOJ_MIGRATE_BINARY && flags & MOJ_MIGRATE_IR)) {
    fail(EINVAL, "bad arguments (host '%s', flags %#x)", host ? host : "(null)", (unsigned)flags);
    errno = EINVAL;
    return -1;
  }
  if (begin(host, flags & MOJ_MIGRATE_IR ? 2 : flags & MOJ_MIGRATE_BINARY ? 1 : 0, 1)) {
    errno = M.err;
    return -1;
  }
  return 0; /* the caller sees UNWINDING and returns */
}

/* ---- start-up ---------------------------------------------------------------- */

static void adopt_args(const moj_img_t *img);

static void restore_from_fd(int fd) {
  struct stat st;
  if (fstat(fd, &st) || st.st_size <= 0)
    _moj_fatal("migration: MOJAVE_RESTORE_FD=%d is not a readable image", fd);
  size_t len = (size_t)st.st_size;
  char *buf = malloc(len);
  if (!buf) _moj_fatal("migration: out of memory reading a %zu-byte image", len);
  size_t got = 0;
  while (got < len) {
    ssize_t r = pread(fd, buf + got, len - got, (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) _moj_fatal("migration: cannot read the image (%s)", r ? strerror(errno) : "short file");
    got += (size_t)r;
  }
  close(fd);
  char err[256];
  moj_img_t *img;
  if (moj_img_decode(buf, len, &img, err, sizeof err)) _moj_fatal("migration: image refused: %s", err);
  free(buf);
  adopt_args(img);
  _moj_mig_restore_state(img);
  M.img = img;
  M.at_dest = 1;
  M.nframes = img->nframes;
  M.frames = calloc(img->nframes + 1, sizeof *M.frames);
  if (!M.frames) _moj_fatal("migration: out of memory");
  for (uint32_t f = 0; f < img->nframes; f++) {
    const moj_img_frame_t *src = &img->frames[f];
    mig_frame_t *fr = &M.frames[f];
    fr->img = src;
    fr->name = src->func;
    fr->nobjs = src->nallocas;
    fr->obj_data = calloc(src->nallocas + 1, sizeof *fr->obj_data);
    fr->new_addr = calloc(src->nallocas + 1, sizeof *fr->new_addr);
    if (!fr->obj_data || !fr->new_addr) _moj_fatal("migration: out of memory");
    for (uint32_t o = 0; o < src->nallocas; o++) fr->obj_data[o] = (uint8_t *)src->allocas[o].data;
  }
  M.relocs.n = img->nrelocs;
  M.relocs.v = malloc((img->nrelocs + 1) * sizeof *M.relocs.v);
  if (!M.relocs.v) _moj_fatal("migration: out of memory");
  memcpy(M.relocs.v, img->relocs, img->nrelocs * sizeof *M.relocs.v);
  for (uint32_t i = 0; i < img->nrelocs; i++) { /* SLOT places need the frame's record */
    const moj_img_reloc_t *r = &img->relocs[i];
    if (r->where == MOJ_AT_SLOT && r->where_sub >= img->frames[r->where_id].nslots)
      _moj_fatal("migration: relocation into a missing value");
  }
  rewind_begin();
}

/* The destination runs with the image's argv and environment, so addresses
 * of their strings (symbols "@argv.N", "@env.N") resolve to the same text;
 * only the variables naming this host and its daemon are this host's. */
static void adopt_args(const moj_img_t *img) {
  static const char *const local[] = {"MOJAVE_HOST", "MOJAVE_CLUSTER", "MOJAVE_CTL_FD", "MOJAVE_HOPS"};
  char *keep[4];
  for (int i = 0; i < 4; i++) {
    const char *v = getenv(local[i]);
    keep[i] = v ? strdup(v) : NULL;
  }
  char **av = calloc(img->meta.argc + 1, sizeof *av);
  char **ev = calloc(img->meta.envc + 1, sizeof *ev);
  if (!av || !ev) _moj_fatal("migration: out of memory copying argv");
  for (uint32_t i = 0; i < img->meta.argc; i++)
    if (!(av[i] = strdup(img->meta.argv[i]))) _moj_fatal("migration: out of memory copying argv");
  for (uint32_t i = 0; i < img->meta.envc; i++)
    if (!(ev[i] = strdup(img->meta.envp[i]))) _moj_fatal("migration: out of memory copying the environment");
  environ = ev;
  for (int i = 0; i < 4; i++) {
    if (keep[i]) setenv(local[i], keep[i], 1); else unsetenv(local[i]);
    free(keep[i]);
  }
  M.argc = (int)img->meta.argc;
  M.argv = av;
  M.envp = ev;
  _moj_mig_syms_argv(M.argc, av);
  _moj_mig_syms_env(ev);
}

MOJ_EXPORT void __moj_mig_main_start(int argc, char **argv, char **envp) {
  if (M.main_seen) return; /* re-entered main after a failed hand-off */
  M.main_seen = 1;
  M.argc = argc;
  M.argv = argv;
  M.envp = envp;
  moj_ctl_init();
  if (getenv("MOJAVE_CTL_FD")) { /* load libgcc's unwinder now, not in a handler */
    void *pcs[4];
    (void)backtrace(pcs, 4);
  }
  const char *rfd = getenv("MOJAVE_RESTORE_FD");
  if (rfd && *rfd) {
    char *end;
    long fd = strtol(rfd, &end, 10);
    if (*end || fd < 0 || fd > 1 << 20) _moj_fatal("MOJAVE_RESTORE_FD='%s' is not a descriptor", rfd);
    unsetenv("MOJAVE_RESTORE_FD");
    restore_from_fd((int)fd);
  } else {
    _moj_mig_syms_argv(argc, argv);
    /* MOJAVE_CHECKPOINT=PATH: checkpoint at the first migration point, or
     * after MOJAVE_CHECKPOINT_SKIP=N of them */
    const char *ck = getenv("MOJAVE_CHECKPOINT");
    if (ck && *ck && strlen(ck) + 5 < sizeof M.host) {
      snprintf(M.host, sizeof M.host, "file:%s", ck);
      M.mode = 1;
      M.pending = 1;
      __moj_mig_req = 1;
      const char *sk = getenv("MOJAVE_CHECKPOINT_SKIP");
      M.skip = sk ? strtoul(sk, NULL, 10) : 0;
      unsetenv("MOJAVE_CHECKPOINT");
      unsetenv("MOJAVE_CHECKPOINT_SKIP");
    }
  }
}

char **_moj_mig_argv(int *argc) {
  *argc = M.argc;
  return M.argv;
}
