/* tests/migrate/badpeer.c — hostile and malformed peers against a mojaved:
 * garbage, bad magic/version, huge lengths, no or wrong authentication,
 * unknown types, transfers that lie about their sizes, truncated frames.
 * Each must make the daemon close that connection (it logs why); at the end
 * an honest LIST must still be answered.
 *   badpeer CLUSTER_FILE TARGET_HOST
 *   badpeer CLUSTER_FILE TARGET_HOST binary-ship   only a binary-mode SHIP,
 *     as a source that does not check architectures would send it (t_isa.sh:
 *     the target must refuse when the two hosts' architectures differ) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster.h"
#include "wire.h"

static struct _moj_cluster C;
static const char *target;
static int failures;

/* After the hostile bytes: the daemon must close within 10 s (EOF/reset);
 * whatever it says first (HELLO, an ERROR frame) is read and dropped. */
static void expect_closed(int fd, const char *what) {
  char b[4096];
  int64_t dl = mg_now_ms() + 10000;
  for (;;) {
    int r = mg_read_by(fd, b, 1, dl);
    if (r < 0) {
      if (errno == ETIMEDOUT) { printf("FAIL-case %s: connection still open\n", what); failures++; }
      else printf("ok   %s: closed by the daemon\n", what);
      close(fd);
      return;
    }
  }
}

static int raw(void) { /* connected, HELLO not consumed, not authenticated */
  char why[512];
  struct _moj_cluster wrong = C;
  /* dial with a wrong secret gets us a socket only through the handshake;
   * for raw bytes connect by hand via mg_dial's address logic */
  (void)wrong; (void)why;
  int hi = _moj_cluster_find_host(&C, target);
  struct sockaddr_in { short f; unsigned short port; unsigned addr; char z[8]; } sa;
  memset(&sa, 0, sizeof sa);
  sa.f = 2; /* AF_INET */
  sa.port = (unsigned short)(((C.host[hi].port + 1) >> 8) | (((C.host[hi].port + 1) & 0xff) << 8));
  unsigned a, b, c, d;
  sscanf(C.host[hi].addr, "%u.%u.%u.%u", &a, &b, &c, &d);
  sa.addr = a | b << 8 | c << 16 | d << 24;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, (void *)&sa, sizeof sa)) { perror("connect"); exit(1); }
  return fd;
}

static int authed(void) {
  char why[512];
  int fd = mg_dial(&C, target, NULL, mg_now_ms() + 10000, why, sizeof why);
  if (fd < 0) { printf("FAIL-case dial: %s\n", why); exit(1); }
  return fd;
}

static void hdr(int fd, uint32_t magic, uint16_t ver, uint16_t type, uint32_t len) {
  struct _moj_hdr h;
  _moj_hdr_init_as(&h, magic, ver, type, len, 0, 0);
  mg_write_by(fd, &h, sizeof h, mg_now_ms() + 5000);
}

