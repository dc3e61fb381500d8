/* runtime/output.c — output held while speculating.
 *
 * At the outermost spec_enter, stdout and stderr (file descriptors 1 and 2) are
 * pointed at anonymous memory files, so everything written to them — stdio,
 * write(2), even child processes — is held in order.  A level's mark is the
 * held length at its entry: aborting truncates back to it, committing the
 * outermost level copies what it held to the real descriptors.  When both
 * streams are the same file (a terminal, say) they share one memory file, so
 * their interleaving survives. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int same_file(int a, int b) {
  struct stat sa, sb;
  if (fstat(a, &sa) || fstat(b, &sb)) return 0;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino && sa.st_rdev == sb.st_rdev;
}

static int memfd_for(int i) {
  moj_rt_t *rt = _moj_rt;
  if (rt->out_fd[i] < 0) {
    rt->out_fd[i] = memfd_create(i ? "mojave-held-stderr" : "mojave-held-stdout", MFD_CLOEXEC);
    if (rt->out_fd[i] < 0) return -1;
  }
  return rt->out_fd[i];
}

int _moj_output_begin(void) {
  moj_rt_t *rt = _moj_rt;
  fflush(stdout);
  fflush(stderr);
  rt->out_shared = same_file(1, 2);
  for (int i = 0; i < 2; i++) {
    rt->saved_fd[i] = -1;
    int fd = i + 1;
    int saved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (saved < 0) continue; /* stream closed: nothing to hold */
    int m = (i == 1 && rt->out_shared) ? memfd_for(0) : memfd_for(i);
    if (m < 0 || dup2(m, fd) < 0) {
      int e = errno;
      close(saved);
      for (int j = 0; j < i; j++)
        if (rt->saved_fd[j] >= 0) { dup2(rt->saved_fd[j], j + 1); close(rt->saved_fd[j]); rt->saved_fd[j] = -1; }
      errno = e;
      return -1;
    }
    rt->saved_fd[i] = saved;
  }
  return 0;
}

static int held_fd(int i) {
  moj_rt_t *rt = _moj_rt;
  if (rt->saved_fd[i] < 0) return -1;
  return (i == 1 && rt->out_shared) ? -1 : rt->out_fd[i];
}

void _moj_output_marks(off_t mark[2]) {
  fflush(stdout);
  fflush(stderr);
  for (int i = 0; i < 2; i++) {
    int m = held_fd(i);
    mark[i] = m >= 0 ? lseek(m, 0, SEEK_END) : 0;
  }
}

void _moj_output_truncate(const off_t mark[2]) {
  __fpurge(stdout);
  __fpurge(stderr);
  for (int i = 0; i < 2; i++) {
    int m = held_fd(i);
    if (m >= 0 && ftruncate(m, mark[i]) == 0) lseek(m, mark[i], SEEK_SET);
  }
}

/* Copy held bytes [from, to) to the real descriptor. */
static void copy_out(int m, int dst, off_t from, off_t to) {
  char buf[65536];
  while (from < to) {
    size_t want = (size_t)(to - from) < sizeof buf ? (size_t)(to - from) : sizeof buf;
    ssize_t n = pread(m, buf, want, from);
    if (n <= 0) { if (n < 0 && errno == EINTR) continue; break; }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(dst, buf + off, (size_t)(n - off));
      if (w < 0) { if (errno == EINTR) continue; return; } /* reader gone: drop, as write would */
      off += w;
    }
    from += n;
  }
}

void _moj_output_flush_to(const off_t to[2]) {
  moj_rt_t *rt = _moj_rt;
  fflush(stdout);
  fflush(stderr);
  for (int i = 0; i < 2; i++) {
    int m = held_fd(i);
    if (m < 0) continue;
    off_t end = to[i] >= 0 ? to[i] : lseek(m, 0, SEEK_END);
    copy_out(m, rt->saved_fd[i], rt->released[i], end);
    rt->released[i] = end;
  }
}

void _moj_output_end(int discard) {
  moj_rt_t *rt = _moj_rt;
  if (discard) { __fpurge(stdout); __fpurge(stderr); }
  for (int i = 0; i < 2; i++) {
    if (rt->saved_fd[i] < 0) continue;
    dup2(rt->saved_fd[i], i + 1);
    close(rt->saved_fd[i]);
    rt->saved_fd[i] = -1;
    rt->released[i] = 0;
    int m = rt->out_fd[i];
    if (m >= 0 && ftruncate(m, 0) == 0) lseek(m, 0, SEEK_SET);
  }
}
