/* mojave/abi.h — the instrumentation ABI between the mojcc pass and libmojave.
 *
 * This header is the contract: the pass emits IR equivalent to the inline fast
 * paths below and calls the out-of-line `__moj_*` entry points; the runtime
 * exports every symbol listed in MOJ_ABI_SYMBOLS (checked against the built
 * library by tests/abi/abi_check.sh).  Entry points only mojcc-generated code
 * calls (`__moj_cc_*`) are listed in mojave/cc_abi.h.  docs/abi.md describes
 * it in prose.
 *
 * Handle encoding (64-bit):
 *
 *     bit 63      : 1 = managed handle, 0 = raw pointer (NULL is raw 0)
 *     bits 62..32 : table index (index 0 is never used)
 *     bits 31..0  : byte offset inside the object
 *
 * Raw pointers (stack, globals, libc memory, mmap) have bit 63 clear on every
 * Linux x86-64/AArch64 user address space, so they pass through untouched.
 * Pointer arithmetic on a handle is plain 64-bit integer arithmetic; an offset
 * that temporarily leaves [0, 2^32) borrows into the index bits and comes back
 * when the arithmetic is undone, so `p - 1 + 1 == p` holds as in C.
 */
#ifndef MOJAVE_ABI_H
#define MOJAVE_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the encoding, the table layout, an entry point or the
 * migration frame descriptor (mojave/migrate_abi.h) changes (2: packed slot
 * types, no slot offsets or sizes).
 * Every instrumented module references __moj_version_mismatch_check_v<N>, so
 * linking against a runtime of another version fails at link time. */
#define MOJ_ABI_VERSION 2
#define MOJ_ABI_VERSION_SYMBOL __moj_version_mismatch_check_v2

#define MOJ_HANDLE_TAG       0x8000000000000000ull
#define MOJ_INDEX_SHIFT      32
#define MOJ_INDEX_BITS       31
#define MOJ_OFFSET_MASK      0xffffffffull
#define MOJ_MAX_OBJECT_SIZE  0xffffffffull /* largest managed object, bytes */

/* One pointer-table entry: 16 bytes, hot fields only. */
typedef struct moj_entry {
  char     *base;  /* current copy of the object (NULL once freed)         */
  uint32_t  size;  /* object size in bytes                                 */
  uint32_t  owner; /* id of the speculation level owning `base`, 0 = none  */
} moj_entry_t;

/* `__moj_tbl` is the table's address biased by -(2^31 * 16), so the entry of
 * handle h is at __moj_tbl + (h >> 32) * 16 with no masking: the tag bit is
 * absorbed by the bias.  `__moj_cur_owner` is the id of the innermost active
 * speculation level (0 outside speculation): a write needs no barrier when the
 * entry's owner equals it. */
extern uintptr_t __moj_tbl;
extern uint32_t  __moj_cur_owner;

#if defined(__GNUC__)
#define moj_likely(x)   __builtin_expect(!!(x), 1)
#define moj_unlikely(x) __builtin_expect(!!(x), 0)
#else
#define moj_likely(x)   (x)
#define moj_unlikely(x) (x)
#endif

static inline int moj_is_handle(const void *p) {
  return (int64_t)(uintptr_t)p < 0;
}

static inline moj_entry_t *_moj_entry_of(uint64_t h) {
  return (moj_entry_t *)(__moj_tbl + (uintptr_t)(h >> MOJ_INDEX_SHIFT) * sizeof(moj_entry_t));
}

/* Slow path of a write: copy-on-write into the current level, use-after-free
 * and bad-handle diagnostics.  Returns the writable address of `h`. */
void *__moj_w_slow(uint64_t h);

/* Translate for reading: handle -> current address; raw -> itself. */
static inline void *__moj_r(const void *p) {
  uint64_t v = (uint64_t)(uintptr_t)p;
  if ((int64_t)v >= 0) return (void *)(uintptr_t)p;
  return _moj_entry_of(v)->base + (uint32_t)v;
}

/* Translate for writing: like __moj_r, plus the copy-on-write barrier. */
static inline void *__moj_w(void *p) {
  uint64_t v = (uint64_t)(uintptr_t)p;
  if ((int64_t)v >= 0) return p;
  moj_entry_t *e = _moj_entry_of(v);
  if (moj_unlikely(e->owner != __moj_cur_owner)) return __moj_w_slow(v);
  return e->base + (uint32_t)v;
}

/* Out-of-line entry points (the pass calls these; size in the name as in
 * ASan so a later runtime may log raw writes by size). */
void *__moj_tr(const void *p);             /* read translation            */
void *__moj_tw1(void *p);                  /* write translation, 1 byte   */
void *__moj_tw2(void *p);
void *__moj_tw4(void *p);
void *__moj_tw8(void *p);
void *__moj_tw16(void *p);
void *__moj_twn(void *p, size_t n);        /* write translation, n bytes  */

/* Allocation entry points: return handles (NULL + errno on failure). */
void *__moj_malloc(size_t n);
void *__moj_calloc(size_t count, size_t n);
void *__moj_realloc(void *p, size_t n);
void  __moj_free(void *p);                 /* raw pointers go to libc free */
int   __moj_posix_memalign(void **out, size_t align, size_t n);
void *__moj_aligned_alloc(size_t align, size_t n);
size_t __moj_usable_size(const void *p);
char *__moj_strdup(const char *s);         /* managed copies of C strings */
char *__moj_strndup(const char *s, size_t n);

/* Link-time version check: referenced by every instrumented module. */
void MOJ_ABI_VERSION_SYMBOL(void);

/* The one list of entry points, checked against the built runtime. */
#define MOJ_ABI_SYMBOLS(X) \
  X(__moj_tbl) X(__moj_cur_owner) X(__moj_w_slow) X(__moj_tr) \
  X(__moj_tw1) X(__moj_tw2) X(__moj_tw4) X(__moj_tw8) X(__moj_tw16) X(__moj_twn) \
  X(__moj_malloc) X(__moj_calloc) X(__moj_realloc) X(__moj_free) \
  X(__moj_posix_memalign) X(__moj_aligned_alloc) X(__moj_usable_size) \
  X(__moj_strdup) X(__moj_strndup) \
  X(__moj_version_mismatch_check_v2) \
  X(spec_enter) X(spec_commit) X(spec_abort) X(spec_abort_with)

#ifdef __cplusplus
}
#endif
#endif /* MOJAVE_ABI_H */
