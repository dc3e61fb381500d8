/* runtime/cc_support.c — runtime entry points used only by mojcc-generated
 * code, beyond the core ABI of include/mojave/abi.h (owned by the compiler
 * side; see docs/mojcc.md).
 *
 *   __moj_cc_w_soft(h)      write translation whose slow path tolerates a
 *                           freed handle: used where the compiler translates
 *                           earlier than the program writes (hoisted out of a
 *                           loop, arguments handed to libc), so a dangling
 *                           pointer the program never writes is not fatal.
 *   __moj_cc_rehandle(r, o) a pointer returned by uninstrumented code that
 *                           points into the current copy of the object of
 *                           handle o becomes a handle again (strchr, memchr,
 *                           strcpy...), so later writes through it still go
 *                           through the copy-on-write barrier.
 *   __moj_cc_rehandle_out(slot, o)  the same for a pointer libc stored in
 *                           an out-parameter (strtol's endptr).
 *   __moj_cc_register_text(lo, hi), __moj_cc_unregister_text(lo, hi),
 *   __moj_cc_is_instrumented(fn)   where instrumented code lives, for
 *                           indirect calls (below).
 *
 * The names are listed in include/mojave/cc_abi.h (checked by
 * tests/abi/abi_check.sh).
 */
#include "internal.h"

#include <mojave/abi.h>
#include <mojave/cc_abi.h>
#include <stdatomic.h>

#define MOJ_CC_EXPORT __attribute__((visibility("default")))

MOJ_CC_EXPORT void *__moj_cc_w_soft(uint64_t h) {
  moj_entry_t *e = _moj_entry_of(h);
  if (!e->base) /* freed: whatever the program does next is its own fault */
    return (void *)(uintptr_t)(uint32_t)h;
  return __moj_w_slow(h);
}

MOJ_CC_EXPORT void *__moj_cc_rehandle(void *ret, void *orig) {
  if (!ret || moj_is_handle(ret) || !moj_is_handle(orig))
    return ret;
  uint64_t h = (uint64_t)(uintptr_t)orig;
  moj_entry_t *e = _moj_entry_of(h);
  uintptr_t b = (uintptr_t)e->base, r = (uintptr_t)ret;
  if (!b || r < b || r - b > e->size) /* one past the end is still inside */
    return ret;
  return (void *)(uintptr_t)((h & ~(uint64_t)MOJ_OFFSET_MASK) | (uint64_t)(r - b));
}

MOJ_CC_EXPORT void __moj_cc_rehandle_out(void **slot, void *orig) {
  if (slot)
    *slot = __moj_cc_rehandle(*slot, orig);
}

/* Instrumented code: the pass puts every function it instruments in section
 * moj_text, so each linked object's instrumented code is one range
 * [__start_moj_text, __stop_moj_text).  An indirect call first compares its
 * target with the calling object's own range inline; a target outside it
 * comes here, and is instrumented (takes handles) when it lies in the
 * executable's range or in a range another object (a mojcc-built shared
 * object) registered from its constructor; anything else is foreign and
 * gets raw pointers.
 *
 * The executable's range is known statically: this runtime is linked into
 * the executable, so these references resolve to its section (weak: absent
 * when nothing in it was instrumented).  Other ranges live in a small table
 * in section moj_rt, which spec_abort does not roll back — a dlopen or
 * dlclose inside a speculation is not undone either.  Writers (constructors,
 * dlopen, dlclose) take a lock; readers take none: a slot's hi is published
 * after its lo, and a slot is freed by clearing hi only, so a reader sees the
 * old range, the new one, or an empty one (hi <= lo). */
extern char __start_moj_text[] __attribute__((weak));
extern char __stop_moj_text[] __attribute__((weak));

#define MOJ_CC_MAX_TEXTS 256
typedef struct {
  _Atomic uintptr_t lo, hi; /* hi == 0: free slot */
} moj_text_range;
static moj_text_range texts[MOJ_CC_MAX_TEXTS] MOJ_RTVAR;
static _Atomic int ntexts MOJ_RTVAR; /* slots in use are below this */
static pthread_mutex_t texts_lock MOJ_RTVAR = PTHREAD_MUTEX_INITIALIZER;

static int in_range(uintptr_t p, uintptr_t lo, uintptr_t hi) {
  return hi > lo && p - lo < hi - lo; /* lo <= p < hi */
}

static int is_main_text(uintptr_t lo, uintptr_t hi) {
  return lo == (uintptr_t)__start_moj_text && hi == (uintptr_t)__stop_moj_text;
}

MOJ_CC_EXPORT void __moj_cc_register_text(const void *lo, const void *hi) {
  uintptr_t l = (uintptr_t)lo, h = (uintptr_t)hi;
  if (h <= l || is_main_text(l, h)) return;
  pthread_mutex_lock(&texts_lock);
  int n = atomic_load_explicit(&ntexts, memory_order_relaxed), slot = -1;
  for (int i = 0; i < n; i++) {
    uintptr_t sh = atomic_load_explicit(&texts[i].hi, memory_order_relaxed);
    if (sh == h && atomic_load_explicit(&texts[i].lo, memory_order_relaxed) == l) {
      pthread_mutex_unlock(&texts_lock); /* registered already */
      return;
    }
    if (!sh && slot < 0) slot = i;
  }
  if (slot < 0) {
    if (n == MOJ_CC_MAX_TEXTS)
      _moj_fatal("more than %d mojcc-built shared objects are loaded", MOJ_CC_MAX_TEXTS);
    slot = n;
  }
  atomic_store_explicit(&texts[slot].lo, l, memory_order_relaxed);
  atomic_store_explicit(&texts[slot].hi, h, memory_order_release);
  if (slot == n) atomic_store_explicit(&ntexts, n + 1, memory_order_release);
  pthread_mutex_unlock(&texts_lock);
}

MOJ_CC_EXPORT void __moj_cc_unregister_text(const void *lo, const void *hi) {
  uintptr_t l = (uintptr_t)lo, h = (uintptr_t)hi;
  if (h <= l || is_main_text(l, h)) return; /* the executable's stays valid until exit */
  pthread_mutex_lock(&texts_lock);
  int n = atomic_load_explicit(&ntexts, memory_order_relaxed);
  for (int i = 0; i < n; i++)
    if (atomic_load_explicit(&texts[i].hi, memory_order_relaxed) == h &&
        atomic_load_explicit(&texts[i].lo, memory_order_relaxed) == l) {
      atomic_store_explicit(&texts[i].hi, 0, memory_order_release);
      break;
    }
  pthread_mutex_unlock(&texts_lock);
}

MOJ_CC_EXPORT int __moj_cc_is_instrumented(const void *fn) {
  uintptr_t p = (uintptr_t)fn;
  if (in_range(p, (uintptr_t)__start_moj_text, (uintptr_t)__stop_moj_text)) return 1;
  int n = atomic_load_explicit(&ntexts, memory_order_acquire);
  for (int i = 0; i < n; i++) {
    uintptr_t h = atomic_load_explicit(&texts[i].hi, memory_order_acquire);
    uintptr_t l = atomic_load_explicit(&texts[i].lo, memory_order_relaxed);
    if (in_range(p, l, h)) return 1;
  }
  return 0;
}
