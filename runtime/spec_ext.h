/* spec_ext.h — speculation events for state the runtime does not copy
 * itself (the DSM client's shared pages, runtime/dsm/client_spec.c): the
 * state's owner sets _moj_spec_ext, spec.c calls it as each event says.
 * Its own header so that client can use it without the runtime's internals. */
#ifndef MOJ_SPEC_EXT_H
#define MOJ_SPEC_EXT_H
enum {
  MOJ_SPEC_EV_ENTER = 1,  /* level k entered; depth is k */
  MOJ_SPEC_EV_COMMIT = 2, /* level k about to be removed by commit; depth still counts it */
  MOJ_SPEC_EV_ABORT = 3,  /* levels k..depth about to be undone */
};
extern void (*_moj_spec_ext)(int ev, int k);
int spec_level(void);
#endif
