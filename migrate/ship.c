/* migrate/ship.c — the source side of a hand-off, inside libmojave: dial
 * mojaved@host, make sure it has the executable (content-hashed, sent only
 * when its cache lacks it), send SHIP (argv/env/cwd) and the image, wait for
 * RESTORED, then GO or ABORT (ctl.h).  Runs in the application at a migration
 * point: blocking I/O bounded by MOJAVE_MIGRATE_TIMEOUT_MS, no threads, no
 * stdio streams, errno preserved on success. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "ctl.h"

#include <errno.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cluster.h"
#include "ctl_internal.h"
#include "wire.h"

extern char **environ;

struct moj_ship {
  int fd;
  int64_t timeout_ms;
  char host[32];
  char job[64];
  int noticed; /* the supervisor was told this hand-off failed */
};

/* SHA-256 of the executable, remembered by (dev, inode, size, mtime) so a
 * program that migrates often hashes its file once. */
static struct { dev_t dev; ino_t ino; off_t size; struct timespec mtime; uint8_t hash[32]; int ok; } exe_memo MG_RTVAR;

static void say(char *reason, size_t rlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, rlen, fmt, ap);
  va_end(ap);
}

static int64_t timeout_ms(void) {
  const char *t = getenv("MOJAVE_MIGRATE_TIMEOUT_MS");
  long v = t && *t ? strtol(t, NULL, 10) : 0;
  return v > 0 ? v : 30000;
}

/* Map the executable read-only (the caller munmaps); fills exe_memo's hash. */
static void *map_exe(const char *path, size_t *len, uint8_t hash[32], char *reason, size_t rlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    say(reason, rlen, "cannot read the executable %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return NULL;
  }
  if ((uint64_t)st.st_size > MG_MAX_EXE || st.st_size == 0) {
    say(reason, rlen, "executable %s: size %lld not shippable", path, (long long)st.st_size);
    close(fd);
    return NULL;
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) {
    say(reason, rlen, "cannot map the executable %s: %s", path, strerror(errno));
    return NULL;
  }
  if (!(exe_memo.ok && exe_memo.dev == st.st_dev && exe_memo.ino == st.st_ino && exe_memo.size == st.st_size &&
        exe_memo.mtime.tv_sec == st.st_mtim.tv_sec && exe_memo.mtime.tv_nsec == st.st_mtim.tv_nsec)) {
    _moj_sha256(p, (size_t)st.st_size, exe_memo.hash);
    exe_memo.dev = st.st_dev; exe_memo.ino = st.st_ino; exe_memo.size = st.st_size; exe_memo.mtime = st.st_mtim;
    exe_memo.ok = 1;
  }
  memcpy(hash, exe_memo.hash, 32);
  *len = (size_t)st.st_size;
  return p;
}

/* Wait for the reply to `type`; MG_ERROR from the daemon carries its reason. */
static int await(struct moj_ship *s, uint16_t want, void *buf, size_t cap, uint32_t *len, int64_t deadline,
                 const char *what, char *reason, size_t rlen) {
  struct _moj_hdr h;
  const char *why;
  char tmp[1024];
  for (;;) {
    if (mg_recv(s->fd, &h, tmp, sizeof tmp - 1, deadline, &why) < 0) {
      if (errno == ETIMEDOUT) say(reason, rlen, "timeout after %lld ms waiting for %s", (long long)s->timeout_ms, what);
      else if (why) say(reason, rlen, "bad reply from %s while waiting for %s: %s", s->host, what, why);
      else say(reason, rlen, "lost connection to %s while waiting for %s: %s", s->host, what, strerror(errno));
      return -1;
    }
    if (h.type == MG_ERROR) {
      tmp[h.len] = 0;
      say(reason, rlen, "%s", h.len ? tmp : "refused by the destination");
      errno = h.status > 0 ? h.status : EPROTO;
      return -1;
    }
    if (h.type == want) break;
    if (h.type == MG_PROGRESS) continue;
    say(reason, rlen, "unexpected %s from %s while waiting for %s", mg_type_name(h.type), s->host, what);
    errno = EPROTO;
    return -1;
  }
  if (h.len > cap) h.len = (uint32_t)cap;
  memcpy(buf, tmp, h.len);
  if (len) *len = h.len;
  if (h.status) {
    errno = h.status > 0 ? h.status : EPROTO;
    return 1;
  }
  return 0;
}

