/* mojave/ptr.h — explicit access to managed memory for code not compiled by
 * mojcc (mojcc inserts the same translations automatically).
 *
 *   int *a = moj_malloc(100 * sizeof *a);
 *   MOJ_W(int, a)[3] = 7;          // write: copy-on-write barrier first
 *   int x = MOJ_R(int, a)[3];      // read
 *
 * A translated address is valid until the next call that may copy or move the
 * object (any moj_w/MOJ_W on it in a newer speculation level, moj_realloc,
 * moj_free, spec_commit, spec_abort). */
#ifndef MOJAVE_PTR_H
#define MOJAVE_PTR_H

#include "abi.h"

static inline const void *moj_r(const void *p) { return __moj_r(p); }
static inline void *moj_w(void *p) { return __moj_w(p); }

#define MOJ_R(T, p) ((const T *)__moj_r((const void *)(p)))
#define MOJ_W(T, p) ((T *)__moj_w((void *)(p)))

#endif /* MOJAVE_PTR_H */
