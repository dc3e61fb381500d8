/* tests/e2e/icall_dlsym.c — C library functions reached through pointers
 * that instrumented code cannot see at compile time (dlsym, a variadic
 * function's address): the indirect call finds the target outside every
 * moj_text range and passes raw addresses of the heap buffers (through the
 * copy-on-write barrier, so libc's writes inside a speculation are rolled
 * back); a pointer returned into an argument comes back as a handle.  The
 * program's own functions reached through pointers still get handles. */
#include <dlfcn.h>
#include <mojave.h>
#include <mojave/cc_abi.h>
#include <stdint.h>
#include <string.h>
#include "check.h"

typedef void *(*memcpy_t)(void *, const void *, size_t);
typedef size_t (*strlen_t)(const char *);
typedef char *(*strchr_t)(const char *, int);
typedef void (*qsort_t)(void *, size_t, size_t, int (*)(const void *, const void *));
typedef int (*sprintf_t)(char *, const char *, ...);

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}
static int cmp_desc(const void *a, const void *b) { return cmp_int(b, a); }

/* Reached through a pointer: must receive the handle itself. */
static int own_got_handle;
static __attribute__((noinline)) void own_fill(char *p, int n) {
  own_got_handle = (intptr_t)p < 0;
  for (int i = 0; i < n; i++) p[i] = 'o';
}

/* volatile: keeps the calls indirect at -O2. */
static memcpy_t volatile p_memcpy;
static strlen_t volatile p_strlen;
static strchr_t volatile p_strchr;
static qsort_t volatile p_qsort;
static sprintf_t volatile p_sprintf = sprintf;
static void (*volatile p_own)(char *, int) = own_fill;

int main(void) {
  p_memcpy = (memcpy_t)dlsym(RTLD_DEFAULT, "memcpy");
  p_strlen = (strlen_t)dlsym(RTLD_DEFAULT, "strlen");
  p_strchr = (strchr_t)dlsym(RTLD_DEFAULT, "strchr");
  p_qsort = (qsort_t)dlsym(RTLD_DEFAULT, "qsort");
  CHECK(p_memcpy && p_strlen && p_strchr && p_qsort, "dlsym: %s", dlerror());
  CHECK(!__moj_cc_is_instrumented((void *)p_memcpy), "memcpy counted as instrumented");
  CHECK(__moj_cc_is_instrumented((void *)own_fill), "own_fill not counted as instrumented");

  char *src = malloc(32), *dst = malloc(32);
  CHECK((intptr_t)src < 0 && (intptr_t)dst < 0, "heap buffers must be handles");
  strcpy(src, "hello, mojave");
  void *r = p_memcpy(dst, src, 14);
  CHECK(r == dst, "memcpy returned %p, not the handle %p", r, (void *)dst);
  CHECK(strcmp(dst, "hello, mojave") == 0, "memcpy copied '%s'", dst);
  CHECK(p_strlen(dst) == 13, "strlen %zu", p_strlen(dst));
  char *comma = p_strchr(dst, ',');
  CHECK(comma == dst + 5, "strchr returned %p, want %p", (void *)comma, (void *)(dst + 5));

  enum { N = 64 };
  int *v = malloc(N * sizeof *v);
  for (int i = 0; i < N; i++) v[i] = (i * 29) % N;
  p_qsort(v, N, sizeof *v, cmp_int);
  int sorted = 1;
  for (int i = 0; i < N; i++) sorted &= v[i] == i;
  CHECK(sorted, "qsort through dlsym on a managed array");

  /* A variadic libc function through a pointer: variadic pointers too. */
  char *out = malloc(64);
  CHECK(p_sprintf(out, "<%s|%d>", src, 7) == 17, "sprintf length");
  CHECK(strcmp(out, "<hello, mojave|7>") == 0, "sprintf through a pointer '%s'", out);

  /* The program's own function through a pointer: handles, as always. */
  p_own(out, 3);
  CHECK(own_got_handle, "own function reached through a pointer got a raw address");
  CHECK(memcmp(out, "ooo", 3) == 0, "own_fill wrote '%.3s'", out);

  /* Inside a speculation libc writes the barrier's copy: rolled back. */
  int id = spec_enter();
  if (id > 0) {
    char first = dst[0]; /* a translation of dst before the call ... */
    p_memcpy(dst, "HELLO", 5);
    /* ... must not be reused after it (the barrier made a new copy). */
    CHECK(first == 'h' && dst[0] == 'H', "inside: before %c now %c", first, dst[0]);
    p_qsort(v, N, sizeof *v, cmp_desc);
    CHECK(v[0] == N - 1 && v[N - 1] == 0, "inside: qsort %d..%d", v[0], v[N - 1]);
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(strcmp(dst, "hello, mojave") == 0, "after abort: '%s'", dst);
  CHECK(v[0] == 0 && v[1] == 1, "after abort: v %d %d", v[0], v[1]);

  id = spec_enter();
  if (id > 0) {
    p_memcpy(dst, "HELLO", 5);
    spec_commit(id);
  }
  CHECK(strcmp(dst, "HELLO, mojave") == 0, "after commit: '%s'", dst);
  free(src);
  free(dst);
  free(v);
  free(out);
  DONE();
}
