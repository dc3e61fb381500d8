/* badwire.c — hostile peer for mojave-nsd: sends malformed, truncated,
 * oversized, wrong-version, unauthenticated and wrongly-authenticated messages,
 * each on its own connection, and checks the daemon answers with an error (or
 * closes) and still serves a well-formed client afterwards.  Speaks the wire
 * protocol directly, so it links proto.c/cluster.c instead of the client.
 *   badwire CLUSTERFILE TARGETHOST MYHOST */
#define _GNU_SOURCE
#include "cluster.h"
#include "proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct _moj_cluster C;
static int target, fails;

static int dial(uint8_t nonce[16]) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(C.host[target].port)};
  inet_pton(AF_INET, C.host[target].addr, &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) { perror("connect"); exit(1); }
  struct _moj_hdr h;
  struct _moj_hello he;
  if (_moj_read_full(fd, &h, sizeof h) || h.type != MOJ_HELLO || _moj_read_full(fd, &he, sizeof he)) { printf("FAIL no HELLO\n"); exit(1); }
  memcpy(nonce, he.nonce, 16);
  return fd;
}
static int auth(int fd, const uint8_t nonce[16], const char *host, const char *secret) {
  struct _moj_auth a;
  memset(&a, 0, sizeof a);
  snprintf(a.host, sizeof a.host, "%s", host);
  _moj_random(a.cnonce, 16);
  a.pid = (uint32_t)getpid();
  _moj_hmac(secret, strlen(secret), "C", 1, nonce, 16, a.cnonce, 16, a.host, 32, a.mac);
  struct _moj_hdr h;
  _moj_hdr_init(&h, MOJ_AUTH, sizeof a, 1, 0);
  _moj_write_full(fd, &h, sizeof h);
  _moj_write_full(fd, &a, sizeof a);
  struct _moj_auth_ok ok;
  if (_moj_read_full(fd, &h, sizeof h)) return -1;
  if (h.type != MOJ_AUTH_OK) return -1;
  return _moj_read_full(fd, &ok, sizeof ok);
}
/* Expect the daemon to refuse: an ERROR message and/or EOF, never a normal reply. */
static void expect_refused(int fd, const char *what) {
  struct _moj_hdr h;
  char buf[256];
  int got_error = 0;
  for (;;) {
    if (_moj_read_full(fd, &h, sizeof h)) break; /* EOF: closed */
    if (h.len > sizeof buf || _moj_read_full(fd, buf, h.len)) break;
    if (h.type == MOJ_ERROR) { got_error = 1; continue; }
    printf("FAIL %s: daemon answered with %s\n", what, _moj_type_name(h.type));
    fails++;
    close(fd);
    return;
  }
  printf("ok: %s refused%s\n", what, got_error ? " with ERROR" : " (closed)");
  close(fd);
}
static int rpc(int fd, uint16_t type, const void *p, uint32_t len, int32_t *status) {
  static uint32_t seq = 100;
  struct _moj_hdr h;
  _moj_hdr_init(&h, type, len, ++seq, 0);
  if (_moj_write_full(fd, &h, sizeof h) || (len && _moj_write_full(fd, p, len))) return -1;
  char buf[8192];
  if (_moj_read_full(fd, &h, sizeof h) || h.len > sizeof buf || _moj_read_full(fd, buf, h.len)) return -1;
  if (h.seq != seq) return -1;
  *status = h.status;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: badwire CLUSTERFILE TARGETHOST MYHOST\n"); return 2; }
  char err[256];
  if (_moj_cluster_load(argv[1], &C, err, sizeof err)) { printf("FAIL %s\n", err); return 1; }
  target = _moj_cluster_find_host(&C, argv[2]);
  const char *me = argv[3];
  uint8_t n[16];
  struct _moj_hdr h;
  int fd;

  fd = dial(n); _moj_hdr_init(&h, MOJ_PING, 0, 1, 0); h.magic = 0xdeadbeef;
  _moj_write_full(fd, &h, sizeof h); expect_refused(fd, "bad magic");
  fd = dial(n); _moj_hdr_init(&h, MOJ_PING, 0, 1, 0); h.version = 99;
  _moj_write_full(fd, &h, sizeof h); expect_refused(fd, "wrong version");
  fd = dial(n); _moj_hdr_init(&h, MOJ_AUTH, 1u << 30, 1, 0);
  _moj_write_full(fd, &h, sizeof h); expect_refused(fd, "oversized payload");
  fd = dial(n); _moj_hdr_init(&h, MOJ_AUTH, 100, 1, 0);
  _moj_write_full(fd, &h, sizeof h); _moj_write_full(fd, "0123456789", 10); shutdown(fd, SHUT_WR);
  expect_refused(fd, "truncated message");
  fd = dial(n); { struct _moj_shmget q = {0x4d4a0001, 4096, 01000, {0, 0, 1}}; _moj_hdr_init(&h, MOJ_SHMGET, sizeof q, 1, 0);
    _moj_write_full(fd, &h, sizeof h); _moj_write_full(fd, &q, sizeof q); } expect_refused(fd, "unauthenticated SHMGET");
  fd = dial(n);
  if (auth(fd, n, me, "not-the-cluster-secret") == 0) { printf("FAIL wrong secret accepted\n"); fails++; close(fd); }
  else { printf("ok: wrong secret refused\n"); close(fd); }
  fd = dial(n);
  if (auth(fd, n, "intruder", C.secret) == 0) { printf("FAIL non-member host accepted\n"); fails++; close(fd); }
  else { printf("ok: non-member host refused\n"); close(fd); }

  /* authenticated peer sending nonsense: each is answered with an error, the connection stays usable */
  fd = dial(n);
  if (auth(fd, n, me, C.secret)) { printf("FAIL correct secret refused\n"); return 1; }
  int32_t st;
  char junk[64] = {0};
  if (rpc(fd, 999, junk, 8, &st) || st != EPROTO) { printf("FAIL unknown type not rejected\n"); fails++; }
  if (rpc(fd, MOJ_SHMGET, junk, 3, &st) || st != EPROTO) { printf("FAIL short SHMGET not rejected\n"); fails++; }
  { struct _moj_semop q = {0x40000001, 5, -1, {0, 0, 1}, 0}; /* claims 5 ops, carries none */
    if (rpc(fd, MOJ_SEMOP, &q, sizeof q, &st) || st != EPROTO) { printf("FAIL SEMOP length mismatch not rejected (%d)\n", st); fails++; } }
  { struct _moj_page_req q = {0x4000abcd, 7, 2};
    if (rpc(fd, MOJ_PAGE_REQ, &q, sizeof q, &st) || st != EINVAL) { printf("FAIL bogus PAGE_REQ not rejected\n"); fails++; } }
  { struct _moj_msgsnd q = {0x40000001, 0, 1, 100000, {0, 0, 1}, 0};
    if (rpc(fd, MOJ_MSGSND, &q, sizeof q, &st) || st != EPROTO) { printf("FAIL MSGSND size lie not rejected\n"); fails++; } }
  if (rpc(fd, MOJ_PING, junk, 8, &st) || st != 0) { printf("FAIL connection unusable after rejected messages\n"); fails++; }
  else printf("ok: authenticated garbage rejected, connection still served\n");
  close(fd);
  fd = dial(n);
  if (auth(fd, n, me, C.secret) || rpc(fd, MOJ_PING, junk, 8, &st) || st) { printf("FAIL daemon stopped serving\n"); fails++; }
  else printf("ok: daemon still serves new clients\n");
  close(fd);
  if (fails) { printf("FAIL badwire: %d\n", fails); return 1; }
  printf("PASS badwire\n");
  return 0;
}
