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
 */
#include <mojave/abi.h>

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
