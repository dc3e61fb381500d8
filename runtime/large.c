/* runtime/large.c — large managed objects, copied on write page by page.
 *
 * A managed object of _moj_large_min bytes (4 MiB) or more lives in a shared
 * mapping (`s`) of a range of one memory file (memfd) instead of a mimalloc block.
 * The copy a speculation level makes on its first write is then not a copy:
 * it is a *view*, a MAP_PRIVATE mapping of the same file range, and the
 * kernel copies each 4 KiB page of it on its first write.  So the first
 * 1-byte write to a 1 GB object costs one page fault, and the memory a level
 * adds is the pages it wrote.  Why not the write barrier: the pass translates
 * the root of an address once (hoisted out of loops, once per memory
 * intrinsic or foreign call), so the runtime never learns which bytes a write
 * covers; the kernel does.  Why not mprotect of the object: system calls
 * writing into protected pages fail with EFAULT instead of faulting.
 *
 * The written pages of a view are its anonymous pages, found with the
 * PAGEMAP_SCAN ioctl (Linux 6.7), which skips unpopulated page tables:
 *  - release (the level's copy is dropped: abort, or an obsolete pre-state at
 *    commit): MADV_DONTNEED the written pages; the view reads the file again
 *    and is kept for the next level (no mmap on the next first write);
 *  - write-back (commit into the state that owns `s`): copy the written pages
 *    into `s`, then release — cost follows the bytes changed;
 *  - nested copy (a level writes an object whose current copy is a view):
 *    a clean view plus the written pages of the current one.
 * Invariant that makes views correct: the file range changes only while no
 * view of it is in use (views' unwritten pages read the file).  `s` is written
 * only by the state that owns it, with no newer level holding a copy, and
 * write-back happens only when no view is in use besides the one written
 * back and the pre-state it replaces (dropped with it).
 *
 * Everything else about the object (handles, logs, commit/abort rules) is
 * unchanged: spec.c and alloc.c free a block through _moj_block_free, which
 * sends large ones here (meta bit MOJ_META_LARGE).  A child of fork() would
 * share `s` with its parent, so the child's copies are made private (anonymous)
 * at fork and its objects fall back to whole-object copies.  Without
 * PAGEMAP_SCAN or memfd_create, large objects are ordinary mimalloc blocks. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <mimalloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "linux_uapi.h"

#define PAGE 4096ul
#define MAX_VIEWS (SPEC_MAX_LEVELS + 1)
#define ARENA_SIZE ((off_t)1 << 46) /* sparse; offsets are never reused */
#define HIGH_FD 512                 /* runtime descriptors stay out of the program's way */

typedef struct moj_large {
  char  *s;                  /* shared mapping: the object outside speculation */
  size_t len;                /* page-rounded                                   */
  off_t  off;                /* range of the arena file; -1 after fork (private) */
  int    s_freed;            /* `s` is no entry's base any more                */
  int    nview;
  char  *view[MAX_VIEWS];    /* MAP_PRIVATE views of the range                 */
  uint8_t busy[MAX_VIEWS];   /* ... in use as some entry's base or pre-state   */
} moj_large_t;

typedef struct { uintptr_t key; moj_large_t *obj; } slot_t; /* key: s or a view */
#define TOMB ((uintptr_t)1)

typedef struct {
  int      lock;             /* spinlock: large objects outside speculation may be
                                allocated and freed by several threads   */
  int      state;            /* 0 unknown, 1 usable, -1 unsupported           */
  int      arena, pagemap;   /* descriptors, -1 until needed (and after fork) */
  off_t    next_off;
  slot_t  *hash;
  size_t   hcap, hused;
} moj_lstate_t;

static moj_lstate_t *ls MOJ_RTVAR; /* runtime state: never rolled back */

static void lock(void) { while (__atomic_exchange_n(&ls->lock, 1, __ATOMIC_ACQUIRE)) moj_cpu_relax(); }
static void unlock(void) { __atomic_store_n(&ls->lock, 0, __ATOMIC_RELEASE); }

/* 4 MiB: a page-fault copy of a 4 KiB page costs ~2 us here against ~0.07 us
 * for memcpy, so a view wins only while a level writes under ~3 % of the
 * object's pages; below 4 MiB the whole copy is at most ~80 us anyway
 * (docs/performance.md, issue 10 item 8).  MOJAVE_LARGE_MIN=bytes lowers it
 * so tests can put every object on this path (unit.diff_large).  Read on
 * first use: instrumented constructors (moj-globals, priority 1) allocate
 * before any constructor of the runtime runs. */
