/* migrate/fuzz/image_envelope.h — test-side helpers around an image's raw
 * payload, shared by the fuzzer and tests/unit/test_image.c: seal any payload
 * (even one the encoder would refuse) in a valid header + zstd frame +
 * SHA-256, so tampered payloads reach the decoder's structure checks; and take
 * the payload back out of an image.  Header-only; needs zstd and _moj_sha256. */
#ifndef MOJ_IMAGE_ENVELOPE_H
#define MOJ_IMAGE_ENVELOPE_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "image.h"
#include "proto.h"

#define MOJ_ENV_HDR 64

static inline void moj_env_put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the checksum over the payload after a header-declared edit. */
static inline void moj_env_reseal(uint8_t *img, size_t len) {
  _moj_sha256(img + MOJ_ENV_HDR, len - MOJ_ENV_HDR, img + 32);
}

/* Header + zstd frame (level 1) + checksum around raw; NULL on failure. */
static inline uint8_t *moj_env_wrap(const void *raw, size_t n, size_t *len) {
  size_t cap = MOJ_ENV_HDR + ZSTD_compressBound(n);
  *len = 0;
  uint8_t *b = malloc(cap);
  if (!b) return NULL;
  size_t z = ZSTD_compress(b + MOJ_ENV_HDR, cap - MOJ_ENV_HDR, raw, n, 1);
  if (ZSTD_isError(z)) { free(b); return NULL; }
  memcpy(b, MOJ_IMG_MAGIC, 8);
  memset(b + 8, 0, 8);
  b[8] = MOJ_IMG_VERSION;
  moj_env_put64(b + 16, n);
  moj_env_put64(b + 24, z);
  *len = MOJ_ENV_HDR + z;
  moj_env_reseal(b, *len);
  return b;
}

/* The raw payload of an image whose header is sound; NULL on failure. */
static inline uint8_t *moj_env_unwrap(const uint8_t *img, size_t len, size_t *raw_len) {
  *raw_len = 0;
  if (len < MOJ_ENV_HDR) return NULL;
  unsigned long long n = ZSTD_getFrameContentSize(img + MOJ_ENV_HDR, len - MOJ_ENV_HDR);
  if (n >= (1ull << 40)) return NULL;
  uint8_t *raw = malloc(n ? n : 1);
  if (raw && ZSTD_decompress(raw, n, img + MOJ_ENV_HDR, len - MOJ_ENV_HDR) != n) { free(raw); raw = NULL; }
  *raw_len = n;
  return raw;
}
#endif /* MOJ_IMAGE_ENVELOPE_H */
