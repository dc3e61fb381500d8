/* proto.c — wire helpers shared by daemon and client: SHA-256 (libcrypto) and
 * HMAC-SHA256 (libcrypto's; RFC 4231 vectors in tests/unit/test_proto.c) for the
 * cluster-secret handshake, the optional AEAD sealing of frames (libcrypto's
 * AES-256-GCM or ChaCha20-Poly1305, HKDF-SHA256 session keys), full-buffer
 * socket I/O, header validation and the transport fault injector.  Socket I/O goes through raw syscalls because the
 * client library interposes read/write/send/recv and must not recurse. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proto.h"
#include "cluster.h"

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
#include <openssl/evp.h>
#include <openssl/kdf.h>
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
/* HMAC-SHA256 is libcrypto's (RFC 4231 vectors in tests/unit/test_proto.c).
 * The one-shot HMAC() takes one buffer: the parts are joined first (the
 * handshake's are 65 bytes; longer inputs, from the tests, are allocated). */
#include <openssl/hmac.h>
void _moj_hmac(const void *key, size_t klen, const void *m1, size_t l1, const void *m2, size_t l2,
             const void *m3, size_t l3, const void *m4, size_t l4, uint8_t out[32]) {
  uint8_t small[256], *m = small;
  size_t n = l1 + l2 + l3 + l4;
  if (n > sizeof small && !(m = malloc(n))) { memset(out, 0, 32); return; } /* no MAC: the peer refuses */
  size_t o = 0;
  if (l1) { memcpy(m + o, m1, l1); o += l1; }
  if (l2) { memcpy(m + o, m2, l2); o += l2; }
  if (l3) { memcpy(m + o, m3, l3); o += l3; }
  if (l4) { memcpy(m + o, m4, l4); o += l4; }
  unsigned ol = 32;
  if (!HMAC(EVP_sha256(), key, (int)klen, m, n, out, &ol)) memset(out, 0, 32);
  if (m != small) free(m);
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
static MOJ_DSM_VAR long inj_delay_us;
static MOJ_DSM_VAR double inj_loss;
static MOJ_DSM_VAR unsigned inj_seed;
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
int _moj_auth_client_ch(int fd, uint32_t magic, uint16_t version, const char *secret, size_t slen, const char *host,
                        int alg, struct _moj_chan *ch) {
  struct _moj_hdr h;
  struct _moj_hello hello;
  if (_moj_read_full(fd, &h, sizeof h) || _moj_hdr_check_as(&h, magic, version, MOJ_MAX_PAYLOAD) || h.type != MOJ_HELLO ||
      h.len != sizeof hello || _moj_read_full(fd, &hello, sizeof hello))
    return MOJ_AUTH_BAD_GREETING;
  if (ch) ch->peer_alg = (int)h.aux;
  if (h.aux != (uint32_t)alg) return MOJ_AUTH_CIPHER; /* before proving anything: the files differ */
  struct _moj_auth a;
  memset(&a, 0, sizeof a);
  snprintf(a.host, sizeof a.host, "%s", host);
  _moj_random(a.cnonce, 16);
  a.pid = (uint32_t)getpid();
  _moj_hmac(secret, slen, "C", 1, hello.nonce, 16, a.cnonce, 16, a.host, 32, a.mac);
  _moj_hdr_init_as(&h, magic, version, MOJ_AUTH, sizeof a, 0, 0);
  h.aux = (uint32_t)alg;
  struct _moj_auth_ok ok;
  if (_moj_write_full(fd, &h, sizeof h) || _moj_write_full(fd, &a, sizeof a) || _moj_read_full(fd, &h, sizeof h) ||
      _moj_hdr_check_as(&h, magic, version, MOJ_MAX_PAYLOAD) || h.type != MOJ_AUTH_OK || h.len != sizeof ok ||
      _moj_read_full(fd, &ok, sizeof ok))
    return MOJ_AUTH_REFUSED;
  uint8_t mac[32];
  _moj_hmac(secret, slen, "S", 1, a.cnonce, 16, hello.nonce, 16, NULL, 0, mac);
  if (!_moj_ct_equal(mac, ok.mac, 32)) return MOJ_AUTH_NO_PROOF;
  if (alg && (!ch || _moj_chan_keys(ch, alg, 0, secret, slen, hello.nonce, a.cnonce, a.host))) return MOJ_AUTH_KEYS;
  return 0;
}
int _moj_auth_client(int fd, uint32_t magic, uint16_t version, const char *secret, size_t slen, const char *host) {
  return _moj_auth_client_ch(fd, magic, version, secret, slen, host, MOJ_AEAD_NONE, NULL);
}
int _moj_auth_server(const char *secret, size_t slen, const uint8_t snonce[16], struct _moj_auth *a, struct _moj_auth_ok *ok) {
  uint8_t mac[32];
  a->host[31] = 0;
  _moj_hmac(secret, slen, "C", 1, snonce, 16, a->cnonce, 16, a->host, 32, mac);
  if (!_moj_ct_equal(mac, a->mac, 32)) return -1;
  _moj_hmac(secret, slen, "S", 1, a->cnonce, 16, snonce, 16, NULL, 0, ok->mac);
  return 0;
}
/* ---- encryption ---- */
const char *_moj_aead_name(int alg) {
  static const char *const names[MOJ_AEAD_COUNT] = {"off", "aes-256-gcm", "chacha20-poly1305"};
  return alg >= 0 && alg < MOJ_AEAD_COUNT ? names[alg] : "?";
}
int _moj_hkdf(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len, const void *info, size_t info_len,
              uint8_t *out, size_t out_len) {
  EVP_PKEY_CTX *p = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
  size_t n = out_len;
  int ok = p && EVP_PKEY_derive_init(p) > 0 && EVP_PKEY_CTX_set_hkdf_md(p, EVP_sha256()) > 0 &&
           EVP_PKEY_CTX_set1_hkdf_salt(p, salt, (int)salt_len) > 0 &&
           EVP_PKEY_CTX_set1_hkdf_key(p, ikm, (int)ikm_len) > 0 &&
           EVP_PKEY_CTX_add1_hkdf_info(p, info, (int)info_len) > 0 && EVP_PKEY_derive(p, out, &n) > 0 && n == out_len;
  EVP_PKEY_CTX_free(p);
  return ok ? 0 : -1;
}
static const EVP_CIPHER *aead_cipher(int alg) {
  return alg == MOJ_AEAD_AES256GCM ? EVP_aes_256_gcm() : alg == MOJ_AEAD_CHACHA20POLY1305 ? EVP_chacha20_poly1305() : NULL;
}
static void aead_free(struct _moj_aead *a) {
  EVP_CIPHER_CTX_free(a->ctx);
  a->ctx = NULL;
  a->alg = MOJ_AEAD_NONE;
  a->ctr = 0;
}
static int aead_init(struct _moj_aead *a, int alg, const uint8_t key[32], int enc) {
  const EVP_CIPHER *ciph = aead_cipher(alg);
  EVP_CIPHER_CTX *x = ciph ? EVP_CIPHER_CTX_new() : NULL;
  /* the key is set once; each frame only sets its nonce */
  if (!x || EVP_CipherInit_ex(x, ciph, NULL, key, NULL, enc) <= 0) { EVP_CIPHER_CTX_free(x); return -1; }
  a->ctx = x;
  a->alg = alg;
  a->ctr = 0;
  return 0;
}
void _moj_chan_free(struct _moj_chan *ch) {
  aead_free(&ch->tx);
  aead_free(&ch->rx);
}
int _moj_chan_keys(struct _moj_chan *ch, int alg, int is_server, const char *secret, size_t slen,
                   const uint8_t snonce[16], const uint8_t cnonce[16], const char host[32]) {
  /* salt: both fresh nonces, so every connection gets its own keys even
   * though the secret is long-lived; info binds the cipher and the client's
   * host name, so neither can be swapped under the same keys */
  uint8_t salt[32], info[96], k[64];
  memcpy(salt, snonce, 16);
  memcpy(salt + 16, cnonce, 16);
  int il = snprintf((char *)info, 64, "mojave-dsm/%u session keys %s", MOJ_DSM_PROTO_VERSION, _moj_aead_name(alg));
  memcpy(info + il, host, 32);
  _moj_chan_free(ch);
  if (!aead_cipher(alg) || _moj_hkdf(secret, slen, salt, sizeof salt, info, (size_t)il + 32, k, sizeof k)) return -1;
  /* first half client -> server, second half server -> client */
  int r = aead_init(&ch->tx, alg, is_server ? k + 32 : k, 1) || aead_init(&ch->rx, alg, is_server ? k : k + 32, 0);
  OPENSSL_cleanse(k, sizeof k);
  if (r) _moj_chan_free(ch);
  return r ? -1 : 0;
}
static void aead_nonce(uint64_t ctr, uint8_t iv[12]) {
  memset(iv, 0, 4);
  memcpy(iv + 4, &ctr, 8); /* little-endian, like the rest of the wire */
}
size_t _moj_frame_put(struct _moj_aead *tx, uint8_t *out, uint16_t type, uint32_t seq, int32_t status, uint32_t aux,
                      const void *p1, size_t l1, const void *p2, size_t l2) {
  struct _moj_hdr h;
  _moj_hdr_init(&h, type, (uint32_t)(l1 + l2), seq, status);
  h.aux = aux;
  if (!tx->alg) {
    memcpy(out, &h, 24);
    if (l1) memcpy(out + 24, p1, l1);
    if (l2) memcpy(out + 24 + l1, p2, l2);
    return 24 + l1 + l2;
  }
  if (l1 + l2 > MOJ_MAX_PAYLOAD || tx->ctr == UINT64_MAX) return 0;
  struct _moj_hdr o;
  _moj_hdr_init(&o, MOJ_SEALED, (uint32_t)(l1 + l2 + MOJ_SEAL_OVERHEAD), 0, 0);
  memcpy(out, &o, 24);
  uint8_t iv[12];
  aead_nonce(tx->ctr, iv);
  EVP_CIPHER_CTX *x = tx->ctx;
  int n;
  size_t at = 24;
  const struct { const void *p; size_t l; } part[3] = {{&h, 24}, {p1, l1}, {p2, l2}};
  if (EVP_EncryptInit_ex(x, NULL, NULL, NULL, iv) <= 0 || EVP_EncryptUpdate(x, NULL, &n, out, 24) <= 0) return 0;
  for (int i = 0; i < 3; i++) {
    if (!part[i].l) continue;
    if (EVP_EncryptUpdate(x, out + at, &n, part[i].p, (int)part[i].l) <= 0) return 0;
    at += (size_t)n;
  }
  if (EVP_EncryptFinal_ex(x, out + at, &n) <= 0) return 0;
  at += (size_t)n;
  if (at != 24 + 24 + l1 + l2 || EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, out + at) <= 0) return 0;
  tx->ctr++;
  return at + 16;
}
const char *_moj_frame_check(const struct _moj_aead *rx, const struct _moj_hdr *h) {
  if (!rx->alg) {
    const char *bad = _moj_hdr_check(h);
    return bad ? bad : h->type == MOJ_SEALED ? "sealed frame on a connection without encryption" : NULL;
  }
  const char *bad = _moj_hdr_check_as(h, MOJ_MAGIC, MOJ_DSM_PROTO_VERSION, MOJ_MAX_FRAME);
  if (bad) return bad;
  if (h->type != MOJ_SEALED) return "unencrypted frame on an encrypted connection";
  if (h->len < MOJ_SEAL_OVERHEAD) return "sealed frame shorter than its header and tag";
  return NULL;
}
const char *_moj_frame_open(struct _moj_aead *rx, struct _moj_hdr *h, uint8_t *body, const uint8_t **pl) {
  if (!rx->alg) { *pl = body; return NULL; }
  static const char *const forged = "sealed frame failed authentication (tampered, replayed, reordered or wrong key)";
  uint8_t iv[12];
  aead_nonce(rx->ctr, iv);
  EVP_CIPHER_CTX *x = rx->ctx;
  size_t clen = h->len - 16;
  int n, m;
  if (EVP_DecryptInit_ex(x, NULL, NULL, NULL, iv) <= 0 || EVP_DecryptUpdate(x, NULL, &n, (const uint8_t *)h, 24) <= 0 ||
      EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, 16, body + clen) <= 0 ||
      EVP_DecryptUpdate(x, body, &n, body, (int)clen) <= 0 || EVP_DecryptFinal_ex(x, body + n, &m) <= 0 ||
      (size_t)n + (size_t)m != clen)
    return forged;
  rx->ctr++;
  struct _moj_hdr in;
  memcpy(&in, body, 24);
  const char *bad = _moj_hdr_check(&in);
  if (bad) return bad;
  if (in.type == MOJ_SEALED || (size_t)in.len + 24 != clen) return "sealed frame's inner header is inconsistent";
  *h = in;
  *pl = body + 24;
  return NULL;
}
int _moj_chan_send(int fd, struct _moj_aead *tx, uint8_t *scratch, uint16_t type, uint32_t seq, int32_t status,
                   uint32_t aux, const void *p1, size_t l1, const void *p2, size_t l2) {
  size_t n = _moj_frame_put(tx, scratch, type, seq, status, aux, p1, l1, p2, l2);
  if (!n) { errno = EPROTO; return -1; }
  return _moj_write_full(fd, scratch, n);
}
const char *_moj_chan_recv(int fd, struct _moj_aead *rx, struct _moj_hdr *h, uint8_t *buf, const uint8_t **pl) {
  if (_moj_read_full(fd, h, sizeof *h)) return errno == EPIPE ? "connection closed" : strerror(errno);
  const char *bad = _moj_frame_check(rx, h);
  if (bad) return bad;
  if (_moj_read_full(fd, buf, h->len)) return "truncated message";
  return _moj_frame_open(rx, h, buf, pl);
}