size_t _moj_large_min MOJ_RTVAR;

size_t _moj_large_min_init(void) {
  size_t min = (size_t)4 << 20;
  const char *v = getenv("MOJAVE_LARGE_MIN");
  if (v && *v) {
    char *end;
    unsigned long long n = strtoull(v, &end, 0);
    if (!*end && n > 0) min = (size_t)n;
  }
  return _moj_large_min = min;
}

/* --- base address -> object --------------------------------------------- */

static size_t hslot(uintptr_t k, size_t cap) { return (size_t)((k >> 12) * 0x9e3779b97f4a7c15ull) & (cap - 1); }

static void hput(uintptr_t k, moj_large_t *o);
static void hgrow(void) {
  slot_t *old = ls->hash;
  size_t ocap = ls->hcap;
  size_t cap = ocap ? ocap * 2 : 1024;
  slot_t *h = _moj_mmap(cap * sizeof *h);
  if (!h) _moj_fatal("out of memory growing the large-object table");
  ls->hash = h;
  ls->hcap = cap;
  ls->hused = 0;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].key > TOMB) hput(old[i].key, old[i].obj);
  if (old) munmap(old, ocap * sizeof *old);
}

static void hput(uintptr_t k, moj_large_t *o) {
  if ((ls->hused + 1) * 2 > ls->hcap) hgrow();
  size_t i = hslot(k, ls->hcap);
  while (ls->hash[i].key > TOMB) i = (i + 1) & (ls->hcap - 1);
  if (ls->hash[i].key == 0) ls->hused++;
  ls->hash[i].key = k;
  ls->hash[i].obj = o;
}

static slot_t *hfind(uintptr_t k) {
  if (!ls->hcap) return NULL;
  for (size_t i = hslot(k, ls->hcap);; i = (i + 1) & (ls->hcap - 1)) {
    if (ls->hash[i].key == k) return &ls->hash[i];
    if (ls->hash[i].key == 0) return NULL;
  }
}

static void hdel(uintptr_t k) {
  slot_t *s = hfind(k);
  if (s) s->key = TOMB;
}

static moj_large_t *lookup(const void *b, int *view) {
  slot_t *s = hfind((uintptr_t)b);
  if (!s) return NULL;
  moj_large_t *o = s->obj;
  *view = -1;
  for (int i = 0; i < o->nview; i++)
    if (o->view[i] == b) *view = i;
  return o;
}

/* Runtime descriptors are moved to HIGH_FD or above. */
static int high_fd(int fd) {
  if (fd < 0 || fd >= HIGH_FD) return fd;
  int h = fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);
  if (h >= 0) { close(fd); return h; }
  return fd;
}

/* --- written pages of a view --------------------------------------------- */

/* Calls fn(o, view, lo, hi) for every run of pages of `v` that the level
 * wrote (anonymous: present and not the file's page, or swapped out). */
typedef void (*run_fn)(moj_large_t *o, char *v, size_t lo, size_t hi, void *arg);
static void written_runs(moj_large_t *o, char *v, run_fn fn, void *arg) {
  struct page_region r[64];
  struct pm_scan_arg a = {
    .size = sizeof a, .start = (uintptr_t)v, .end = (uintptr_t)v + o->len,
    .vec = (uintptr_t)r, .vec_len = 64,
    .category_inverted = PAGE_IS_FILE, .category_mask = PAGE_IS_FILE,
    .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
    .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
  };
  int reopened = 0;
  for (;;) {
    long n = ioctl(ls->pagemap, PAGEMAP_SCAN, &a);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (!reopened++) { /* the program may have closed our descriptor (closefrom) */
        ls->pagemap = high_fd(open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
        continue;
      }
      _moj_fatal("PAGEMAP_SCAN of a speculation's copy failed (%s)", strerror(errno));
    }
    for (long i = 0; i < n; i++)
      fn(o, v, r[i].start - (uintptr_t)v, r[i].end - (uintptr_t)v, arg);
    if (a.walk_end >= a.end) return;
    a.start = a.walk_end;
  }
}

static void run_copy(moj_large_t *o, char *v, size_t lo, size_t hi, void *dst) {
  (void)o;
  memcpy((char *)dst + lo, v + lo, hi - lo);
}

static void run_drop(moj_large_t *o, char *v, size_t lo, size_t hi, void *arg) {
  (void)o; (void)arg;
  madvise(v + lo, hi - lo, MADV_DONTNEED);
}

