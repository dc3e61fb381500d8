/* tests/unit/test_diff.c — randomized differential test of the runtime against
 * a reference model that snapshots everything.
 *
 * Each sequence runs random alloc / write / realloc / free / print / enter /
 * commit / abort steps over up to 8 nested levels, touching managed objects,
 * a global array, a local array and held output.  The model keeps a full copy
 * of the state at every level's entry (abort = restore that copy, commit =
 * forget it); after every step the real state must equal the model's.
 *
 * The driver's own state lives in raw (unmanaged, never rolled back) memory,
 * so it survives the aborts it provokes.  Usage:
 *   test_diff [--seed N] [--sequences N] [--steps N]   (or MOJ_DIFF_SEED, ...) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <mojave.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOTS     12
#define MAXSZ     600
#define GBYTES    64
#define LBYTES    48
#define MAXLEVELS 8
#define OUTCAP    (1 << 16)

typedef struct state {             /* what the model tracks */
  int     live[SLOTS];
  size_t  size[SLOTS];
  uint8_t data[SLOTS][MAXSZ];
  uint8_t global[GBYTES];
  uint8_t local[LBYTES];
  size_t  outlen;
} state_t;

typedef struct driver {
  uint64_t rng;
  unsigned long long seed;
  long     seq, step, steps_per_seq;
  state_t  cur;
  state_t  snap[MAXLEVELS + 1];    /* snap[d] = state at entry of depth d */
  int      ids[MAXLEVELS + 1];
  int      depth;
  int      pending_abort_depth, pending_code;
  char     out[OUTCAP];            /* model of everything printed (committed or held) */
  size_t   baseline_live;
  int      failed;
  int      trace_fd;               /* MOJ_DIFF_TRACE=file: one line per step */
  char     why[256];
} driver_t;

static driver_t *D;                 /* set once before any speculation */
static void *g_slot[SLOTS];         /* handles live in globals: rolled back */
static uint8_t g_bytes[GBYTES];
static char out_file[] = "/tmp/moj-diff-XXXXXX";

static uint64_t rnd(void) {         /* xorshift64* */
  D->rng ^= D->rng >> 12; D->rng ^= D->rng << 25; D->rng ^= D->rng >> 27;
  return D->rng * 2685821657736338717ull;
}
static unsigned pick(unsigned n) { return (unsigned)(rnd() % n); }

static void diverge(const char *fmt, ...) {
  if (D->failed) return;
  D->failed = 1;
  va_list ap;
  va_start(ap, fmt);
  int n = snprintf(D->why, sizeof D->why, "seed %llu sequence %ld step %ld: ", D->seed, D->seq, D->step);
  vsnprintf(D->why + n, sizeof D->why - (size_t)n, fmt, ap);
  va_end(ap);
}

static size_t live(void) { moj_stats_t s; moj_get_stats(&s); return s.live_objects; }

static void trace(const char *fmt, ...) {
  if (D->trace_fd < 0) return;
  char line[160];
  va_list ap;
  va_start(ap, fmt);
  int n = snprintf(line, sizeof line, "%ld.%ld d%d: ", D->seq, D->step, D->depth);
  n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  line[n++] = '\n';
  ssize_t w = write(D->trace_fd, line, (size_t)n);
  (void)w;
}

static void verify(const uint8_t *local) {
  state_t *m = &D->cur;
  size_t nlive = 0;
  for (int i = 0; i < SLOTS; i++) {
    if (!m->live[i]) {
      if (g_slot[i]) diverge("slot %d should be empty", i);
      continue;
    }
    nlive++;
    if (!g_slot[i]) { diverge("slot %d lost its handle", i); return; }
    if (moj_usable_size(g_slot[i]) != m->size[i])
      diverge("slot %d size %zu, model %zu", i, moj_usable_size(g_slot[i]), m->size[i]);
    else if (memcmp(moj_r(g_slot[i]), m->data[i], m->size[i]))
      diverge("slot %d content differs", i);
  }
  if (memcmp(g_bytes, m->global, GBYTES)) diverge("global array differs");
  if (memcmp(local, m->local, LBYTES)) diverge("local array differs");
  /* entries freed inside a level are kept until the outermost commit */
  if (D->depth == 0 && live() != D->baseline_live + nlive) diverge("live objects %zu, model %zu", live(), D->baseline_live + nlive);
  if (spec_level() != D->depth) diverge("level %d, model %d", spec_level(), D->depth);
}

