/* proto.c — wire helpers shared by daemon and client: SHA-256/HMAC for the
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

/* ---- SHA-256 (FIPS 180-4); small and dependency-free ---- */
static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
static void sha_block(struct mj_sha *s, const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
    uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
  s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}
void mj_sha_init(struct mj_sha *s) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, iv, sizeof iv);
  s->total = 0;
  s->n = 0;
}
void mj_sha_update(struct mj_sha *s, const void *data, size_t len) {
  const uint8_t *p = data;
  s->total += len;
  while (len) {
    size_t k = 64 - s->n < len ? 64 - s->n : len;
    memcpy(s->buf + s->n, p, k);
    s->n += k; p += k; len -= k;
    if (s->n == 64) { sha_block(s, s->buf); s->n = 0; }
  }
}
void mj_sha_final(struct mj_sha *s, uint8_t out[32]) {
  uint64_t bits = s->total * 8;
  uint8_t pad = 0x80, z = 0;
  mj_sha_update(s, &pad, 1);
  while (s->n != 56) mj_sha_update(s, &z, 1);
  uint8_t l[8];
  for (int i = 0; i < 8; i++) l[i] = (uint8_t)(bits >> (56 - 8 * i));
  mj_sha_update(s, l, 8);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(s->h[i] >> 24); out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(s->h[i] >> 8); out[4 * i + 3] = (uint8_t)s->h[i];
  }
}
void mj_sha256(const void *data, size_t len, uint8_t out[32]) {
  struct mj_sha s;
  mj_sha_init(&s);
  mj_sha_update(&s, data, len);
  mj_sha_final(&s, out);
}
void mj_hmac(const void *key, size_t klen, const void *m1, size_t l1, const void *m2, size_t l2,
             const void *m3, size_t l3, const void *m4, size_t l4, uint8_t out[32]) {
  uint8_t k[64] = {0}, ip[64], op[64], inner[32];
  if (klen > 64) mj_sha256(key, klen, k);
  else memcpy(k, key, klen);
  for (int i = 0; i < 64; i++) { ip[i] = k[i] ^ 0x36; op[i] = k[i] ^ 0x5c; }
  struct mj_sha s;
  mj_sha_init(&s);
  mj_sha_update(&s, ip, 64);
  if (l1) mj_sha_update(&s, m1, l1);
  if (l2) mj_sha_update(&s, m2, l2);
  if (l3) mj_sha_update(&s, m3, l3);
  if (l4) mj_sha_update(&s, m4, l4);
  mj_sha_final(&s, inner);
  mj_sha_init(&s);
  mj_sha_update(&s, op, 64);
  mj_sha_update(&s, inner, 32);
  mj_sha_final(&s, out);
}
int mj_ct_equal(const void *a, const void *b, size_t n) {
  const uint8_t *x = a, *y = b;
  uint8_t d = 0;
  for (size_t i = 0; i < n; i++) d |= x[i] ^ y[i];
  return d == 0;
}
void mj_random(void *buf, size_t n) {
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
void mj_net_inject_init(void) {
  const char *d = getenv("MOJAVE_NET_DELAY_US"), *l = getenv("MOJAVE_NET_LOSS");
  inj_delay_us = d ? strtol(d, NULL, 10) : 0;
  inj_loss = l ? strtod(l, NULL) : 0.0;
  inj_seed = (unsigned)getpid() ^ (unsigned)time(NULL);
}
void mj_net_inject(void) {
  long us = inj_delay_us;
  if (inj_loss > 0 && (double)rand_r(&inj_seed) / RAND_MAX < inj_loss)
    us += 200000; /* Linux TCP minimum RTO: a lost segment is resent after ~200 ms */
  if (us > 0) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  }
}

