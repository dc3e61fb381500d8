/* runtime/cc_vararg.c — va_list arguments handed to libc by mojcc code.
 *
 * mojcc translates the variadic pointer arguments of direct calls
 * (printf("%s", p)), but a va_list forwarded to vsnprintf & co. (logging
 * wrappers) still holds handles.  The pass redirects such calls to the
 * __moj_cc_<fn> wrappers below: each walks the format, copies the va_list's
 * register save area and the part of its overflow area the format consumes,
 * replaces the handles of %s %S %p %n (printf) or of every assigned
 * conversion (scanf) by raw addresses in the copy — through the
 * copy-on-write barrier for targets libc writes — and calls the real function
 * with a va_list over the copy.  The va_list layouts of x86-64 System V and
 * of AAPCS64 (aarch64) are known; positional arguments (%1$s) are passed
 * through untranslated.
 */
#include <err.h>
#include <mojave/abi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <syslog.h>

#define MOJ_CC_EXPORT __attribute__((visibility("default")))

enum { MAX_SLOTS = 64, MAX_OVERFLOW = 4096 };

/* The layouts: the va_list tag, the copy (tag, register save areas, stack
 * arguments) and the cursor saying where the next argument of each class
 * lives, as libc's va_arg will see it.  The copy of the stack arguments
 * starts at the same offset modulo 16 as the original (skew), so 16-byte
 * alignment (long double) rounds the same way; cursor.ovf is an offset in it. */
#if defined(__x86_64__)
/* va_list is an array of one of these: a parameter is a pointer to it. */
typedef struct {
  unsigned gp_offset, fp_offset;
  char *overflow_arg_area, *reg_save_area;
} moj_va_tag;
#define VA_TAG(ap) ((void *)(ap))
enum { GP_END = 48, FP_END = 176 };
typedef struct {
  va_list tag;         /* the va_list handed to libc (a moj_va_tag) */
  char save[FP_END];   /* copy of the register save area */
  char ovf[MAX_OVERFLOW] __attribute__((aligned(16)));
} moj_va_copy;
typedef struct {
  unsigned gp, fp;
  size_t ovf, skew;
} cursor;

#elif defined(__aarch64__)
/* AAPCS64: va_list is this structure itself (a parameter is a copy).  The
 * offsets are negative while arguments remain in the register save areas,
 * which end at the *_top pointers; arguments past them are on the stack,
 * 8 bytes each, 16 for 16-byte-aligned types (long double). */
typedef struct {
  char *stack, *gr_top, *vr_top;
  int gr_offs, vr_offs;
} moj_va_tag;
#define VA_TAG(ap) ((void *)&(ap))
enum { GR_SIZE = 8 * 8, VR_SIZE = 8 * 16 };
typedef struct {
  va_list tag;         /* the va_list handed to libc (a moj_va_tag) */
  char gr[GR_SIZE];    /* copies of the two register save areas */
  char vr[VR_SIZE] __attribute__((aligned(16)));
  char ovf[MAX_OVERFLOW] __attribute__((aligned(16)));
} moj_va_copy;
typedef struct {
  int gr, vr;
  size_t ovf, skew;
} cursor;

#else
#error "cc_vararg.c: no va_list layout for this instruction set"
#endif

/* Stack arguments: 8-byte slots in both ABIs; NULL past the copy's end. */
static char *stack_slot(moj_va_copy *c, cursor *k) {
  if (k->ovf + 8 > MAX_OVERFLOW) return NULL;
  char *p = c->ovf + k->ovf;
  k->ovf += 8;
  return p;
}
static void stack_long_double(cursor *k) {
  k->ovf = (k->ovf + 15) & ~(size_t)15;
  k->ovf += 16;
}
/* Bytes of the stack arguments the format consumed, copied from `from`. */
static int va_close(moj_va_copy *c, const char *from, const cursor *k) {
  if (k->ovf > MAX_OVERFLOW) return 0;
  memcpy(c->ovf + k->skew, from, k->ovf - k->skew);
  return 1;
}

