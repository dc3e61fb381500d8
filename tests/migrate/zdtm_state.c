/* zdtm_state.c — zdtm-style migration test: builds state of every kind an
 * image carries (heap list, tree and hash table; pointers to globals,
 * functions and string literals stored in the heap; deep recursion with live
 * locals and address-taken locals; static locals; floating point; a file
 * half read and a file half written through raw descriptors and through
 * stdio streams (FILE * in a global and a local); output in flight),
 * migrates at the bottom of the recursion, then checks all of it and
 * prints PASS or FAIL.  Two frames that called setjmp (a jmp_buf in the
 * frame, a sigjmp_buf on the heap) are on the stack while it moves; after
 * the last hop a longjmp to each must arrive with its value and locals.
 *
 *   zdtm_state TARGET DIR   moj_migrate(TARGET) explicitly ("file:PATH", a
 *                           cluster host, or a chain "h2,h3,h1" of hops;
 *                           a hop "ir:h2" or "binary:h2" asks for that mode,
 *                           a bare host for the default);
 *                           "stay:REASON" expects a refusal
 *   zdtm_state - DIR        wait at migration points for a request
 *                           (mojave-run --migrate HOST)
 * DIR holds the test's files (shared by all hosts). */
#define _GNU_SOURCE /* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <mojave.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEPTH 200
static int failures;
#define CHECK(c, ...) do { if (!(c)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
                                        printf(__VA_ARGS__); printf("\n"); } } while (0)

struct node { long v; struct node *next; const char *label; int (*fn)(int); long *gp; };
struct tree { int key; struct tree *l, *r; };
struct entry { char *key; int val; struct entry *next; };

static long gcounter = 41;
static double gscale = 1.5;
char gbuf[64] = "global buffer";
static struct entry *table[64];
static struct node *list;
static struct tree *root;
/* plain char's signedness is the compiler's (signed on x86-64, unsigned on
 * aarch64): code moved in IR mode keeps its source's, whatever the host */
static char gch = (char)0xe9;
static int gch_negative;
/* open(2) flags: aarch64 numbers O_DIRECTORY, O_NOFOLLOW, O_DIRECT and
 * O_LARGEFILE otherwise than x86-64; moved code and images keep meaning */
static char dpath[512];
/* setjmp/longjmp: the C library's jmp_buf is 200 bytes on x86-64, 312 on
 * aarch64; what follows it in memory must survive a setjmp after a move */
static struct { jmp_buf b; long canary[16]; } jb = {.canary = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}};
static int __attribute__((noinline)) jump_back(int v) {
  if (setjmp(jb.b)) return v + 1;
  longjmp(jb.b, 1);
}
static int dirfd_g = -1, dir_flags; /* a directory held open across the moves */
static const char *target;
static int rfd = -1, wfd = -1;
static char rpath[512], wpath[512], spath[512];
static FILE *sin, *sout; /* stdio streams: re-created at the destination */
static int migrated, refused, quiet_id;

/* While state is being built the program speculates, and a process inside a
 * speculation refuses to migrate (EBUSY) and keeps the request: a request
 * made at start (mojave-run --migrate) is carried out at the first migration
 * point after the commit, at the bottom of the recursion.  (spec_enter
 * returns twice, so it lives in a function of its own.) */
static int __attribute__((noinline)) begin_quiet(void) { return spec_enter(); }

static int twice(int x) { return 2 * x; }
static int thrice(int x) { return 3 * x; }
static unsigned hash(const char *s) { unsigned h = 5381; while (*s) h = h * 33 + (unsigned char)*s++; return h; }

static struct tree *insert(struct tree *t, int k) {
  if (!t) { t = calloc(1, sizeof *t); t->key = k; return t; }
  if (k < t->key) t->l = insert(t->l, k); else t->r = insert(t->r, k);
  return t;
}
static int inorder(struct tree *t, int prev, int *count) {
  if (!t) return prev;
  prev = inorder(t->l, prev, count);
  if (t->key < prev) return 1 << 30;
  (*count)++;
  return inorder(t->r, t->key, count);
}

