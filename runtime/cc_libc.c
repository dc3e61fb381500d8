/* runtime/cc_libc.c — wrappers for libc functions whose arguments point to
 * memory that itself holds pointers (iovec arrays, argv/envp arrays, msghdr,
 * getline's buffer pointer).  mojcc translates a call's direct pointer
 * arguments; it redirects calls of these functions here so the pointers
 * *inside* are translated too (writes through the copy-on-write barrier).
 * Each wrapper has the prototype of the libc function it stands for.
 */
#include <errno.h>
#include <mojave/abi.h>
#include <mojave/alloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MOJ_CC_EXPORT __attribute__((visibility("default")))
#define MOJ_CC_MAX_VEC 1024 /* IOV_MAX on Linux */

static const void *rd(const void *p) { return __moj_r(p); }
static void *wr(void *p) { return __moj_w(p); }

/* Copies an iovec array with translated bases; returns NULL (EINVAL) when
 * too long, like the kernel does past IOV_MAX. */
static struct iovec *translate_iov(struct iovec *out, const struct iovec *in, int n,
                                   int write) {
  if (n < 0 || n > MOJ_CC_MAX_VEC) {
    errno = EINVAL;
    return NULL;
  }
  for (int i = 0; i < n; i++) {
    out[i].iov_len = in[i].iov_len;
    out[i].iov_base = write ? wr(in[i].iov_base) : (void *)rd(in[i].iov_base);
  }
  return out;
}

MOJ_CC_EXPORT ssize_t __moj_cc_writev(int fd, const struct iovec *iov, int n) {
  struct iovec v[MOJ_CC_MAX_VEC];
  return translate_iov(v, iov, n, 0) ? writev(fd, v, n) : -1;
}
MOJ_CC_EXPORT ssize_t __moj_cc_readv(int fd, const struct iovec *iov, int n) {
  struct iovec v[MOJ_CC_MAX_VEC];
  return translate_iov(v, iov, n, 1) ? readv(fd, v, n) : -1;
}
MOJ_CC_EXPORT ssize_t __moj_cc_pwritev(int fd, const struct iovec *iov, int n, off_t o) {
  struct iovec v[MOJ_CC_MAX_VEC];
  return translate_iov(v, iov, n, 0) ? pwritev(fd, v, n, o) : -1;
}
MOJ_CC_EXPORT ssize_t __moj_cc_preadv(int fd, const struct iovec *iov, int n, off_t o) {
  struct iovec v[MOJ_CC_MAX_VEC];
  return translate_iov(v, iov, n, 1) ? preadv(fd, v, n, o) : -1;
}
MOJ_CC_EXPORT ssize_t __moj_cc_pwritev64(int fd, const struct iovec *iov, int n, off_t o) {
  return __moj_cc_pwritev(fd, iov, n, o);
}
MOJ_CC_EXPORT ssize_t __moj_cc_preadv64(int fd, const struct iovec *iov, int n, off_t o) {
  return __moj_cc_preadv(fd, iov, n, o);
}

static ssize_t msg_call(int fd, const struct msghdr *m, int flags, int recv) {
  struct iovec v[MOJ_CC_MAX_VEC];
  struct msghdr c = *m;
  if (!translate_iov(v, m->msg_iov, (int)m->msg_iovlen, recv)) return -1;
  c.msg_iov = v;
  c.msg_name = recv ? wr(m->msg_name) : (void *)rd(m->msg_name);
  c.msg_control = recv ? wr(m->msg_control) : (void *)rd(m->msg_control);
  ssize_t r = recv ? recvmsg(fd, &c, flags) : sendmsg(fd, &c, flags);
  if (recv) { /* lengths and flags come back in the header */
    struct msghdr *out = (struct msghdr *)m;
    out->msg_namelen = c.msg_namelen;
    out->msg_controllen = c.msg_controllen;
    out->msg_flags = c.msg_flags;
  }
  return r;
}
MOJ_CC_EXPORT ssize_t __moj_cc_sendmsg(int fd, const struct msghdr *m, int flags) {
  return msg_call(fd, m, flags, 0);
}
MOJ_CC_EXPORT ssize_t __moj_cc_recvmsg(int fd, struct msghdr *m, int flags) {
  return msg_call(fd, m, flags, 1);
}

