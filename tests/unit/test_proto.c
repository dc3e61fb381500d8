/* tests/unit/test_proto.c — the DSM/migration wire helpers' cryptography
 * (runtime/dsm/proto.c) against published vectors: SHA-256 (FIPS 180-4
 * examples, incremental and one-shot agree) and HMAC-SHA256 (RFC 4231 test
 * cases 1, 2, 3, 4, 6, 7), including the message given in up to four parts,
 * and equal to libcrypto's own HMAC() on random keys and messages; HKDF
 * (RFC 5869 case 1); the sealing of frames (both ciphers): round trips, and
 * a tampered body, header or tag, a replayed, skipped or misdirected frame,
 * a clear frame on a sealed connection are all refused; the `encrypt`
 * directive of the cluster file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "arch.h"
#include "cluster.h"
#include "proto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <unistd.h>

static void hex(const uint8_t *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static void sha_vectors(void **state) {
  (void)state;
  uint8_t d[32];
  char h[65];
  _moj_sha256("abc", 3, d);
  hex(d, 32, h);
  assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  _moj_sha256(two, strlen(two), d);
  hex(d, 32, h);
  assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  /* one million 'a' through the incremental interface, in odd pieces */
  struct _moj_sha s;
  _moj_sha_init(&s);
  char a[997];
  memset(a, 'a', sizeof a);
  size_t left = 1000000;
  while (left) {
    size_t k = left < sizeof a ? left : sizeof a;
    _moj_sha_update(&s, a, k);
    left -= k;
  }
  _moj_sha_final(&s, d);
  hex(d, 32, h);
  assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

struct hcase { const uint8_t *key; size_t klen; const uint8_t *msg; size_t mlen; const char *want; size_t trunc; };