#if defined(__x86_64__)
static char *next_gp(moj_va_copy *c, cursor *k) {
  if (k->gp >= GP_END) return stack_slot(c, k);
  char *p = c->save + k->gp;
  k->gp += 8;
  return p;
}
static void next_fp(cursor *k) {
  if (k->fp < FP_END) k->fp += 16;
  else k->ovf += 8;    /* past the copy's end: va_close refuses */
}
static void next_long_double(cursor *k) { stack_long_double(k); }

/* The copy's tag over its own save area; the cursor at the first argument.
 * Returns where the original's stack arguments start. */
static const char *va_open(moj_va_copy *c, const moj_va_tag *src, cursor *k) {
  moj_va_tag dst = *src;
  memcpy(c->save, src->reg_save_area, FP_END);
  size_t skew = (uintptr_t)src->overflow_arg_area & 15;
  dst.reg_save_area = c->save;
  dst.overflow_arg_area = c->ovf + skew;
  memcpy(VA_TAG(c->tag), &dst, sizeof dst);
  *k = (cursor){src->gp_offset, src->fp_offset, skew, skew};
  return src->overflow_arg_area;
}

#else /* aarch64 */
static char *next_gp(moj_va_copy *c, cursor *k) {
  if (k->gr >= 0) return stack_slot(c, k);
  char *p = c->gr + GR_SIZE + k->gr;
  k->gr += 8;
  return p;
}
static void next_fp(cursor *k) {
  if (k->vr < 0) k->vr += 16;
  else k->ovf += 8;
}
/* long double is a 128-bit float: a vector register while one is left */
static void next_long_double(cursor *k) {
  if (k->vr < 0) k->vr += 16;
  else stack_long_double(k);
}

/* Only the registers the callee saved (those past its named arguments) lie
 * below the tops: copy those, to the same offsets below the copies' tops.
 * NULL for offsets no va_start produces (the caller then passes `ap` as is). */
static const char *va_open(moj_va_copy *c, const moj_va_tag *src, cursor *k) {
  if (src->gr_offs < -GR_SIZE || src->vr_offs < -VR_SIZE) return NULL;
  moj_va_tag dst = *src;
  if (src->gr_offs < 0)
    memcpy(c->gr + GR_SIZE + src->gr_offs, src->gr_top + src->gr_offs, (size_t)-src->gr_offs);
  if (src->vr_offs < 0)
    memcpy(c->vr + VR_SIZE + src->vr_offs, src->vr_top + src->vr_offs, (size_t)-src->vr_offs);
  size_t skew = (uintptr_t)src->stack & 15;
  dst.gr_top = c->gr + GR_SIZE;
  dst.vr_top = c->vr + VR_SIZE;
  dst.stack = c->ovf + skew;
  memcpy(VA_TAG(c->tag), &dst, sizeof dst);
  *k = (cursor){src->gr_offs, src->vr_offs, skew, skew};
  return src->stack;
}
#endif

/* Copies `ap` and rewrites its pointer arguments; scanf selects the scanf
 * rules.  Returns 0 when the format could not be followed (positional
 * arguments, overflow area too long): the original va_list is used then. */
