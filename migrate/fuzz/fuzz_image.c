/* migrate/fuzz/fuzz_image.c — libFuzzer target for the image decoder.
 *
 * A mutated image almost never survives the SHA-256 check, so the first
 * input byte picks how much of the envelope the harness repairs, letting
 * mutations reach every layer:
 *   0x00  the rest is a raw payload (sections); the harness compresses it and
 *         writes a valid header -> fuzzes the section/record validator;
 *   0x01  the rest is an image whose checksum the harness recomputes ->
 *         fuzzes header lengths and zstd frame handling;
 *   else  the input is an image as is -> header and checksum checks.
 * Whatever decodes must print, pass through the restore's ABI check (either
 * verdict, with a reason when refused), re-encode, decode again, and
 * re-encode to the same raw payload byte for byte (the format is canonical).  Any violation
 * aborts, which libFuzzer reports as a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "image_envelope.h"

#define HDR MOJ_ENV_HDR

static void die(const char *what, const char *err) {
  fprintf(stderr, "fuzz_image: %s: %s\n", what, err);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *devnull;
  if (!devnull) devnull = fopen("/dev/null", "w");
  uint8_t *own = NULL;
  const uint8_t *in = data;
  size_t n = size;
  if (size >= 1 && data[0] == 0) {
    in = own = moj_env_wrap(data + 1, size - 1, &n);
    if (!own) die("wrap", "cannot compress");
  } else if (size >= 1 && data[0] == 1) {
    own = malloc(size);
    if (!own) abort();
    n = size - 1;
    memcpy(own, data + 1, n);
    uint64_t z = 0;
    if (n >= HDR) for (int i = 7; i >= 0; i--) z = z << 8 | own[24 + i];
    if (n >= HDR && z <= n - HDR) moj_env_reseal(own, HDR + z);
    in = own;
  }

  char err[256] = "";
  moj_img_t *m;
  if (moj_img_decode(in, n, &m, err, sizeof err)) {
    if (!err[0]) die("decode", "refused without a reason");
    free(own);
    return 0;
  }
  moj_img_print(m, devnull, size & 1);
  moj_img_abi_t here;
  moj_img_abi_here(&here, 4);
  char why[512];
  if (moj_img_abi_check(&m->meta, "x86_64", &here, why, sizeof why) && !why[0])
    die("ABI check", "refused without a reason");

  void *re;
  size_t relen;
  if (moj_img_encode(m, 1, &re, &relen, err, sizeof err)) die("re-encode of a decoded image", err);
  moj_img_t *m2;
  if (moj_img_decode(re, relen, &m2, err, sizeof err)) die("decode of the re-encoded image", err);
  size_t a_len, b_len;
  uint8_t *a = moj_env_unwrap(in, n, &a_len), *b = moj_env_unwrap(re, relen, &b_len);
  if (!a || !b) die("unwrap", "a decoded image does not decompress");
  if (a_len != b_len || memcmp(a, b, a_len)) die("round trip", "re-encoded raw payload differs (non-canonical input accepted)");
  free(a);
  free(b);
  moj_img_free(m2);
  free(re);
  moj_img_free(m);
  free(own);
  return 0;
}