/* NULL-terminated string vectors (argv, envp): copied with raw strings. */
static char **translate_vec(char *const *in, char **buf, size_t cap) {
  if (!in) return NULL;
  size_t n = 0;
  while (in[n]) n++;
  char **out = n + 1 <= cap ? buf : malloc((n + 1) * sizeof *out); /* libc memory */
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) out[i] = (char *)rd(in[i]);
  out[n] = NULL;
  return out;
}
#define VEC_CAP 256
MOJ_CC_EXPORT int __moj_cc_execv(const char *path, char *const argv[]) {
  char *a[VEC_CAP];
  return execv(path, translate_vec(argv, a, VEC_CAP));
}
MOJ_CC_EXPORT int __moj_cc_execvp(const char *file, char *const argv[]) {
  char *a[VEC_CAP];
  return execvp(file, translate_vec(argv, a, VEC_CAP));
}
MOJ_CC_EXPORT int __moj_cc_execve(const char *path, char *const argv[], char *const envp[]) {
  char *a[VEC_CAP], *e[VEC_CAP];
  return execve(path, translate_vec(argv, a, VEC_CAP), translate_vec(envp, e, VEC_CAP));
}
MOJ_CC_EXPORT int __moj_cc_execvpe(const char *file, char *const argv[], char *const envp[]) {
  char *a[VEC_CAP], *e[VEC_CAP];
  return execvpe(file, translate_vec(argv, a, VEC_CAP), translate_vec(envp, e, VEC_CAP));
}

/* getline/getdelim: when *line is a managed buffer, libc must not realloc
 * it; read into libc memory and copy into the (grown) managed buffer. */
MOJ_CC_EXPORT ssize_t __moj_cc_getdelim(char **line, size_t *n, int delim, FILE *f) {
  if (!line || !n || !moj_is_handle(*line)) return getdelim(line, n, delim, f);
  char *tmp = NULL;
  size_t tn = 0;
  ssize_t r = getdelim(&tmp, &tn, delim, f);
  if (r >= 0) {
    char *h = *line;
    if (moj_usable_size(h) < (size_t)r + 1) {
      char *g = moj_realloc(h, (size_t)r + 1);
      if (!g) { free(tmp); errno = ENOMEM; return -1; }
      h = g;
      *line = h;
    }
    memcpy(wr(h), tmp, (size_t)r + 1);
    *n = moj_usable_size(h);
  }
  free(tmp);
  return r;
}
MOJ_CC_EXPORT ssize_t __moj_cc_getline(char **line, size_t *n, FILE *f) {
  return __moj_cc_getdelim(line, n, '\n', f);
}
MOJ_CC_EXPORT ssize_t __moj_cc___getdelim(char **line, size_t *n, int delim, FILE *f) {
  return __moj_cc_getdelim(line, n, delim, f);
}

/* setvbuf/setbuf with a managed buffer: libc would keep a raw address of one
 * copy of the object (stale after a copy-on-write or realloc), so it gets no
 * user buffer and allocates its own; buffering mode and size are kept. */
MOJ_CC_EXPORT int __moj_cc_setvbuf(FILE *f, char *buf, int mode, size_t size) {
  return setvbuf(f, moj_is_handle(buf) ? NULL : buf, mode, size);
}
MOJ_CC_EXPORT void __moj_cc_setbuf(FILE *f, char *buf) {
  if (moj_is_handle(buf)) setvbuf(f, NULL, _IOFBF, BUFSIZ);
  else setbuf(f, buf);
}

/* strtok/strtok_r on a managed string: libc would return (and keep) raw
 * addresses of the current copy.  The tokenizer runs here on the handle, so
 * tokens and the saved position stay handles and the NUL bytes it writes go
 * through the copy-on-write barrier. */
MOJ_CC_EXPORT char *__moj_cc_strtok_r(char *s, const char *delim, char **save) {
  char *h = s ? s : *save;
  if (!h) return NULL;
  if (!moj_is_handle(h)) return strtok_r(s, delim, save);
  const char *d = rd(delim);
  size_t skip = strspn((const char *)rd(h), d);
  if (!((const char *)rd(h))[skip]) {
    *save = h + skip;
    return NULL;
  }
  size_t len = strcspn((const char *)rd(h) + skip, d);
  char *w = wr(h); /* the barrier may copy the object: translate again */
  if (w[skip + len]) {
    w[skip + len] = '\0';
    *save = h + skip + len + 1;
  } else {
    *save = h + skip + len;
  }
  return h + skip;
}
MOJ_CC_EXPORT char *__moj_cc_strtok(char *s, const char *delim) {
  static char *save;
  return __moj_cc_strtok_r(s, delim, &save);
}
