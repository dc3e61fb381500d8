/* test_image_abi.c — the image's ABI facts (META, version 2) and the restore
 * check across instruction sets (migrate/image_abi.c): each difference that
 * matters refused with its name, the ones IR mode converts accepted there
 * and refused in binary mode, the facts round-tripped and validated by the
 * codec.  Runs natively and, as aarch64.unit.image_abi, under qemu: the
 * facts of "here" are the build's own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "image.h"

static const moj_img_abi_t x86 = {8, 0, 1, MOJ_LD_X87_80, MOJ_VA_SYSV_X86_64, 4, 4};
static const moj_img_abi_t a64 = {8, 0, 0, MOJ_LD_IEEE128, MOJ_VA_AAPCS64, 4, 4};

static moj_img_meta_t meta(int mode, const char *arch, moj_img_abi_t abi) {
  moj_img_meta_t m;
  memset(&m, 0, sizeof m);
  m.mode = (uint32_t)mode;
  strcpy(m.arch, arch);
  m.abi = abi;
  return m;
}

static int check(int mode, const char *from, moj_img_abi_t img, const char *to, moj_img_abi_t here, char *why) {
  moj_img_meta_t m = meta(mode, from, img);
  return moj_img_abi_check(&m, to, &here, why, 512);
}

static void here_is_this_build(void **st) {
  (void)st;
  moj_img_abi_t h;
  moj_img_abi_here(&h, 4);
#if defined(__x86_64__)
  assert_memory_equal(&h, &x86, sizeof h);
#elif defined(__aarch64__)
  assert_memory_equal(&h, &a64, sizeof h);
#endif
}

/* x86-64 <-> aarch64, IR mode: LP64 and little endian on both; long double,
 * va_list and char differ, and the bitcode check refused code using them */
static void ir_across_accepted(void **st) {
  (void)st;
  char why[512];
  assert_int_equal(check(MOJ_IMG_IR, "x86_64", x86, "aarch64", a64, why), 0);
  assert_string_equal(why, "");
  assert_int_equal(check(MOJ_IMG_IR, "aarch64", a64, "x86_64", x86, why), 0);
  assert_int_equal(check(MOJ_IMG_BINARY, "x86_64", x86, "x86_64", x86, why), 0);
}

static void binary_across_refused(void **st) {
  (void)st;
  char why[512];
  assert_int_equal(check(MOJ_IMG_BINARY, "aarch64", a64, "x86_64", x86, why), -1);
  assert_non_null(strstr(why, "the image was taken on aarch64 in binary mode; this host runs x86_64"));
  /* and every other difference is named with it */
  assert_non_null(strstr(why, "long double is IEEE binary128 in the image, x87 80-bit here"));
  assert_non_null(strstr(why, "va_list is AAPCS64 in the image, System V x86-64 here"));
  assert_non_null(strstr(why, "plain char is unsigned in the image, signed here"));
}

/* one instruction set, one difference each: binary mode refuses it by name */
static void binary_each_difference(void **st) {
  (void)st;
  char why[512];
  moj_img_abi_t d = x86;
  d.long_double = MOJ_LD_IEEE64; /* -mlong-double-64 */
  assert_int_equal(check(MOJ_IMG_BINARY, "x86_64", d, "x86_64", x86, why), -1);
  assert_string_equal(why, "long double is IEEE binary64 in the image, x87 80-bit here");
  d = x86, d.char_signed = 0; /* -funsigned-char */
  assert_int_equal(check(MOJ_IMG_BINARY, "x86_64", d, "x86_64", x86, why), -1);
  assert_string_equal(why, "plain char is unsigned in the image, signed here");
  d = x86, d.va_list = MOJ_VA_OTHER;
  assert_int_equal(check(MOJ_IMG_BINARY, "x86_64", d, "x86_64", x86, why), -1);
  assert_string_equal(why, "va_list is another in the image, System V x86-64 here");
}

