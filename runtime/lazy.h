/* runtime/lazy.h — shared libraries the runtime loads on first use.
 *
 * libcrypto and libzstd serve only migration and the DSM cluster, yet a
 * library linked into every mojcc program costs every one of them resident
 * memory at start-up (the loader relocates its data and touches its code):
 * issue 11 wants a small program's peak RSS within 1.5x of clang's.  A
 * module defines the library's functions the runtime calls with MOJ_LAZY
 * (hidden: they satisfy the runtime's references inside the executable and
 * nothing else in the process sees them); each forwards to the real one,
 * resolved from the dlopen'ed library on its first call.  mojcc links those
 * libraries --as-needed, so they are loaded at start-up only if the program
 * itself uses them.  A function first called where dlopen is unsafe (a
 * signal handler) must be resolved ahead by the module's preload. */
#ifndef MOJ_LAZY_H
#define MOJ_LAZY_H

#include "internal.h"

/* A module lists its functions once, as FUNCS(F, V) with
 * F(ret, name, params, args) and V(name, params, args) for void ones, and
 * expands MOJ_LAZY_DEFINE(lib, "what", FUNCS, "soname"...) once. */
typedef struct moj_lazy_lib {
  const char        *what;        /* for the error message                  */
  const char        *sonames[3];  /* tried in order, NULL-terminated        */
  const char *const *names;       /* function names, in the list's order    */
  void             **fns;         /* resolved pointers, NULL until resolved */
  unsigned           n;
  void              *handle;
} moj_lazy_lib_t;

/* Function i of lib, loading the library first; fatal when either is
 * missing (the runtime cannot go on without it). */
void *_moj_lazy_fn(moj_lazy_lib_t *lib, unsigned i) MOJ_HIDDEN;
/* Resolves every function of lib now (before a signal handler may call one:
 * dlopen and dlsym are not async-signal-safe). */
void _moj_lazy_preload(moj_lazy_lib_t *lib) MOJ_HIDDEN;

#define MOJ_LAZY_ENUM_F_(ret, name, params, args) MOJ_LAZY_##name,
#define MOJ_LAZY_ENUM_V_(name, params, args) MOJ_LAZY_##name,
#define MOJ_LAZY_NAME_F_(ret, name, params, args) #name,
#define MOJ_LAZY_NAME_V_(name, params, args) #name,
#define MOJ_LAZY_GET_(lib, name, ptype)                                       \
  __typeof__(ptype) g = (__typeof__(ptype))__atomic_load_n(&lib##_fns[MOJ_LAZY_##name], __ATOMIC_ACQUIRE); \
  if (moj_unlikely(!g)) g = (__typeof__(ptype))_moj_lazy_fn(&lib, MOJ_LAZY_##name);

#define MOJ_LAZY_DEFINE(lib, what_, FUNCS, ...)                               \
  enum { FUNCS(MOJ_LAZY_ENUM_F_, MOJ_LAZY_ENUM_V_) lib##_count };             \
  static const char *const lib##_names[] = {FUNCS(MOJ_LAZY_NAME_F_, MOJ_LAZY_NAME_V_)}; \
  static void *lib##_fns[lib##_count] MOJ_RTVAR;                              \
  static moj_lazy_lib_t lib MOJ_RTVAR = {what_, {__VA_ARGS__, NULL}, lib##_names, lib##_fns, lib##_count, NULL};

/* The forwarders: a module defines F and V as these with its lib bound and
 * expands FUNCS(F, V) once more. */
#define MOJ_LAZY_FWD_F(lib, ret, name, params, args)                          \
  MOJ_HIDDEN ret name params { MOJ_LAZY_GET_(lib, name, ret(*) params) return g args; }
#define MOJ_LAZY_FWD_V(lib, name, params, args)                               \
  MOJ_HIDDEN void name params { MOJ_LAZY_GET_(lib, name, void(*) params) g args; }

#endif
