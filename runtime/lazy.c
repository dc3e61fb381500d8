/* runtime/lazy.c — loading a lazily linked library and resolving its
 * functions (runtime/lazy.h says why; crypto_lazy.c and zstd_lazy.c are the
 * users). */
#include "lazy.h"

#include <dlfcn.h>

/* Racing first calls may both dlopen: the library's reference count rises
 * twice and the same handle is stored; it is never closed. */
static void *lazy_handle(moj_lazy_lib_t *lib) {
  void *h = __atomic_load_n(&lib->handle, __ATOMIC_ACQUIRE);
  if (h) return h;
  for (unsigned i = 0; !h && i < 3 && lib->sonames[i]; i++)
    h = dlopen(lib->sonames[i], RTLD_NOW | RTLD_LOCAL);
  if (!h) _moj_fatal("cannot load %s (%s): %s", lib->what, lib->sonames[0], dlerror());
  __atomic_store_n(&lib->handle, h, __ATOMIC_RELEASE);
  return h;
}

void *_moj_lazy_fn(moj_lazy_lib_t *lib, unsigned i) {
  void *f = dlsym(lazy_handle(lib), lib->names[i]);
  if (!f) _moj_fatal("%s (%s) has no function %s", lib->what, lib->sonames[0], lib->names[i]);
  __atomic_store_n(&lib->fns[i], f, __ATOMIC_RELEASE);
  return f;
}

void _moj_lazy_preload(moj_lazy_lib_t *lib) {
  for (unsigned i = 0; i < lib->n; i++)
    if (!__atomic_load_n(&lib->fns[i], __ATOMIC_ACQUIRE)) _moj_lazy_fn(lib, i);
}
