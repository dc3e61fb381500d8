/* proto.c — wire helpers shared by daemon and client: SHA-256 (libcrypto) and
 * HMAC-SHA256 (RFC 2104 over it; RFC 4231 vectors in tests/unit/test_proto.c) for the
 * cluster-secret handshake, full-buffer socket I/O, header validation and the
 * transport fault injector.  Socket I/O goes through raw syscalls because the
 * client library interposes read/write/send/recv and must not recurse. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- SHA-256: OpenSSL's libcrypto (Debian's libssl3), which uses the CPU's
 * SHA extensions where present (about 7x the portable code on this VM: the
 * checksum of a 1 GB migration image).  The low-level SHA256_* calls keep the
 * context in the caller's struct (no allocation to leak when a daemon drops a
 * half-hashed upload); they are deprecated in OpenSSL 3 but supported. ---- */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
_Static_assert(sizeof(SHA256_CTX) <= sizeof(((struct _moj_sha *)0)->ctx), "struct _moj_sha too small for SHA256_CTX");
_Static_assert(_Alignof(SHA256_CTX) <= _Alignof(struct _moj_sha), "struct _moj_sha under-aligned for SHA256_CTX");
void _moj_sha_init(struct _moj_sha *s) { SHA256_Init((SHA256_CTX *)s->ctx); }
void _moj_sha_update(struct _moj_sha *s, const void *data, size_t len) { SHA256_Update((SHA256_CTX *)s->ctx, data, len); }
void _moj_sha_final(struct _moj_sha *s, uint8_t out[32]) { SHA256_Final(out, (SHA256_CTX *)s->ctx); }
/* Not the one-shot SHA256(): in OpenSSL 3 it goes through EVP, whose first
 * use loads openssl.cnf (about 1.3 ms of every migration's restore). */
void _moj_sha256(const void *data, size_t len, uint8_t out[32]) {
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, data, len);
  SHA256_Final(out, &c);
}
void _moj_hmac(const void *key, size_t klen, const void *m1, size_t l1, const void *m2, size_t l2,
             const void *m3, size_t l3, const void *m4, size_t l4, uint8_t out[32]) {
  uint8_t k[64] = {0}, ip[64], op[64], inner[32];
  if (klen > 64) _moj_sha256(key, klen, k);
  else memcpy(k, key, klen);
  for (int i = 0; i < 64; i++) { ip[i] = k[i] ^ 0x36; op[i] = k[i] ^ 0x5c; }
  struct _moj_sha s;
  _moj_sha_init(&s);
  _moj_sha_update(&s, ip, 64);
  if (l1) _moj_sha_update(&s, m1, l1);
  if (l2) _moj_sha_update(&s, m2, l2);
  if (l3) _moj_sha_update(&s, m3, l3);
  if (l4) _moj_sha_update(&s, m4, l4);
  _moj_sha_final(&s, inner);
  _moj_sha_init(&s);
  _moj_sha_update(&s, op, 64);
  _moj_sha_update(&s, inner, 32);
  _moj_sha_final(&s, out);
}
int _moj_ct_equal(const void *a, const void *b, size_t n) {
  const uint8_t *x = a, *y = b;
  uint8_t d = 0;
  for (size_t i = 0; i < n; i++) d |= x[i] ^ y[i];
  return d == 0;
}
void _moj_random(void *buf, size_t n) {
  uint8_t *p = buf;
  while (n) {
    ssize_t r = getrandom(p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      /* getrandom cannot fail on Linux >= 3.17 except EINTR; keep a fallback anyway */
      for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(rand() ^ time(NULL));
      return;
    }
    p += r; n -= (size_t)r;
  }
}

/* ---- transport fault injection ---- */
static long inj_delay_us;
static double inj_loss;
static unsigned inj_seed;
void _moj_net_inject_init(void) {
  const char *d = getenv("MOJAVE_NET_DELAY_US"), *l = getenv("MOJAVE_NET_LOSS");
  inj_delay_us = d ? strtol(d, NULL, 10) : 0;
  inj_loss = l ? strtod(l, NULL) : 0.0;
  inj_seed = (unsigned)getpid() ^ (unsigned)time(NULL);
}
void _moj_net_inject(void) {
  long us = inj_delay_us;
  if (inj_loss > 0 && (double)rand_r(&inj_seed) / RAND_MAX < inj_loss)
    us += 200000; /* Linux TCP minimum RTO: a lost segment is resent after ~200 ms */
  if (us > 0) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  }
}

int _moj_write_full(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    long r = syscall(SYS_sendto, fd, p, n, MSG_NOSIGNAL, NULL, 0);
    if (r < 0 && errno == ENOTSOCK) r = syscall(SYS_write, fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += r; n -= (size_t)r;
  }
  return 0;
}
int _moj_read_full(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n) {
    long r = syscall(SYS_read, fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) { errno = EPIPE; return -1; }
    p += r; n -= (size_t)r;
  }
  return 0;
}

