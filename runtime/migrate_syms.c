/* runtime/migrate_syms.c — where addresses point, for migration: the symbol
 * registry every mojcc module fills at start-up (globals, functions, string
 * literals by stable name), the program's argv/environment strings, and the
 * classification of a machine word as "points into symbol S / stack object
 * (frame, object) / heap object (index)" that turns addresses into
 * relocations.  Lookups are binary searches over sorted ranges, built once
 * per capture; the scan is dominated by a range test most words fail. */
#include "migrate_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct syms {
  moj_mig_sym_t *v;
  size_t n, cap;
} syms_t;

static syms_t reg MOJ_RTVAR;           /* every registered row               */
static moj_mig_sym_t *extra MOJ_RTVAR; /* argv/env rows (owned)              */
static char *extra_names MOJ_RTVAR;

MOJ_EXPORT void __moj_mig_register(const moj_mig_sym_t *tab, uint64_t n) {
  if (reg.n + n > reg.cap) {
    size_t ncap = reg.cap ? reg.cap : 256;
    while (ncap < reg.n + n) ncap *= 2;
    moj_mig_sym_t *nv = realloc(reg.v, ncap * sizeof *nv);
    if (!nv) _moj_fatal("out of memory registering %llu migration symbols", (unsigned long long)n);
    reg.v = nv;
    reg.cap = ncap;
  }
  memcpy(reg.v + reg.n, tab, n * sizeof *tab);
  reg.n += n;
}

/* argv and environment strings live on the initial stack: they travel as
 * symbols "@argv", "@argv.N", "@envp", "@env.N" (the destination starts the
 * program with the same argv and environment). */
void _moj_mig_syms_argv(int argc, char **argv, char **envp) {
  int envc = 0;
  while (envp && envp[envc]) envc++;
  size_t rows = 2 + (size_t)argc + (size_t)envc;
  extra = calloc(rows, sizeof *extra);
  extra_names = malloc(rows * 24);
  if (!extra || !extra_names) { free(extra); free(extra_names); extra = NULL; return; }
  size_t k = 0;
  char *nm = extra_names;
  #define ROW(NAME_FMT, IDX, ADDR, SIZE) do { \
      snprintf(nm, 24, NAME_FMT, IDX); \
      extra[k++] = (moj_mig_sym_t){nm, (void *)(ADDR), (SIZE), MOJ_MIG_SYM_CONST, 0}; \
      nm += 24; } while (0)
  ROW("@argv%.0d", 0, argv, ((size_t)argc + 1) * sizeof(char *));
  for (int i = 0; i < argc; i++) ROW("@argv.%d", i, argv[i], strlen(argv[i]) + 1);
  if (envp) ROW("@envp%.0d", 0, envp, ((size_t)envc + 1) * sizeof(char *));
  for (int i = 0; i < envc; i++) ROW("@env.%d", i, envp[i], strlen(envp[i]) + 1);
  #undef ROW
  __moj_mig_register(extra, k);
}

size_t _moj_mig_nsyms(void) { return reg.n; }
const moj_mig_sym_t *_moj_mig_sym(size_t i) { return &reg.v[i]; }

const moj_mig_sym_t *_moj_mig_sym_named(const char *name) {
  for (size_t i = 0; i < reg.n; i++)
    if (!strcmp(reg.v[i].name, name)) return &reg.v[i];
  return NULL;
}

/* ---- classification ----------------------------------------------------- */

typedef struct range { uintptr_t lo, hi; uint8_t kind; uint32_t tid, tsub; } range_t;
typedef struct index { range_t *v; size_t n; uintptr_t min, max; } index_t;
static index_t idx MOJ_RTVAR;

static int by_lo(const void *a, const void *b) {
  const range_t *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

int _moj_mig_index_build(mig_frame_t *frames, uint32_t nframes) {
  size_t n = reg.n;
  for (uint32_t f = 0; f < nframes; f++) n += frames[f].nobjs;
  moj_rt_t *rt = _moj_rt;
  for (uint32_t i = 1; i < rt->top; i++)
    if (rt->table[i].owner != MOJ_OWNER_FREE && rt->table[i].base) n++;
  idx.v = malloc((n ? n : 1) * sizeof *idx.v);
  if (!idx.v) { errno = ENOMEM; return -1; }
  idx.n = 0;
  for (size_t i = 0; i < reg.n; i++) {
    uintptr_t lo = (uintptr_t)reg.v[i].addr;
    idx.v[idx.n++] = (range_t){lo, lo + (reg.v[i].size ? reg.v[i].size : 1), MOJ_TO_SYM, (uint32_t)i, 0};
  }
  for (uint32_t f = 0; f < nframes; f++)
    for (uint32_t o = 0; o < frames[f].nobjs; o++) {
      uintptr_t lo = frames[f].old_addr[o];
      idx.v[idx.n++] = (range_t){lo, lo + (frames[f].obj_size[o] ? frames[f].obj_size[o] : 1),
                                 MOJ_TO_STACK, f, o};
    }
  for (uint32_t i = 1; i < rt->top; i++) {
    moj_entry_t *e = &rt->table[i];
    if (e->owner == MOJ_OWNER_FREE || !e->base) continue;
    uintptr_t lo = (uintptr_t)e->base;
    idx.v[idx.n++] = (range_t){lo, lo + (e->size ? e->size : 1), MOJ_TO_HEAP, i, 0};
  }
  qsort(idx.v, idx.n, sizeof *idx.v, by_lo);
  idx.min = idx.n ? idx.v[0].lo : 1;
  idx.max = 0;
  for (size_t i = 0; i < idx.n; i++)
    if (idx.v[i].hi > idx.max) idx.max = idx.v[i].hi;
  return 0;
}

void _moj_mig_index_free(void) {
  free(idx.v);
  idx.v = NULL;
  idx.n = 0;
}

/* 1 when v is an address inside (or one past) a known object.  Ranges may
 * nest (a string literal inside a merged section is still its own row), so
 * the innermost (last starting) range containing v wins. */
int _moj_mig_classify(uint64_t v, mig_target_t *t) {
  if (v < idx.min || v > idx.max || (int64_t)v < 0) return 0;
  size_t lo = 0, hi = idx.n; /* first range with lo > v */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (idx.v[mid].lo <= v) lo = mid + 1; else hi = mid;
  }
  for (size_t k = lo; k-- > 0 && lo - k <= 8;) {
    const range_t *r = &idx.v[k];
    if (v < r->hi || (v == r->hi && r->kind != MOJ_TO_SYM)) {
      t->kind = r->kind;
      t->tid = r->tid;
      t->tsub = r->tsub;
      t->toff = (int64_t)(v - r->lo);
      return 1;
    }
  }
  return 0;
}