static void emit(void) {
  char tok[24];
  int n = snprintf(tok, sizeof tok, "<%ld.%ld>", D->seq, D->step);
  if (D->cur.outlen + (size_t)n >= OUTCAP) return;
  if (pick(2)) { printf("%s", tok); }
  else { fflush(stdout); ssize_t w = write(1, tok, (size_t)n); (void)w; } /* C ordering rule */
  memcpy(D->out + D->cur.outlen, tok, (size_t)n);
  D->cur.outlen += (size_t)n;
}

/* Printed output must equal the model once no level holds it. */
static void check_output(void) {
  fflush(stdout);
  int fd = open(out_file, O_RDONLY);
  char *buf = malloc(OUTCAP);
  ssize_t n = read(fd, buf, OUTCAP);
  close(fd);
  if (n != (ssize_t)D->cur.outlen || memcmp(buf, D->out, D->cur.outlen))
    diverge("output differs: got '%.*s', model '%.*s'", (int)(n < 0 ? 0 : n > 80 ? 80 : n), buf,
            (int)(D->cur.outlen > 80 ? 80 : D->cur.outlen), D->out);
  free(buf);
}

static void step(uint8_t *local) {
  state_t *m = &D->cur;
  unsigned op = pick(100);
  int s = (int)pick(SLOTS);
  if (op < 14) {                                   /* alloc */
    if (m->live[s]) return;
    size_t n = pick(MAXSZ);
    g_slot[s] = pick(4) ? moj_malloc(n) : moj_calloc(1, n);
    trace("alloc slot %d size %zu -> %p", s, n, g_slot[s]);
    uint8_t *w = moj_w(g_slot[s]);
    for (size_t i = 0; i < n; i++) w[i] = (uint8_t)(i * 7 + (size_t)s);
    m->live[s] = 1;
    m->size[s] = n;
    for (size_t i = 0; i < n; i++) m->data[s][i] = (uint8_t)(i * 7 + (size_t)s);
  } else if (op < 44) {                            /* write a range (through arithmetic) */
    if (!m->live[s] || !m->size[s]) return;
    size_t off = pick((unsigned)m->size[s]);
    size_t len = 1 + pick((unsigned)(m->size[s] - off));
    uint8_t v = (uint8_t)rnd();
    trace("write slot %d [%zu,+%zu)", s, off, len);
    memset(moj_w((char *)g_slot[s] + off), v, len);
    memset(m->data[s] + off, v, len);
  } else if (op < 52) {                            /* realloc */
    if (!m->live[s]) return;
    size_t n = 1 + pick(MAXSZ - 1);
    trace("realloc slot %d %zu -> %zu", s, m->size[s], n);
    void *p = moj_realloc(g_slot[s], n);
    if (p != g_slot[s]) diverge("realloc moved the handle");
    if (n > m->size[s]) {
      memset((char *)moj_w(p) + m->size[s], 0xee, n - m->size[s]);
      memset(m->data[s] + m->size[s], 0xee, n - m->size[s]);
    }
    m->size[s] = n;
  } else if (op < 60) {                            /* free */
    if (!m->live[s]) return;
    trace("free slot %d", s);
    moj_free(g_slot[s]);
    g_slot[s] = NULL;
    m->live[s] = 0;
  } else if (op < 68) {                            /* globals */
    size_t off = pick(GBYTES);
    uint8_t v = (uint8_t)rnd();
    g_bytes[off] = v;
    m->global[off] = v;
  } else if (op < 76) {                            /* locals of the entering frame */
    size_t off = pick(LBYTES);
    uint8_t v = (uint8_t)rnd();
    local[off] = v;
    m->local[off] = v;
  } else if (op < 82) {                            /* output */
    emit();
  } else if (op < 90) {                            /* commit a random level */
    if (!D->depth) return;
    int d = 1 + (int)pick((unsigned)D->depth);
    trace("commit depth %d (id %d)", d, D->ids[d]);
    if (spec_commit(D->ids[d])) { diverge("commit of depth %d failed", d); return; }
    for (int i = d; i < D->depth; i++) { D->snap[i] = D->snap[i + 1]; D->ids[i] = D->ids[i + 1]; }
    D->depth--;
  } else if (op < 96) {                            /* abort a random level */
    if (!D->depth) return;
    int d = 1 + (int)pick((unsigned)D->depth);
    D->pending_abort_depth = d;
    D->pending_code = 1 + (int)pick(1000);
    trace("abort depth %d (id %d)", d, D->ids[d]);
    spec_abort_with(D->ids[d], D->pending_code);
    diverge("spec_abort returned");
  }
  /* else: enter, handled by the caller */
}

/* One sequence.  All entries happen at the single spec_enter call below, in
 * this frame, so an abort resumes here with `local` restored. */
