/* tests/unit/test_output.c — output held during speculation: dropped on abort,
 * released in order on the outermost commit, for stdio and write(2), with
 * stdout and stderr sharing one file or not. */
#include "moj_test.h"

#include <errno.h>
#include <fcntl.h>
#include <mojave.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <pty.h>
#include <unistd.h>

static char out_path[] = "/tmp/moj-out-XXXXXX";
static char err_path[] = "/tmp/moj-err-XXXXXX";
static int saved_out = -1, saved_err = -1;

/* Point stdout (and stderr: the same file when `shared`) at temp files. */
static void capture(int shared) {
  fflush(stdout);
  fflush(stderr);
  strcpy(out_path, "/tmp/moj-out-XXXXXX");
  strcpy(err_path, "/tmp/moj-err-XXXXXX");
  int o = mkstemp(out_path);
  int e = shared ? o : mkstemp(err_path);
  saved_out = dup(1);
  saved_err = dup(2);
  dup2(o, 1);
  dup2(e, 2);
  close(o);
  if (!shared) close(e);
}

static void slurp(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY);
  ssize_t n = read(fd, buf, cap - 1);
  buf[n < 0 ? 0 : n] = 0;
  close(fd);
  unlink(path);
}

static void release(int shared, char *out, char *err, size_t cap) {
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  slurp(out_path, out, cap);
  if (!shared) slurp(err_path, err, cap);
}

static void say(int fd, const char *s) { ssize_t w = write(fd, s, strlen(s)); (void)w; }

static void abort_drops_commit_releases(void **st) {
  (void)st;
  char out[256], err[256];
  capture(0);
  printf("A");
  int r = spec_enter();
  if (r > 0) {
    printf("dropped-stdio");
    say(1, "dropped-write");
    say(2, "dropped-err");
    spec_abort(r);
  }
  printf("B");
  r = spec_enter();
  printf("C");
  say(2, "E1");
  fflush(stdout);
  say(1, "D");
  assert_int_equal(spec_commit(r), 0);
  printf("F");
  release(0, out, err, sizeof out);
  assert_string_equal(out, "ABCDF");
  assert_string_equal(err, "E1");
}

static void shared_file_keeps_interleaving(void **st) {
  (void)st;
  char out[256];
  capture(1);
  int r = spec_enter();
  say(1, "1");
  say(2, "2");
  say(1, "3");
  int r2 = spec_enter();
  if (r2 > 0) {
    say(2, "x");
    spec_abort(r2);
  }
  say(2, "4");
  assert_int_equal(spec_commit(r), 0);
  release(1, out, NULL, sizeof out);
  assert_string_equal(out, "1234");
}

static void outer_commit_releases_only_its_part(void **st) {
  (void)st;
  char out[256], err[256];
  capture(0);
  int a = spec_enter();
  say(1, "a");
  int b = spec_enter();
  if (b > 0) {
    say(1, "b");
    assert_int_equal(spec_commit(a), 0);
    /* "a" is released now, "b" is still held by b */
    char now[16] = {0};
    int fd = open(out_path, O_RDONLY);
    ssize_t n = read(fd, now, sizeof now - 1);
    close(fd);
    assert_int_equal(n, 1);
    assert_string_equal(now, "a");
    spec_abort(b);
  }
  say(1, "c");
  release(0, out, err, sizeof out);
  assert_string_equal(out, "ac");
}

static void nothing_held_outside(void **st) {
  (void)st;
  char out[64], err[64];
  capture(0);
  say(1, "direct");
  int fd = open(out_path, O_RDONLY);
  char now[16] = {0};
  ssize_t n = read(fd, now, sizeof now - 1);
  close(fd);
  assert_int_equal(n, 6);
  release(0, out, err, sizeof out);
  assert_string_equal(out, "direct");
}