/* A non-loaded section of the mapped executable by name (IR mode: the
 * bitcode `.mojave.bc`, docs/mojcc.md, and the cross-ISA report
 * `.mojave.isa`), found through the ELF section headers; NULL when there is
 * none. */
static const void *find_section(const void *map, size_t len, const char *name, size_t *slen) {
  const Elf64_Ehdr *eh = map;
  if (len < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > len ||
      (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > len - eh->e_shoff || eh->e_shstrndx >= eh->e_shnum)
    return NULL;
  const Elf64_Shdr *sh = (const Elf64_Shdr *)((const char *)map + eh->e_shoff);
  const Elf64_Shdr *str = &sh[eh->e_shstrndx];
  if (str->sh_offset > len || str->sh_size > len - str->sh_offset) return NULL;
  const char *names = (const char *)map + str->sh_offset;
  size_t nlen = strlen(name) + 1;
  for (unsigned i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_name >= str->sh_size || sh[i].sh_type == SHT_NOBITS) continue;
    if (str->sh_size - sh[i].sh_name < nlen || memcmp(names + sh[i].sh_name, name, nlen)) continue;
    if (sh[i].sh_offset > len || sh[i].sh_size > len - sh[i].sh_offset || !sh[i].sh_size) return NULL;
    *slen = sh[i].sh_size;
    return (const char *)map + sh[i].sh_offset;
  }
  return NULL;
}

/* IR mode to another instruction set: the modules' own verdicts, written by
 * mojcc at compile time (passes/MojPortable.cpp), one line "ARCH REASON"
 * per thing the bitcode cannot do on ARCH.  Any line for the destination's
 * instruction set refuses the move here, before anything is sent; objects
 * without a report (older mojcc) are left to the destination's check. */
static int isa_refused(const void *map, size_t len, const char *arch, char *reason, size_t rlen) {
  size_t n = 0;
  const char *p = find_section(map, len, ".mojave.isa", &n), *end = p ? p + n : NULL;
  size_t alen = strlen(arch), hits = 0;
  const char *first = NULL, *first_end = NULL;
  while (p && p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e = nl ? nl : end;
    while (p < e && !*p) p++; /* padding between objects */
    if ((size_t)(e - p) > alen && !memcmp(p, arch, alen) && p[alen] == ' ') {
      if (!hits++) first = p + alen + 1, first_end = e;
    }
    p = e + 1;
  }
  if (!hits) return 0;
  say(reason, rlen, "IR mode refused: the bitcode cannot run on %s: %.*s%s", arch, (int)(first_end - first), first,
      hits > 1 ? " (and more: readelf -p .mojave.isa lists them)" : "");
  errno = ENOEXEC;
  return -1;
}

/* Send what the destination runs — the executable (binary mode) or its
 * bitcode (IR mode, recompiled there) — unless its cache has it.  hash
 * names it in the cache and in SHIP. */
