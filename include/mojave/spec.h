/* mojave/spec.h — nested speculations: enter, commit, abort.
 *
 * A speculation is a checkpoint of the whole process state that mojave manages:
 * managed heap objects (copy-on-write through the pointer table), the main
 * executable's globals, the stack frames live at entry, and output written to
 * stdout/stderr.  Levels nest; see docs/api.md for the full rules.
 */
#ifndef MOJAVE_SPEC_H
#define MOJAVE_SPEC_H

#ifdef __cplusplus
extern "C" {
#endif

/* Deepest nesting supported; spec_enter past it fails with EOVERFLOW. */
#define SPEC_MAX_LEVELS 64

/* Enter a new speculation level.  Behaves like setjmp:
 *   > 0  entered; the value is the new level's id (ids are never reused);
 *   = 0  could not enter; errno is EOVERFLOW (nesting limit), ENOTSUP (more
 *        than one thread is running), or ENOMEM;
 *   < 0  returned a second time because this level was aborted; the value is
 *        -(abort code) (spec_abort uses code SPEC_ABORT_DEFAULT).
 * Every call site must be treated as returns_twice by the compiler. */
__attribute__((returns_twice)) int spec_enter(void);

/* Commit level `id`: its changes become part of the enclosing level (or of the
 * non-speculative state when it is the outermost level).  Later levels stay
 * active and can still be aborted.  Returns 0, or -1 with errno:
 *   EINVAL id <= 0;  ESRCH no active level has this id (unknown or ended);
 *   EPERM  the level belongs to another thread. */
int spec_commit(int id);

/* Abort level `id` and every level entered after it, then resume at id's
 * spec_enter, which returns -SPEC_ABORT_DEFAULT.  Does not return on success;
 * returns -1 with errno (EINVAL, ESRCH, EPERM as for spec_commit) otherwise. */
int spec_abort(int id);

/* As spec_abort, with an abort code 1..SPEC_ABORT_MAX_CODE that spec_enter
 * returns negated.  A code outside that range fails with EINVAL. */
int spec_abort_with(int id, int code);

#define SPEC_ABORT_DEFAULT  1
#define SPEC_ABORT_MAX_CODE 0x7fffffff
/* The code of a level aborted by its own spec_commit: a distributed shared
 * page it read was written by another process before the level's stores
 * could be ordered (ordered segments, docs/speculative-dsm.md §5.3).  Run
 * the level again.  Programs should not pass it to spec_abort_with. */
#define SPEC_ABORT_CONFLICT 0x7ffffffe

/* Introspection. */
int spec_level(void);          /* number of active levels (0 = not speculating) */
int spec_current(void);        /* id of the innermost active level, or 0       */
int spec_id_at(int depth);     /* id of the level at depth 1..spec_level(), or 0 */
int spec_depth_of(int id);     /* depth of an active level, or 0               */
int spec_last_abort_code(void);/* code of the most recent abort, 0 if none     */

#ifdef __cplusplus
}
#endif
#endif /* MOJAVE_SPEC_H */
