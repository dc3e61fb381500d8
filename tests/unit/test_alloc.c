/* tests/unit/test_alloc.c — the pointer table and managed allocator outside
 * speculation: handle encoding, libc-compatible semantics, limits and
 * diagnostics (death tests run in a forked child). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <mojave.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t live(void) { moj_stats_t s; moj_get_stats(&s); return s.live_objects; }

static void handles_are_tagged(void **st) {
  (void)st;
  size_t before = live();
  void *p = moj_malloc(10);
  assert_non_null(p);
  assert_true(moj_is_handle(p));
  assert_int_equal((uint32_t)(uintptr_t)p, 0);          /* offset 0 */
  assert_false(moj_is_handle(&before));                 /* stack is raw */
  assert_false(moj_is_handle(NULL));
  assert_int_equal(live(), before + 1);
  moj_free(p);
  assert_int_equal(live(), before);
}

static void read_write_and_arithmetic(void **st) {
  (void)st;
  int *a = moj_malloc(100 * sizeof(int));
  for (int i = 0; i < 100; i++) MOJ_W(int, a)[i] = i * 3;
  int *q = a + 50;                                       /* arithmetic moves the offset */
  assert_int_equal(*MOJ_R(int, q), 150);
  assert_int_equal((char *)q - (char *)a, 50 * sizeof(int));
  int *before_start = a - 1;                             /* borrow into the index bits... */
  assert_ptr_equal(before_start + 1, a);                 /* ...and back */
  assert_true(q > a);
  assert_int_equal(moj_usable_size(a), 100 * sizeof(int));
  moj_free(a);
}

static void calloc_zeroes_and_checks_overflow(void **st) {
  (void)st;
  unsigned char *p = moj_calloc(1000, 3);
  for (int i = 0; i < 3000; i++) assert_int_equal(MOJ_R(unsigned char, p)[i], 0);
  moj_free(p);
  errno = 0;
  assert_null(moj_calloc(SIZE_MAX / 2, 3));
  assert_int_equal(errno, ENOMEM);
}

static long resident_kb(void) {
  long pages = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%ld %ld", &pages, &res) != 2) res = -1;
  if (f) fclose(f);
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A large calloc reads as zero even where mimalloc hands back memory the
 * program dirtied before, and its untouched pages are not resident (issue
 * 11: a sparse 180 MB table cost 180 MB of RSS). */
static void large_calloc_is_zero_and_lazy(void **st) {
  (void)st;
  const size_t n = ((size_t)64 << 20) + 123; /* unaligned tail */
  for (int round = 0; round < 3; round++) {
    unsigned char *d = moj_malloc(n);
    memset(MOJ_W(unsigned char, d), 0xa5, n);
    moj_free(d);
    long before = resident_kb();
    unsigned char *p = moj_calloc(1, n);
    assert_non_null(p);
    long grown = resident_kb() - before;
    const unsigned char *r = MOJ_R(unsigned char, p);
    for (size_t i = 0; i < n; i += 4093) assert_int_equal(r[i], 0);
    for (size_t i = n - 5000; i < n; i++) assert_int_equal(r[i], 0);
    for (size_t i = 0; i < 5000; i++) assert_int_equal(r[i], 0);
    moj_free(p);
    assert_true(before > 0);
    assert_true(grown < 8 * 1024); /* KB: 64 MB zeroed by memset would be resident */
  }
}

static void realloc_keeps_handle_and_content(void **st) {
  (void)st;
  char *p = moj_malloc(8);
  memcpy(MOJ_W(char, p), "abcdefg", 8);
  char *q = moj_realloc(p, 1 << 20);
  assert_ptr_equal(p, q);
  assert_string_equal(MOJ_R(char, q), "abcdefg");
  assert_int_equal(moj_usable_size(q), 1 << 20);
  q = moj_realloc(q, 4);
  assert_memory_equal(MOJ_R(char, q), "abcd", 4);
  assert_null(moj_realloc(q, 0));                        /* frees, like glibc */
  char *n = moj_realloc(NULL, 16);                       /* acts as malloc */
  assert_true(moj_is_handle(n));
  moj_free(n);
}

static void aligned_allocations(void **st) {
  (void)st;
  size_t aligns[] = {16, 64, 256, 4096};
  for (size_t i = 0; i < 4; i++) {
    void *p = NULL;
    assert_int_equal(moj_posix_memalign(&p, aligns[i], 100), 0);
    assert_int_equal((uintptr_t)moj_r(p) % aligns[i], 0);
    moj_free(p);
    p = moj_aligned_alloc(aligns[i], 3 * aligns[i]);
    assert_non_null(p);
    assert_int_equal((uintptr_t)moj_r(p) % aligns[i], 0);
    moj_free(p);
  }
  void *p = (void *)1;
  assert_int_equal(moj_posix_memalign(&p, 24, 10), EINVAL);
  assert_ptr_equal(p, (void *)1);                        /* untouched on failure */
  errno = 0;
  assert_null(moj_aligned_alloc(3, 10));
  assert_int_equal(errno, EINVAL);
}

static void raw_pointers_pass_through(void **st) {
  (void)st;
  char *raw = malloc(32);
  strcpy(raw, "libc");
  assert_ptr_equal(moj_r(raw), raw);
  assert_ptr_equal(moj_w(raw), raw);
  raw = moj_realloc(raw, 64);                            /* goes to libc realloc */
  assert_false(moj_is_handle(raw));
  assert_string_equal(raw, "libc");
  moj_free(raw);                                          /* goes to libc free */
  moj_free(NULL);
}

static void too_big_is_enomem(void **st) {
  (void)st;
  errno = 0;
  assert_null(moj_malloc((size_t)MOJ_MAX_OBJECT_SIZE + 1));
  assert_int_equal(errno, ENOMEM);
}

static void zero_size_is_unique(void **st) {
  (void)st;
  void *a = moj_malloc(0), *b = moj_malloc(0);
  assert_non_null(a);
  assert_non_null(b);
  assert_ptr_not_equal(a, b);
  moj_free(a);
  moj_free(b);
}

/* Runs fn in a child; returns what the child wrote to stderr and its signal. */
static int death(void (*fn)(void), char *msg, size_t cap) {
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pfd[1], 2);
    fn();
    _exit(0);
  }
  close(pfd[1]);
  ssize_t n = 0, r;
  while ((r = read(pfd[0], msg + n, cap - 1 - (size_t)n)) > 0) n += r;
  msg[n] = 0;
  close(pfd[0]);
  int status;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void uaf_write(void) { char *p = moj_malloc(4); moj_free(p); MOJ_W(char, p)[0] = 1; }
