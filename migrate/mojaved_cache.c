/* migrate/mojaved_cache.c — mojaved's cache of what it runs: executables
 * received in binary mode (STATE/exe/<sha256>), and in IR mode the bitcode
 * (STATE/ir/<sha256>.bc) and the executable compiled from it with mojcc in a
 * child process (STATE/ir/<sha256>).  Files are written under a temporary
 * name, verified against their SHA-256 and renamed, so a half-received file
 * is never run. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mojaved.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

static void hex(const uint8_t h[32], char out[65]) {
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}
/* The cache: exe/<sha256> for executables (binary mode), ir/<sha256> for
 * the executable compiled here from bitcode with that hash (IR mode), next to
 * ir/<sha256>.bc and the compiler's log ir/<sha256>.log. */
void exe_path(const uint8_t h[32], int mode, char *out, size_t n) {
  char x[65];
  hex(h, x);
  snprintf(out, n, "%s/%s/%s", state_dir, mode == 2 ? "ir" : "exe", x);
}

/* IR mode, in a child process: split the .mojave.bc records (docs/mojcc.md)
 * into one .bc file per module (decompressed), compile and link them with
 * mojcc, put the section back into the result as received (so the program
 * can migrate in IR mode from here too) and move it into the cache.  Exit 0 on success; the compiler's
 * messages go to ir/<hash>.log. */