int mj_write_full(int fd, const void *buf, size_t n) {
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
int mj_read_full(int fd, void *buf, size_t n) {
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

void mj_hdr_init_as(struct mj_hdr *h, uint32_t magic, uint16_t version, uint16_t type, uint32_t len, uint32_t seq,
                    int32_t status) {
  h->magic = magic;
  h->version = version;
  h->type = type;
  h->len = len;
  h->seq = seq;
  h->status = status;
  h->aux = 0;
}
void mj_hdr_init(struct mj_hdr *h, uint16_t type, uint32_t len, uint32_t seq, int32_t status) {
  mj_hdr_init_as(h, MJ_MAGIC, MJ_VERSION, type, len, seq, status);
}
const char *mj_hdr_check_as(const struct mj_hdr *h, uint32_t magic, uint16_t version, uint32_t max_payload) {
  if (h->magic != magic) return "bad magic";
  if (h->version != version) return "unsupported protocol version";
  if (h->len > max_payload) return "payload larger than MJ_MAX_PAYLOAD";
  return NULL;
}
const char *mj_hdr_check(const struct mj_hdr *h) { return mj_hdr_check_as(h, MJ_MAGIC, MJ_VERSION, MJ_MAX_PAYLOAD); }

/* ---- the cluster-secret handshake, shared by the DSM and the migration
 * transport (each passes its own header magic/version) ---- */
int mj_auth_client(int fd, uint32_t magic, uint16_t version, const char *secret, size_t slen, const char *host) {
  struct mj_hdr h;
  struct mj_hello hello;
  if (mj_read_full(fd, &h, sizeof h) || mj_hdr_check_as(&h, magic, version, MJ_MAX_PAYLOAD) || h.type != MJ_HELLO ||
      h.len != sizeof hello || mj_read_full(fd, &hello, sizeof hello))
    return MJ_AUTH_BAD_GREETING;
  struct mj_auth a;
  memset(&a, 0, sizeof a);
  snprintf(a.host, sizeof a.host, "%s", host);
  mj_random(a.cnonce, 16);
  a.pid = (uint32_t)getpid();
  mj_hmac(secret, slen, "C", 1, hello.nonce, 16, a.cnonce, 16, a.host, 32, a.mac);
  mj_hdr_init_as(&h, magic, version, MJ_AUTH, sizeof a, 0, 0);
  struct mj_auth_ok ok;
  if (mj_write_full(fd, &h, sizeof h) || mj_write_full(fd, &a, sizeof a) || mj_read_full(fd, &h, sizeof h) ||
      mj_hdr_check_as(&h, magic, version, MJ_MAX_PAYLOAD) || h.type != MJ_AUTH_OK || h.len != sizeof ok ||
      mj_read_full(fd, &ok, sizeof ok))
    return MJ_AUTH_REFUSED;
  uint8_t mac[32];
  mj_hmac(secret, slen, "S", 1, a.cnonce, 16, hello.nonce, 16, NULL, 0, mac);
  return mj_ct_equal(mac, ok.mac, 32) ? 0 : MJ_AUTH_NO_PROOF;
}
int mj_auth_server(const char *secret, size_t slen, const uint8_t snonce[16], struct mj_auth *a, struct mj_auth_ok *ok) {
  uint8_t mac[32];
  a->host[31] = 0;
  mj_hmac(secret, slen, "C", 1, snonce, 16, a->cnonce, 16, a->host, 32, mac);
  if (!mj_ct_equal(mac, a->mac, 32)) return -1;
  mj_hmac(secret, slen, "S", 1, a->cnonce, 16, snonce, 16, NULL, 0, ok->mac);
  return 0;
}
const char *mj_type_name(unsigned t) {
  switch (t & ~MJ_REPLY) {
  case MJ_HELLO: return "HELLO"; case MJ_AUTH: return "AUTH"; case MJ_AUTH_OK: return "AUTH_OK";
  case MJ_ERROR: return "ERROR"; case MJ_PING: return "PING"; case MJ_RESOLVE: return "RESOLVE";
  case MJ_SHMGET: return "SHMGET"; case MJ_SHMAT: return "SHMAT"; case MJ_SHMDT: return "SHMDT";
  case MJ_SHMCTL: return "SHMCTL"; case MJ_PAGE_REQ: return "PAGE_REQ"; case MJ_PAGE_FETCH: return "PAGE_FETCH"; case MJ_REATTACH: return "REATTACH"; case MJ_PAGE_DIRTY: return "PAGE_DIRTY";
  case MJ_SEMGET: return "SEMGET"; case MJ_SEMOP: return "SEMOP"; case MJ_SEMCTL: return "SEMCTL";
  case MJ_CANCEL: return "CANCEL"; case MJ_MSGGET: return "MSGGET"; case MJ_MSGSND: return "MSGSND";
  case MJ_MSGRCV: return "MSGRCV"; case MJ_MSGCTL: return "MSGCTL";
  default: return "UNKNOWN";
  }
}

void mj_sock_liveness(int fd) {
  int on = 1, idle = 1, intvl = 1, cnt = 2;
  unsigned int uto = 3000;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof uto);
}
