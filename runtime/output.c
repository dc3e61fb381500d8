/* runtime/output.c — output held while speculating.
 *
 * Holding means stdout and stderr (descriptors 1 and 2) point at anonymous
 * memory files, so everything written to them — stdio, write(2), child
 * processes — is kept in order.  Entering a speculation only *arms* holding;
 * the redirection is *engaged* by the first output call made while armed
 * (output_wrap.c), so speculations that print nothing cost no system call.
 * MOJAVE_HOLD_OUTPUT=eager engages at entry instead; =off disables holding.
 *
 * A level's mark is the held length of each stream at its entry: aborting
 * truncates back to it; committing the outermost level copies what it held
 * to the real descriptors.  When both streams are the same file (a terminal)
 * they share one memory file, so their interleaving survives. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>


/* The runtime's own descriptor calls bypass its interposers (output_wrap.c). */
/* dup2 as dup3 (aarch64 has no dup2 system call); dup3 refuses a == b,
 * where dup2 only checks that the descriptor is open. */
static int sys_dup2(int a, int b) {
  if (a == b) return syscall(SYS_fcntl, a, F_GETFD) < 0 ? -1 : b;
  return (int)syscall(SYS_dup3, a, b, 0);
}
static int sys_close(int fd) { return (int)syscall(SYS_close, fd); }
static int sys_dupfd(int fd, int min) { return (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, min); }

enum { HOLD_LAZY, HOLD_EAGER, HOLD_OFF };

static int hold_mode(void) {
  moj_rt_t *rt = _moj_rt;
  if (!rt->out_mode_set) {
    const char *m = getenv("MOJAVE_HOLD_OUTPUT");
    rt->out_mode = HOLD_LAZY;
    if (m && !strcmp(m, "eager")) rt->out_mode = HOLD_EAGER;
    else if (m && !strcmp(m, "off")) rt->out_mode = HOLD_OFF;
    else if (m && *m && strcmp(m, "lazy")) {
      static int warned MOJ_RTVAR;
      _moj_warn_once(&warned, "MOJAVE_HOLD_OUTPUT='%s' is not lazy, eager or off; using lazy", m);
    }
    rt->out_mode_set = 1;
  }
  return rt->out_mode;
}

static int same_file(int a, int b) {
  struct stat sa, sb;
  if (fstat(a, &sa) || fstat(b, &sb)) return 0;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino && sa.st_rdev == sb.st_rdev;
}

static int memfd_for(int i) {
  moj_rt_t *rt = _moj_rt;
  if (rt->out_fd[i] < 0) {
    int m = memfd_create(i ? "mojave-held-stderr" : "mojave-held-stdout", MFD_CLOEXEC);
    if (m < 0) return -1;
    /* Never 0..2: with stdout closed (`./app >&-`) the memory file would
     * otherwise become descriptor 1 and keep it after the speculation. */
    if (m < 3) {
      int h = sys_dupfd(m, 3);
      sys_close(m);
      if (h < 0) return -1;
      m = h;
    }
    rt->out_fd[i] = m;
  }
  return rt->out_fd[i];
}

static int buffered(FILE *f) { return __fpending(f) > 0; }

/* stdio picks a stream's buffering when it first allocates the buffer,
 * from whether the descriptor is a terminal.  Holding replaces descriptor 1
 * with a memory file, so a stdout first used inside a speculation would
 * become fully buffered and a terminal's "out1 err1 out2 err2" would come out
 * as "err1 err2 out1 out2".  Decide for it now, while 1 is still the real
 * descriptor: a terminal keeps line buffering (setvbuf with no buffer only
 * sets the mode; stdio allocates as usual). */