static void macro_putc_and_perror(void **st) {
  (void)st;
  char out[256], err[256];
  capture(0);
  int r = spec_enter();
  if (r > 0) {
    putc_unlocked('x', stdout);                         /* fills the buffer, no call */
    errno = ENOENT;
    perror("gone");
    spec_abort(r);
  }
  r = spec_enter();
  putc_unlocked('k', stdout);
  assert_int_equal(spec_commit(r), 0);
  release(0, out, err, sizeof out);
  assert_string_equal(out, "k");
  assert_string_equal(err, "");
}

static void child_processes_are_held(void **st) {
  (void)st;
  char out[256], err[256];
  capture(0);
  int r = spec_enter();
  if (r > 0) {
    assert_int_equal(system("echo dropped-child"), 0);
    spec_abort(r);
  }
  say(1, "1");
  r = spec_enter();
  say(1, "2");
  assert_int_equal(system("printf 3"), 0);
  say(1, "4");
  assert_int_equal(spec_commit(r), 0);
  release(0, out, err, sizeof out);
  assert_string_equal(out, "1234");
}

static void forked_child_output_stays_with_parent(void **st) {
  (void)st;
  char out[256], err[256];
  capture(0);
  int r = spec_enter();
  if (r > 0) {
    pid_t pid = fork();
    if (pid == 0) { printf("child-dropped"); exit(0); } /* exit commits the child's copy */
    waitpid(pid, NULL, 0);
    say(1, "parent-dropped");
    spec_abort(r);
  }
  r = spec_enter();
  say(1, "a");
  pid_t pid = fork();
  if (pid == 0) { printf("b"); exit(0); }
  waitpid(pid, NULL, 0);
  say(1, "c");
  assert_int_equal(spec_commit(r), 0);
  release(0, out, err, sizeof out);
  assert_string_equal(out, "abc");
}

/* A child started inside a speculation that commits keeps writing after the
 * commit (issue 10, item 3): sort prints only when its input ends, at pclose. */
static void child_output_after_commit_is_kept(void **st) {
  (void)st;
  char out[256], err[256];
  capture(0);
  int r = spec_enter();
  FILE *p = popen("sort", "w");
  assert_non_null(p);
  say(1, "x\n");
  assert_int_equal(spec_commit(r), 0);
  fputs("b\na\nc\n", p);
  assert_int_equal(pclose(p), 0);
  say(1, "y\n");
  /* libc memory, not rolled back; volatile, or clang may keep the cell in a
   * register, which the abort restores (it does on aarch64) */
  FILE *volatile *cell = malloc(sizeof *cell);
  r = spec_enter();                            /* an aborted one: its child's later output is real */
  if (r > 0) {
    *cell = popen("sort", "w");
    say(1, "dropped\n");
    spec_abort(r);
  }
  fputs("e\nd\n", *cell);
  assert_int_equal(pclose(*cell), 0);
  free((void *)cell);
  release(0, out, err, sizeof out);
  assert_string_equal(out, "x\na\nb\nc\ny\nd\ne\n");
}

/* dup2 onto stdout inside a speculation that commits (issue 10, item 4): the
 * program's redirect stays; what was held before it goes to the old stdout. */
static void dup2_redirect_survives_commit(void **st) {
  (void)st;
  char out[256], err[256], file[256];
  capture(0);
  char path[] = "/tmp/moj-redir-XXXXXX";
  int f = mkstemp(path);
  int r = spec_enter();
  say(1, "held;");
  assert_int_equal(dup2(f, 1), 1);
  close(f);
  say(1, "tofile;");
  assert_int_equal(spec_commit(r), 0);
  say(1, "after;");
  release(0, out, err, sizeof out);
  slurp(path, file, sizeof file);
  assert_string_equal(out, "held;");
  assert_string_equal(file, "tofile;after;");
}

/* Output through a dup of stdout made inside a speculation is held like
 * stdout, and the duplicate writes to the real stdout after the end. */
