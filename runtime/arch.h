/* runtime/arch.h — the few instruction-set-specific facts the runtime's C code
 * needs (its assembly lives in runtime/<name>_<processor>.S): the name images
 * record, a spin-wait hint, and whether a fault's access was a write.  One
 * header for the runtime and its DSM client, so a new target is added here. */
#ifndef MOJ_ARCH_H
#define MOJ_ARCH_H

#include <signal.h>
#include <stdint.h>
#include <ucontext.h>

#if defined(__x86_64__)
#define MOJ_ARCH_NAME "x86_64"
/* clang 16's data layout for the target (what images record) */
#define MOJ_ARCH_DATALAYOUT "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
static inline void moj_cpu_relax(void) { __builtin_ia32_pause(); }
/* The page-fault error code: bit 1 is set for a write. */
static inline int moj_fault_is_write(const ucontext_t *u) { return (u->uc_mcontext.gregs[REG_ERR] & 2) != 0; }

#elif defined(__aarch64__)
#define MOJ_ARCH_NAME "aarch64"
#define MOJ_ARCH_DATALAYOUT "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128"
static inline void moj_cpu_relax(void) { __asm__ volatile("yield" ::: "memory"); }
/* The kernel appends an esr_context record to the signal frame's __reserved
 * area for data aborts; its WnR bit (6) says write.  Without the record (an
 * emulator may omit it) the access is taken to be a write: asking for write
 * access to a page that was only read costs an invalidation, never
 * correctness. */
static inline int moj_fault_is_write(const ucontext_t *u) {
  enum { ESR_MAGIC_ = 0x45535201, EC_DABT_LOW = 0x24, EC_DABT_CUR = 0x25, WNR = 1u << 6 };
  const unsigned char *p = (const unsigned char *)u->uc_mcontext.__reserved;
  const unsigned char *end = p + sizeof u->uc_mcontext.__reserved;
  while (p + 8 <= end) {
    uint32_t magic, size;
    __builtin_memcpy(&magic, p, 4);
    __builtin_memcpy(&size, p + 4, 4);
    if (!magic || size < 8 || size > (size_t)(end - p)) break;
    if (magic == ESR_MAGIC_ && size >= 16) {
      uint64_t esr;
      __builtin_memcpy(&esr, p + 8, 8);
      unsigned ec = (unsigned)(esr >> 26) & 0x3f;
      if (ec == EC_DABT_LOW || ec == EC_DABT_CUR) return (esr & WNR) != 0;
      return 1;
    }
    p += size;
  }
  return 1;
}

#else
#error "libmojave supports x86-64 and aarch64 (runtime/arch.h, runtime/spec_<processor>.S)"
#endif

/* open(2) flags: x86-64 uses the kernel's generic numbering, aarch64 numbers
 * four of them otherwise (the same four bits, permuted).  Images carry
 * descriptors' flags in the generic numbering (FILES), so a restore on the
 * other instruction set reopens with the same meaning; passes/MojPortable.cpp
 * converts the constants in moved code the same way. */
enum {
  MOJ_GEN_O_DIRECT = 040000, MOJ_GEN_O_LARGEFILE = 0100000,
  MOJ_GEN_O_DIRECTORY = 0200000, MOJ_GEN_O_NOFOLLOW = 0400000,
  MOJ_A64_O_DIRECTORY = 040000, MOJ_A64_O_NOFOLLOW = 0100000,
  MOJ_A64_O_DIRECT = 0200000, MOJ_A64_O_LARGEFILE = 0400000,
  MOJ_O_PERMUTED = 0740000,
};
static inline int moj_oflags_a64_to_gen(int f) {
  return (f & ~MOJ_O_PERMUTED) | (f & MOJ_A64_O_DIRECTORY ? MOJ_GEN_O_DIRECTORY : 0) |
         (f & MOJ_A64_O_NOFOLLOW ? MOJ_GEN_O_NOFOLLOW : 0) | (f & MOJ_A64_O_DIRECT ? MOJ_GEN_O_DIRECT : 0) |
         (f & MOJ_A64_O_LARGEFILE ? MOJ_GEN_O_LARGEFILE : 0);
}
static inline int moj_oflags_gen_to_a64(int f) {
  return (f & ~MOJ_O_PERMUTED) | (f & MOJ_GEN_O_DIRECTORY ? MOJ_A64_O_DIRECTORY : 0) |
         (f & MOJ_GEN_O_NOFOLLOW ? MOJ_A64_O_NOFOLLOW : 0) | (f & MOJ_GEN_O_DIRECT ? MOJ_A64_O_DIRECT : 0) |
         (f & MOJ_GEN_O_LARGEFILE ? MOJ_A64_O_LARGEFILE : 0);
}
#if defined(__aarch64__)
#define moj_oflags_to_image moj_oflags_a64_to_gen
#define moj_oflags_from_image moj_oflags_gen_to_a64
#else
static inline int moj_oflags_to_image(int f) { return f; }
static inline int moj_oflags_from_image(int f) { return f; }
#endif

#endif /* MOJ_ARCH_H */
