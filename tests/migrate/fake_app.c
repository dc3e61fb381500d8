/* tests/migrate/fake_app.c — a stand-in for a migrating mojave program while
 * the runtime's capture/restore is built elsewhere: it drives the transport
 * (ctl.h) end to end with an "image" that is just its own state (a counter,
 * its position in its input) behind a valid image header (image.h layout).
 *
 *   fake_app [--count N]   print 0..N-1, one line each, then exit $FAKE_EXIT (7)
 *   fake_app --lines       number stdin lines: "K: line" (reads byte by byte,
 *                          so it never holds input it has not consumed)
 * Environment (travels with the program, so it also steers the destination):
 *   FAKE_WAIT_AT=K[,K..]   at the n-th listed step K, block until n requests
 *                          have been taken (the request may come earlier)
 *   FAKE_ROUTE=h2,h3,h1    migrate on its own (like moj_migrate()) to these
 *   FAKE_HOP_EVERY=M       ... one hop every M steps (default 10)
 *   FAKE_MODE=2            ... in IR mode (built with mojcc: bitcode embedded)
 *   FAKE_SLEEP_MS=T        sleep T ms per step
 *   FAKE_ERR=1             also print "err K" on stderr every 5 steps
 *   FAKE_ANNOUNCE=1        after a restore print "restored on HOST"
 *   FAKE_CRASH_RESTORE=1   at the destination: SIGSEGV before RESTORED
 *   FAKE_HANG_RESTORE=1    at the destination: never report RESTORED
 *   FAKE_BAD_MAGIC=1       ship an image with a corrupt magic
 *   FAKE_SIGTERM_AFTER_GO=1  SIGTERM itself between commit and MOVED (the
 *                          signal must be delivered at the destination)
 *   FAKE_PAD_MB=N          pad the image with N MiB (progress display) */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctl.h"
#include "image.h" /* MOJ_IMG_VERSION: mojaved checks the header */
#include "proto.h" /* _moj_sha256, from libmojave */

struct state {
  uint32_t magic;
  uint32_t lines;   /* --lines mode */
  uint64_t i, n;    /* next step, steps */
  uint32_t hops;    /* migrations done (route position) */
  uint32_t asked;   /* supervisor requests taken (FAKE_WAIT_AT) */
  uint32_t pad_mb;
};
static struct state st;
static int resumed; /* just restored: we are past the migration point we left from */