static void dup_of_stdout_is_held(void **st) {
  (void)st;
  char out[256], err[256];
  capture(0);
  volatile int *cell = malloc(sizeof *cell);   /* libc memory: not rolled back (volatile: above) */
  int r = spec_enter();
  if (r > 0) {
    *cell = dup(1);
    say(*cell, "dropped;");
    spec_abort(r);
  }
  say(*cell, "A;");
  close(*cell);
  r = spec_enter();
  int d = fcntl(1, F_DUPFD_CLOEXEC, 10);
  say(d, "B;");
  say(1, "C;");
  assert_int_equal(spec_commit(r), 0);
  say(d, "D;");
  assert_true(fcntl(d, F_GETFD) & FD_CLOEXEC);
  close(d);
  free((void *)cell);
  release(0, out, err, sizeof out);
  assert_string_equal(out, "A;B;C;D;");
}

/* `./app >&-`: with stdout closed, speculative stdout text never reaches
 * stderr and descriptor 1 is still free after the commit. */
static void closed_stdout_stays_closed(void **st) {
  (void)st;
  int p[2];
  assert_int_equal(pipe(p), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {                              /* a fresh process: exec ourselves */
    dup2(p[1], 2);
    close(p[0]);
    close(p[1]);
    close(1);
    moj_exec_self((char *[]){"test_output", "--closed-stdout-child", NULL});
    _exit(8);
  }
  char buf[256];
  int status = moj_collect_child(pid, p, buf, sizeof buf);
  assert_string_equal(buf, "spec-err\n");
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* Issue 10, item 6: stdout first used inside a speculation on a terminal
 * stays line-buffered, so stdout/stderr lines keep their order.  The child is
 * a fresh exec (its stdio untouched) on a pseudo-terminal. */
static int tty_child(void) {
  int r = spec_enter();
  printf("out1\n");
  fprintf(stderr, "err1\n");
  printf("out2\n");
  fprintf(stderr, "err2\n");
  spec_commit(r);
  return 0;
}

static void terminal_keeps_line_buffering(void **st) {
  (void)st;
  int master;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = forkpty(&master, NULL, NULL, NULL);
  if (pid < 0) skip();                         /* no pseudo-terminals here (no devpts) */
  if (pid == 0) {
    moj_exec_self((char *[]){"test_output", "--tty-child", NULL});
    _exit(8);
  }
  char buf[256], clean[256];
  size_t got = 0;
  ssize_t n;
  while (got + 1 < sizeof buf && (n = read(master, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)n;
  buf[got] = 0;                                /* read ends with EIO when the child is gone */
  close(master);
  waitpid(pid, NULL, 0);
  size_t k = 0;
  for (size_t i = 0; i < got; i++)
    if (buf[i] != '\r') clean[k++] = buf[i];  /* the terminal's ONLCR */
  clean[k] = 0;
  assert_string_equal(clean, "out1\nerr1\nout2\nerr2\n");
}

static int closed_stdout_child(void) {
  int r = spec_enter();
  printf("spec-out\n");
  fflush(stdout);
  say(1, "spec-write\n");
  fprintf(stderr, "spec-err\n");
  spec_commit(r);
  return fcntl(1, F_GETFD) == -1 ? 0 : 7;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--closed-stdout-child")) return closed_stdout_child();
  if (argc == 2 && !strcmp(argv[1], "--tty-child")) return tty_child();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(abort_drops_commit_releases, moj_close_levels),
    cmocka_unit_test_teardown(shared_file_keeps_interleaving, moj_close_levels),
    cmocka_unit_test_teardown(outer_commit_releases_only_its_part, moj_close_levels),
    cmocka_unit_test_teardown(nothing_held_outside, moj_close_levels),
    cmocka_unit_test_teardown(macro_putc_and_perror, moj_close_levels),
    cmocka_unit_test_teardown(child_processes_are_held, moj_close_levels),
    cmocka_unit_test_teardown(forked_child_output_stays_with_parent, moj_close_levels),
    cmocka_unit_test_teardown(child_output_after_commit_is_kept, moj_close_levels),
    cmocka_unit_test_teardown(dup2_redirect_survives_commit, moj_close_levels),
    cmocka_unit_test_teardown(dup_of_stdout_is_held, moj_close_levels),
    cmocka_unit_test_teardown(closed_stdout_stays_closed, moj_close_levels),
    cmocka_unit_test_teardown(terminal_keeps_line_buffering, moj_close_levels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
