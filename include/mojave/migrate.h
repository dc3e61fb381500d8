/* mojave/migrate.h — moving the calling process to another host.
 *
 * Programs built with mojcc can migrate at any migration point (loop
 * back-edges, entries of recursive functions) when `mojave-run --migrate` or
 * `--move` asks, or explicitly with moj_migrate().  The heap, globals, stack
 * frames, open regular files and standard streams travel; the program resumes
 * at the destination exactly where it was.  See docs/migration.md. */
#ifndef MOJAVE_MIGRATE_H
#define MOJAVE_MIGRATE_H

#ifdef __cplusplus
extern "C" {
#endif

#define MOJ_MIGRATE_BINARY 0x1  /* ship the executable (same code)             */
#define MOJ_MIGRATE_IR     0x2  /* ship the bitcode, recompiled at the target   */
/* Neither: binary between hosts of one instruction set, IR across them (the
 * cluster file's `arch`); BINARY across them fails with ENOEXEC. */

#define MOJ_MIGRATE_ARRIVED 1   /* moj_migrate's value at the destination      */

/* Migrate the calling process to cluster host `host` (a name of the cluster
 * file).  Returns MOJ_MIGRATE_ARRIVED at the destination.  On any failure
 * returns -1 with errno at the source, which keeps running from this point:
 *   EINVAL  host NULL/empty, flags unknown or both modes;
 *   EBUSY   a speculation is active, another thread runs, or the stack holds
 *           frames that cannot be captured (uninstrumented code, a signal
 *           handler, variable-length arrays);
 *   ENOTSUP the program's main was not built by mojcc;
 *   other   the transport's reason (moj_migrate_error() has it in words).
 * "file:PATH" as host writes a checkpoint image to PATH and exits (0); run
 * the program again with MOJAVE_RESTORE_FD=N (N an open fd of PATH) to resume. */
int moj_migrate(const char *host, int flags);

/* The reason of the last failed migration, in words ("" if none). */
const char *moj_migrate_error(void);

#ifdef __cplusplus
}
#endif
#endif /* MOJAVE_MIGRATE_H */