static void keep_terminal_buffering(void) {
  if (stdout->_IO_buf_base == NULL && isatty(1)) setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Redirect descriptors 1 and 2 into the memory files. */
static int engage(void) {
  moj_rt_t *rt = _moj_rt;
  keep_terminal_buffering();
  rt->out_shared = same_file(1, 2);
  for (int i = 0; i < 2; i++) {
    int fd = i + 1;
    int saved = sys_dupfd(fd, 3);
    if (saved < 0) continue; /* stream closed: nothing to hold */
    int m = (i == 1 && rt->out_shared) ? memfd_for(0) : memfd_for(i);
    if (m < 0 || sys_dup2(m, fd) < 0) {
      int e = errno;
      sys_close(saved);
      for (int j = 0; j < i; j++)
        if (rt->saved_fd[j] >= 0) { sys_dup2(rt->saved_fd[j], j + 1); sys_close(rt->saved_fd[j]); rt->saved_fd[j] = -1; }
      errno = e;
      return -1;
    }
    rt->saved_fd[i] = saved;
  }
  rt->out_engaged = 1;
  return 0;
}

/* Called by every interposed output path while armed. */
void _moj_output_hook(void) {
  moj_rt_t *rt = _moj_rt;
  rt->out_dirty = 1;
  if (rt->out_engaged || !rt->out_armed) return;
  _moj_rt_enter();
  int r = engage();
  _moj_rt_leave();
  if (r < 0) {
    static int warned MOJ_RTVAR;
    _moj_warn_once(&warned, "cannot hold speculative output (%s); it is written directly", strerror(errno));
    rt->out_armed = 0;
    _moj_out_hook = 0;
  }
}

void _moj_output_children(void) {
  if (_moj_rt && _moj_rt->out_armed) _moj_rt->out_children = 1;
}

/* A child forked inside a speculation writes into its parent's held output
 * (descriptors 1/2 point at the parent's memory files) and never truncates,
 * releases or restores them: that is the parent's decision. */
void _moj_output_forked(void) {
  moj_rt_t *rt = _moj_rt;
  if (rt && rt->out_armed) rt->out_inherited = 1;
}

/* Flush stdio; buffered bytes filled by the putc macros engage holding first. */
static void flush_streams(void) {
  if (_moj_rt->out_armed && !_moj_rt->out_engaged && (buffered(stdout) || buffered(stderr)))
    _moj_output_hook();
  if (buffered(stdout) || buffered(stderr)) _moj_rt->out_dirty = 1;
  _moj_sys_fflush(stdout);
  _moj_sys_fflush(stderr);
}

int _moj_output_begin(void) {
  moj_rt_t *rt = _moj_rt;
  _moj_sys_fflush(stdout); /* output from before the speculation is not held */
  _moj_sys_fflush(stderr);
  int mode = hold_mode();
  if (mode == HOLD_OFF) return 0;
  rt->out_armed = 1;
  rt->out_engaged = 0;
  rt->out_dirty = 0;
  rt->out_children = 0;
  rt->last_mark[0] = rt->last_mark[1] = 0;
  _moj_out_hook = 1;
  if (mode == HOLD_EAGER && engage() < 0) {
    rt->out_armed = 0;
    _moj_out_hook = 0;
    return -1;
  }
  return 0;
}

static int held_fd(int i) {
  moj_rt_t *rt = _moj_rt;
  if (!rt->out_engaged || rt->out_inherited || rt->saved_fd[i] < 0) return -1;
  return (i == 1 && rt->out_shared) ? -1 : rt->out_fd[i];
}

void _moj_output_marks(off_t mark[2]) {
  moj_rt_t *rt = _moj_rt;
  flush_streams();
  if (rt->out_engaged && (rt->out_dirty || rt->out_children)) {
    for (int i = 0; i < 2; i++) {
      int m = held_fd(i);
      rt->last_mark[i] = m >= 0 ? lseek(m, 0, SEEK_END) : 0;
    }
    rt->out_dirty = 0;
  }
  mark[0] = rt->last_mark[0];
  mark[1] = rt->last_mark[1];
}

void _moj_output_truncate(const off_t mark[2]) {
  moj_rt_t *rt = _moj_rt;
  __fpurge(stdout);
  __fpurge(stderr);
  for (int i = 0; i < 2; i++) {
    int m = held_fd(i);
    if (m >= 0 && ftruncate(m, mark[i]) == 0) lseek(m, mark[i], SEEK_SET);
    rt->last_mark[i] = mark[i];
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
      ssize_t w = _moj_sys_write(dst, buf + off, (size_t)(n - off));
      if (w < 0) { if (errno == EINTR) continue; return; } /* reader gone: drop, as write would */
      off += w;
    }
    from += n;
  }
}

void _moj_output_flush_to(const off_t to[2]) {
  moj_rt_t *rt = _moj_rt;
  flush_streams();
  for (int i = 0; i < 2; i++) {
    int m = held_fd(i);
    if (m < 0) continue;
    off_t end = to[i] >= 0 ? to[i] : lseek(m, 0, SEEK_END);
    copy_out(m, rt->saved_fd[i], rt->released[i], end);
    rt->released[i] = end;
  }
}

/* Descriptors the program changes while output is held.  Replacing or
 * closing 1/2 detaches that stream: what it held so far still goes to the old
 * destination at commit (or is dropped at abort), the descriptor is left as
 * the program made it, and later output through it is not held.  A duplicate
 * of a held 1/2 (dup, dup2, dup3, F_DUPFD) writes into the held file like the
 * original and is pointed at the real destination when holding ends. */
