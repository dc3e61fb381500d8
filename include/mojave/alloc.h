/* mojave/alloc.h — the managed allocator: objects live behind pointer-table
 * handles so speculation can copy them on write and roll them back.
 *
 * Programs built with mojcc get these automatically (malloc & co. are
 * rewritten).  Programs using libmojave directly call them and access memory
 * through moj_r()/moj_w() (mojave/ptr.h).  Each returns a handle, or NULL with
 * errno ENOMEM (also when the pointer table is full or the size exceeds
 * MOJ_MAX_OBJECT_SIZE; a one-line diagnostic names the limit). */
#ifndef MOJAVE_ALLOC_H
#define MOJAVE_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void  *moj_malloc(size_t n);
void  *moj_calloc(size_t count, size_t n);
void  *moj_realloc(void *p, size_t n);      /* keeps the handle's index */
void   moj_free(void *p);                   /* raw pointers go to free() */
int    moj_posix_memalign(void **out, size_t align, size_t n);
void  *moj_aligned_alloc(size_t align, size_t n);
size_t moj_usable_size(const void *p);      /* object size of a handle */

/* Statistics, for tests and benchmarks. */
typedef struct moj_stats {
  size_t live_objects;     /* allocated table entries                    */
  size_t table_capacity;   /* maximum number of objects (MOJAVE_MAX_OBJECTS) */
  size_t cow_copies;       /* copy-on-write copies made since start      */
  size_t cow_bytes;        /* bytes copied by copy-on-write              */
  size_t signals_deferred; /* handlers deferred out of runtime slow paths */
} moj_stats_t;
void moj_get_stats(moj_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif /* MOJAVE_ALLOC_H */
