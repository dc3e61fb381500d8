/* mojave/cc_abi.h — the runtime entry points that only mojcc-generated code
 * calls, `__moj_cc_<name>`, beyond the core ABI of mojave/abi.h.
 *
 * These lists are the single source of the names: the pass includes this
 * header (passes/MojCommon.h) to decide which libc calls it redirects and to
 * spell the entry points it emits, the runtime defines them
 * (runtime/cc_*.c), and tests/abi/abi_check.sh checks with nm that
 * libmojave.a defines every `__moj_cc_*` name listed here and no other.
 * Adding a wrapper means adding its name here and its definition there.
 */
#ifndef MOJAVE_CC_ABI_H
#define MOJAVE_CC_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Support entry points, `__moj_cc_<name>`:
 *   w_soft           write translation whose slow path tolerates a freed
 *                    handle (hoisted translations, arguments for libc)
 *   rehandle         raw pointer into an argument's current copy -> handle
 *   rehandle_out     the same, in place, for an out-parameter (strtol)
 *   register_text    constructor of each linked object: its MOJ_CC_TEXT range
 *   unregister_text  destructor of each linked object (dlclose)
 *   is_instrumented  out-of-line test of an indirect call's target */
#define MOJ_CC_ENTRIES(X) \
  X(w_soft) X(rehandle) X(rehandle_out) \
  X(register_text) X(unregister_text) X(is_instrumented)

/* Entry points an x86-64 libmojave has besides (mojcc uses them only for
 * x86-64 targets, passes/MojLower.cpp; runtime/cc_slow_x86_64.S):
 *   w_slow_pm        __moj_w_slow and __moj_cc_w_soft with LLVM's
 *   w_soft_pm        preserve_most convention (all general registers but
 *                    r11 kept): the inline barrier's cold call in
 *                    executables, without spills
 *   r_pa, w_pm,      the whole read / write / soft-write translation out
 *   ws_pm            of line, preserve_all (read) or preserve_most: the
 *                    accesses of -O0 code in executables */
#define MOJ_CC_ENTRIES_X86_64(X) X(w_slow_pm) X(w_soft_pm) X(r_pa) X(w_pm) X(ws_pm)

/* C library functions whose arguments point to memory holding more pointers
 * (a va_list, iovec/msghdr/argv arrays, getline's buffer pointer, strtok's
 * saved position): direct calls become calls of `__moj_cc_<fn>`, a wrapper
 * with the same prototype that translates the inner pointers. */
#define MOJ_CC_LIBC_WRAPPERS(X) \
  X(writev) X(readv) X(pwritev) X(preadv) X(pwritev64) X(preadv64) \
  X(sendmsg) X(recvmsg) X(execv) X(execvp) X(execve) X(execvpe) \
  X(getline) X(getdelim) X(__getdelim) X(setvbuf) X(setbuf) \
  X(strtok) X(strtok_r) \
  X(vprintf) X(vfprintf) X(vsprintf) X(vsnprintf) X(vasprintf) X(vdprintf) \
  X(__vsnprintf_chk) X(__vsprintf_chk) X(__vfprintf_chk) X(__vprintf_chk) \
  X(vsyslog) X(vwarn) X(vwarnx) X(verr) X(verrx) \
  X(__isoc99_vscanf) X(__isoc99_vfscanf) X(__isoc99_vsscanf) \
  X(vscanf) X(vfscanf) X(vsscanf)

/* Every function the pass instruments is placed in this ELF section.  The
 * name is a C identifier, so the linker gathers all of a linked object's
 * instrumented code into one output section bounded by
 * __start_moj_text / __stop_moj_text. */
#define MOJ_CC_TEXT_SECTION "moj_text"

void *__moj_cc_w_soft(uint64_t h);
/* preserve_most (an x86-64 libmojave only): C may call them only through
 * declarations carrying clang's __attribute__((preserve_most)). */
void *__moj_cc_w_slow_pm(uint64_t h);
void *__moj_cc_w_soft_pm(uint64_t h);
void *__moj_cc_r_pa(uint64_t v); /* preserve_all */
void *__moj_cc_w_pm(uint64_t v);
void *__moj_cc_ws_pm(uint64_t v);
void *__moj_cc_rehandle(void *ret, void *orig);
void  __moj_cc_rehandle_out(void **slot, void *orig);
/* [lo, hi) holds instrumented code of one linked object (executable or
 * shared object).  Registering the same range again is a no-op. */
void  __moj_cc_register_text(const void *lo, const void *hi);
void  __moj_cc_unregister_text(const void *lo, const void *hi);
/* Non-zero when fn lies in a registered range (or in the executable's own
 * MOJ_CC_TEXT section): the callee takes handles. */
int   __moj_cc_is_instrumented(const void *fn);

#ifdef __cplusplus
}
#endif
#endif /* MOJAVE_CC_ABI_H */
