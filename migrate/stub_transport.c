/* migrate/stub_transport.c — stand-in for the transport (ship.c, ctl.c) while
 * it is not in the tree: every hand-off fails with a named reason, so the
 * runtime's capture and local rewind can be built and tested on their own. */
#include <errno.h>
#include <stdio.h>
#include "ctl.h"
volatile uint32_t __moj_mig_req;
void moj_ctl_init(void) {}
int moj_ctl_take_request(char *host, size_t hostlen, int *mode) { (void)host; (void)hostlen; (void)mode; return 0; }
int moj_ship_begin(const char *host, int mode, const char *exe_path, const void *img, size_t len,
                   moj_ship_t **out, void (*progress)(uint64_t, uint64_t), char *reason, size_t rlen) {
  (void)mode; (void)exe_path; (void)img; (void)len; (void)progress;
  *out = NULL;
  snprintf(reason, rlen, "no transport in this build (cannot reach %s)", host);
  errno = ENOSYS;
  return -1;
}
int moj_ship_commit(moj_ship_t *s, char *reason, size_t rlen) { (void)s; snprintf(reason, rlen, "no transport"); errno = ENOSYS; return -1; }
void moj_ship_abort(moj_ship_t *s) { (void)s; }
const char *moj_ship_job(const moj_ship_t *s) { (void)s; return ""; }
void moj_ctl_moved(const char *host, const char *job) { (void)host; (void)job; }
int moj_ctl_restored(void) { return 0; }
