/* tests/e2e/check.h — tiny self-checking harness for the mojcc end-to-end
 * programs: CHECK prints a FAIL line (ctest fails on it) and counts; main
 * ends with DONE(), printing PASS only when nothing failed.  Output is
 * written with write(2) outside speculation, so it is never held. */
#ifndef MOJ_E2E_CHECK_H
#define MOJ_E2E_CHECK_H
#include <stdio.h>
#include <stdlib.h>

static int e2e_failures;
#define CHECK(cond, ...)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      e2e_failures++;                                                       \
      printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                \
      printf(__VA_ARGS__);                                                  \
      printf("\n");                                                         \
    }                                                                       \
  } while (0)
/* Ends a speculation that is meant to be aborted.  Everything, even the
 * failure count, is rolled back by the abort and output inside is dropped,
 * so when a CHECK inside failed the level is committed instead: its FAIL
 * lines are released and the count survives. */
#define ABORT_UNLESS_FAILED(id)                                             \
  do {                                                                      \
    if (e2e_failures) {                                                     \
      spec_commit(id);                                                      \
      printf("FAIL: checks failed inside speculation %d\n", id);            \
    } else {                                                                \
      spec_abort(id);                                                       \
      printf("FAIL: spec_abort(%d) returned\n", id);                        \
      e2e_failures++;                                                       \
    }                                                                       \
  } while (0)
/* Resident set of this process in bytes (/proc/self/statm): tests that
 * check memory does not double read it before and after. */
static inline long e2e_rss(void) {
  long pages = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return res * 4096;
}
#define DONE()                                                              \
  do {                                                                      \
    if (e2e_failures) {                                                     \
      printf("FAILED %d checks\n", e2e_failures);                           \
      return 1;                                                             \
    }                                                                       \
    printf("PASS\n");                                                       \
    return 0;                                                               \
  } while (0)
#endif
