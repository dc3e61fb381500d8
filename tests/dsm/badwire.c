/* badwire.c — hostile peer for mojave-nsd: sends malformed, truncated,
 * oversized, wrong-version, unauthenticated and wrongly-authenticated messages,
 * each on its own connection, and checks the daemon answers with an error (or
 * closes) at once — before authentication nothing but the exact AUTH frame is
 * waited for — and still serves a well-formed client afterwards.  With the
 * cluster file's `encrypt`, members speak sealed frames, and a clear frame, a
 * tampered and a replayed sealed frame must each close the connection.
 * Speaks the wire protocol directly, so it links proto.c/cluster.c instead of
 * the client.
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
static struct _moj_chan ch; /* the last authenticated connection's keys */
static uint8_t scratch[24 + MOJ_MAX_FRAME], rbuf[MOJ_MAX_FRAME];

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
  h.aux = (uint32_t)C.encrypt;
  _moj_write_full(fd, &h, sizeof h);
  _moj_write_full(fd, &a, sizeof a);
  struct _moj_auth_ok ok;
  if (_moj_read_full(fd, &h, sizeof h)) return -1;
  if (h.type != MOJ_AUTH_OK) return -1;
  if (_moj_read_full(fd, &ok, sizeof ok)) return -1;
  _moj_chan_free(&ch);
  return C.encrypt ? _moj_chan_keys(&ch, C.encrypt, 0, secret, strlen(secret), nonce, a.cnonce, a.host) : 0;
}
/* Expect the daemon to refuse: an ERROR message and/or EOF, never a normal reply. */
static void expect_refused(int fd, const char *what) {
  struct _moj_hdr h;
  char buf[256];
  int got_error = 0;
  for (;;) {
    if (_moj_read_full(fd, &h, sizeof h)) { /* EOF or reset: closed; a timeout means the daemon waited */
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        printf("FAIL %s: neither refused nor closed within 3 s\n", what);
        fails++;
        close(fd);
        return;
      }
      break;
    }
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
  const uint8_t *pl;
  if (_moj_chan_send(fd, &ch.tx, scratch, type, ++seq, 0, 0, p, len, NULL, 0) || _moj_chan_recv(fd, &ch.rx, &h, rbuf, &pl))
    return -1;
  if (h.seq != seq) return -1;
  *status = h.status;
  return 0;
}
/* A connection that must be closed by the daemon: reading gives EOF (or reset). */
static void expect_closed(int fd, const char *what) {
  struct _moj_hdr h;
  const uint8_t *pl;
  const char *why;
  while (!(why = _moj_chan_recv(fd, &ch.rx, &h, rbuf, &pl)) && h.type == MOJ_ERROR) {} /* a reason may come first */
  if (!why) { printf("FAIL %s: daemon answered %s\n", what, _moj_type_name(h.type)); fails++; }
  else if (!strcmp(why, strerror(EAGAIN))) { printf("FAIL %s: not closed within 3 s\n", what); fails++; }
  else printf("ok: %s closes the connection (%s)\n", what, why);
  close(fd);
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
  /* before AUTH only the exact AUTH frame is read: a shorter or longer one
   * is refused as soon as its header is in, not after 5 s */
  fd = dial(n); _moj_hdr_init(&h, MOJ_AUTH, 100, 1, 0);
  _moj_write_full(fd, &h, sizeof h); _moj_write_full(fd, "0123456789", 10);
  expect_refused(fd, "AUTH of the wrong length");
  fd = dial(n); _moj_hdr_init(&h, MOJ_PING, 4, 1, 0);
  _moj_write_full(fd, &h, sizeof h); _moj_write_full(fd, "ping", 4);
  expect_refused(fd, "PING before AUTH");
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
  /* PAGE_WRITE (a store to an ordered segment): too short, runs that claim
   * more bytes than the frame carries, a segment nobody has */
  if (rpc(fd, MOJ_PAGE_WRITE, junk, 5, &st) || st != EPROTO) { printf("FAIL short PAGE_WRITE not rejected (%d)\n", st); fails++; }
  { uint8_t b[sizeof(struct _moj_pwrite) + sizeof(struct _moj_pwrite_run) + 4];
    struct _moj_pwrite q = {0, 1};
    struct _moj_pwrite_run r = {MOJ_ID_MAKE(MOJ_ID_ORDERED, 0), 0, 0, 100}; /* 100 bytes claimed, 4 carried */
    memcpy(b, &q, sizeof q); memcpy(b + sizeof q, &r, sizeof r); memset(b + sizeof q + sizeof r, 7, 4);
    if (rpc(fd, MOJ_PAGE_WRITE, b, sizeof b, &st) || st == 0) { printf("FAIL PAGE_WRITE length lie not rejected\n"); fails++; }
    q.nruns = 100000;
    memcpy(b, &q, sizeof q);
    if (rpc(fd, MOJ_PAGE_WRITE, b, sizeof b, &st) || st != EPROTO) { printf("FAIL PAGE_WRITE run count lie not rejected (%d)\n", st); fails++; } }
  if (rpc(fd, MOJ_PING, junk, 8, &st) || st != 0) { printf("FAIL connection unusable after rejected messages\n"); fails++; }
  else printf("ok: authenticated garbage rejected, connection still served\n");
  close(fd);
  /* a member's connection that ends inside a frame */
  fd = dial(n);
  if (auth(fd, n, me, C.secret)) { printf("FAIL correct secret refused\n"); return 1; }
  { size_t k = _moj_frame_put(&ch.tx, scratch, MOJ_PING, 1, 0, 0, junk, 64, NULL, 0);
    _moj_write_full(fd, scratch, k - 10); shutdown(fd, SHUT_WR); expect_closed(fd, "truncated message"); }
  if (C.encrypt) {
    uint8_t f[24 + 64 + MOJ_SEAL_OVERHEAD];
    fd = dial(n); /* a clear frame where sealed ones are due */
    if (auth(fd, n, me, C.secret)) { printf("FAIL correct secret refused\n"); return 1; }
    _moj_hdr_init(&h, MOJ_PING, 8, 1, 0);
    _moj_write_full(fd, &h, sizeof h); _moj_write_full(fd, junk, 8);
    expect_closed(fd, "clear frame on an encrypted connection");
    fd = dial(n); /* one bit of the ciphertext flipped */
    if (auth(fd, n, me, C.secret)) { printf("FAIL correct secret refused\n"); return 1; }
    size_t k = _moj_frame_put(&ch.tx, f, MOJ_PING, 1, 0, 0, junk, 64, NULL, 0);
    f[60] ^= 1;
    _moj_write_full(fd, f, k);
    expect_closed(fd, "tampered sealed frame");
    fd = dial(n); /* a good frame, then the same bytes again */
    if (auth(fd, n, me, C.secret)) { printf("FAIL correct secret refused\n"); return 1; }
    if (rpc(fd, MOJ_PING, junk, 8, &st) || st) { printf("FAIL sealed PING not answered\n"); fails++; }
    k = _moj_frame_put(&ch.tx, f, MOJ_PING, 1, 0, 0, junk, 64, NULL, 0);
    _moj_write_full(fd, f, k); _moj_write_full(fd, f, k);
    const uint8_t *pl;
    if (_moj_chan_recv(fd, &ch.rx, &h, rbuf, &pl) || h.type != (MOJ_PING | MOJ_REPLY)) { printf("FAIL first copy not answered\n"); fails++; }
    expect_closed(fd, "replayed sealed frame");
  }
  fd = dial(n);
  if (auth(fd, n, me, C.secret) || rpc(fd, MOJ_PING, junk, 8, &st) || st) { printf("FAIL daemon stopped serving\n"); fails++; }
  else printf("ok: daemon still serves new clients\n");
  close(fd);
  if (fails) { printf("FAIL badwire: %d\n", fails); return 1; }
  printf("PASS badwire\n");
  return 0;
}