static int rewrite(moj_va_copy *c, const char *fmt, va_list ap, int scanf) {
  moj_va_tag src;
  memcpy(&src, VA_TAG(ap), sizeof src);
  cursor k;
  const char *from = va_open(c, &src, &k);
  if (!from) return 0;
  char *slots[MAX_SLOTS];
  int writes[MAX_SLOTS], n = 0;
  for (const char *f = fmt; f && *f; f++) {
    if (*f != '%') continue;
    f++;
    if (*f == '%') continue;
    int suppress = 0;
    if (scanf && *f == '*') { suppress = 1; f++; }
    const char *d = f;
    while (*d >= '0' && *d <= '9') d++;
    if (*d == '$') return 0; /* positional */
    while (strchr("-+ #0'I", *f) && *f) f++;
    if (*f == '*') { if (!next_gp(c, &k)) return 0; f++; }
    else while (*f >= '0' && *f <= '9') f++;
    if (*f == '.') {
      f++;
      if (*f == '*') { if (!next_gp(c, &k)) return 0; f++; }
      else while (*f >= '0' && *f <= '9') f++;
    }
    int ld = 0;
    /* Length modifiers; in scanf also 'm' (%ms: libc allocates, the target
     * is still a pointer the program passes). */
    while (*f && (strchr("hlLqjzZt", *f) || (scanf && *f == 'm'))) {
      if (*f == 'L' || *f == 'q') ld = 1;
      f++;
    }
    char conv = *f;
    if (!conv) break;
    if (scanf) {
      if (conv == '[') { while (f[1] && f[1] != ']') f++; if (f[1]) f++; }
      if (suppress) continue;
      char *s = next_gp(c, &k);
      if (!s || n == MAX_SLOTS) return 0;
      slots[n] = s; writes[n++] = 1;
      continue;
    }
    switch (conv) {
    case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': case 'a': case 'A':
      if (ld) next_long_double(&k); else next_fp(&k);
      break;
    case 's': case 'S': case 'p': case 'n': {
      char *s = next_gp(c, &k);
      if (!s || n == MAX_SLOTS) return 0;
      slots[n] = s; writes[n++] = conv == 'n';
      break;
    }
    case 'm':
      break;
    default: /* integers, characters */
      if (!next_gp(c, &k)) return 0;
      break;
    }
  }
  if (!va_close(c, from, &k)) return 0;
  for (int i = 0; i < n; i++) {
    void *p;
    memcpy(&p, slots[i], sizeof p);
    p = writes[i] ? __moj_w(p) : (void *)__moj_r(p);
    memcpy(slots[i], &p, sizeof p);
  }
  return 1;
}

/* One wrapper shape for both families; `scan` says whether %s & co. are
 * destinations (scanf) or sources (printf). */
#define VA_WRAPPER(scan, ret, name, params, fmtarg, call)                 \
  MOJ_CC_EXPORT ret __moj_cc_##name params {                             \
    moj_va_copy c;                                                       \
    int ok = rewrite(&c, fmtarg, ap, scan);                              \
    if (ok) return call(c.tag);                                          \
    return call(ap);                                                     \
  }
#define PRINTF_WRAPPER(...) VA_WRAPPER(0, __VA_ARGS__)
#define SCANF_WRAPPER(...) VA_WRAPPER(1, __VA_ARGS__)

