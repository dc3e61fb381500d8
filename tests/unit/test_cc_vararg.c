/* tests/unit/test_cc_vararg.c — the va_list wrappers of runtime/cc_vararg.c
 * (the __moj_cc_v*printf / v*scanf that mojcc calls where a program forwards
 * a va_list to libc): handles among the variadic arguments reach libc as
 * addresses wherever the ABI put them — register save areas, the stack, after
 * floating-point and long double arguments, and in a va_list already partly
 * consumed — and %n / scanf destinations are written through the object's
 * current copy.  Written for both va_list layouts (x86-64, aarch64). */
#include "moj_test.h"

#include <mojave.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int __moj_cc_vsnprintf(char *s, size_t n, const char *fmt, va_list ap);
int __moj_cc_vsscanf(const char *s, const char *fmt, va_list ap);

/* A handle to a copy of str. */
static char *managed_str(const char *str) {
  size_t n = strlen(str) + 1;
  char *h = moj_malloc(n);
  assert_non_null(h);
  memcpy(MOJ_W(char, h), str, n);
  return h;
}

static char out[512];

static int fwd_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = __moj_cc_vsnprintf(out, sizeof out, fmt, ap);
  va_end(ap);
  return r;
}

/* Consumes `skip` int arguments itself before forwarding the rest: the
 * va_list handed on starts part-way, possibly at a stack address that is
 * not 16-byte aligned. */
static int fwd_printf_after(int skip, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int sum = 0;
  for (int i = 0; i < skip; i++) sum += va_arg(ap, int);
  int r = __moj_cc_vsnprintf(out, sizeof out, fmt, ap);
  va_end(ap);
  return sum == skip * (skip + 1) / 2 ? r : -1000;
}

static int fwd_scanf(const char *in, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = __moj_cc_vsscanf(in, fmt, ap);
  va_end(ap);
  return r;
}

static void strings_in_registers(void **st) {
  (void)st;
  char *a = managed_str("alpha"), *b = managed_str("beta");
  assert_int_equal(fwd_printf("%s|%d|%s", a, 7, b), 12);
  assert_string_equal(out, "alpha|7|beta");
  moj_free(a);
  moj_free(b);
}

/* More integer arguments than either ABI has argument registers. */
static void strings_on_the_stack(void **st) {
  (void)st;
  char *a = managed_str("first"), *z = managed_str("last");
  fwd_printf("%s %d %d %d %d %d %d %d %d %d %d %s", a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, z);
  assert_string_equal(out, "first 1 2 3 4 5 6 7 8 9 10 last");
  moj_free(a);
  moj_free(z);
}

/* Doubles fill the vector registers, then spill; a long double follows
 * (aarch64: a vector register while one is left, x86-64: always the stack,
 * 16-byte aligned) and a handle after each. */
static void strings_among_floating_point(void **st) {
  (void)st;
  char *a = managed_str("A"), *b = managed_str("B"), *c = managed_str("C");
  fwd_printf("%s %.1Lf %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %s %.2Lf %s", a, 0.5L, 1.0, 2.0, 3.0, 4.0,
             5.0, 6.0, 7.0, 8.0, 9.0, b, 10.25L, c);
  assert_string_equal(out, "A 0.5 1.0 2.0 3.0 4.0 5.0 6.0 7.0 8.0 9.0 B 10.25 C");
  moj_free(a);
  moj_free(b);
  moj_free(c);
}

/* After 9 ints consumed by the forwarder (x86-64: 4 in registers and 5 on
 * the stack, aarch64: 6 and 3) the next stack argument is 8 bytes past a
 * 16-byte boundary in both ABIs: the long double on the stack must still be
 * found where libc's va_arg rounds up to. */
static void partly_consumed_list(void **st) {
  (void)st;
  char *a = managed_str("after"), *b = managed_str("end");
  int r = fwd_printf_after(9, "%s %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.3Lf %s", 1, 2, 3, 4, 5, 6, 7, 8, 9, a,
                           1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 2.125L, b);
  assert_true(r > 0);
  assert_string_equal(out, "after 1.0 2.0 3.0 4.0 5.0 6.0 7.0 8.0 9.0 2.125 end");
  moj_free(a);
  moj_free(b);
}

/* %n writes through the handle's copy-on-write barrier: inside an aborted
 * speculation the count is rolled back with the object. */
static void percent_n_writes_the_object(void **st) {
  (void)st;
  char *s = managed_str("12345");
  int *n = moj_malloc(sizeof *n);
  *MOJ_W(int, n) = -1;
  fwd_printf("%s%n!", s, n);
  assert_int_equal(*MOJ_R(int, n), 5);
  int id = spec_enter();
  if (id > 0) {
    fwd_printf("%s%s%n", s, s, n);
    assert_int_equal(*MOJ_R(int, n), 10);
    spec_abort(id);
  }
  assert_int_equal(*MOJ_R(int, n), 5);
  moj_free(s);
  moj_free(n);
}

static void scanf_destinations(void **st) {
  (void)st;
  int *i = moj_malloc(sizeof *i);
  char *word = moj_malloc(16);
  double *d = moj_malloc(sizeof *d);
  assert_int_equal(fwd_scanf("42 mojave 2.5", "%d %15s %lf", i, word, d), 3);
  assert_int_equal(*MOJ_R(int, i), 42);
  assert_string_equal(MOJ_R(char, word), "mojave");
  assert_true(*MOJ_R(double, d) == 2.5);
  moj_free(i);
  moj_free(word);
  moj_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(strings_in_registers),
    cmocka_unit_test(strings_on_the_stack),
    cmocka_unit_test(strings_among_floating_point),
    cmocka_unit_test(partly_consumed_list),
    cmocka_unit_test_teardown(percent_n_writes_the_object, moj_close_levels),
    cmocka_unit_test(scanf_destinations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