/* refused whatever the mode */
static void always_refused(void **st) {
  (void)st;
  char why[512];
  for (int mode = MOJ_IMG_BINARY; mode <= MOJ_IMG_IR; mode++) {
    moj_img_abi_t d = x86;
    d.ptr_bytes = 4;
    assert_int_equal(check(mode, "x86_64", d, "x86_64", x86, why), -1);
    assert_string_equal(why, "pointers are 4 bytes in the image, 8 here");
    d = x86, d.big_endian = 1;
    assert_int_equal(check(mode, "x86_64", d, "x86_64", x86, why), -1);
    assert_string_equal(why, "the image is big-endian, this host little-endian");
    d = x86, d.heap_align_log2 = 5;
    assert_int_equal(check(mode, "x86_64", d, "x86_64", x86, why), -1);
    assert_string_equal(why, "heap objects were aligned to 32 bytes at the source, 16 here");
    d = x86, d.max_align_log2 = 5;
    assert_int_equal(check(mode, "x86_64", d, "x86_64", x86, why), -1);
    assert_string_equal(why, "max_align_t is aligned to 32 bytes in the image, 16 here");
  }
  /* less alignment at the source than here is fine */
  moj_img_abi_t d = x86;
  d.heap_align_log2 = 3;
  assert_int_equal(check(MOJ_IMG_IR, "x86_64", d, "x86_64", x86, why), 0);
  /* in IR mode across, a hard difference is named along with the soft ones */
  d = x86, d.ptr_bytes = 4;
  assert_int_equal(check(MOJ_IMG_IR, "x86_64", d, "aarch64", a64, why), -1);
  assert_non_null(strstr(why, "pointers are 4 bytes in the image, 8 here"));
  assert_non_null(strstr(why, "plain char is signed in the image, unsigned here"));
}

/* a reason longer than the buffer is cut, NUL-terminated; no buffer is fine */
static void short_buffers(void **st) {
  (void)st;
  moj_img_meta_t m = meta(MOJ_IMG_BINARY, "aarch64", a64);
  char tiny[12];
  assert_int_equal(moj_img_abi_check(&m, "x86_64", &x86, tiny, sizeof tiny), -1);
  assert_int_equal(strlen(tiny), sizeof tiny - 1);
  assert_int_equal(moj_img_abi_check(&m, "x86_64", &x86, NULL, 0), -1);
}

/* the codec: facts round-trip; out-of-range facts refused by both sides */
static void codec(void **st) {
  (void)st;
  moj_img_t m;
  memset(&m, 0, sizeof m);
  m.meta.mode = MOJ_IMG_IR;
  m.table_top = 1;
  m.meta.abi = a64;
  void *out;
  size_t len;
  char err[256];
  assert_int_equal(moj_img_encode(&m, 1, &out, &len, err, sizeof err), 0);
  moj_img_t *d;
  assert_int_equal(moj_img_decode(out, len, &d, err, sizeof err), 0);
  assert_memory_equal(&d->meta.abi, &a64, sizeof a64);
  moj_img_free(d);
  free(out);
  static const struct { int field; uint8_t v; const char *why; } bad[] = {
    {0, 0, "section META: abi pointer size 0 (4 or 8)"},
    {1, 2, "section META: abi byte order 2 / char signedness 0 not 0 or 1"},
    {3, 0, "section META: abi long double format 0 unknown (1..3)"},
    {3, 4, "section META: abi long double format 4 unknown (1..3)"},
    {4, 9, "section META: abi va_list kind 9 unknown (1..3)"},
    {5, 13, "section META: abi alignment 2^13 / 2^4 above 2^12"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    m.meta.abi = a64;
    ((uint8_t *)&m.meta.abi)[bad[i].field] = bad[i].v;
    assert_int_equal(moj_img_encode(&m, 1, &out, &len, err, sizeof err), -1);
    assert_string_equal(err, bad[i].why);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(here_is_this_build),
    cmocka_unit_test(ir_across_accepted),
    cmocka_unit_test(binary_across_refused),
    cmocka_unit_test(binary_each_difference),
    cmocka_unit_test(always_refused),
    cmocka_unit_test(short_buffers),
    cmocka_unit_test(codec),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