static void double_free(void) { char *p = moj_malloc(4); moj_free(p); moj_free(p); }
static void interior_free(void) { char *p = moj_malloc(4); moj_free(p + 1); }
static void forged_handle(void) { moj_free((void *)(uintptr_t)(MOJ_HANDLE_TAG | (0x7000000ull << 32))); }

static void misuse_is_diagnosed(void **st) {
  (void)st;
  char msg[1024];
  assert_int_equal(death(uaf_write, msg, sizeof msg), SIGABRT);
  assert_non_null(strstr(msg, "use after free"));
  assert_int_equal(death(double_free, msg, sizeof msg), SIGABRT);
  assert_non_null(strstr(msg, "freed object"));
  assert_int_equal(death(interior_free, msg, sizeof msg), SIGABRT);
  assert_non_null(strstr(msg, "not at its start"));
  assert_int_equal(death(forged_handle, msg, sizeof msg), SIGABRT);
  assert_non_null(strstr(msg, "not a valid handle"));
}

/* With MOJAVE_MAX_OBJECTS=100: the table fills, fails cleanly, and recovers. */
static void table_limit(void **st) {
  (void)st;
  moj_stats_t s;
  moj_get_stats(&s);
  assert_int_equal(s.table_capacity, 100);
  void *p[101];
  size_t n = 0;
  int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
  dup2(devnull, 2);                                      /* the one-line diagnostic */
  for (; n < 101; n++) if (!(p[n] = moj_malloc(8))) break;
  int err = errno;
  dup2(saved, 2);
  assert_int_equal(n, 100 - s.live_objects);
  assert_int_equal(err, ENOMEM);
  moj_free(p[0]);
  p[0] = moj_malloc(8);                                  /* a freed index is reused */
  assert_non_null(p[0]);
  for (size_t i = 0; i < n; i++) moj_free(p[i]);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--table-limit") == 0) {
    const struct CMUnitTest t[] = {cmocka_unit_test(table_limit)};
    return cmocka_run_group_tests(t, NULL, NULL);
  }
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(handles_are_tagged),
    cmocka_unit_test(read_write_and_arithmetic),
    cmocka_unit_test(calloc_zeroes_and_checks_overflow),
    cmocka_unit_test(large_calloc_is_zero_and_lazy),
    cmocka_unit_test(realloc_keeps_handle_and_content),
    cmocka_unit_test(aligned_allocations),
    cmocka_unit_test(raw_pointers_pass_through),
    cmocka_unit_test(too_big_is_enomem),
    cmocka_unit_test(zero_size_is_unique),
    cmocka_unit_test(misuse_is_diagnosed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