static void run_copy_drop(moj_large_t *o, char *v, size_t lo, size_t hi, void *dst) {
  run_copy(o, v, lo, hi, dst);
  run_drop(o, v, lo, hi, NULL);
}

/* Drops every page of view `v`, the file pages its reads mapped too: for a
 * view the object lived in (the program read all of it outside any level),
 * whose mapped pages would make every later scan of it walk them (3 ms for
 * 256 MB).  Not for every release: the zap also frees the view's page-table
 * pages (this kernel reclaims empty ones), which the next level's first
 * write then allocates again (+0.7 us at 1 GB, docs/performance.md). */
static void drop_all(moj_large_t *o, char *v) {
  madvise(v, o->len, MADV_DONTNEED);
}

/* --- set-up -------------------------------------------------------------- */

static void forked_child(void);

/* Probe once: memfd_create, and PAGEMAP_SCAN on this kernel. */
static int usable(void) {
  if (moj_likely(ls && ls->state)) return ls->state > 0;
  if (!ls) {
    moj_lstate_t *s = _moj_mmap(sizeof *s), *none = NULL;
    if (!s) return 0;
    s->arena = s->pagemap = -1;
    if (!__atomic_compare_exchange_n(&ls, &none, s, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      munmap(s, sizeof *s); /* another thread was first */
  }
  lock();
  if (!ls->state) {
    int pm = high_fd(open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
    struct page_region r;
    struct pm_scan_arg a = {.size = sizeof a, .start = (uintptr_t)ls, .end = (uintptr_t)ls + PAGE,
                            .vec = (uintptr_t)&r, .vec_len = 1, .category_anyof_mask = PAGE_IS_PRESENT,
                            .return_mask = PAGE_IS_PRESENT};
    if (pm >= 0 && ioctl(pm, PAGEMAP_SCAN, &a) >= 0) {
      ls->pagemap = pm;
      ls->state = 1;
      pthread_atfork(NULL, NULL, forked_child);
    } else {
      if (pm >= 0) close(pm);
      ls->state = -1;
    }
  }
  unlock();
  return ls->state > 0;
}

static int arena(void) {
  if (ls->arena >= 0) return 0;
  int fd = high_fd(memfd_create("mojave-large", MFD_CLOEXEC));
  if (fd < 0) return -1;
  if (ftruncate(fd, ARENA_SIZE) < 0) { close(fd); return -1; }
  ls->arena = fd;
  ls->next_off = 0;
  return 0;
}

/* --- allocation and release ---------------------------------------------- */

void *_moj_large_alloc(size_t n) {
  if (!usable()) return NULL;
  size_t len = (n + PAGE - 1) & ~(PAGE - 1);
  lock();
  void *r = NULL;
  moj_large_t *o = NULL;
  if (arena() < 0 || ls->next_off + (off_t)len > ARENA_SIZE) goto out;
  o = _moj_mmap(sizeof *o);
  if (!o) goto out;
  char *s = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ls->arena, ls->next_off);
  if (s == MAP_FAILED) { munmap(o, sizeof *o); goto out; }
  o->s = s;
  o->len = len;
  o->off = ls->next_off;
  ls->next_off += (off_t)len;
  hput((uintptr_t)s, o);
  r = s;
out:
  unlock();
  return r;
}

static void destroy(moj_large_t *o) {
  hdel((uintptr_t)o->s);
  munmap(o->s, o->len);
  for (int i = 0; i < o->nview; i++) {
    hdel((uintptr_t)o->view[i]);
    munmap(o->view[i], o->len);
  }
  if (o->off >= 0 && ls->arena >= 0)
    fallocate(ls->arena, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, o->off, (off_t)o->len);
  munmap(o, sizeof *o);
}

static int any_busy(const moj_large_t *o) {
  for (int i = 0; i < o->nview; i++)
    if (o->busy[i]) return 1;
  return 0;
}

static void unmap_view(moj_large_t *o, int v) {
  hdel((uintptr_t)o->view[v]);
  munmap(o->view[v], o->len);
  o->view[v] = o->view[o->nview - 1];
  o->busy[v] = o->busy[o->nview - 1];
  o->nview--;
}

/* A view stops being a copy: its written pages are dropped and it is kept,
 * clean, for the next level that writes the object. */
static void release_view(moj_large_t *o, int v) {
  if (o->off >= 0) {
    written_runs(o, o->view[v], run_drop, NULL);
    o->busy[v] = 0;
  } else { /* private since fork: nothing to share it with */
    unmap_view(o, v);
  }
  if (o->s_freed && !any_busy(o)) destroy(o);
}

void _moj_large_free(void *b) {
  lock();
  int v;
  moj_large_t *o = lookup(b, &v);
  if (!o) _moj_fatal("free of a large block %p the runtime does not know", b);
  if (v >= 0) release_view(o, v);
  else {
    o->s_freed = 1;
    if (!any_busy(o)) destroy(o);
  }
  unlock();
}

void _moj_block_free(void *b, uint8_t meta) {
  if (moj_unlikely(meta & MOJ_META_LARGE)) _moj_large_free(b);
  else mi_free(b);
}

/* --- copy on write -------------------------------------------------------- */

/* A copy of large block `b` (its shared mapping or a view) for a level's
 * first write: a view of the same range, holding b's written pages when b is
 * itself a view.  NULL: not a large block, or no view can be made (the
 * caller copies the whole object). */
void *_moj_large_copy(void *b) {
  if (!ls || ls->state <= 0) return NULL;
  int from;
  moj_large_t *o = lookup(b, &from);
  if (!o || o->off < 0) return NULL;
  int v = 0;
  while (v < o->nview && o->busy[v]) v++;
  if (v == MAX_VIEWS) return NULL;
  if (v == o->nview) {
    char *m = mmap(NULL, o->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, ls->arena, o->off);
    if (m == MAP_FAILED) return NULL;
    o->view[v] = m;
    o->nview++;
    hput((uintptr_t)m, o);
  }
  o->busy[v] = 1;
  if (from >= 0) written_runs(o, o->view[from], run_copy, o->view[v]);
  return o->view[v];
}

/* Commit: view `v` (the committed content) replaces the pre-state `pre`
 * being dropped.  When no other view is in use, v's written pages are copied
 * into `s`, v is released and `s` is the object's content again: returns `s`
 * (the caller points the entry at it and frees nothing).  `pre` is `s`
 * itself, or a view when the object lives in views since an earlier commit
 * could not write back (an outer level committed while an inner one held a
 * copy): then `s` is taken back from the freed state and `pre` released
 * too — else the object would stay in views, and every later level would
 * copy all the pages ever written to it (a loop of 3,000 short levels took
 * 65 s instead of 3).  NULL: nothing done (the caller frees `pre` as any
 * pre-state). */
void *_moj_large_writeback(void *v, void *pre) {
  int vi, pi;
  moj_large_t *o = lookup(v, &vi);
  if (!o || vi < 0 || o->off < 0 || lookup(pre, &pi) != o) return NULL;
  if (pi < 0 ? o->s_freed : !o->s_freed) return NULL; /* pre is s, live; or a view, s free */
  for (int i = 0; i < o->nview; i++)
    if (i != vi && i != pi && o->busy[i]) return NULL;
  written_runs(o, v, run_copy_drop, o->s); /* one scan: copy each run, then drop it */
  o->busy[vi] = 0;
  o->s_freed = 0;
  if (pi >= 0) {
    drop_all(o, pre);
    o->busy[pi] = 0;
  }
  return o->s;
}

/* The memory file and the pagemap descriptor are the runtime's: they do not
 * migrate (migrate_state.c). */
int _moj_large_owns_fd(int fd) {
  return ls && fd >= 0 && (fd == ls->arena || fd == ls->pagemap);
}

/* --- fork ------------------------------------------------------------------ */

static void privatize(char *m, size_t len) {
  char *t = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (t == MAP_FAILED) _moj_fatal("fork: cannot copy a large object into the child");
  memcpy(t, m, len);
  if (mremap(t, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, m) == MAP_FAILED)
    _moj_fatal("fork: cannot move a large object's copy into place (%s)", strerror(errno));
}

/* In the child: the shared mappings and the arena are the parent's.  Each
 * object's mappings in use become private copies (the child pays for its
 * fork), unused views go, and a new arena is made when needed. */
static void forked_child(void) {
  if (!ls) return;
  ls->lock = 0;
  if (ls->pagemap >= 0) close(ls->pagemap);
  ls->pagemap = high_fd(open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  if (ls->pagemap < 0) ls->state = -1;
  if (ls->arena >= 0) close(ls->arena);
  ls->arena = -1;
  for (size_t i = 0; i < ls->hcap; i++) {
    moj_large_t *o = ls->hash[i].obj;
    if (ls->hash[i].key <= TOMB || o->off < 0) continue;
    o->off = -1;
    if (!o->s_freed) privatize(o->s, o->len);
    for (int v = o->nview; v-- > 0;) {
      if (o->busy[v]) privatize(o->view[v], o->len);
      else unmap_view(o, v);
    }
  }
}
