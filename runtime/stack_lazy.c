/* runtime/stack_lazy.c — the main stack's older frames, saved lazily: entry
 * copies only the frames near its caller and leaves the rest to the kernel's
 * write tracking, so entry cost no longer grows with the live stack depth.
 *
 * Why not write-protect with mprotect and save a page at its fault: a system
 * call writing into a protected caller frame (read() into a buffer of main)
 * fails with EFAULT instead of faulting, and the kernel cannot push a signal
 * frame onto a protected page.  Userfaultfd's asynchronous write-protect mode
 * (UFFD_FEATURE_WP_ASYNC, Linux 6.7) has neither problem: the kernel resolves
 * every write fault itself, for user and kernel writes alike, and only
 * records that the page was written; PAGEMAP_SCAN lists (and re-protects)
 * the pages written since.  It cannot hand out the page's old content, so the
 * runtime keeps a *shadow* S of the main stack, brought up to date at each
 * entry for the pages written since the previous one:
 *
 *  - entry of a level with more than MOJ_STACK_EAGER bytes of live stack:
 *    copy [sp, split) as before (split = sp + MOJ_STACK_MARGIN, page
 *    aligned), then one PAGEMAP_SCAN over [split, top) that re-protects the
 *    written pages; each is copied into S, and its old S content goes to the
 *    innermost active level's *overlay* (unless it has that page already);
 *  - invariant: for an active level k and a page P of its lazy range
 *    [split_k, top), P's content at k's entry is the first of
 *    overlay_k[P], overlay_k+1[P], ..., overlay_depth[P], S[P]; and S[P] is
 *    P's live content unless P was written since it was last protected;
 *  - abort to k: pages written since their last protection are copied back
 *    from S, then the overlays depth..k (k last, so it wins); commit of k or
 *    abort to k: the overlays of the levels that end move to level k-1,
 *    keeping k-1's own page where it has one (dropped when k is outermost).
 *
 * So entry costs the margin's copy, one system call that walks the stack's
 * page table (~0.15 us per MB), and a copy of the pages written above the
 * margin since the previous entry.  A level pays one minor fault (~1 us) for
 * the first write to each protected page.  Only the main thread's stack is
 * tracked (levels on a sigaltstack, a makecontext stack or a thread's stack
 * copy their live range at entry, as before).  In a child of fork() the
 * tracking is gone (the kernel drops userfaultfd registrations): every page
 * of an inherited level's lazy range counts as written, and new levels copy
 * their stack at entry.  Without userfaultfd, WP_ASYNC or PAGEMAP_SCAN, every
 * level copies its stack at entry. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "linux_uapi.h"

#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

extern void *__libc_stack_end;

#define PAGE 4096ul
#define HIGH_FD 512
#define POOL_CHUNK 64                       /* overlay pages mapped at a time */

typedef struct moj_stk {
  int       state;     /* 0 unknown, 1 tracking, -1 off (unsupported, or forked) */
  int       uffd, pagemap;
  uintptr_t base;      /* lowest address the main stack can reach (page)   */
  uintptr_t vtop;      /* end of the registered [stack] mapping            */
  uintptr_t svl;       /* S holds valid content for [svl, vtop); vtop: none */
  char     *shadow;    /* S: shadow[P - base] is page P                    */
  char    **pool;      /* free overlay pages                               */
  size_t    npool, pool_cap, made;
  size_t    bits_bytes;/* size of one level's overlay bitmap               */
  size_t    entries_lazy, bytes_copied; /* statistics (tests, benchmark)   */
} moj_stk_t;

static moj_stk_t *stk MOJ_RTVAR;  /* runtime state: never rolled back */

size_t _moj_stack_lazy_stats(size_t *bytes) {
  if (bytes) *bytes = stk ? stk->bytes_copied : 0;
  return stk ? stk->entries_lazy : 0;
}

static void forked_child(void) {
  /* The child's mappings lost the registration (no UFFD_FEATURE_EVENT_FORK):
   * nothing records its writes any more. */
  if (stk && stk->state > 0) stk->state = -1;
}

static int hi_fd(int fd) {
  if (fd < 0 || fd >= HIGH_FD) return fd;
  int h = fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);
  if (h >= 0) { close(fd); return h; }
  return fd;
}

/* Bounds of the [stack] mapping that holds `sp`. */
static int stack_vma(uintptr_t sp, uintptr_t *lo, uintptr_t *hi) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[4096], line[512];
  size_t ln = 0;
  int found = -1;
  ssize_t n;
  while (found < 0 && (n = read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n && found < 0; i++) {
      if (buf[i] != '\n') { if (ln < sizeof line - 1) line[ln++] = buf[i]; continue; }
      line[ln] = 0;
      ln = 0;
      unsigned long a, b;
      if (sscanf(line, "%lx-%lx", &a, &b) == 2 && sp >= a && sp < b) {
        *lo = a;
        *hi = b;
        found = 0;
      }
    }
  }
  close(fd);
  return found;
}