static int held_stream(int fd) {
  moj_rt_t *rt = _moj_rt;
  if (!rt || !rt->out_engaged || rt->out_inherited) return -1;
  if ((fd == 1 || fd == 2) && rt->saved_fd[fd - 1] >= 0 && !rt->out_detached[fd - 1]) return fd - 1;
  for (int a = 0; a < rt->nalias; a++)
    if (rt->alias[a].fd == fd) return rt->alias[a].stream;
  return -1;
}

void _moj_output_fd_replaced(int fd) {
  moj_rt_t *rt = _moj_rt;
  if (!rt || !rt->out_engaged || rt->out_inherited) return;
  if ((fd == 1 || fd == 2) && rt->saved_fd[fd - 1] >= 0) rt->out_detached[fd - 1] = 1;
  for (int a = 0; a < rt->nalias; a++)
    if (rt->alias[a].fd == fd) rt->alias[a--] = rt->alias[--rt->nalias];
}

void _moj_output_fd_dup(int oldfd, int newfd, int cloexec) {
  moj_rt_t *rt = _moj_rt;
  int i = held_stream(oldfd);
  if (i < 0 || newfd < 0) return;
  if (rt->nalias == 16) {
    static int warned MOJ_RTVAR;
    _moj_warn_once(&warned, "more than 16 duplicates of held stdout/stderr: descriptor %d keeps writing to the held file", newfd);
    return;
  }
  rt->alias[rt->nalias].fd = newfd;
  rt->alias[rt->nalias].stream = i;
  rt->alias[rt->nalias].cloexec = cloexec;
  rt->nalias++;
}

/* Copy out what lingering children added since the last drain. */
void _moj_output_drain(void) {
  moj_rt_t *rt = _moj_rt;
  if (!rt) return;
  for (int i = 0; i < 8; i++) {
    if (!rt->linger[i].fd) continue;
    off_t end = lseek(rt->linger[i].fd, 0, SEEK_END);
    if (end > rt->linger[i].off) copy_out(rt->linger[i].fd, rt->linger[i].dst, rt->linger[i].off, end);
    if (end > rt->linger[i].off) rt->linger[i].off = end;
  }
}

/* Stream i's memory file may still be written by a child started inside the
 * speculation that just ended (popen("sort","w") prints when its input
 * closes, long after the commit): keep it, with a duplicate of the real
 * descriptor, and give the next speculation a fresh one.  Of 8 slots the
 * oldest is drained and dropped when full. */
static void linger(int i, off_t from) {
  moj_rt_t *rt = _moj_rt;
  int dst = sys_dupfd(rt->saved_fd[i], 3);
  if (dst < 0) return;
  if (rt->linger[7].fd) {
    _moj_output_drain();
    sys_close(rt->linger[7].fd);
    sys_close(rt->linger[7].dst);
  }
  memmove(&rt->linger[1], &rt->linger[0], 7 * sizeof rt->linger[0]);
  rt->linger[0].fd = rt->out_fd[i];
  rt->linger[0].dst = dst;
  rt->linger[0].off = from;
  rt->out_fd[i] = -1;
}

void _moj_output_end(int discard) {
  moj_rt_t *rt = _moj_rt;
  if (discard) { __fpurge(stdout); __fpurge(stderr); }
  else flush_streams();
  _moj_out_hook = 0;
  rt->out_armed = 0;
  if (rt->out_inherited) {         /* keep writing into the parent's held output */
    for (int i = 0; i < 2; i++)
      if (rt->saved_fd[i] >= 0) { sys_close(rt->saved_fd[i]); rt->saved_fd[i] = -1; }
    rt->out_inherited = 0;
    rt->out_engaged = 0;
    return;
  }
  if (!rt->out_engaged) return;
  /* The program's dups of held descriptors now write where stdout/stderr do. */
  for (int a = 0; a < rt->nalias; a++)
    syscall(SYS_dup3, rt->saved_fd[rt->alias[a].stream], rt->alias[a].fd,
            rt->alias[a].cloexec ? O_CLOEXEC : 0);
  rt->nalias = 0;
  for (int i = 0; i < 2; i++) {
    off_t released = rt->released[i];
    rt->released[i] = 0;
    int detached = rt->out_detached[i];
    rt->out_detached[i] = 0;
    if (rt->saved_fd[i] < 0) continue;
    if (!detached) sys_dup2(rt->saved_fd[i], i + 1); /* else the program's own redirect stays */
    int m = held_fd(i);
    if (m >= 0 && rt->out_children) {
      /* after an abort the dropped bytes stay dropped: start past them */
      linger(i, discard ? lseek(m, 0, SEEK_END) : released);
    } else if (m >= 0 && ftruncate(m, 0) == 0) {
      lseek(m, 0, SEEK_SET);
    }
    sys_close(rt->saved_fd[i]);
    rt->saved_fd[i] = -1;
  }
  rt->out_children = 0;
  rt->out_engaged = 0;
}
