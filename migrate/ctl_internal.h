/* migrate/ctl_internal.h — what ship.c and ctl.c share inside libmojave (not
 * part of the ctl.h contract). */
#ifndef MOJ_MIGRATE_CTL_INTERNAL_H
#define MOJ_MIGRATE_CTL_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

/* Mutable transport state lives in the runtime's `moj_rt` section, which the
 * speculation snapshot of .data/.bss skips (runtime/internal.h): rolling back
 * a speculation must not forget a migration request or the control socket. */
#ifdef MOJ_IN_RUNTIME
#define MG_RTVAR __attribute__((section("moj_rt")))
#else
#define MG_RTVAR
#endif

/* The supervisor's control socket, -1 when unsupervised. */
int moj_ctl_fd(void);
/* Best-effort packet to the supervisor (PROGRESS, FAILED); no-op when unsupervised. */
void moj_ctl_notify(uint16_t type, const void *p, size_t n);
#endif
