/* tests/e2e/libc_interop.c — managed memory handed to libc (uninstrumented):
 * string and memory functions, varargs (printf %s, sscanf targets), qsort
 * with an instrumented comparator, libc function pointers called
 * indirectly, interior pointers returned by libc (strchr) written inside a
 * speculation, strdup copies (managed), and raw libc memory (asprintf) freed
 * through the runtime. */
#define _GNU_SOURCE /* asprintf */
#include <mojave.h>
#include <stdint.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "check.h"

static int cmp_int(const void *x, const void *y) {
  int a = *(const int *)x, b = *(const int *)y;
  return (a > b) - (a < b);
}

/* A logging-style wrapper: the va_list holding handles goes to libc. */
static int format_into(char *dst, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(dst, n, fmt, ap);
  va_end(ap);
  return r;
}
static int scan_from(const char *src, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsscanf(src, fmt, ap);
  va_end(ap);
  return r;
}

/* pthread_create's argument is opaque to libc: the thread gets the handle. */
static void *seen_arg;
static void *thread_main(void *arg) {
  seen_arg = arg;
  ((int *)arg)[1] = 77;
  return NULL;
}

struct entry { const char *name; int (*cmp)(const char *, const char *); };

int main(void) {
  char *s = malloc(64);
  strcpy(s, "hello");
  strcat(s, ", world");
  CHECK(strlen(s) == 12, "strlen %zu", strlen(s));
  CHECK(memcmp(s, "hello", 5) == 0, "memcmp");

  char out[64];
  snprintf(out, sizeof out, "%s|%d|%.1f", s, 42, 2.5);
  CHECK(strcmp(out, "hello, world|42|2.5") == 0, "snprintf '%s'", out);

  int *nums = malloc(3 * sizeof *nums);
  CHECK(sscanf("7 8 9", "%d %d %d", &nums[0], &nums[1], nums + 2) == 3, "sscanf");
  CHECK(nums[0] + nums[1] + nums[2] == 24, "sscanf targets %d %d %d", nums[0], nums[1], nums[2]);

  char *heapbuf = malloc(64);
  sprintf(heapbuf, "<%s>", s);
  CHECK(strcmp(heapbuf, "<hello, world>") == 0, "sprintf into heap '%s'", heapbuf);

  enum { N = 100 };
  int *v = malloc(N * sizeof *v);
  for (int i = 0; i < N; i++) v[i] = (i * 37) % N;
  qsort(v, N, sizeof *v, cmp_int);
  int sorted = 1;
  for (int i = 0; i < N; i++) sorted &= v[i] == i;
  CHECK(sorted, "qsort on managed array");
  int key = 73;
  int *found = bsearch(&key, v, N, sizeof *v, cmp_int);
  CHECK(found && *found == 73, "bsearch");

  /* A libc function reached through a function pointer stored in a table. */
  struct entry *tab = malloc(sizeof *tab);
  tab->name = "hello, world";
  tab->cmp = strcmp;
  CHECK(tab->cmp(s, tab->name) == 0, "strcmp through a function pointer");

  /* Interior pointer from libc, written inside a speculation: rolled back. */
  int id = spec_enter();
  if (id > 0) {
    char *w = strchr(s, 'w');
    CHECK((intptr_t)w < 0, "strchr result should be a handle again: %p", (void *)w);
    *w = 'W';
    memset(s, 'x', 3);
    CHECK(s[7] == 'W' && s[0] == 'x', "writes visible inside: '%s'", s);
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(strcmp(s, "hello, world") == 0, "after abort '%s'", s);

  /* va_list forwarding: %s and %n through vsnprintf, targets of vsscanf;
   * more arguments than registers so some come from the overflow area. */
  char *word = malloc(8), *line = malloc(128);
  int *count = malloc(sizeof *count);
  double *dd = malloc(sizeof *dd);
  strcpy(word, "mojave");
  int r = format_into(line, 128, "%s-%d-%.1f-%s%n|%d %d %d %d %s", word, 7, 1.5, word, count,
                      1, 2, 3, 4, word);
  CHECK(r > 0 && strcmp(line, "mojave-7-1.5-mojave|1 2 3 4 mojave") == 0, "vsnprintf '%s'", line);
  CHECK(*count == 19, "%%n through va_list: %d", *count);
  int *xs = malloc(2 * sizeof *xs);
  CHECK(scan_from("12 34 5.5 word", "%d %d %lf %7s", &xs[0], &xs[1], dd, word) == 4, "vsscanf");
  CHECK(xs[0] == 12 && xs[1] == 34 && *dd == 5.5 && strcmp(word, "word") == 0, "vsscanf targets");
  free(word); free(line); free(count); free(dd); free(xs);

  int *targ = calloc(2, sizeof *targ);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, thread_main, targ) == 0, "pthread_create");
  pthread_join(th, NULL);
  CHECK(seen_arg == (void *)targ && targ[1] == 77, "thread argument %p vs %p", seen_arg, (void *)targ);
  free(targ);

  /* writev/readv: iovec arrays in managed memory pointing to managed buffers. */
  int fds[2];
  CHECK(pipe(fds) == 0, "pipe");
  struct iovec *iov = malloc(2 * sizeof *iov);
  char *p1 = malloc(8), *p2 = malloc(8);
  strcpy(p1, "abc"); strcpy(p2, "defg");
  iov[0].iov_base = p1; iov[0].iov_len = 3;
  iov[1].iov_base = p2; iov[1].iov_len = 4;
  CHECK(writev(fds[1], iov, 2) == 7, "writev");
  memset(p1, 0, 8); memset(p2, 0, 8);
  iov[0].iov_len = 4; iov[1].iov_len = 3;
  CHECK(readv(fds[0], iov, 2) == 7, "readv");
  CHECK(memcmp(p1, "abcd", 4) == 0 && memcmp(p2, "efg", 3) == 0, "readv data '%.4s' '%.3s'", p1, p2);
  close(fds[0]); close(fds[1]);
  free(iov); free(p1); free(p2);

  /* getline into a buffer that is already a managed handle (libc must not
   * realloc it); it grows through the runtime. */
  FILE *mf = fmemopen("first line\na much longer second line of text\n", 45, "r");
  char *gl = malloc(4);
  size_t gn = 4;
  CHECK(getline(&gl, &gn, mf) == 11 && strcmp(gl, "first line\n") == 0, "getline 1 '%s'", gl);
  CHECK(getline(&gl, &gn, mf) == 34 && (intptr_t)gl < 0 && gn >= 35, "getline 2 '%s' %zu", gl, gn);
  free(gl);
  fclose(mf);

  /* strtok on a managed string: tokens are handles into it; the NUL bytes
   * it writes inside a speculation are rolled back by the abort. */
  char *csv = malloc(32);
  strcpy(csv, "alpha,beta,,gamma");
  int sid = spec_enter();
  if (sid > 0) {
    char *t1 = strtok(csv, ","), *t2 = strtok(NULL, ","), *t3 = strtok(NULL, ",");
    CHECK(t1 == csv && t2 == csv + 6 && t3 == csv + 12, "strtok tokens %p %p %p (csv %p)", (void *)t1, (void *)t2, (void *)t3, (void *)csv);
    CHECK(t3 && strcmp(t3, "gamma") == 0 && strtok(NULL, ",") == NULL, "strtok end");
    ABORT_UNLESS_FAILED(sid);
  }
  CHECK(strcmp(csv, "alpha,beta,,gamma") == 0, "string after abort '%s'", csv);
  char *save = NULL, *r1 = strtok_r(csv, ",", &save);
  CHECK(r1 == csv && save == csv + 6, "strtok_r save pointer");
  free(csv);

  /* setvbuf with a managed buffer: libc gets its own buffer instead. */
  char *vbuf = malloc(4096);
  CHECK(setvbuf(stdout, vbuf, _IOLBF, 4096) == 0, "setvbuf");
  printf("line through a managed setvbuf buffer\n");
  fflush(stdout);

  /* strtol's end pointer comes back as a handle into the same string. */
  char *num = malloc(16);
  strcpy(num, "123abc");
  char *end;
  long val = strtol(num, &end, 10);
  CHECK(val == 123 && end == num + 3 && *end == 'a', "strtol end pointer %p vs %p", (void *)end, (void *)(num + 3));
  free(num);

  /* strdup makes a managed copy (rolled back, carried by migration). */
  char *d = strdup(s);
  CHECK((intptr_t)d < 0 && strcmp(d, s) == 0, "strdup");
  free(d);
  /* libc memory (asprintf) stays raw and is freed by libc through the runtime. */
  d = NULL;
  CHECK(asprintf(&d, "%s", s) > 0 && (intptr_t)d > 0, "asprintf gives raw memory");
  d = realloc(d, 128);
  strcat(d, "!");
  CHECK(strcmp(d, "hello, world!") == 0, "realloc of raw memory '%s'", d);
  free(d);

  free(s); free(nums); free(heapbuf); free(v); free(tab);
  DONE();
}
