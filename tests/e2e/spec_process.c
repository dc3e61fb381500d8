/* tests/e2e/spec_process.c — issue 10 items 2–4 in a mojcc program (plain C,
 * the pass's barriers): exit() inside a speculation commits before atexit
 * handlers run; a child started in a committed speculation keeps its later
 * output; dup2 onto stdout inside a committed speculation stays. */
#include <errno.h>
#include <fcntl.h>
#include <mojave.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int report_fd = -1, level_id, state = 1;

static void at_exit(void) {
  char msg[96];
  errno = 0;
  int r = spec_abort(level_id);
  int n = snprintf(msg, sizeof msg, "level=%d abort=%d errno=%d state=%d", spec_level(), r, errno, state);
  if (write(report_fd, msg, (size_t)n) < 0) _exit(3);
}

static void read_all(int fd, char *buf, size_t cap) {
  size_t got = 0;
  ssize_t n;
  while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0) got += (size_t)n;
  buf[got] = 0;
}

static void exit_commits_first(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    report_fd = p[1];
    atexit(at_exit);
    int id = spec_enter();
    if (id < 0) _exit(4);                      /* resumed after exit: wrong */
    level_id = id;
    state = 2;
    exit(0);
  }
  close(p[1]);
  char buf[128], want[128];
  read_all(p[0], buf, sizeof buf);
  close(p[0]);
  waitpid(pid, NULL, 0);
  snprintf(want, sizeof want, "level=0 abort=-1 errno=%d state=2", ECANCELED);
  CHECK(!strcmp(buf, want), "atexit saw '%s'", buf);
}

static void child_and_redirect_survive_commit(void) {
  char path[] = "/tmp/moj-e2e-process-XXXXXX", path2[] = "/tmp/moj-e2e-redir-XXXXXX";
  int f = mkstemp(path), f2 = mkstemp(path2);
  fflush(stdout);
  int saved = dup(1);
  dup2(f, 1);
  int id = spec_enter();
  FILE *sort = popen("sort", "w");
  CHECK(sort != NULL, "popen");
  CHECK(spec_commit(id) == 0, "commit");
  fputs("c\na\nb\n", sort);
  CHECK(pclose(sort) == 0, "pclose");
  id = spec_enter();
  CHECK(write(1, "held\n", 5) == 5, "write");    /* holding engaged, then the redirect */
  CHECK(dup2(f2, 1) == 1, "dup2 inside");
  CHECK(spec_commit(id) == 0, "commit");
  CHECK(write(1, "kept\n", 5) == 5, "write");
  dup2(saved, 1);
  close(saved);
  char buf[64];
  lseek(f, 0, SEEK_SET);
  read_all(f, buf, sizeof buf);
  CHECK(!strcmp(buf, "a\nb\nc\nheld\n"), "the first file got '%s'", buf);
  lseek(f2, 0, SEEK_SET);
  read_all(f2, buf, sizeof buf);
  CHECK(!strcmp(buf, "kept\n"), "the redirect got '%s'", buf);
  close(f);
  close(f2);
  unlink(path);
  unlink(path2);
}

int main(void) {
  exit_commits_first();
  child_and_redirect_survive_commit();
  DONE();
}