const char *_moj_type_name(unsigned t) {
  switch (t & ~MOJ_REPLY) {
  case MOJ_HELLO: return "HELLO"; case MOJ_AUTH: return "AUTH"; case MOJ_AUTH_OK: return "AUTH_OK";
  case MOJ_ERROR: return "ERROR"; case MOJ_PING: return "PING"; case MOJ_SEALED: return "SEALED"; case MOJ_RESOLVE: return "RESOLVE";
  case MOJ_SHMGET: return "SHMGET"; case MOJ_SHMAT: return "SHMAT"; case MOJ_SHMDT: return "SHMDT";
  case MOJ_SHMCTL: return "SHMCTL"; case MOJ_PAGE_REQ: return "PAGE_REQ"; case MOJ_PAGE_FETCH: return "PAGE_FETCH"; case MOJ_REATTACH: return "REATTACH"; case MOJ_PAGE_DIRTY: return "PAGE_DIRTY";
  case MOJ_SEMGET: return "SEMGET"; case MOJ_SEMOP: return "SEMOP"; case MOJ_SEMCTL: return "SEMCTL";
  case MOJ_UNDO_TAKE: return "UNDO_TAKE"; case MOJ_UNDO_GIVE: return "UNDO_GIVE";
  case MOJ_CANCEL: return "CANCEL"; case MOJ_MSGGET: return "MSGGET"; case MOJ_MSGSND: return "MSGSND";
  case MOJ_MSGRCV: return "MSGRCV"; case MOJ_MSGCTL: return "MSGCTL";
  case MOJ_LIST: return "LIST";
  case MOJ_TO_PEER: return "TO_PEER"; case MOJ_TO_MSG: return "TO_MSG"; case MOJ_TO_QUIET: return "TO_QUIET";
  case MOJ_TO_SUBMIT: return "TO_SUBMIT"; case MOJ_TO_LOG: return "TO_LOG";
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
