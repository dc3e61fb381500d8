/* mojave/migrate_abi.h — the migration ABI between the moj-migrate pass and
 * libmojave: names of the entry points and variables the pass emits calls to,
 * the frame descriptor layout and the symbol registry rows.
 *
 * Protocol (see passes/MojMigrate.cpp and runtime/migrate_*.c):
 *   state NORMAL    : polls test __moj_mig_req (one load, unlikely branch).
 *   state UNWINDING : set by __moj_mig_poll / moj_migrate; every frame pushes
 *                     a record (__moj_mig_push, fill, __moj_mig_saved) and
 *                     returns; main's wrapper calls __moj_mig_unwound.
 *   state REWINDING : main re-entered; every frame pops its record
 *                     (__moj_mig_pop, tell object addresses, __moj_mig_entered,
 *                     reload slots) and jumps to its site; the innermost site
 *                     (__moj_mig_poll or moj_migrate) finds the state and
 *                     ends the rewind.
 * Record layout: the LLVM struct { i32 site; i32 pad; [nobjs x ptr] objs (at
 * objs_off); slot 0; slot 1; ... } as the target's DataLayout lays it out:
 * slot k at alignTo(end of the field before, align_k), taking
 * alignTo(size_k, align_k) bytes; rec_size = alignTo(end, largest alignment of
 * all fields, pointers included).  The descriptor does not list offsets or
 * sizes: slot_type[k] holds the slot's type (migrate/image.h
 * moj_img_slot_type) in its low 4 bits and log2(align_k) in its high 4 bits;
 * size_k is fixed by the type (MOJ_MIG_SLOT_SIZES; an F80 slot is its 16-byte
 * allocation) except for MOJ_SLOT_BYTES slots, whose sizes bytes_size lists,
 * one per BYTES slot in slot order (NULL when there are none).  The runtime
 * derives the offsets from that once per descriptor per migration and refuses
 * a descriptor whose derived end does not give rec_size.
 * The descriptor holds no absolute addresses (no load-time relocations in a
 * PIE): each reference is the signed 32-bit distance from the field itself to
 * its target, 0 for none (moj_mig_rel). */
#ifndef MOJAVE_MIGRATE_ABI_H
#define MOJAVE_MIGRATE_ABI_H

#include <stdint.h>

#define MOJ_MIG_STATE      "__moj_mig_state"
#define MOJ_MIG_REQ        "__moj_mig_req"
#define MOJ_MIG_BLOCK      "__moj_mig_block"
#define MOJ_MIG_POLL       "__moj_mig_poll"
#define MOJ_MIG_PUSH       "__moj_mig_push"
#define MOJ_MIG_SAVED      "__moj_mig_saved"
#define MOJ_MIG_POP        "__moj_mig_pop"
#define MOJ_MIG_ENTERED    "__moj_mig_entered"
#define MOJ_MIG_UNWOUND    "__moj_mig_unwound"
#define MOJ_MIG_MAIN_START "__moj_mig_main_start"
#define MOJ_MIG_REGISTER   "__moj_mig_register"

#define MOJ_MIG_NORMAL    0
#define MOJ_MIG_UNWINDING 1
#define MOJ_MIG_REWINDING 2

/* The one list of the migration entry points and variables, checked against
 * the built runtime in both directions by tests/abi/abi_check.sh. */
#define MOJ_MIG_ABI_SYMBOLS(X) \
  X(__moj_mig_state) X(__moj_mig_req) X(__moj_mig_block) X(__moj_mig_poll) \
  X(__moj_mig_push) X(__moj_mig_saved) X(__moj_mig_pop) X(__moj_mig_entered) \
  X(__moj_mig_unwound) X(__moj_mig_main_start) X(__moj_mig_register)

/* slot_type byte of a frame descriptor: type, log2 of the ABI alignment. */
#define MOJ_MIG_SLOT_TYPE(b)       ((b) & 15u)
#define MOJ_MIG_SLOT_ALIGN_LOG2(b) ((unsigned)(b) >> 4)
/* Size in the record (and the image) of a slot of each type, I1..PTR; 0 for
 * BYTES, whose sizes the descriptor lists. */
#define MOJ_MIG_SLOT_SIZES {0, 1, 1, 2, 4, 8, 4, 8, 16, 8, 0}

/* Symbol registry row flags. */
#define MOJ_MIG_SYM_WRITABLE 1u  /* travels in the image's GLOBALS section */
#define MOJ_MIG_SYM_FUNCTION 2u
#define MOJ_MIG_SYM_CONST    4u

#ifndef __cplusplus
typedef struct moj_mig_fdesc {   /* references: moj_mig_rel(&field)          */
  int32_t  name;                 /* const char[]: stable function name       */
  uint32_t nslots, nobjs, rec_size, objs_off;
  int32_t  slot_type;            /* const uint8_t[nslots]: type | log2(align) << 4 */
  int32_t  bytes_size;           /* const uint32_t[]: each BYTES slot's size */
  int32_t  obj_size, obj_align;  /* const uint32_t[nobjs]                    */
} moj_mig_fdesc_t;

/* The target of a relative reference in a descriptor (NULL for 0). */
static inline const void *moj_mig_rel(const int32_t *field) {
  return *field ? (const char *)field + *field : (const void *)0;
}

typedef struct moj_mig_sym {
  const char *name;          /* external name, or "moduleid:name"         */
  void       *addr;
  uint64_t    size;          /* bytes (functions: 1)                      */
  uint32_t    flags, _pad;
} moj_mig_sym_t;

extern volatile uint32_t __moj_mig_state;
extern volatile uint32_t __moj_mig_req;
extern uint32_t __moj_mig_block;
void  __moj_mig_poll(void);
void *__moj_mig_push(const moj_mig_fdesc_t *d, uint32_t site);
void  __moj_mig_saved(void *rec);
void *__moj_mig_pop(const moj_mig_fdesc_t *d);
void  __moj_mig_entered(void *rec);
void  __moj_mig_unwound(void);
void  __moj_mig_main_start(int argc, char **argv, char **envp);
void  __moj_mig_register(const moj_mig_sym_t *tab, uint64_t n);
#endif

#endif /* MOJAVE_MIGRATE_ABI_H */