int main(int argc, char **argv) {
  if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "binary-ship"))) {
    fprintf(stderr, "usage: badpeer CLUSTER HOST [binary-ship]\n");
    return 2;
  }
  char err[512];
  if (_moj_cluster_load(argv[1], &C, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 2; }
  target = argv[2];
  int fd;
  if (argc == 4) {
    char p[sizeof(struct mg_ship) + 64];
    struct mg_ship s;
    memset(&s, 0, sizeof s);
    s.mode = 1; s.argc = 1; s.image_len = 100;
    const char *self = getenv("MOJAVE_HOST");
    snprintf(s.src_host, sizeof s.src_host, "%s", self ? self : "h1");
    memcpy(p, &s, sizeof s);
    memcpy(p + sizeof s, "/\0prog", 7);
    fd = authed(); mg_send(fd, MG_SHIP, 0, 0, p, sizeof s + 7, -1); expect_closed(fd, "binary SHIP");
    return failures ? 1 : 0;
  }
  char junk[256];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(i * 37 + 11);
  fd = raw(); mg_write_by(fd, junk, sizeof junk, mg_now_ms() + 5000); expect_closed(fd, "garbage");
  fd = raw(); hdr(fd, 0xdeadbeef, MG_VERSION, MG_AUTH, 4); expect_closed(fd, "bad magic");
  fd = raw(); hdr(fd, MG_MAGIC, 99, MG_AUTH, 4); expect_closed(fd, "version 99");
  fd = raw(); hdr(fd, MG_MAGIC, MG_VERSION, MG_AUTH, 0xffffffffu); expect_closed(fd, "huge length");
  fd = raw(); hdr(fd, MG_MAGIC, MG_VERSION, MG_LIST, 0); expect_closed(fd, "LIST before AUTH");
  fd = raw(); hdr(fd, 0x53444a4du, 2, MG_AUTH, 0); expect_closed(fd, "DSM magic");
  {
    struct _moj_cluster w = C;
    snprintf(w.secret, sizeof w.secret, "%s", "definitely-wrong-secret");
    w.secret_len = strlen(w.secret);
    fd = mg_dial(&w, target, NULL, mg_now_ms() + 10000, err, sizeof err);
    if (fd >= 0) { printf("FAIL-case wrong secret accepted\n"); failures++; close(fd); }
    else printf("ok   wrong secret: %s\n", err);
  }
  fd = authed(); hdr(fd, MG_MAGIC, MG_VERSION, 99, 0); expect_closed(fd, "unknown type");
  fd = authed(); mg_send(fd, MG_DATA, 0, 0, junk, 16, -1); expect_closed(fd, "DATA without SHIP");
  fd = authed(); mg_send(fd, MG_SHIP, 0, 0, junk, sizeof junk, -1); expect_closed(fd, "garbage SHIP");
  {
    struct mg_exe e;
    memset(&e, 0, sizeof e);
    e.size = 1ull << 40;
    fd = authed(); mg_send(fd, MG_EXE, 0, 0, &e, sizeof e, -1); expect_closed(fd, "1 TiB executable");
  }
  {
    char p[sizeof(struct mg_ship) + 64];
    struct mg_ship s;
    memset(&s, 0, sizeof s);
    s.mode = 1; s.argc = 1; s.image_len = 1ull << 50;
    strcpy(s.src_host, "h2");
    memcpy(p, &s, sizeof s);
    memcpy(p + sizeof s, "/\0prog", 7);
    fd = authed(); mg_send(fd, MG_SHIP, 0, 0, p, sizeof s + 7, -1); expect_closed(fd, "huge image");
    /* an honest SHIP whose image then lies: more DATA than announced */
    s.image_len = 100;
    memcpy(p, &s, sizeof s);
    fd = authed(); mg_send(fd, MG_SHIP, 0, 0, p, sizeof s + 7, -1);
    char big[200] = {0};
    mg_send(fd, MG_DATA, 0, 0, big, sizeof big, -1);
    expect_closed(fd, "DATA beyond the image");
  }
  fd = authed(); hdr(fd, MG_MAGIC, MG_VERSION, MG_STDIN, 100); mg_write_by(fd, junk, 10, -1);
  shutdown(fd, SHUT_WR); expect_closed(fd, "truncated frame");
  fd = authed(); mg_send(fd, MG_GO, 0, 0, NULL, 0, -1); expect_closed(fd, "GO out of the blue");
  fd = authed(); mg_send(fd, MG_MOVE, 0, 0, junk, 7, -1); expect_closed(fd, "short MOVE");
  /* still serving */
  fd = authed();
  struct _moj_hdr h;
  const char *why;
  static char buf[MG_MAX_PAYLOAD];
  if (mg_send(fd, MG_LIST, 0, 0, NULL, 0, -1) || mg_recv(fd, &h, buf, sizeof buf, mg_now_ms() + 10000, &why) ||
      h.type != (MG_LIST | MG_REPLY)) {
    printf("FAIL-case daemon no longer answers LIST\n");
    failures++;
  } else {
    printf("ok   still serving\n");
  }
  close(fd);
  return failures ? 1 : 0;
}
