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
static moj_mig_sym_t *argrows MOJ_RTVAR; /* "@argv*" rows (inside reg)     */
static syms_t envrows MOJ_RTVAR;       /* "@envp", "@env.N": the environment now */
static char *envnames MOJ_RTVAR;

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

/* argv strings live on the initial stack: they travel as symbols "@argv" and
 * "@argv.N" (the destination runs with the image's argv).  The C library's
 * standard streams live in its data: a FILE * kept by the program (bzip2's
 * output stream, Lua's io.stdout) becomes the destination's stream. */
void _moj_mig_syms_argv(int argc, char **argv) {
  static moj_mig_sym_t streams[3] MOJ_RTVAR;
  streams[0] = (moj_mig_sym_t){"@stdin", stdin, sizeof(FILE), MOJ_MIG_SYM_CONST, 0};
  streams[1] = (moj_mig_sym_t){"@stdout", stdout, sizeof(FILE), MOJ_MIG_SYM_CONST, 0};
  streams[2] = (moj_mig_sym_t){"@stderr", stderr, sizeof(FILE), MOJ_MIG_SYM_CONST, 0};
  __moj_mig_register(streams, 3);
  size_t rows = 1 + (size_t)argc;
  static char names[2][24] MOJ_RTVAR;
  argrows = calloc(rows, sizeof *argrows);
  char *nm = malloc(rows * 24);
  if (!argrows || !nm) { free(argrows); free(nm); argrows = NULL; return; }
  snprintf(names[0], sizeof names[0], "@argv");
  argrows[0] = (moj_mig_sym_t){names[0], argv, ((size_t)argc + 1) * sizeof(char *), MOJ_MIG_SYM_CONST, 0};
  for (int i = 0; i < argc; i++) {
    snprintf(nm + 24 * i, 24, "@argv.%d", i);
    argrows[1 + i] = (moj_mig_sym_t){nm + 24 * i, argv[i], strlen(argv[i]) + 1, MOJ_MIG_SYM_CONST, 0};
  }
  __moj_mig_register(argrows, rows);
}

/* The environment as it is now (getenv results point into it): "@envp" and
 * "@env.N", re-taken at every capture and at restore. */
void _moj_mig_syms_env(char **envp) {
  size_t envc = 0;
  while (envp && envp[envc]) envc++;
  free(envrows.v);
  free(envnames);
  envrows.v = calloc(envc + 1, sizeof *envrows.v);
  envnames = malloc((envc + 1) * 32);
  envrows.n = 0;
  if (!envrows.v || !envnames) return;
  snprintf(envnames, 32, "@envp");
  envrows.v[envrows.n++] = (moj_mig_sym_t){envnames, envp, (envc + 1) * sizeof(char *), MOJ_MIG_SYM_CONST, 0};
  for (size_t i = 0; i < envc; i++) {
    char *nm = envnames + 32 * (i + 1);
    snprintf(nm, 32, "@env.%zu", i);
    envrows.v[envrows.n++] = (moj_mig_sym_t){nm, envp[i], strlen(envp[i]) + 1, MOJ_MIG_SYM_CONST, 0};
  }
}

size_t _moj_mig_nsyms(void) { return reg.n + envrows.n; }
const moj_mig_sym_t *_moj_mig_sym(size_t i) { return i < reg.n ? &reg.v[i] : &envrows.v[i - reg.n]; }

const moj_mig_sym_t *_moj_mig_sym_named(const char *name) {
  size_t n = _moj_mig_nsyms();
  for (size_t i = 0; i < n; i++)
    if (!strcmp(_moj_mig_sym(i)->name, name)) return _moj_mig_sym(i);
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
  size_t nsym = _moj_mig_nsyms(), n = nsym;
  for (uint32_t f = 0; f < nframes; f++) n += frames[f].nobjs;
  size_t nstream = _moj_mig_streams(NULL, NULL, 0);
  n += nstream;
  moj_rt_t *rt = _moj_rt;
  for (uint32_t i = 1; i < rt->top; i++)
    if (rt->table[i].owner != MOJ_OWNER_FREE && rt->table[i].base) n++;
  idx.v = malloc((n ? n : 1) * sizeof *idx.v);
  if (!idx.v) { errno = ENOMEM; return -1; }
  idx.n = 0;
  for (size_t i = 0; i < nsym; i++) {
    const moj_mig_sym_t *sy = _moj_mig_sym(i);
    uintptr_t lo = (uintptr_t)sy->addr;
    idx.v[idx.n++] = (range_t){lo, lo + (sy->size ? sy->size : 1), MOJ_TO_SYM, (uint32_t)i, 0};
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
  if (nstream) {
    const void **sa = calloc(nstream, sizeof *sa);
    uint32_t *sf = calloc(nstream, sizeof *sf);
    if (sa && sf) {
      _moj_mig_streams(sa, sf, nstream);
      for (size_t k = 0; k < nstream; k++)
        idx.v[idx.n++] = (range_t){(uintptr_t)sa[k], (uintptr_t)sa[k] + sizeof(FILE), MOJ_TO_FILE, sf[k], 0};
    }
    free(sa);
    free(sf);
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