static int send_exe(struct moj_ship *s, int mode, const char *exe_path, uint8_t hash[32], int64_t deadline,
                    char *reason, size_t rlen) {
  size_t len, plen;
  void *map = map_exe(exe_path, &len, hash, reason, rlen);
  if (!map) return -1;
  const void *p = map;
  plen = len;
  int rc = -1;
  if (mode == 2) {
    p = find_section(map, len, ".mojave.bc", &plen);
    if (!p) {
      say(reason, rlen, "IR mode: %s has no .mojave.bc section (not built with mojcc)", exe_path);
      errno = ENOEXEC;
      goto out;
    }
    _moj_sha256(p, plen, hash);
  }
  const char *what = mode == 2 ? "the bitcode" : "the executable";
  if (mg_send(s->fd, MG_HAVE_EXE, 0, (uint32_t)mode, hash, 32, deadline) < 0) goto io;
  int r = await(s, MG_HAVE_EXE | MG_REPLY, NULL, 0, NULL, deadline, "the executable cache", reason, rlen);
  if (r < 0) goto out;
  if (r > 0) { /* not cached: ship it once */
    struct mg_exe e;
    memcpy(e.hash, hash, 32);
    e.size = plen;
    if (mg_send(s->fd, MG_EXE, 0, (uint32_t)mode, &e, sizeof e, deadline) < 0) goto io;
    for (size_t off = 0; off < plen; off += MG_CHUNK) {
      size_t n = plen - off < MG_CHUNK ? plen - off : MG_CHUNK;
      if (mg_send(s->fd, MG_DATA, 0, 0, (const char *)p + off, n, deadline) < 0) goto io;
    }
    if (await(s, MG_EXE | MG_REPLY, NULL, 0, NULL, deadline, what, reason, rlen)) goto out;
  }
  rc = 0;
  goto out;
io:
  if (errno == ETIMEDOUT) say(reason, rlen, "timeout after %lld ms sending %s to %s", (long long)s->timeout_ms, what, s->host);
  else say(reason, rlen, "lost connection to %s while sending %s: %s", s->host, what, strerror(errno));
out:
  munmap(map, len);
  return rc;
}

/* Append a NUL-terminated string to the SHIP payload. */
static int put(char *buf, size_t cap, size_t *at, const char *str) {
  size_t n = strlen(str) + 1;
  if (*at + n > cap) return -1;
  memcpy(buf + *at, str, n);
  *at += n;
  return 0;
}

/* The variables only meaningful on this host: mojaved sets its own. */
static int host_local_env(const char *e) {
  static const char *const drop[] = {"MOJAVE_CTL_FD=", "MOJAVE_RESTORE_FD=", "MOJAVE_HOST=", "MOJAVE_CLUSTER="};
  for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
    if (!strncmp(e, drop[i], strlen(drop[i]))) return 1;
  return 0;
}

/* SHIP payload: header + cwd + argv (from /proc/self/cmdline) + environment. */
static char *ship_payload(int mode, const uint8_t hash[32], size_t img_len, size_t *plen, char *reason, size_t rlen) {
  size_t cap = MG_MAX_PAYLOAD, at = sizeof(struct mg_ship);
  char *buf = malloc(cap);
  if (!buf) { say(reason, rlen, "out of memory"); return NULL; }
  struct mg_ship sh;
  memset(&sh, 0, sizeof sh);
  sh.mode = (uint32_t)mode;
  sh.image_len = img_len;
  memcpy(sh.exe_hash, hash, 32);
  const char *me = getenv("MOJAVE_HOST");
  if (me) snprintf(sh.src_host, sizeof sh.src_host, "%s", me);
  else gethostname(sh.src_host, sizeof sh.src_host - 1);
  sh.src_pid = (uint64_t)getpid();
  if (!getcwd(buf + at, cap - at)) strcpy(buf + at, "/");
  at += strlen(buf + at) + 1;
  /* argv: the kernel's copy, NUL-separated, exactly what exec got */
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  size_t a0 = at;
  long r;
  while (fd >= 0 && at < cap && (r = syscall(SYS_read, fd, buf + at, cap - at)) > 0) at += (size_t)r;
  if (fd >= 0) close(fd);
  if (at == a0 || at >= cap || buf[at - 1] != 0) {
    say(reason, rlen, "cannot read this program's argv from /proc/self/cmdline");
    free(buf);
    return NULL;
  }
  for (size_t i = a0; i < at; i++) sh.argc += buf[i] == 0;
  for (char **e = environ; e && *e; e++) {
    if (host_local_env(*e)) continue;
    if (put(buf, cap, &at, *e)) {
      say(reason, rlen, "argv and environment exceed %u bytes", MG_MAX_PAYLOAD);
      free(buf);
      return NULL;
    }
    sh.envc++;
  }
  memcpy(buf, &sh, sizeof sh);
  *plen = at;
  return buf;
}

static void fail_notice(const char *host, const char *reason) {
  char msg[600];
  int n = snprintf(msg, sizeof msg, "migration to %s failed: %s", host, reason);
  moj_ctl_notify(MG_FAILED, msg, n < 0 ? 0 : (size_t)n >= sizeof msg ? sizeof msg - 1 : (size_t)n);
}