/* First use: a write-protect-async userfaultfd over the main stack's mapping. */
static int setup(uintptr_t sp, uintptr_t top, uintptr_t span) {
  moj_stk_t *s = _moj_mmap(sizeof *s);
  if (!s) return -1;
  s->state = -1;
  s->uffd = s->pagemap = -1;
  stk = s;
  if (getenv("MOJAVE_STACK_EAGER")) return -1;    /* benchmarks: the old behaviour */
  uintptr_t vlo, vhi;
  if (stack_vma(sp, &vlo, &vhi) < 0 || vhi < top) return -1;
  /* USER_MODE_ONLY: allowed without privileges; the asynchronous mode never
   * hands a fault to user space, so kernel writes are tracked all the same. */
  int u = hi_fd((int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
  if (u < 0) return -1;
  struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC};
  struct uffdio_register reg = {.range = {.start = vlo, .len = vhi - vlo}, .mode = UFFDIO_REGISTER_MODE_WP};
  int pm = -1;
  if (ioctl(u, UFFDIO_API, &api) < 0 || ioctl(u, UFFDIO_REGISTER, &reg) < 0 ||
      (pm = hi_fd(open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC))) < 0)
    goto fail;
  s->base = (top - span) & ~(PAGE - 1);
  s->vtop = s->svl = vhi;
  s->shadow = mmap(NULL, vhi - s->base, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  s->bits_bytes = ((vhi - s->base) / PAGE + 7) / 8;
  if (s->shadow == MAP_FAILED) goto fail;
  s->uffd = u;
  s->pagemap = pm;
  s->state = 1;
  pthread_atfork(NULL, NULL, forked_child);
  return 0;
fail:
  if (pm >= 0) close(pm);
  close(u);
  return -1;
}

/* Grows an mmap'd array to hold `need` elements (contents kept). */
static void grow(void **v, size_t *cap, size_t n, size_t need, size_t elem) {
  if (*cap >= need) return;
  size_t c = *cap ? *cap * 2 : 64;
  while (c < need) c *= 2;
  char *b = _moj_mmap(c * elem);
  if (!b) _moj_fatal("out of memory saving the stack of a speculation");
  if (*v) {
    memcpy(b, *v, n * elem);
    munmap(*v, *cap * elem);
  }
  *v = b;
  *cap = c;
}

static char *page_get(void) {
  moj_stk_t *s = stk;
  if (!s->npool) {
    char *c = _moj_mmap(POOL_CHUNK * PAGE);
    if (!c) _moj_fatal("out of memory saving the stack of a speculation");
    s->made += POOL_CHUNK;           /* the free list can hold every page made */
    grow((void **)&s->pool, &s->pool_cap, s->npool, s->made, sizeof *s->pool);
    for (int i = 0; i < POOL_CHUNK; i++) s->pool[s->npool++] = c + (size_t)i * PAGE;
  }
  return s->pool[--s->npool];
}
static void page_put(char *p) { stk->pool[stk->npool++] = p; }

static size_t bit_of(uintptr_t p) { return (p - stk->base) / PAGE; }
static int has_page(const moj_level_t *l, uintptr_t p) {
  return l->ovl_bits && (l->ovl_bits[bit_of(p) / 8] >> (bit_of(p) % 8) & 1);
}

/* Level l's overlay gets page p with content `pg` (ownership moves). */
static void ovl_add(moj_level_t *l, uintptr_t p, char *pg) {
  if (!l->ovl_bits) {
    l->ovl_bits = mmap(NULL, stk->bits_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (l->ovl_bits == MAP_FAILED) _moj_fatal("out of memory saving the stack of a speculation");
  }
  grow((void **)&l->ovl, &l->ovl_cap, l->novl, l->novl + 1, sizeof *l->ovl);
  l->ovl[l->novl].addr = p;
  l->ovl[l->novl].page = pg;
  l->novl++;
  l->ovl_bits[bit_of(p) / 8] |= (uint8_t)(1u << (bit_of(p) % 8));
}

/* Runs of pages in [lo, hi) written since they were last protected
 * (re-protected when `wp`).  -1 when the kernel refuses (tracking lost). */
typedef void (*run_fn)(uintptr_t lo, uintptr_t hi, void *arg);
static int written(uintptr_t lo, uintptr_t hi, int wp, run_fn fn, void *arg) {
  struct page_region r[32];
  struct pm_scan_arg a = {
    .size = sizeof a, .flags = PM_SCAN_CHECK_WPASYNC | (wp ? PM_SCAN_WP_MATCHING : 0),
    .start = lo, .end = hi, .vec = (uintptr_t)r, .vec_len = 32,
    .category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
  };
  for (;;) {
    long n = ioctl(stk->pagemap, PAGEMAP_SCAN, &a);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    for (long i = 0; i < n; i++) fn(r[i].start, r[i].end, arg);
    if (a.walk_end >= a.end) return 0;
    a.start = a.walk_end;
  }
}

typedef struct { moj_level_t *inner; uintptr_t old_svl, top; } sync_t;

/* Entry: page runs written since their last protection go into S; their
 * previous S content is the innermost level's, unless it kept one already. */
static void sync_run(uintptr_t lo, uintptr_t hi, void *arg) {
  sync_t *y = arg;
  for (uintptr_t p = lo; p < hi; p += PAGE) {
    char *sp = stk->shadow + (p - stk->base);
    if (y->inner && p >= y->old_svl && !has_page(y->inner, p)) {
      char *pg = page_get();
      memcpy(pg, sp, PAGE);
      ovl_add(y->inner, p, pg);
    }
  }
  /* the last page is partly above `top` (the environment): not the level's */
  uintptr_t end = hi < y->top ? hi : y->top;
  if (end > lo) _moj_copy_raw(stk->shadow + (lo - stk->base), (void *)lo, end - lo);
  stk->bytes_copied += end > lo ? end - lo : 0;
}

uintptr_t _moj_stack_lazy_enter(moj_level_t *inner, uintptr_t sp, uintptr_t top) {
  if (top - sp <= MOJ_STACK_EAGER || top != (uintptr_t)__libc_stack_end) return top;
  if (moj_unlikely(!stk)) setup(sp, top, _moj_main_stack_span());
  if (stk->state <= 0) return top;
  uintptr_t split = (sp + MOJ_STACK_MARGIN + PAGE - 1) & ~(PAGE - 1);
  if (split < stk->base || split >= top) return top;
  sync_t y = {inner, stk->svl, top};
  if (written(split, (top + PAGE - 1) & ~(PAGE - 1), 1, sync_run, &y) < 0) {
    stk->state = -1;            /* e.g. the program remapped part of its stack */
    return top;
  }
  if (split < stk->svl) stk->svl = split;
  stk->entries_lazy++;
  return split;
}

/* The overlays of levels k..d (ending) go to level k-1 — its own pages win,
 * then the lower levels' — or back to the pool when k is outermost. */
void _moj_stack_lazy_fold(int k, int d) {
  if (!stk) return;
  moj_level_t *to = k > 1 ? &_moj_rt->levels[k - 1] : NULL;
  for (int j = k; j <= d; j++) {
    moj_level_t *l = &_moj_rt->levels[j];
    for (size_t i = 0; i < l->novl; i++) {
      uintptr_t p = l->ovl[i].addr;
      if (to && !has_page(to, p)) ovl_add(to, p, l->ovl[i].page);
      else page_put(l->ovl[i].page);
      l->ovl_bits[bit_of(p) / 8] = 0;
    }
    l->novl = 0;
  }
}

typedef struct { uintptr_t lo, top; } span_t;
static void restore_page(uintptr_t p, const char *from, const span_t *r) {
  if (p < r->lo || p >= r->top) return;
  size_t n = r->top - p < PAGE ? r->top - p : PAGE;
  _moj_copy_raw((void *)p, from, n);
}
static void restore_run(uintptr_t lo, uintptr_t hi, void *arg) {
  for (uintptr_t p = lo; p < hi; p += PAGE) restore_page(p, stk->shadow + (p - stk->base), arg);
}

/* Abort to level k of levels k..d: its lazy range [stack_hi, stack_top) gets
 * its entry content back; then the overlays are folded.  Runs on the
 * runtime's private stack. */
void _moj_stack_lazy_restore(int k, int d) {
  moj_level_t *l = &_moj_rt->levels[k];
  if (l->stack_hi < l->stack_top) {
    span_t r = {l->stack_hi, l->stack_top};
    if (stk->state <= 0 || written(r.lo, r.top, 0, restore_run, &r) < 0)
      restore_run(r.lo, r.top, &r);       /* no tracking (forked): all of it */
    for (int j = d; j >= k; j--) {
      const moj_level_t *o = &_moj_rt->levels[j];
      for (size_t i = 0; i < o->novl; i++) restore_page(o->ovl[i].addr, o->ovl[i].page, &r);
    }
  }
  _moj_stack_lazy_fold(k, d);
}