void _moj_hdr_init_as(struct _moj_hdr *h, uint32_t magic, uint16_t version, uint16_t type, uint32_t len, uint32_t seq,
                    int32_t status) {
  h->magic = magic;
  h->version = version;
  h->type = type;
  h->len = len;
  h->seq = seq;
  h->status = status;
  h->aux = 0;
}
void _moj_hdr_init(struct _moj_hdr *h, uint16_t type, uint32_t len, uint32_t seq, int32_t status) {
  _moj_hdr_init_as(h, MOJ_MAGIC, MOJ_DSM_PROTO_VERSION, type, len, seq, status);
}
const char *_moj_hdr_check_as(const struct _moj_hdr *h, uint32_t magic, uint16_t version, uint32_t max_payload) {
  if (h->magic != magic) return "bad magic";
  if (h->version != version) return "unsupported protocol version";
  if (h->len > max_payload) return "payload larger than MOJ_MAX_PAYLOAD";
  return NULL;
}
const char *_moj_hdr_check(const struct _moj_hdr *h) { return _moj_hdr_check_as(h, MOJ_MAGIC, MOJ_DSM_PROTO_VERSION, MOJ_MAX_PAYLOAD); }

/* ---- the cluster-secret handshake, shared by the DSM and the migration
 * transport (each passes its own header magic/version) ---- */
int _moj_auth_client(int fd, uint32_t magic, uint16_t version, const char *secret, size_t slen, const char *host) {
  struct _moj_hdr h;
  struct _moj_hello hello;
  if (_moj_read_full(fd, &h, sizeof h) || _moj_hdr_check_as(&h, magic, version, MOJ_MAX_PAYLOAD) || h.type != MOJ_HELLO ||
      h.len != sizeof hello || _moj_read_full(fd, &hello, sizeof hello))
    return MOJ_AUTH_BAD_GREETING;
  struct _moj_auth a;
  memset(&a, 0, sizeof a);
  snprintf(a.host, sizeof a.host, "%s", host);
  _moj_random(a.cnonce, 16);
  a.pid = (uint32_t)getpid();
  _moj_hmac(secret, slen, "C", 1, hello.nonce, 16, a.cnonce, 16, a.host, 32, a.mac);
  _moj_hdr_init_as(&h, magic, version, MOJ_AUTH, sizeof a, 0, 0);
  struct _moj_auth_ok ok;
  if (_moj_write_full(fd, &h, sizeof h) || _moj_write_full(fd, &a, sizeof a) || _moj_read_full(fd, &h, sizeof h) ||
      _moj_hdr_check_as(&h, magic, version, MOJ_MAX_PAYLOAD) || h.type != MOJ_AUTH_OK || h.len != sizeof ok ||
      _moj_read_full(fd, &ok, sizeof ok))
    return MOJ_AUTH_REFUSED;
  uint8_t mac[32];
  _moj_hmac(secret, slen, "S", 1, a.cnonce, 16, hello.nonce, 16, NULL, 0, mac);
  return _moj_ct_equal(mac, ok.mac, 32) ? 0 : MOJ_AUTH_NO_PROOF;
}
int _moj_auth_server(const char *secret, size_t slen, const uint8_t snonce[16], struct _moj_auth *a, struct _moj_auth_ok *ok) {
  uint8_t mac[32];
  a->host[31] = 0;
  _moj_hmac(secret, slen, "C", 1, snonce, 16, a->cnonce, 16, a->host, 32, mac);
  if (!_moj_ct_equal(mac, a->mac, 32)) return -1;
  _moj_hmac(secret, slen, "S", 1, a->cnonce, 16, snonce, 16, NULL, 0, ok->mac);
  return 0;
}
const char *_moj_type_name(unsigned t) {
  switch (t & ~MOJ_REPLY) {
  case MOJ_HELLO: return "HELLO"; case MOJ_AUTH: return "AUTH"; case MOJ_AUTH_OK: return "AUTH_OK";
  case MOJ_ERROR: return "ERROR"; case MOJ_PING: return "PING"; case MOJ_RESOLVE: return "RESOLVE";
  case MOJ_SHMGET: return "SHMGET"; case MOJ_SHMAT: return "SHMAT"; case MOJ_SHMDT: return "SHMDT";
  case MOJ_SHMCTL: return "SHMCTL"; case MOJ_PAGE_REQ: return "PAGE_REQ"; case MOJ_PAGE_FETCH: return "PAGE_FETCH"; case MOJ_REATTACH: return "REATTACH"; case MOJ_PAGE_DIRTY: return "PAGE_DIRTY";
  case MOJ_SEMGET: return "SEMGET"; case MOJ_SEMOP: return "SEMOP"; case MOJ_SEMCTL: return "SEMCTL";
  case MOJ_UNDO_TAKE: return "UNDO_TAKE"; case MOJ_UNDO_GIVE: return "UNDO_GIVE";
  case MOJ_CANCEL: return "CANCEL"; case MOJ_MSGGET: return "MSGGET"; case MOJ_MSGSND: return "MSGSND";
  case MOJ_MSGRCV: return "MSGRCV"; case MOJ_MSGCTL: return "MSGCTL";
  case MOJ_LIST: return "LIST";
  default: return "UNKNOWN";
  }
}

void _moj_sock_liveness(int fd) {
  int on = 1, idle = 1, intvl = 1, cnt = 2;
  unsigned int uto = 3000;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof uto);
}