static void run_sequence(void) {
  uint8_t local[LBYTES];
  memset(local, 0, sizeof local);
  memset(&D->cur.local, 0, sizeof D->cur.local);
  for (;;) {
    if (D->failed || D->step >= D->steps_per_seq) break;
    D->step++;
    if (pick(100) < 12 && D->depth < MAXLEVELS) {
      D->snap[D->depth + 1] = D->cur;
      D->snap[D->depth + 1].outlen = D->cur.outlen;
      int r = spec_enter();
      if (r > 0) {
        trace("entered id %d", r);
        D->depth++;
        D->ids[D->depth] = r;
      } else if (r < 0) {
        int d = D->pending_abort_depth;
        if (r != -D->pending_code) diverge("spec_enter returned %d, expected %d", r, -D->pending_code);
        D->cur = D->snap[d];
        D->depth = d - 1;
      } else {
        diverge("spec_enter failed");
      }
    } else {
      step(local);
    }
    verify(local);
  }
  /* close every level, randomly committing or aborting the outermost */
  while (!D->failed && D->depth) {
    if (pick(2)) {
      if (spec_commit(D->ids[1])) diverge("final commit failed");
      for (int i = 1; i < D->depth; i++) { D->snap[i] = D->snap[i + 1]; D->ids[i] = D->ids[i + 1]; }
      D->depth--;
    } else {
      D->pending_abort_depth = 1;
      D->pending_code = 5;
      spec_abort_with(D->ids[1], 5);
    }
  }
}

/* One whole sequence, then its end-of-sequence checks.  Final aborts land in
 * run_sequence's spec_enter, which restores the model and keeps closing. */
static void one_sequence(void) {
  memset(&D->cur, 0, sizeof D->cur);
  D->depth = 0;
  D->step = 0;
  D->cur.outlen = 0;
  run_sequence();
  if (D->failed) {                       /* release held output so the report is seen */
    while (spec_level()) spec_commit(spec_id_at(1));
    return;
  }
  verify(D->cur.local);  /* local array is gone with the frame: compare model to itself */
  check_output();
  for (int i = 0; i < SLOTS; i++) { moj_free(g_slot[i]); g_slot[i] = NULL; }
  memset(g_bytes, 0, sizeof g_bytes);
  if (live() != D->baseline_live) diverge("objects leaked: %zu live, expected %zu", live(), D->baseline_live);
  /* fresh output file for the next sequence */
  fflush(stdout);
  if (ftruncate(1, 0) == 0) lseek(1, 0, SEEK_SET);
}

static long opt_seq = 10000, opt_steps = 80;
static unsigned long long opt_seed = 1;

static void differential(void **st) {
  (void)st;
  D = mmap(NULL, sizeof *D, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(D != MAP_FAILED);
  D->seed = opt_seed;
  D->steps_per_seq = opt_steps;
  D->baseline_live = live();
  D->trace_fd = getenv("MOJ_DIFF_TRACE") ? open(getenv("MOJ_DIFF_TRACE"), O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
  fflush(stdout);
  int saved = dup(1);
  int fd = mkstemp(out_file);
  dup2(fd, 1);
  close(fd);
  for (D->seq = 0; D->seq < opt_seq && !D->failed; D->seq++) {
    D->rng = (opt_seed * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)D->seq * 0xD1B54A32D192ED03ull) ^ 0x1234567;
    if (!D->rng) D->rng = 1;
    one_sequence();
  }
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  unlink(out_file);
  if (D->failed) fprintf(stderr, "divergence: %s\n", D->why);
  if (D->failed) fail_msg("%s (rerun: test_diff --seed %llu --sequences %ld)", D->why, opt_seed, D->seq);
  printf("differential: %ld sequences x %ld steps, seed %llu, 0 divergences\n", D->seq, opt_steps, opt_seed);
}

int main(int argc, char **argv) {
  const char *e;
  if ((e = getenv("MOJ_DIFF_SEED"))) opt_seed = strtoull(e, NULL, 0);
  if ((e = getenv("MOJ_DIFF_SEQUENCES"))) opt_seq = strtol(e, NULL, 0);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--seed")) opt_seed = strtoull(argv[i + 1], NULL, 0);
    else if (!strcmp(argv[i], "--sequences")) opt_seq = strtol(argv[i + 1], NULL, 0);
    else if (!strcmp(argv[i], "--steps")) opt_steps = strtol(argv[i + 1], NULL, 0);
    else { fprintf(stderr, "usage: %s [--seed N] [--sequences N] [--steps N]\n", argv[0]); return 2; }
  }
  const struct CMUnitTest tests[] = {cmocka_unit_test(differential)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