static void build(void) {
  gch_negative = gch < 0;
  for (long i = 0; i < 1000; i++) {
    struct node *n = malloc(sizeof *n);
    n->v = i * i;
    n->next = list;
    n->label = (i & 1) ? "odd" : "even";
    n->fn = (i & 1) ? thrice : twice;
    n->gp = &gcounter;
    list = n;
  }
  unsigned seed = 7;
  for (int i = 0; i < 500; i++) { seed = seed * 1103515245 + 12345; root = insert(root, (int)(seed >> 8) % 100000); }
  for (int i = 0; i < 300; i++) {
    char k[32];
    snprintf(k, sizeof k, "key-%d", i);
    struct entry *e = malloc(sizeof *e);
    e->key = strdup(k);
    e->val = i * 7;
    unsigned b = hash(k) % 64;
    e->next = table[b];
    table[b] = e;
  }
}

static void check_heap(void) {
  long i = 999, n = 0;
  for (struct node *p = list; p; p = p->next, i--, n++) {
    CHECK(p->v == i * i, "node %ld value %ld", i, p->v);
    CHECK(!strcmp(p->label, (i & 1) ? "odd" : "even"), "node %ld label", i);
    CHECK(p->fn(5) == ((i & 1) ? 15 : 10), "node %ld function pointer", i);
    CHECK(p->gp == &gcounter && *p->gp == 42, "node %ld pointer to global", i);
    if (failures > 10) return;
  }
  CHECK(n == 1000, "list has %ld nodes", n);
  int count = 0;
  CHECK(inorder(root, -1, &count) < (1 << 30) && count == 500, "tree order (%d nodes)", count);
  for (int i = 0; i < 300; i++) {
    char k[32];
    snprintf(k, sizeof k, "key-%d", i);
    struct entry *e = table[hash(k) % 64];
    while (e && strcmp(e->key, k)) e = e->next;
    CHECK(e && e->val == i * 7, "hash entry %s", k);
  }
  CHECK(!strcmp(gbuf, "global buffer, changed"), "global buffer '%s'", gbuf);
}

static void check_jmp_buf(void) {
  CHECK(jump_back(41) == 42, "setjmp/longjmp");
  int intact = 1;
  for (int i = 0; i < 16; i++) intact &= jb.canary[i] == 7;
  CHECK(intact, "setjmp wrote past the jmp_buf");
}

static void check_open_flags(void) {
  /* (O_LARGEFILE is left out: the kernel sets it, and qemu-user hides it) */
  const int kept = O_ACCMODE | O_DIRECTORY | O_NOFOLLOW | O_DIRECT | O_APPEND | O_NONBLOCK;
  int fl = fcntl(dirfd_g, F_GETFL);
  CHECK((fl & kept) == (dir_flags & kept) && (fl & O_DIRECTORY), "open flags of a restored directory: %#x, were %#x",
        (unsigned)fl, (unsigned)dir_flags);
  CHECK((fcntl(rfd, F_GETFL) & kept) == O_RDONLY && (fcntl(wfd, F_GETFL) & kept) == O_WRONLY,
        "open flags of restored files");
  int d = open(dpath, O_RDONLY | O_DIRECTORY);
  CHECK(d >= 0, "O_DIRECTORY on a directory: %s", strerror(errno));
  if (d >= 0) close(d);
  d = open(rpath, O_RDONLY | O_DIRECTORY);
  CHECK(d < 0 && errno == ENOTDIR, "O_DIRECTORY on a file: %d (%s)", d, strerror(errno));
  if (d >= 0) close(d);
}

