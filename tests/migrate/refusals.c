/* refusals.c — moj_migrate refuses, with a named errno, every situation it
 * cannot capture, and the program carries on unharmed each time:
 * bad arguments (EINVAL), inside a speculation (EBUSY), from a qsort
 * comparator (an uninstrumented libc frame on the stack: EBUSY), from a
 * signal handler (the kernel's trampoline frame: EBUSY), with a
 * variable-length array on the stack (EBUSY), with a socket open (EBUSY,
 * naming the descriptor).  The hand-offs go to "file:" paths, so any
 * refusal that wrongly succeeded would exit the process (and FAIL). */
#include <errno.h>
#include <mojave.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int failures;
#define CHECK(c, ...) do { if (!(c)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
                                        printf(__VA_ARGS__); printf("\n"); } } while (0)
static char target[600];
static int got, got_errno;

static void expect_refusal(const char *what, int r, int err, int want, const char *reason) {
  CHECK(r == -1 && err == want, "%s: moj_migrate returned %d errno %d (%s), wanted -1 errno %d", what, r, err,
        moj_migrate_error(), want);
  CHECK(strstr(moj_migrate_error(), reason) != NULL, "%s: reason '%s' lacks '%s'", what, moj_migrate_error(), reason);
  printf("refused as expected: %s: %s\n", what, moj_migrate_error());
}

/* spec_enter returns twice: a function that calls it cannot be captured
 * itself, so it lives apart from main */
static int __attribute__((noinline)) inside_speculation(int *err) {
  int id = spec_enter(), r = 0;
  if (id > 0) {
    r = moj_migrate(target, 0);
    *err = errno;
    spec_commit(id);
  }
  return r;
}

static int cmp(const void *a, const void *b) {
  if (!got) { got = moj_migrate(target, 0) == -1 ? 1 : 2; got_errno = errno; }
  return *(const int *)a - *(const int *)b;
}

static void on_usr1(int s) {
  (void)s;
  int r = moj_migrate(target, 0);
  got = r == -1 ? 1 : 2;
  got_errno = errno;
}

static int __attribute__((noinline)) with_vla(int n) {
  volatile char vla[n];
  vla[0] = 1;
  int r = moj_migrate(target, 0);
  got_errno = errno;
  return r + vla[0] - 1;
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: refusals DIR\n"); return 2; }
  snprintf(target, sizeof target, "file:%s/never-written", argv[1]);
  int r;
  r = moj_migrate(NULL, 0); expect_refusal("NULL host", r, errno, EINVAL, "bad arguments");
  r = moj_migrate("", 0); expect_refusal("empty host", r, errno, EINVAL, "bad arguments");
  r = moj_migrate("h2", MOJ_MIGRATE_BINARY | MOJ_MIGRATE_IR); expect_refusal("both modes", r, errno, EINVAL, "flags 0x3");
  r = moj_migrate("h2", 0x40); expect_refusal("unknown flag", r, errno, EINVAL, "flags 0x40");

  int *heap = malloc(4 * sizeof *heap);
  heap[0] = 42;
  int e = 0;
  r = inside_speculation(&e);
  expect_refusal("inside a speculation", r, e, EBUSY, "speculation is active");

  int v[8] = {5, 3, 7, 1, 8, 2, 6, 4};
  qsort(v, 8, sizeof v[0], cmp);
  CHECK(got == 1, "from a qsort comparator: %s", got == 2 ? "not refused" : "not called");
  expect_refusal("from a qsort comparator (libc frame on the stack)", -1, got_errno, EBUSY, "uninstrumented");
  CHECK(v[0] == 1 && v[7] == 8, "qsort finished");

  got = 0;
  signal(SIGUSR1, on_usr1);
  raise(SIGUSR1);
  CHECK(got == 1, "from a signal handler: %s", got == 2 ? "not refused" : "handler not run");
  expect_refusal("from a signal handler", -1, got_errno, EBUSY, "uninstrumented");

  r = with_vla(16 + (int)(strlen(argv[1]) & 7)); /* a size only known at run time */
  expect_refusal("with a variable-length array on the stack", r, got_errno, EBUSY, "variable-length");

  int sk = socket(AF_UNIX, SOCK_STREAM, 0);
  r = moj_migrate(target, 0);
  e = errno;
  expect_refusal("with a socket open", r, e, EBUSY, "socket");
  close(sk);

  CHECK(heap[0] == 42, "heap intact after the refusals");
  char path[700];
  snprintf(path, sizeof path, "%s/never-written", argv[1]);
  CHECK(access(path, F_OK) != 0, "no image was written");
  printf("%s refusals\n", failures ? "FAIL" : "PASS");
  return failures != 0;
}
