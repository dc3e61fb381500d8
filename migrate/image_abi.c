/* migrate/image_abi.c — may this process restore that image?  The ABI facts
 * an image records (META, moj_img_abi_t) against the restoring runtime's.
 *
 * The rules (docs/migration.md, "Across instruction sets"):
 *   * always refused: another pointer size or byte order (every word of the
 *     heap, globals and frames would mean something else), and heap objects
 *     or max_align_t aligned less here than at the source (the program's
 *     code may rely on the source's guarantee);
 *   * binary mode: the executable runs only on its own instruction set, so
 *     another architecture is refused, and so is any other difference (a
 *     program built with another long double or char would read its own
 *     bytes otherwise);
 *   * IR mode: the code restored here is the image's own bitcode, compiled
 *     here after passes/MojPortable.cpp refused every module that depends on
 *     the differences left — the long double format, the va_list layout
 *     (va_start, va_arg) — while plain char's signedness is fixed in the IR
 *     by the front end at the source (sext/zext), whatever this target's
 *     default.  Those differences are accepted; each is still named when
 *     something else refuses the image.
 * Pure functions of their arguments: unit-tested with made-up facts
 * (tests/unit/test_image.c) on either instruction set. */
#include "image_int.h"

#include <stdalign.h>

void moj_img_abi_here(moj_img_abi_t *a, unsigned heap_align_log2) {
  memset(a, 0, sizeof *a);
  a->ptr_bytes = (uint8_t)sizeof(void *);
  a->big_endian = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
  a->char_signed = (char)-1 < 0;
#if __LDBL_MANT_DIG__ == 64
  a->long_double = MOJ_LD_X87_80;
#elif __LDBL_MANT_DIG__ == 113
  a->long_double = MOJ_LD_IEEE128;
#else
  a->long_double = MOJ_LD_IEEE64;
#endif
#if defined(__x86_64__)
  a->va_list = MOJ_VA_SYSV_X86_64;
#elif defined(__aarch64__)
  a->va_list = MOJ_VA_AAPCS64;
#else
  a->va_list = MOJ_VA_OTHER;
#endif
  a->heap_align_log2 = (uint8_t)heap_align_log2;
  a->max_align_log2 = (uint8_t)__builtin_ctz(alignof(max_align_t));
}

static const char *ld_name(unsigned k) {
  return k == MOJ_LD_X87_80 ? "x87 80-bit" : k == MOJ_LD_IEEE128 ? "IEEE binary128" : "IEEE binary64";
}
static const char *va_name(unsigned k) {
  return k == MOJ_VA_SYSV_X86_64 ? "System V x86-64" : k == MOJ_VA_AAPCS64 ? "AAPCS64" : "another";
}

/* Appends "; " + the formatted text to why. */
static void add(char *why, size_t n, size_t *at, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void add(char *why, size_t n, size_t *at, const char *fmt, ...) {
  if (!why || *at + 3 >= n) return;
  if (*at) *at += (size_t)snprintf(why + *at, n - *at, "; ");
  if (*at >= n) { *at = n - 1; return; }
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(why + *at, n - *at, fmt, ap);
  va_end(ap);
  *at = k < 0 ? *at : *at + (size_t)k >= n ? n - 1 : *at + (size_t)k;
}

int moj_img_abi_check(const moj_img_meta_t *m, const char *arch, const moj_img_abi_t *here, char *why,
                      size_t whylen) {
  const moj_img_abi_t *a = &m->abi;
  size_t at = 0;
  int refuse = 0, binary = m->mode != MOJ_IMG_IR, other_isa = strncmp(m->arch, arch, sizeof m->arch) != 0;
  if (why && whylen) why[0] = 0;
  if (binary && other_isa) {
    add(why, whylen, &at, "the image was taken on %.16s in binary mode; this host runs %s (an executable cannot "
        "move across instruction sets)", m->arch, arch);
    refuse = 1;
  }
  if (a->ptr_bytes != here->ptr_bytes)
    add(why, whylen, &at, "pointers are %u bytes in the image, %u here", a->ptr_bytes, here->ptr_bytes), refuse = 1;
  if (a->big_endian != here->big_endian)
    add(why, whylen, &at, "the image is %s-endian, this host %s-endian", a->big_endian ? "big" : "little",
        here->big_endian ? "big" : "little"), refuse = 1;
  if (a->heap_align_log2 > here->heap_align_log2)
    add(why, whylen, &at, "heap objects were aligned to %u bytes at the source, %u here",
        1u << a->heap_align_log2, 1u << here->heap_align_log2), refuse = 1;
  if (a->max_align_log2 > here->max_align_log2)
    add(why, whylen, &at, "max_align_t is aligned to %u bytes in the image, %u here", 1u << a->max_align_log2,
        1u << here->max_align_log2), refuse = 1;
  /* accepted in IR mode (see the banner), refused in binary mode */
  int soft = 0;
  if (a->long_double != here->long_double)
    add(why, whylen, &at, "long double is %s in the image, %s here", ld_name(a->long_double),
        ld_name(here->long_double)), soft = 1;
  if (a->va_list != here->va_list)
    add(why, whylen, &at, "va_list is %s in the image, %s here", va_name(a->va_list), va_name(here->va_list)),
        soft = 1;
  if (a->char_signed != here->char_signed)
    add(why, whylen, &at, "plain char is %s in the image, %s here", a->char_signed ? "signed" : "unsigned",
        here->char_signed ? "signed" : "unsigned"), soft = 1;
  if (soft && binary) refuse = 1;
  if (!refuse && why && whylen) why[0] = 0;
  return refuse ? -1 : 0;
}