static void hmac_rfc4231(void **state) {
  (void)state;
  uint8_t k0b[20], kaa20[20], kaa131[131], d50[50], cd50[50], k19[25];
  memset(k0b, 0x0b, sizeof k0b);
  memset(kaa20, 0xaa, sizeof kaa20);
  memset(kaa131, 0xaa, sizeof kaa131);
  memset(d50, 0xdd, sizeof d50);
  memset(cd50, 0xcd, sizeof cd50);
  for (int i = 0; i < 25; i++) k19[i] = (uint8_t)(i + 1);
  const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
  const char *m7 = "This is a test using a larger than block-size key and a larger than block-size data. "
                   "The key needs to be hashed before being used by the HMAC algorithm.";
  struct hcase cases[] = {
      {k0b, 20, (const uint8_t *)"Hi There", 8, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32},
      {(const uint8_t *)"Jefe", 4, (const uint8_t *)"what do ya want for nothing?", 28,
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32},
      {kaa20, 20, d50, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32},
      {k19, 25, cd50, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 32},
      {kaa131, 131, (const uint8_t *)m6, strlen(m6), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32},
      {kaa131, 131, (const uint8_t *)m7, strlen(m7), "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 32},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    uint8_t d[32];
    char h[65];
    _moj_hmac(cases[c].key, cases[c].klen, cases[c].msg, cases[c].mlen, NULL, 0, NULL, 0, NULL, 0, d);
    hex(d, 32, h);
    assert_string_equal(h, cases[c].want);
    /* the same message in four parts */
    size_t n = cases[c].mlen, q = n / 4;
    const uint8_t *m = cases[c].msg;
    _moj_hmac(cases[c].key, cases[c].klen, m, q, m + q, q, m + 2 * q, q, m + 3 * q, n - 3 * q, d);
    hex(d, 32, h);
    assert_string_equal(h, cases[c].want);
  }
}

/* The construction in proto.c (kept off EVP: its first use costs ~1 ms of
 * provider start-up in every process) must equal libcrypto's HMAC. */
static void hmac_matches_libcrypto(void **state) {
  (void)state;
  uint8_t key[200], msg[300], a[32], b[32];
  unsigned int bl = 0;
  srand(4231);
  for (int t = 0; t < 400; t++) {
    size_t kl = (size_t)(rand() % (int)sizeof key), ml = (size_t)(rand() % (int)sizeof msg);
    for (size_t i = 0; i < kl; i++) key[i] = (uint8_t)rand();
    for (size_t i = 0; i < ml; i++) msg[i] = (uint8_t)rand();
    size_t q = ml / 3;
    _moj_hmac(key, kl, msg, q, msg + q, q, msg + 2 * q, ml - 2 * q, NULL, 0, a);
    assert_non_null(HMAC(EVP_sha256(), key, (int)kl, msg, ml, b, &bl));
    assert_int_equal(bl, 32);
    assert_memory_equal(a, b, 32);
  }
}

static void hkdf_rfc5869(void **state) {
  (void)state;
  uint8_t ikm[22], salt[13], info[10], okm[42];
  char h[85];
  memset(ikm, 0x0b, sizeof ikm);
  for (int i = 0; i < 13; i++) salt[i] = (uint8_t)i;
  for (int i = 0; i < 10; i++) info[i] = (uint8_t)(0xf0 + i);
  assert_int_equal(_moj_hkdf(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info, okm, sizeof okm), 0);
  hex(okm, sizeof okm, h);
  assert_string_equal(h, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

/* A client and a server channel keyed from the same handshake. */
static void pair(int alg, struct _moj_chan *cl, struct _moj_chan *sv) {
  uint8_t sn[16], cn[16];
  char host[32] = "h2";
  _moj_random(sn, 16);
  _moj_random(cn, 16);
  memset(cl, 0, sizeof *cl);
  memset(sv, 0, sizeof *sv);
  assert_int_equal(_moj_chan_keys(cl, alg, 0, "cluster-secret", 14, sn, cn, host), 0);
  assert_int_equal(_moj_chan_keys(sv, alg, 1, "cluster-secret", 14, sn, cn, host), 0);
}
/* Feed a frame to a receiving end as the daemon and the client do. */
static const char *deliver(struct _moj_aead *rx, const uint8_t *frame, size_t n, struct _moj_hdr *h, const uint8_t **pl,
                           uint8_t *work) {
  memcpy(h, frame, 24);
  const char *bad = _moj_frame_check(rx, h);
  if (bad) return bad;
  if (24 + (size_t)h->len != n) return "length";
  memcpy(work, frame + 24, h->len);
  return _moj_frame_open(rx, h, work, pl);
}

static void seal_round_trip(void **state) {
  (void)state;
  static uint8_t frame[24 + MOJ_MAX_FRAME], work[MOJ_MAX_FRAME], big[MOJ_MAX_PAYLOAD];
  _moj_random(big, sizeof big);
  for (int alg = MOJ_AEAD_AES256GCM; alg < MOJ_AEAD_COUNT; alg++) {
    struct _moj_chan cl, sv;
    pair(alg, &cl, &sv);
    const size_t sizes[] = {0, 1, 23, 4096, 4096 + 16, MOJ_MAX_PAYLOAD};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      size_t l1 = sizes[i] / 3, l2 = sizes[i] - l1;
      size_t n = _moj_frame_put(&cl.tx, frame, MOJ_SHMGET, (uint32_t)i + 7, -5, 42, big, l1, big + l1, l2);
      assert_int_equal(n, _moj_frame_size(&cl.tx, sizes[i]));
      assert_int_equal(n, 24 + sizes[i] + MOJ_SEAL_OVERHEAD);
      if (sizes[i] >= 64) assert_true(memcmp(frame + 48, big, 16) != 0); /* not in the clear */
      struct _moj_hdr h;
      const uint8_t *pl;
      assert_null(deliver(&sv.rx, frame, n, &h, &pl, work));
      assert_int_equal(h.type, MOJ_SHMGET);
      assert_int_equal(h.seq, i + 7);
      assert_int_equal(h.status, -5);
      assert_int_equal(h.aux, 42);
      assert_int_equal(h.len, sizes[i]);
      if (sizes[i]) assert_memory_equal(pl, big, sizes[i]);
      /* and the other way */
      n = _moj_frame_put(&sv.tx, frame, MOJ_PING | MOJ_REPLY, 9, 0, 0, big, sizes[i], NULL, 0);
      assert_null(deliver(&cl.rx, frame, n, &h, &pl, work));
      assert_int_equal(h.len, sizes[i]);
    }
    /* more than MOJ_MAX_PAYLOAD cannot be sealed */
    assert_int_equal(_moj_frame_put(&cl.tx, frame, MOJ_PING, 1, 0, 0, big, MOJ_MAX_PAYLOAD, big, 1), 0);
    _moj_chan_free(&cl);
    _moj_chan_free(&sv);
  }
}

static void seal_rejects(void **state) {
  (void)state;
  static uint8_t f1[24 + 4096 + MOJ_SEAL_OVERHEAD], f2[sizeof f1], t[sizeof f1], work[MOJ_MAX_FRAME], pl0[4096];
  _moj_random(pl0, sizeof pl0);
  for (int alg = MOJ_AEAD_AES256GCM; alg < MOJ_AEAD_COUNT; alg++) {
    struct _moj_chan cl, sv;
    struct _moj_hdr h;
    const uint8_t *pl;
    pair(alg, &cl, &sv);
    size_t n1 = _moj_frame_put(&cl.tx, f1, MOJ_PING, 1, 0, 0, pl0, sizeof pl0, NULL, 0);
    size_t n2 = _moj_frame_put(&cl.tx, f2, MOJ_PING, 2, 0, 0, pl0, sizeof pl0, NULL, 0);
    assert_int_equal(n1, n2);
    /* one flipped bit anywhere: body, inner header, tag, outer header (AAD) */
    const size_t at[] = {24 + 3, 24 + 24 + 100, n1 - 1, 12 /* outer seq */, 20 /* outer aux */};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
      memcpy(t, f1, n1);
      t[at[i]] ^= 0x10;
      assert_non_null(deliver(&sv.rx, t, n1, &h, &pl, work));
      assert_int_equal(sv.rx.ctr, 0); /* a refused frame does not advance the counter */
    }
    /* skipped: frame 2 arrives first */
    assert_non_null(deliver(&sv.rx, f2, n2, &h, &pl, work));
    assert_null(deliver(&sv.rx, f1, n1, &h, &pl, work));
    assert_int_equal(h.seq, 1);
    /* replayed */
    assert_non_null(deliver(&sv.rx, f1, n1, &h, &pl, work));
    assert_null(deliver(&sv.rx, f2, n2, &h, &pl, work));
    /* reflected: the client's own frame sent back to it (other direction's key) */
    size_t n3 = _moj_frame_put(&cl.tx, t, MOJ_PING, 3, 0, 0, pl0, 8, NULL, 0);
    assert_non_null(deliver(&cl.rx, t, n3, &h, &pl, work));
    /* a clear frame on a sealed connection, and a sealed one on a clear connection */
    struct _moj_aead clear = {0};
    size_t n4 = _moj_frame_put(&clear, t, MOJ_PING, 4, 0, 0, pl0, 8, NULL, 0);
    assert_int_equal(n4, 32);
    assert_string_equal(deliver(&sv.rx, t, n4, &h, &pl, work), "unencrypted frame on an encrypted connection");
    assert_non_null(deliver(&clear, f1, n1, &h, &pl, work));
    /* a body shorter than the overhead, or longer than the largest frame */
    struct _moj_hdr o;
    _moj_hdr_init(&o, MOJ_SEALED, MOJ_SEAL_OVERHEAD - 1, 0, 0);
    assert_non_null(_moj_frame_check(&sv.rx, &o));
    _moj_hdr_init(&o, MOJ_SEALED, MOJ_MAX_FRAME + 1, 0, 0);
    assert_non_null(_moj_frame_check(&sv.rx, &o));
    /* a different secret or cipher derives other keys */
    struct _moj_chan other;
    uint8_t z[16] = {0};
    char h2[32] = "h2";
    memset(&other, 0, sizeof other);
    assert_int_equal(_moj_chan_keys(&other, alg, 1, "cluster-secreT", 14, z, z, h2), 0);
    n3 = _moj_frame_put(&cl.tx, t, MOJ_PING, 5, 0, 0, pl0, 8, NULL, 0);
    assert_non_null(deliver(&other.rx, t, n3, &h, &pl, work));
    _moj_chan_free(&other);
    _moj_chan_free(&cl);
    _moj_chan_free(&sv);
  }
}

/* Load a cluster file made of the minimal lines plus `extra`; returns
 * _moj_cluster_load's result (err gets its message). */
static int load_with(const char *extra, struct _moj_cluster *c, char *err, size_t errlen) {
  char path[] = "/tmp/test_proto_clusterXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  dprintf(fd, "secret 0123456789abcdef\nhost h1 10.0.0.1:7700\nnameserver root h1\n%s\n", extra);
  close(fd);
  int r = _moj_cluster_load(path, c, err, errlen);
  unlink(path);
  return r;
}

/* One case of a table-driven directive test: the loaded file when `ok`
 * (the caller frees it), else NULL after checking the error says `want`. */
static struct _moj_cluster *load_case(size_t i, const char *lines, int ok, const char *want) {
  char err[256] = "";
  struct _moj_cluster *c = calloc(1, sizeof *c);
  assert_non_null(c);
  int r = load_with(lines, c, err, sizeof err);
  if (ok && r) fail_msg("case %zu: %s", i, err);
  if (ok) return c;
  free(c);
  if (r != -1) fail_msg("case %zu: '%s' was accepted", i, lines);
  if (!strstr(err, want)) fail_msg("case %zu: '%s' does not say '%s'", i, err, want);
  return NULL;
}

static void encrypt_directive(void **state) {
  (void)state;
  const char *vals[] = {"off", "aes-256-gcm", "chacha20-poly1305", "aes-128-cbc"};
  for (int i = 0; i < 4; i++) {
    char line[64], err[256];
    snprintf(line, sizeof line, "encrypt %s", vals[i]);
    struct _moj_cluster *c = calloc(1, sizeof *c);
    int r = load_with(line, c, err, sizeof err);
    if (i < 3) {
      assert_int_equal(r, 0);
      assert_int_equal(c->encrypt, i);
      assert_string_equal(_moj_aead_name(c->encrypt), vals[i]);
    } else {
      assert_int_equal(r, -1);
      assert_non_null(strstr(err, ":4: unknown cipher 'aes-128-cbc'"));
    }
    free(c);
  }
}

/* Injected latency on the daemons' links to processes (nsd_delay.c). */
static void client_link_directive(void **state) {
  (void)state;
  static const struct { const char *line; int ok; int64_t d, j; } cases[] = {
      {"client-link 500 0", 1, 500, 0},     {"client-link 0 250", 1, 0, 250}, {"client-link 10000000 1", 1, 10000000, 1},
      {"client-link 10000001 0", 0, 0, 0},  {"client-link -5 0", 0, 0, 0},    {"client-link 500", 0, 0, 0},
      {"client-link 500 0 0.1", 0, 0, 0},   {"client-link 1ms 0", 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char err[256] = "";
    struct _moj_cluster *c = calloc(1, sizeof *c);
    int r = load_with(cases[i].line, c, err, sizeof err);
    if (cases[i].ok) {
      assert_int_equal(r, 0);
      assert_int_equal(c->client_delay_us, cases[i].d);
      assert_int_equal(c->client_jitter_us, cases[i].j);
    } else {
      assert_int_equal(r, -1);
      assert_true(strstr(err, ":4: ") != NULL);
      assert_true(strstr(err, "client-link") != NULL);
    }
    free(c);
  }
}

/* `host NAME ADDR:PORT arch A` (docs/cluster.md): the architecture decides
 * between binary and IR migration, so a misspelt one must not pass as the
 * default. */
static void host_arch_directive(void **state) {
  (void)state;
  static const struct { const char *line; int ok; int arch; const char *err; } cases[] = {
      {"host h2 10.0.0.2:7700 arch aarch64", 1, MOJ_ARCH_AARCH64, NULL},
      {"host h2 10.0.0.2:7700 arch x86_64", 1, MOJ_ARCH_X86_64, NULL},
      {"host h2 10.0.0.2:7700", 1, 0, NULL}, /* 0: the reader's own */
      {"host h2 10.0.0.2:7700 arch arm64", 0, 0, ":4: host h2: unknown architecture 'arm64' (known: x86_64, aarch64)"},
      {"host h2 10.0.0.2:7700 arch", 0, 0, ":4: unknown or malformed directive 'host'"},
      {"host h2 10.0.0.2:7700 isa aarch64", 0, 0, ":4: unknown or malformed directive 'host'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    struct _moj_cluster *c = load_case(i, cases[i].line, cases[i].ok, cases[i].err);
    if (!c) continue;
    assert_int_equal(c->nhosts, 2);
    assert_int_equal(c->host[0].arch, _moj_arch_native()); /* h1 names none */
    assert_int_equal(c->host[1].arch, cases[i].arch ? cases[i].arch : _moj_arch_native());
    assert_string_equal(c->host[1].addr, "10.0.0.2");
    free(c);
  }
  assert_string_equal(_moj_arch_name(MOJ_ARCH_X86_64), "x86_64");
  assert_string_equal(_moj_arch_name(MOJ_ARCH_AARCH64), "aarch64");
  assert_string_equal(_moj_arch_name(0), "?");
  assert_string_equal(_moj_arch_name(_moj_arch_native()), MOJ_ARCH_NAME);
}

/* `order-fail-after` and `ordered` (docs/cluster.md). */
static void order_directives(void **state) {
  (void)state;
  static const struct { const char *lines; int ok; int64_t fail_ms; const char *err; } cases[] = {
      {"order speculative\norder-fail-after 2000", 1, 2000, NULL},
      {"order classical\norder-fail-after off", 1, 0, NULL},
      {"order speculative\norder-fail-after 50", 0, 0, "'order-fail-after' takes"},
      {"order speculative\norder-fail-after soon", 0, 0, "'order-fail-after' takes"},
      {"order classical\nordered 0x10-0x20", 1, 0, NULL},
      {"ordered 0x10-0x20", 0, 0, "'ordered' needs the total order"},
      {"order classical\nordered 0x20-0x10", 0, 0, "bad key range"},
      {"order classical\nordered 0x10-0x20 sem,pages", 0, 0, "kinds are a comma-separated list of sem, msg, shm; got 'pages'"},
      {"order classical\nordered 0x10-0x20 ,", 0, 0, "names no kind"},
      {"order classical\nordered 0x10-0x20 sem,msg", 1, 0, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    struct _moj_cluster *c = load_case(i, cases[i].lines, cases[i].ok, cases[i].err);
    if (c) assert_int_equal(c->order_fail_ms, cases[i].fail_ms);
    free(c);
  }
  struct _moj_cluster c = {0};
  c.nordered = 1; c.ordered[0].lo = 0x10; c.ordered[0].hi = 0x20; c.ordered[0].kinds = MOJ_ORD_ALL;
  assert_true(_moj_cluster_is_ordered(&c, 0x15));
  assert_true(_moj_cluster_is_distributed(&c, 0x15)); /* an ordered key is distributed too */
  assert_false(_moj_cluster_is_ordered(&c, 0x21));
  assert_false(_moj_cluster_is_ordered(&c, 0)); /* IPC_PRIVATE never */
  c.ordered[0].kinds = MOJ_ORD_SEM | MOJ_ORD_MSG;
  assert_true(_moj_cluster_is_ordered_kind(&c, 0x15, MOJ_ORD_SEM));
  assert_false(_moj_cluster_is_ordered_kind(&c, 0x15, MOJ_ORD_SHM)); /* `ordered 0x10-0x20 sem,msg`: segments keep their home */
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(client_link_directive), cmocka_unit_test(order_directives), cmocka_unit_test(sha_vectors), cmocka_unit_test(hmac_rfc4231),
                                     cmocka_unit_test(hmac_matches_libcrypto), cmocka_unit_test(hkdf_rfc5869),
                                     cmocka_unit_test(seal_round_trip), cmocka_unit_test(seal_rejects),
                                     cmocka_unit_test(encrypt_directive), cmocka_unit_test(host_arch_directive)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
