/* tests/unit/test_proto.c — the DSM/migration wire helpers' cryptography
 * (runtime/dsm/proto.c) against published vectors: SHA-256 (FIPS 180-4
 * examples, incremental and one-shot agree) and HMAC-SHA256 (RFC 4231 test
 * cases 1, 2, 3, 4, 6, 7), including the message given in up to four parts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(sha_vectors), cmocka_unit_test(hmac_rfc4231)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