static void migrate_here(void) {
  gcounter++;
  strcat(gbuf, ", changed");
  char half[32];
  CHECK(read(rfd, half, 16) == 16 && !memcmp(half, "0123456789abcdef", 16), "first half read");
  CHECK(write(wfd, "written-before;", 15) == 15, "first write");
  char sbuf[8] = {0};
  CHECK(fread(sbuf, 1, 4, sin) == 4 && !memcmp(sbuf, "0123", 4), "stream: first read");
  CHECK(fputs("stream-before;", sout) >= 0, "stream: first write"); /* stays in the buffer */
  FILE *local_in = sin;
  printf("in flight: before migration (pid %d)\n", (int)getpid());
  pid_t pid0 = getpid();
  if (quiet_id > 0) CHECK(spec_commit(quiet_id) == 0, "commit of the set-up speculation");
  if (!strcmp(target, "-")) {
    volatile unsigned long spin = 0;
    /* until the request arrives and is carried out (pid changes) or fails */
    for (unsigned long i = 0; i < (1ul << 36) && getpid() == pid0 && !moj_migrate_error()[0]; i++)
      for (int j = 0; j < (1 << 20); j++) spin += (unsigned long)j;
    migrated = getpid() != pid0;
    if (!migrated) printf("migration failed: %s\n", moj_migrate_error());
  } else if (!strncmp(target, "stay:", 5)) {
    int r = moj_migrate(target, 0);
    refused = r == -1;
    CHECK(r == -1, "moj_migrate to %s returned %d", target, r);
  } else { /* "h2" or a chain "h2,h3,h1": one hop after the other */
    char hops[256];
    snprintf(hops, sizeof hops, "%s", target);
    for (char *save, *h = strtok_r(hops, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
      int flags = 0;
      if (!strncmp(h, "ir:", 3)) flags = MOJ_MIGRATE_IR, h += 3;
      else if (!strncmp(h, "binary:", 7)) flags = MOJ_MIGRATE_BINARY, h += 7;
      int r = moj_migrate(h, flags);
      CHECK(r == MOJ_MIGRATE_ARRIVED, "moj_migrate(%s) returned %d (errno %d: %s)", h, r, errno, moj_migrate_error());
      migrated += r == MOJ_MIGRATE_ARRIVED;
      printf("hop to %s: %s\n", h, r == MOJ_MIGRATE_ARRIVED ? "arrived" : "failed");
      /* the heap, globals and char semantics after each hop, not only the last */
      int before = failures;
      check_heap();
      check_open_flags();
      check_jmp_buf();
      CHECK((gch < 0) == gch_negative && (unsigned char)gch == 0xe9, "plain char's signedness changed");
      printf("state at %s: %s\n", h, failures == before ? "ok" : "wrong");
    }
  }
  CHECK(read(rfd, half, 16) == 16 && !memcmp(half, "ghijklmnopqrstuv", 16), "second half read after migration");
  CHECK(write(wfd, "written-after;", 14) == 14, "second write");
  CHECK(local_in == sin, "stream pointer in a local and in a global agree");
  CHECK(fread(sbuf, 1, 4, local_in) == 4 && !memcmp(sbuf, "4567", 4), "stream: read after migration got '%.4s'", sbuf);
  CHECK(fputs("stream-after;", sout) >= 0, "stream: write after migration");
}

static long descend(int d, long acc, int *parent_local) {
  long mine[8];
  int here = d * 3;
  static int calls;
  calls++;
  for (int i = 0; i < 8; i++) mine[i] = d * i + acc;
  double f = d * 0.25 + gscale;
#ifdef ZDTM_LONG_DOUBLE
  /* x86-64's 80-bit long double live across the move: at -O2 a frame slot
   * of its own (stored in 16 bytes; before 11-30 the image refused its
   * size 10).  Same-ISA builds only: cross-ISA moves refuse long double. */
  long double lf = d * 0.125L + gscale;
#endif
  long r;
  if (d == 0) {
    migrate_here();
    r = 1;
  } else {
    r = descend(d - 1, acc + mine[3], &here);
  }
  for (int i = 0; i < 8; i++) CHECK(mine[i] == d * i + acc, "depth %d local %d", d, i);
  CHECK(f == d * 0.25 + 1.5, "depth %d double %g", d, f);
#ifdef ZDTM_LONG_DOUBLE
  CHECK(lf == d * 0.125L + 1.5L, "depth %d long double %Lg", d, lf);
#endif
  CHECK(*parent_local == (d + 1) * 3, "depth %d parent's local %d", d, *parent_local);
  CHECK(calls == DEPTH + 1, "static local %d", calls);
  return r + (here == d * 3);
}

/* setjmp frames under the recursion while the program moves: the frame is
 * captured and its rewind calls setjmp again on the same buffer, so a
 * longjmp after the move lands in the rebuilt frame (docs/migration.md) */
static long guard_r;
static void __attribute__((noinline)) throw_to(jmp_buf b, int v) { longjmp(b, v); }
static long __attribute__((noinline)) guarded_local(int *top) {
  jmp_buf here; /* a stack object of this frame */
  long keep = *top * 7L;
  volatile int stage = 0;
  int v = setjmp(here);
  if (v) {
    CHECK(v == 77 && stage == 2 && keep == (DEPTH + 1) * 21L,
          "longjmp to a stack jmp_buf after the move: %d (stage %d, local %ld)", v, (int)stage, keep);
    return guard_r + 1;
  }
  stage = 1;
  guard_r = descend(DEPTH, 0, top);
  stage = 2;
  throw_to(here, 77);
  return -1;
}
static long __attribute__((noinline)) guarded_heap(int *top) {
  sigjmp_buf *b = malloc(sizeof *b);
  long keep = *top + 1000L;
  volatile long r = 0;
  int v = sigsetjmp(*b, 1);
  if (v) {
    CHECK(v == 88 && keep == (DEPTH + 1) * 3 + 1000L && r == DEPTH + 3,
          "siglongjmp to a heap sigjmp_buf after the move: %d (local %ld, result %ld)", v, keep, (long)r);
    free(b);
    return r - 1;
  }
  r = guarded_local(top);
  siglongjmp(*b, 88);
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: zdtm_state TARGET|- DIR\n"); return 2; }
  target = argv[1];
  snprintf(rpath, sizeof rpath, "%s/input", argv[2]);
  snprintf(dpath, sizeof dpath, "%s", argv[2]);
  snprintf(wpath, sizeof wpath, "%s/output", argv[2]);
  snprintf(spath, sizeof spath, "%s/stream-output", argv[2]);
  FILE *f = fopen(rpath, "w");
  if (!f) { perror("FAIL input"); return 1; }
  fputs("0123456789abcdefghijklmnopqrstuv", f);
  fclose(f);
  rfd = open(rpath, O_RDONLY);
  wfd = open(wpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  sin = fopen(rpath, "r");
  sout = fopen(spath, "w");
  if (rfd < 0 || wfd < 0 || !sin || !sout) { perror("FAIL open"); return 1; }
  dirfd_g = open(dpath, O_RDONLY | O_DIRECTORY);
  dir_flags = fcntl(dirfd_g, F_GETFL);
  if (!strcmp(target, "-")) quiet_id = begin_quiet();
  build();
  int top = (DEPTH + 1) * 3;
  long r = guarded_heap(&top); /* descend(DEPTH, 0, &top) under two setjmp frames */
  CHECK(r == DEPTH + 2, "recursion result %ld", r);
  check_heap();
  check_open_flags();
  check_jmp_buf();
  close(wfd);
  char buf[64] = {0};
  int fd = open(wpath, O_RDONLY);
  CHECK(fd >= 0 && read(fd, buf, sizeof buf - 1) == 29 && !strcmp(buf, "written-before;written-after;"),
        "written file '%s'", buf);
  if (fd >= 0) close(fd);
  CHECK(fclose(sout) == 0 && fclose(sin) == 0, "stream close");
  memset(buf, 0, sizeof buf);
  fd = open(spath, O_RDONLY);
  CHECK(fd >= 0 && read(fd, buf, sizeof buf - 1) == 27 && !strcmp(buf, "stream-before;stream-after;"),
        "stream-written file '%s'", buf);
  if (fd >= 0) close(fd);
  printf("after: %s\n", migrated ? "migrated" : refused ? "stayed (refused)" : "stayed");
  if (migrated > 1) printf("hops: %d\n", migrated);
  printf("%s zdtm_state\n", failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}