static int run(char *const argv[]) {
  pid_t p = fork();
  if (p == 0) {
    execvp(argv[0], argv);
    dprintf(2, "cannot execute %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int st;
  if (p < 0 || waitpid(p, &st, 0) < 0) return -1;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}
static void compile_child(const char *base) {
  char bc[700], dir[700], log[700], tmp[700];
  snprintf(bc, sizeof bc, "%s.bc", base);
  snprintf(dir, sizeof dir, "%s.d", base);
  snprintf(log, sizeof log, "%s.log", base);
  snprintf(tmp, sizeof tmp, "%s.tmp", base);
  int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (lfd >= 0) { dup2(lfd, 1); dup2(lfd, 2); }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* mojcc verifies the shipped modules (LLVM verifier, instrumented by
   * mojcc, this ABI) instead of instrumenting them; a module that fails is
   * refused and the source keeps running (passes/MojVerify.cpp) */
  setenv("MOJCC_REQUIRE_INSTRUMENTED", "1", 1);
  int fd = open(bc, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) { dprintf(2, "cannot read %s\n", bc); _exit(1); }
  uint8_t *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) { dprintf(2, "cannot map %s\n", bc); _exit(1); }
  mkdir(dir, 0700);
  enum { MAXMOD = 4096 };
  static char *argv[MAXMOD + 8];
  int ac = 0;
  argv[ac++] = (char *)mojcc_path;
  argv[ac++] = "-O2";
  /* the destination compiles for its own instruction set (cluster file) */
  static char target[64], objcopy_cmd[64] = "objcopy";
  if (self_arch != _moj_arch_native()) {
    snprintf(target, sizeof target, "--target=%s-linux-gnu", _moj_arch_name(self_arch));
    snprintf(objcopy_cmd, sizeof objcopy_cmd, "%s-linux-gnu-objcopy", _moj_arch_name(self_arch));
    argv[ac++] = target;
  }
  argv[ac++] = "-o";
  argv[ac++] = tmp;
  size_t off = 0, len = (size_t)st.st_size;
  for (int n = 0; off < len; n++) {
    /* version 2: magic, u64 size, u64 raw size, zstd frame; version 1 (older
     * objects): magic, u64 size, bitcode.  Both padded to 8 bytes. */
    uint64_t sz, raw = 0;
    if (len - off < 16 || memcmp(p + off, "MOJBC\0\0", 7) || n >= MAXMOD) { dprintf(2, "bad .mojave.bc record at %zu\n", off); _exit(1); }
    int ver = p[off + 7];
    if (ver != 1 && ver != 2) { dprintf(2, ".mojave.bc record at %zu: format version %d unknown here (1, 2)\n", off, ver); _exit(1); }
    size_t hdr = ver == 2 ? 24 : 16;
    memcpy(&sz, p + off + 8, 8);
    if (ver == 2 && len - off >= 24) memcpy(&raw, p + off + 16, 8);
    if (len - off < hdr || sz > len - off - hdr || raw > MG_MAX_EXE) { dprintf(2, "bad .mojave.bc record size at %zu\n", off); _exit(1); }
    const void *data = p + off + hdr;
    size_t dlen = sz;
    void *buf = NULL;
    if (ver == 2) {
      buf = malloc(raw ? raw : 1);
      size_t r = buf ? ZSTD_decompress(buf, raw, p + off + hdr, sz) : 0;
      if (!buf || ZSTD_isError(r) || r != raw) { dprintf(2, "bad .mojave.bc record at %zu: corrupt zstd frame\n", off); _exit(1); }
      data = buf;
      dlen = raw;
    }
    char f[800];
    snprintf(f, sizeof f, "%s/%d.bc", dir, n);
    int o = open(f, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (o < 0 || write(o, data, dlen) != (ssize_t)dlen) { dprintf(2, "cannot write %s\n", f); _exit(1); }
    close(o);
    free(buf);
    argv[ac++] = strdup(f);
    off += hdr + ((sz + 7) & ~(uint64_t)7);
  }
  argv[ac++] = "-lm";
  argv[ac] = NULL;
  char sect[800];
  snprintf(sect, sizeof sect, ".mojave.bc=%s", bc);
  char *objcopy[] = {objcopy_cmd, "--add-section", sect, tmp, NULL};
  /* (the compiler's own last message stays the log's last line) */
  if (run(argv) || run(objcopy) || rename(tmp, base)) _exit(1);
  _exit(0);
}

/* The last line of the compiler's log, for the reason of a failure. */
static void last_line(const char *path, char *out, size_t n) {
  out[0] = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char b[4096];
  off_t end = lseek(fd, 0, SEEK_END);
  off_t at = end > (off_t)sizeof b - 1 ? end - (off_t)sizeof b + 1 : 0;
  ssize_t r = pread(fd, b, sizeof b - 1, at);
  close(fd);
  if (r <= 0) return;
  b[r] = 0;
  while (r && (b[r - 1] == '\n' || b[r - 1] == '\r')) b[--r] = 0;
  const char *l = strrchr(b, '\n');
  l = l ? l + 1 : b;
  size_t k = strlen(l) < n - 1 ? strlen(l) : n - 1;
  memcpy(out, l, k);
  out[k] = 0;
}

void compile_reaped(pid_t pid, int st) {
  for (struct conn *c = conns; c; c = c->next) {
    if (c->dead || c->compile_pid != pid) continue;
    c->compile_pid = 0;
    char base[600], log[700], why[300];
    exe_path(c->hash, 2, base, sizeof base);
    snprintf(log, sizeof log, "%s.log", base);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
      struct timespec t1;
      clock_gettime(CLOCK_MONOTONIC, &t1);
      logm("compiled bitcode from %s into %s in %.1f ms", c->host, base,
           (double)(t1.tv_sec - c->compile_t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - c->compile_t0.tv_nsec) * 1e-6);
      conn_send(c, MG_EXE | MG_REPLY, 0, 0, NULL, 0);
    } else {
      last_line(log, why, sizeof why);
      refuse(c, ENOEXEC, "IR compile failed at %s: %s", self_name, why[0] ? why : "see its log");
    }
    return;
  }
}

void on_exe(struct conn *c, const struct mg_exe *e, int mode) {
  if (e->size == 0 || e->size > MG_MAX_EXE) { refuse(c, EFBIG, "executable of %llu bytes refused", (unsigned long long)e->size); return; }
  if (mode != 1 && mode != 2) { refuse(c, EINVAL, "EXE: unknown mode %d", mode); return; }
  static unsigned seq;
  c->recv_mode = mode;
  snprintf(c->tmp_path, sizeof c->tmp_path, "%s/%s/.tmp-%d-%u", state_dir, mode == 2 ? "ir" : "exe", (int)getpid(), seq++);
  c->recv_fd = open(c->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
  if (c->recv_fd < 0) {
    logm("cannot create %s: %s", c->tmp_path, strerror(errno));
    c->tmp_path[0] = 0;
    conn_send(c, MG_EXE | MG_REPLY, EIO, 0, "cannot store the executable", 27);
    return;
  }
  c->recv_kind = MG_EXE;
  c->recv_left = e->size;
  memcpy(c->hash, e->hash, 32);
  _moj_sha_init(&c->sha);
}

void exe_done(struct conn *c) {
  uint8_t got[32];
  _moj_sha_final(&c->sha, got);
  close(c->recv_fd);
  c->recv_fd = -1;
  c->recv_kind = 0;
  if (memcmp(got, c->hash, 32)) {
    unlink(c->tmp_path);
    c->tmp_path[0] = 0;
    refuse(c, EBADMSG, "executable refused by %s: SHA-256 mismatch", self_name);
    return;
  }
  char path[600];
  exe_path(c->hash, c->recv_mode, path, sizeof path);
  if (c->recv_mode == 2) strcat(path, ".bc");
  if (rename(c->tmp_path, path) < 0) {
    logm("rename %s: %s", path, strerror(errno));
    unlink(c->tmp_path);
    c->tmp_path[0] = 0;
    conn_send(c, MG_EXE | MG_REPLY, EIO, 0, "cannot store the executable", 27);
    return;
  }
  c->tmp_path[0] = 0;
  if (c->recv_mode == 1) {
    logm("cached executable %s from %s", path, c->host);
    conn_send(c, MG_EXE | MG_REPLY, 0, 0, NULL, 0);
    return;
  }
  /* IR: compile in a child (seconds); the reply waits for it */
  path[strlen(path) - 3] = 0;
  logm("cached bitcode %s.bc from %s; compiling", path, c->host);
  clock_gettime(CLOCK_MONOTONIC, &c->compile_t0);
  pid_t pid = fork();
  if (pid == 0) compile_child(path);
  if (pid < 0) { refuse(c, EAGAIN, "IR compile failed at %s: fork: %s", self_name, strerror(errno)); return; }
  c->compile_pid = pid;
}

