/* migrate/ctl.h — what the runtime needs from the migration transport.
 *
 * CONTRACT between the runtime's capture/restore (runtime/migrate_*.c, which
 * builds and consumes images) and the transport (migrate/ship.c + ctl.c,
 * compiled into libmojave; mojaved and mojave-run on the other ends).
 *
 * Source side, at a migration point:
 *   1. moj_ctl_take_request(): which host/mode was asked for (supervisor's
 *      request), or the explicit moj_migrate() arguments are used instead;
 *   2. the runtime unwinds and encodes an image;
 *   3. moj_ship_begin(): sends executable (binary mode, content-hashed, only
 *      when the destination's cache lacks it) or bitcode (IR mode) and the
 *      image to mojaved@host; returns once the destination process has
 *      restored the image and reported RESTORED (it then waits for GO);
 *   4. moj_ship_commit(): destination process released (GO); the source then
 *      calls moj_ctl_moved() and exits 0 without running atexit handlers;
 *      on ANY failure in 3 or 4 the runtime calls moj_ship_abort() (the
 *      destination kills what it restored) and resumes at the migration point.
 * Destination side: mojaved execs the program with MOJAVE_RESTORE_FD (a fd
 * holding the image, read from offset 0) and MOJAVE_CTL_FD (unix socket to
 * mojaved); the runtime restores, rewinds, then calls moj_ctl_restored() which
 * reports RESTORED and blocks until GO (returns 0) or ABORT (never returns:
 * _exit(0) quietly — the source keeps running).
 */
#ifndef MOJ_MIGRATE_CTL_H
#define MOJ_MIGRATE_CTL_H
#include <stddef.h>
#include <stdint.h>

/* Set by the transport (signal handler on MOJ_CTL_SIGNAL, or moj_migrate)
 * when a migration is requested; polled by compiler-inserted migration points. */
extern volatile uint32_t __moj_mig_req __attribute__((visibility("default")));

/* Called once at runtime start-up (before main): reads MOJAVE_CTL_FD, installs
 * the request signal handler when supervised.  Never fails loudly: an
 * unsupervised program simply has no requests. */
void moj_ctl_init(void);

/* A pending supervisor request: 1 and fills host/mode (1 binary, 2 IR),
 * 0 when none.  Clears it. */
int moj_ctl_take_request(char *host, size_t hostlen, int *mode);

/* The mode a migration to `host` uses: `mode` 0 (auto) is IR when the
 * cluster file gives host another instruction set than the running code's,
 * binary otherwise; 1 (binary) to such a host is refused: -1, errno ENOEXEC
 * and a reason naming both architectures; 2 (IR) stays.  c may be NULL (no
 * cluster file: same instruction set assumed).  moj_ship_mode_for loads
 * MOJAVE_CLUSTER itself; a "file:" checkpoint is binary unless IR. */
struct _moj_cluster;
int moj_ship_mode(const struct _moj_cluster *c, const char *host, int mode, char *reason, size_t rlen);
int moj_ship_mode_for(const char *host, int mode, char *reason, size_t rlen);

typedef struct moj_ship moj_ship_t;
/* Ship to mojaved@host (cluster file: MOJAVE_CLUSTER, own name MOJAVE_HOST);
 * mode as for moj_ship_mode (0 auto, 1 binary, 2 IR).
 * exe_path: the running executable (/proc/self/exe resolved).  Blocks until
 * RESTORED or failure; timeout_ms bounds the whole exchange (0 = default,
 * MOJAVE_MIGRATE_TIMEOUT_MS or 30000).  0 and *out, or -1 with errno and a
 * named reason ("host h9 not in cluster file", "connection refused by
 * h3 (10.77.0.3:7701)", "authentication failed: wrong secret", "image refused
 * by h3: checksum mismatch", "restore crashed at h3: SIGSEGV", "timeout after
 * 30000 ms waiting for RESTORED").  progress(sent, total) is called while the
 * image goes out (may be NULL). */
int  moj_ship_begin(const char *host, int mode, const char *exe_path,
                    const void *img, size_t len, moj_ship_t **out,
                    void (*progress)(uint64_t sent, uint64_t total),
                    char *reason, size_t rlen);
/* Release the destination (GO).  0, or -1 + reason (the destination was then
 * told to ABORT when still reachable). */
int  moj_ship_commit(moj_ship_t *s, char *reason, size_t rlen);
void moj_ship_abort(moj_ship_t *s);   /* ABORT + free; safe on NULL */
/* Job id / host the program now runs as (valid after begin succeeded). */
const char *moj_ship_job(const moj_ship_t *s);

/* After a committed hand-off: tell the supervisor (mojave-run or mojaved via
 * MOJAVE_CTL_FD) where the program went, then return; the caller _exit(0)s.
 * When unsupervised, exec `mojave-run --attach HOST:JOB` in place (keeping
 * fds 0-2 and the pid, so the parent shell waits for the real exit status);
 * returns only when that exec failed. */
void moj_ctl_moved(const char *host, const char *job);

/* Destination: the image is restored and the stack rewound.  0 on GO. */
int  moj_ctl_restored(void);

#endif /* MOJ_MIGRATE_CTL_H */