/* An executable runs only on the instruction set it was built for, so
 * between hosts of different ones (the cluster file's `arch`) only bitcode
 * can move: "auto" picks IR there, and an explicit binary request is refused
 * before anything is sent.  The source's side is the code running now, not
 * what the file says about its host: under an emulator they differ. */
int moj_ship_mode(const struct _moj_cluster *c, const char *host, int mode, char *reason, size_t rlen) {
  int h = c ? _moj_cluster_find_host(c, host) : -1;
  int here = _moj_arch_native(), there = h >= 0 ? c->host[h].arch : here;
  if (mode == 2) return 2;
  if (there == here) return 1;
  if (mode == 0) return 2;
  const char *self = getenv("MOJAVE_HOST");
  say(reason, rlen, "binary mode refused: %s runs %s, this program runs %s%s%s%s (an executable cannot move "
      "across instruction sets; IR mode can, and is the default between them)", host, _moj_arch_name(there),
      _moj_arch_name(here), self && *self ? " (on " : "", self && *self ? self : "", self && *self ? ")" : "");
  errno = ENOEXEC;
  return -1;
}

int moj_ship_mode_for(const char *host, int mode, char *reason, size_t rlen) {
  if (!strncmp(host, "file:", 5)) return mode == 2 ? 2 : 1;
  const char *path = getenv("MOJAVE_CLUSTER");
  struct _moj_cluster *c = path && *path ? calloc(1, sizeof *c) : NULL;
  char err[512];
  /* an unreadable file is moj_ship_begin's to report, with its reason */
  if (c && _moj_cluster_load(path, c, err, sizeof err)) { free(c); c = NULL; }
  int saved = errno, m = moj_ship_mode(c, host, mode, reason, rlen);
  if (m > 0) errno = saved;
  free(c);
  return m;
}