static void out(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(int fd, const char *fmt, ...) {
  char b[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  for (int off = 0; off < n;) {
    ssize_t w = write(fd, b + off, (size_t)(n - off));
    if (w <= 0) { if (errno == EINTR) continue; return; }
    off += (int)w;
  }
}

static int env_int(const char *k, int dflt) {
  const char *v = getenv(k);
  return v && *v ? atoi(v) : dflt;
}

/* 1-based position of k in the list "a,b,c", 0 when absent. */
static uint32_t listed(const char *list, uint64_t k) {
  uint32_t n = 1;
  for (const char *p = list; p && *p; n++) {
    if ((uint64_t)strtoull(p, NULL, 10) == k) return n;
    p = strchr(p, ',');
    if (p) p++;
  }
  return 0;
}

/* Route entry h (0-based) of FAKE_ROUTE, or NULL. */
static const char *route(uint32_t h, char *buf, size_t n) {
  const char *p = getenv("FAKE_ROUTE");
  for (uint32_t k = 0; p && *p && k < h; k++) {
    p = strchr(p, ',');
    if (p) p++;
  }
  if (!p || !*p) return NULL;
  size_t l = strcspn(p, ",");
  snprintf(buf, n, "%.*s", (int)(l < n ? l : n - 1), p);
  return buf;
}

static void migrate(const char *host, int mode) {
  size_t pad = (size_t)env_int("FAKE_PAD_MB", 0) << 20;
  size_t plen = sizeof st + pad, len = 64 + plen;
  /* mmap, not malloc: built with mojcc, heap pointers are table handles,
   * and this buffer goes to libmojave as raw memory (as the runtime's is) */
  uint8_t *img = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (img == MAP_FAILED) return;
  struct state next = st;
  next.hops++;
  memcpy(img + 64, &next, sizeof next);
  for (size_t k = 0; k < pad; k++) img[64 + sizeof st + k] = (uint8_t)(k * 131u >> 7);
  uint32_t ver = MOJ_IMG_VERSION, flags = 0;
  uint64_t raw = plen, z = plen;
  memcpy(img, getenv("FAKE_BAD_MAGIC") ? "MOJXXX\r\n" : "MOJIMG\r\n", 8);
  memcpy(img + 8, &ver, 4);
  memcpy(img + 12, &flags, 4);
  memcpy(img + 16, &raw, 8);
  memcpy(img + 24, &z, 8);
  _moj_sha256(img + 64, plen, img + 32);
  moj_ship_t *s = NULL;
  char reason[512];
  if (moj_ship_begin(host, mode, NULL, img, len, &s, NULL, reason, sizeof reason) == 0) {
    if (moj_ship_commit(s, reason, sizeof reason) == 0) {
      munmap(img, len);
      if (getenv("FAKE_SIGTERM_AFTER_GO")) kill(getpid(), SIGTERM);
      moj_ctl_moved(host, moj_ship_job(s));
      _exit(0);
    }
    moj_ship_abort(s);
  }
  munmap(img, len);
  /* failed: keep running here; the supervisor printed the reason */
}

static void migration_point(void) {
  uint64_t k = st.i;
  if (resumed) { resumed = 0; return; }
  const char *w = getenv("FAKE_WAIT_AT");
  uint32_t nth = w ? listed(w, k) : 0;
  if (nth && st.asked < nth) /* bounded: a request that never comes must not hang the test */
    for (int t = 0; t < 6000 && !__moj_mig_req; t++) usleep(10000);
  if (__moj_mig_req) {
    char host[64];
    int mode;
    if (moj_ctl_take_request(host, sizeof host, &mode)) {
      st.asked++;
      migrate(host, mode);
    }
  }
  int every = env_int("FAKE_HOP_EVERY", 10);
  char rb[64];
  const char *r = route(st.hops, rb, sizeof rb);
  if (r && every > 0 && k > 0 && k % (uint64_t)every == 0) migrate(r, env_int("FAKE_MODE", 1));
}

static void restore(int fd) {
  uint8_t head[64];
  if (pread(fd, head, 64, 0) != 64 || memcmp(head, "MOJIMG\r\n", 8)) { out(2, "fake_app: bad image\n"); _exit(3); }
  if (pread(fd, &st, sizeof st, 64) != (ssize_t)sizeof st || st.magic != 0x46414b45) { out(2, "fake_app: bad state\n"); _exit(3); }
  close(fd);
  unsetenv("MOJAVE_RESTORE_FD");
  if (getenv("FAKE_CRASH_RESTORE")) { out(2, "fake_app: crashing during restore as asked\n"); raise(SIGSEGV); }
  if (getenv("FAKE_HANG_RESTORE")) { sleep(120); _exit(4); }
  moj_ctl_restored();
  resumed = 1;
  if (getenv("FAKE_ANNOUNCE")) out(1, "restored on %s\n", getenv("MOJAVE_HOST") ? getenv("MOJAVE_HOST") : "?");
}

int main(int argc, char **argv) {
  moj_ctl_init(); /* the runtime will do this at start-up; harmless twice */
  const char *rfd = getenv("MOJAVE_RESTORE_FD");
  if (rfd && *rfd) {
    restore(atoi(rfd));
  } else {
    st.magic = 0x46414b45;
    st.n = 100;
    for (int a = 1; a < argc; a++) {
      if (!strcmp(argv[a], "--count") && a + 1 < argc) st.n = strtoull(argv[++a], NULL, 10);
      else if (!strcmp(argv[a], "--lines")) st.lines = 1;
      else { out(2, "fake_app: bad argument %s\n", argv[a]); return 2; }
    }
  }
  int sleep_ms = env_int("FAKE_SLEEP_MS", 0), err = env_int("FAKE_ERR", 0);
  if (st.lines) {
    char line[4096];
    for (;;) {
      migration_point();
      size_t n = 0;
      char c;
      ssize_t r;
      while ((r = read(0, &c, 1)) == 1 && c != '\n')
        if (n < sizeof line - 1) line[n++] = c;
      if (r <= 0 && n == 0) break;
      line[n] = 0;
      st.i++;
      out(1, "%llu: %s\n", (unsigned long long)st.i, line);
      if (sleep_ms) usleep((useconds_t)sleep_ms * 1000);
    }
  } else {
    while (st.i < st.n) {
      migration_point();
      out(1, "%llu\n", (unsigned long long)st.i);
      if (err && st.i % 5 == 0) out(2, "err %llu\n", (unsigned long long)st.i);
      st.i++;
      if (sleep_ms) usleep((useconds_t)sleep_ms * 1000);
    }
  }
  return env_int("FAKE_EXIT", 7);
}
