/* migrate/image_int.h — what the rooms of the image codec share (not
 * installed): wire constants, little-endian helpers, the section and slot
 * names, the error helper and the model check.  The rooms: image_check.c
 * (model semantics, both directions), image_encode.c, image_decode.c,
 * image_print.c.  Contract: image.h; layout: docs/migration.md.
 *
 * Two layers of checks, shared by both directions:
 *   - wire structure (decoder only): header, checksum, zstd frame, section
 *     order, counts against remaining bytes, strings, reserved bytes — every
 *     byte of the payload is accounted for and the encoding is canonical
 *     (decode then encode gives back the same raw payload);
 *   - model semantics (check_model, run by the encoder on its input and by the
 *     decoder on what it built): slot sizes, alignments, table indices,
 *     relocation cross-references, names.  So an image the encoder writes
 *     always decodes, and the decoder never returns what the encoder refuses. */
#ifndef MOJ_MIGRATE_IMAGE_INT_H
#define MOJ_MIGRATE_IMAGE_INT_H
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader: bound the raw size by the input */
#include "image.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "proto.h" /* _moj_sha256 */

#define IMG_HIDDEN __attribute__((visibility("hidden")))

#define HDR_LEN 64u
#define SEC_HDR_LEN 16u
#define NSEC 10u
#define MAX_RAW (64ull << 30)
#define MAX_SLOT_BYTES (1u << 20)
#define MAX_ALLOCA_ALIGN 4096u
#define MAX_ALIGN_LOG2 12u
#define NRLIMITS 16u /* Linux RLIM_NLIMITS: resources 0..15 */
#define RELOC_LEN 36u


/* shared names are prefixed so they never meet a program's symbols */
#define sec_names _moj_img_sec_names
#define slot_names _moj_img_slot_names
#define slot_sizes _moj_img_slot_sizes
#define fail _moj_img_fail
#define check_model _moj_img_check_model
#define where_name _moj_img_where_name
extern const char *const sec_names[NSEC + 1] IMG_HIDDEN;
extern const char *const slot_names[11] IMG_HIDDEN;
/* Fixed sizes per slot type; BYTES (0 here) is any size up to MAX_SLOT_BYTES. */
extern const uint32_t slot_sizes[11] IMG_HIDDEN;

int fail(char *err, size_t errlen, const char *fmt, ...) IMG_HIDDEN __attribute__((format(printf, 3, 4)));
int check_model(const moj_img_t *m, char *err, size_t errlen) IMG_HIDDEN;
const char *where_name(unsigned w) IMG_HIDDEN;

static inline uint32_t ld32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t ld64(const uint8_t *p) { return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32; }
static inline void st32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void st64(uint8_t *p, uint64_t v) { st32(p, (uint32_t)v); st32(p + 4, (uint32_t)(v >> 32)); }

#endif