int moj_ship_begin(const char *host, int mode, const char *exe_path, const void *img, size_t len, moj_ship_t **out,
                   void (*progress)(uint64_t sent, uint64_t total), char *reason, size_t rlen) {
  int saved = errno;
  *out = NULL;
  reason[0] = 0;
  struct moj_ship *s = calloc(1, sizeof *s);
  struct _moj_cluster *c = calloc(1, sizeof *c);
  char *payload = NULL;
  size_t plen = 0;
  int e = EPROTO;
  if (!s || !c) { say(reason, rlen, "out of memory"); e = ENOMEM; goto fail; }
  s->fd = -1;
  s->timeout_ms = timeout_ms();
  snprintf(s->host, sizeof s->host, "%s", host);
  int64_t deadline = mg_now_ms() + s->timeout_ms;
  const char *path = getenv("MOJAVE_CLUSTER");
  char err[512];
  if (!path || !*path) { say(reason, rlen, "no cluster file (MOJAVE_CLUSTER is not set)"); e = ENOENT; goto fail; }
  if (_moj_cluster_load(path, c, err, sizeof err)) { say(reason, rlen, "%s", err); e = EINVAL; goto fail; }
  if (len > MG_MAX_IMAGE) { say(reason, rlen, "image of %zu bytes exceeds the limit", len); e = EFBIG; goto fail; }
  mode = moj_ship_mode(c, host, mode, reason, rlen);
  if (mode < 0) { e = ENOEXEC; goto fail; }
  const char *exe = exe_path && *exe_path ? exe_path : "/proc/self/exe";
  int h = _moj_cluster_find_host(c, host), there = h >= 0 ? c->host[h].arch : _moj_arch_native();
  if (mode == 2 && there != _moj_arch_native()) { /* before anything reaches the host */
    size_t elen;
    uint8_t ehash[32];
    void *map = map_exe(exe, &elen, ehash, reason, rlen); /* hashed once: send_exe's map is memoized */
    if (!map) { e = errno ? errno : EPROTO; goto fail; }
    int refused = isa_refused(map, elen, _moj_arch_name(there), reason, rlen);
    munmap(map, elen);
    if (refused) { e = ENOEXEC; goto fail; }
  }
  s->fd = mg_dial(c, host, NULL, deadline, reason, rlen);
  if (s->fd < 0) { e = errno; goto fail; }
  uint8_t hash[32] = {0};
  if (send_exe(s, mode, exe, hash, deadline, reason, rlen)) {
    e = errno ? errno : EPROTO;
    goto fail;
  }
  payload = ship_payload(mode, hash, len, &plen, reason, rlen);
  if (!payload) { e = E2BIG; goto fail; }
  if (mg_send(s->fd, MG_SHIP, 0, 0, payload, plen, deadline) < 0) goto io;
  struct mg_progress pr;
  memset(&pr, 0, sizeof pr);
  pr.total = len;
  snprintf(pr.host, sizeof pr.host, "%s", host);
  moj_ctl_notify(MG_PROGRESS, &pr, sizeof pr);
  uint64_t step = len / 64 > MG_CHUNK ? len / 64 : MG_CHUNK, last = 0;
  for (size_t off = 0; off < len;) {
    size_t n = len - off < MG_CHUNK ? len - off : MG_CHUNK;
    if (mg_send(s->fd, MG_DATA, 0, 0, (const char *)img + off, n, deadline) < 0) goto io;
    off += n;
    if (progress) progress(off, len);
    if (off - last >= step || off == len) { /* supervisors print it; at most ~64 packets */
      pr.sent = last = off;
      moj_ctl_notify(MG_PROGRESS, &pr, sizeof pr);
    }
  }
  uint32_t jl = 0;
  if (await(s, MG_RESTORED, s->job, sizeof s->job - 1, &jl, deadline, "RESTORED", reason, rlen)) {
    e = errno;
    goto fail;
  }
  s->job[jl] = 0;
  free(payload);
  free(c);
  *out = s;
  errno = saved;
  return 0;
io:
  e = errno;
  if (e == ETIMEDOUT) say(reason, rlen, "timeout after %lld ms sending the image to %s", (long long)s->timeout_ms, host);
  else say(reason, rlen, "lost connection to %s while sending the image: %s", host, strerror(e));
fail:
  if (s && s->fd >= 0) {
    mg_send(s->fd, MG_ABORT, 0, 0, NULL, 0, mg_now_ms() + 1000);
    close(s->fd);
  }
  fail_notice(host, reason);
  free(payload);
  free(c);
  free(s);
  errno = e;
  return -1;
}

int moj_ship_commit(moj_ship_t *s, char *reason, size_t rlen) {
  int saved = errno;
  int64_t deadline = mg_now_ms() + s->timeout_ms;
  /* From just before GO the source holds asynchronous signals: one that
   * arrives once the destination runs must not kill or divert the source;
   * moj_ctl_moved hands the pending ones to the supervisor, which delivers
   * them at the destination.  Restored if the hand-off fails. */
  sigset_t all, old;
  sigfillset(&all);
  int sync[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGABRT};
  for (size_t i = 0; i < sizeof sync / sizeof *sync; i++) sigdelset(&all, sync[i]);
  sigprocmask(SIG_BLOCK, &all, &old);
  if (mg_send(s->fd, MG_GO, 0, 0, NULL, 0, deadline) < 0) {
    say(reason, rlen, "lost connection to %s before GO: %s", s->host, strerror(errno));
  } else if (await(s, MG_GO | MG_REPLY, NULL, 0, NULL, deadline, "GO to be confirmed", reason, rlen) == 0) {
    errno = saved;
    return 0;
  }
  int e = errno;
  sigprocmask(SIG_SETMASK, &old, NULL);
  fail_notice(s->host, reason);
  s->noticed = 1;
  mg_send(s->fd, MG_ABORT, 0, 0, NULL, 0, mg_now_ms() + 1000);
  errno = e;
  return -1;
}

void moj_ship_abort(moj_ship_t *s) {
  if (!s) return;
  int saved = errno;
  if (!s->noticed) fail_notice(s->host, "aborted at the source");
  mg_send(s->fd, MG_ABORT, 0, 0, NULL, 0, mg_now_ms() + 1000);
  close(s->fd);
  free(s);
  errno = saved;
}

const char *moj_ship_job(const moj_ship_t *s) { return s ? s->job : ""; }
