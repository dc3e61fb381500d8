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
/* Asked before level k commits, before anything of the commit happens: 0
 * lets it commit, a positive abort code aborts it instead (spec_commit then
 * does not return; spec_enter returns -code).  The DSM client's ordered
 * segments use it: a speculation's stores are ordered at its outermost
 * commit and refused if a page it read was written meanwhile. */
extern int (*_moj_spec_ext_vote)(int k);
int spec_level(void);
#endif
