/* runtime/migrate_int.h — internal interfaces of the runtime's migration
 * rooms: migrate_syms.c (symbol registry, address classification),
 * migrate_frames.c (the unwind/rewind state machine, frames, relocations),
 * migrate_state.c (heap, globals, files and stdio into and out of images). */
#ifndef MOJ_MIGRATE_INT_H
#define MOJ_MIGRATE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "mojave/migrate.h"
#include "mojave/migrate_abi.h"
#include "../migrate/image.h"

/* One captured frame (outermost first once the unwind is complete). */
typedef struct mig_frame {
  const moj_mig_fdesc_t *desc;     /* program's descriptor (NULL until popped at a destination) */
  const char   *name;              /* stable function name                                   */
  uint8_t      *rec;               /* record: site, object addresses, slot values              */
  uint32_t      rec_size, nobjs;
  uint8_t     **obj_data;          /* saved bytes of each stack object                         */
  uint32_t     *obj_size, *obj_align;
  uintptr_t    *old_addr, *new_addr;
  const moj_img_frame_t *img;      /* destination: the image's frame                          */
} mig_frame_t;

/* Address classes a word may point into, for relocations. */
typedef struct mig_target { uint8_t kind; uint32_t tid, tsub; int64_t toff; } mig_target_t;

/* migrate_syms.c */
void _moj_mig_syms_argv(int argc, char **argv) MOJ_HIDDEN;
void _moj_mig_syms_env(char **envp) MOJ_HIDDEN;
size_t _moj_mig_nsyms(void) MOJ_HIDDEN;
const moj_mig_sym_t *_moj_mig_sym(size_t i) MOJ_HIDDEN;
const moj_mig_sym_t *_moj_mig_sym_named(const char *name) MOJ_HIDDEN;
/* Build the lookup structures over symbols, stack objects of `frames` and
 * live heap objects; then classify words. */
int  _moj_mig_index_build(mig_frame_t *frames, uint32_t nframes) MOJ_HIDDEN;
void _moj_mig_index_free(void) MOJ_HIDDEN;
int  _moj_mig_classify(uint64_t v, mig_target_t *t) MOJ_HIDDEN; /* 1 = relocate */

/* migrate_frames.c */
typedef struct mig_relocs { moj_img_reloc_t *v; uint32_t n, cap; } mig_relocs_t;
void _moj_mig_scan(mig_relocs_t *r, uint8_t where, uint32_t id, uint32_t sub,
                   const uint8_t *data, uint64_t len, int precise) MOJ_HIDDEN;
/* SYMS index of a symbol row, added on first use (image's SYMS list). */
uint32_t _moj_mig_symref(size_t sym_row) MOJ_HIDDEN;

/* migrate_frames.c: main's argc/argv (the image's at a destination) */
char **_moj_mig_argv(int *argc) MOJ_HIDDEN;

/* runtime/dsm/client.c: weak, like the runtime's other references to it, so
 * the DSM client is linked only into programs that use System V IPC. */
int __moj_dsm_owns_fd(int fd) MOJ_HIDDEN __attribute__((weak));
int __moj_dsm_mig_undo_pending(char *reason, size_t rlen) MOJ_HIDDEN __attribute__((weak));
int __moj_dsm_mig_capture(moj_img_shm_t **shm, uint32_t *nshm, moj_img_semundo_t **undo, uint32_t *nundo,
                          char *reason, size_t rlen) MOJ_HIDDEN __attribute__((weak));
int __moj_dsm_mig_restore(const moj_img_shm_t *shm, uint32_t nshm, char *reason, size_t rlen)
    MOJ_HIDDEN __attribute__((weak));
int __moj_dsm_mig_undo_give(const moj_img_semundo_t *u, uint32_t n, char *reason, size_t rlen) MOJ_HIDDEN
    __attribute__((weak));

/* migrate_state.c */
/* Fill heap, globals, files, stdio parts of img and their relocations;
 * 0 or -1 with errno and reason. */
int  _moj_mig_capture_state(moj_img_t *img, mig_relocs_t *r, char *reason, size_t rlen) MOJ_HIDDEN;
void _moj_mig_capture_free(moj_img_t *img) MOJ_HIDDEN;
/* Open descriptors and their stdio streams (first: streams are flushed). */
int  _moj_mig_capture_files(moj_img_t *img, char *reason, size_t rlen) MOJ_HIDDEN;
size_t _moj_mig_streams(const void **addr, uint32_t *file, size_t max) MOJ_HIDDEN;
void *_moj_mig_stream(const moj_img_t *img, uint32_t i, int at_dest) MOJ_HIDDEN;
/* Distributed System V attachments (runtime/dsm/client.c): the source hands
 * its pages back and lists its attachments into img->shm; 0 or -1 with errno
 * and reason.  Freed by _moj_mig_capture_free. */
int  _moj_mig_capture_dsm(moj_img_t *img, char *reason, size_t rlen) MOJ_HIDDEN;
void _moj_mig_undo_adopt(const moj_img_t *img) MOJ_HIDDEN;
/* Destination: heap, globals, files from a decoded image (fatal on mismatch). */
void _moj_mig_restore_state(const moj_img_t *img) MOJ_HIDDEN;
/* Address of a GLOBALS record / SYMS entry at this process. */
uint8_t *_moj_mig_global_addr(const moj_img_t *img, uint32_t id) MOJ_HIDDEN;

#endif