#define C_VPRINTF(v) vprintf(fmt, v)
PRINTF_WRAPPER(int, vprintf, (const char *fmt, va_list ap), fmt, C_VPRINTF)
#define C_VFPRINTF(v) vfprintf(f, fmt, v)
PRINTF_WRAPPER(int, vfprintf, (FILE *f, const char *fmt, va_list ap), fmt, C_VFPRINTF)
#define C_VSPRINTF(v) vsprintf(s, fmt, v)
PRINTF_WRAPPER(int, vsprintf, (char *s, const char *fmt, va_list ap), fmt, C_VSPRINTF)
#define C_VSNPRINTF(v) vsnprintf(s, n, fmt, v)
PRINTF_WRAPPER(int, vsnprintf, (char *s, size_t n, const char *fmt, va_list ap), fmt, C_VSNPRINTF)
#define C_VASPRINTF(v) vasprintf(s, fmt, v)
PRINTF_WRAPPER(int, vasprintf, (char **s, const char *fmt, va_list ap), fmt, C_VASPRINTF)
#define C_VDPRINTF(v) vdprintf(fd, fmt, v)
PRINTF_WRAPPER(int, vdprintf, (int fd, const char *fmt, va_list ap), fmt, C_VDPRINTF)
int __vsnprintf_chk(char *, size_t, int, size_t, const char *, va_list);
#define C_VSNPRINTF_CHK(v) __vsnprintf_chk(s, n, fl, sl, fmt, v)
PRINTF_WRAPPER(int, __vsnprintf_chk, (char *s, size_t n, int fl, size_t sl, const char *fmt, va_list ap), fmt, C_VSNPRINTF_CHK)
int __vsprintf_chk(char *, int, size_t, const char *, va_list);
#define C_VSPRINTF_CHK(v) __vsprintf_chk(s, fl, sl, fmt, v)
PRINTF_WRAPPER(int, __vsprintf_chk, (char *s, int fl, size_t sl, const char *fmt, va_list ap), fmt, C_VSPRINTF_CHK)
int __vfprintf_chk(FILE *, int, const char *, va_list);
#define C_VFPRINTF_CHK(v) __vfprintf_chk(f, fl, fmt, v)
PRINTF_WRAPPER(int, __vfprintf_chk, (FILE *f, int fl, const char *fmt, va_list ap), fmt, C_VFPRINTF_CHK)
int __vprintf_chk(int, const char *, va_list);
#define C_VPRINTF_CHK(v) __vprintf_chk(fl, fmt, v)
PRINTF_WRAPPER(int, __vprintf_chk, (int fl, const char *fmt, va_list ap), fmt, C_VPRINTF_CHK)
MOJ_CC_EXPORT void __moj_cc_vsyslog(int pri, const char *fmt, va_list ap) {
  moj_va_copy c;
  if (rewrite(&c, fmt, ap, 0)) vsyslog(pri, fmt, c.tag);
  else vsyslog(pri, fmt, ap);
}
#define VOID_WRAPPER(name, params, call)                                   \
  MOJ_CC_EXPORT void __moj_cc_##name params {                            \
    moj_va_copy c;                                                       \
    if (rewrite(&c, fmt, ap, 0)) call(c.tag);               \
    else call(ap);                                                       \
  }
#define C_VWARN(v) vwarn(fmt, v)
VOID_WRAPPER(vwarn, (const char *fmt, va_list ap), C_VWARN)
#define C_VWARNX(v) vwarnx(fmt, v)
VOID_WRAPPER(vwarnx, (const char *fmt, va_list ap), C_VWARNX)
#define C_VERR(v) verr(e, fmt, v)
VOID_WRAPPER(verr, (int e, const char *fmt, va_list ap), C_VERR)
#define C_VERRX(v) verrx(e, fmt, v)
VOID_WRAPPER(verrx, (int e, const char *fmt, va_list ap), C_VERRX)

int __isoc99_vscanf(const char *, va_list);
int __isoc99_vfscanf(FILE *, const char *, va_list);
int __isoc99_vsscanf(const char *, const char *, va_list);
#define C_VSCANF(v) __isoc99_vscanf(fmt, v)
SCANF_WRAPPER(int, __isoc99_vscanf, (const char *fmt, va_list ap), fmt, C_VSCANF)
#define C_VFSCANF(v) __isoc99_vfscanf(f, fmt, v)
SCANF_WRAPPER(int, __isoc99_vfscanf, (FILE *f, const char *fmt, va_list ap), fmt, C_VFSCANF)
#define C_VSSCANF(v) __isoc99_vsscanf(s, fmt, v)
SCANF_WRAPPER(int, __isoc99_vsscanf, (const char *s, const char *fmt, va_list ap), fmt, C_VSSCANF)
#define C_VSCANF2(v) vscanf(fmt, v)
SCANF_WRAPPER(int, vscanf, (const char *fmt, va_list ap), fmt, C_VSCANF2)
#define C_VFSCANF2(v) vfscanf(f, fmt, v)
SCANF_WRAPPER(int, vfscanf, (FILE *f, const char *fmt, va_list ap), fmt, C_VFSCANF2)
#define C_VSSCANF2(v) vsscanf(s, fmt, v)
SCANF_WRAPPER(int, vsscanf, (const char *s, const char *fmt, va_list ap), fmt, C_VSSCANF2)
