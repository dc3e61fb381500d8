/* ae.h — the daemon's event loop, in the style of redis ae: descriptors
 * registered with a callback and a read/write interest, one epoll_wait per
 * turn, and a tick run before every wait that does the timed work and says
 * how long the loop may sleep.  Single-threaded by design: callbacks never
 * race each other, so the state they touch needs no locks. */
#ifndef MOJ_AE_H
#define MOJ_AE_H

#include <signal.h>

#define MOJ_AE_READ 1  /* also reported on hang-up and error: the reader sees them */
#define MOJ_AE_WRITE 2

struct moj_ae;
typedef void moj_ae_file_fn(struct moj_ae *ae, int fd, void *data, int mask);
/* Returns the longest the loop may sleep, in ms (-1: no limit of its own). */
typedef int moj_ae_tick_fn(struct moj_ae *ae, void *data);

struct moj_ae_file {
  int mask;
  moj_ae_file_fn *fn;
  void *data;
};
struct moj_ae {
  int epfd;
  int setsize;               /* descriptors >= setsize are refused */
  struct moj_ae_file *files; /* indexed by descriptor */
  moj_ae_tick_fn *tick;
  void *tick_data;
  int max_wait_ms;           /* upper bound on one sleep (default 1000) */
  long long deadline_ns;     /* set by the tick: wake no later than this CLOCK_MONOTONIC time (0: none);
                                finer than its millisecond return value, for sub-millisecond timers */
  long spin_us;              /* poll without sleeping this long after an event (0: never) */
  long long last_event_ns;   /* when the last turn had events */
  int spin_score;            /* how often spinning caught the next event lately (0..16) */
  unsigned spin_probe;
};

int _moj_ae_init(struct moj_ae *ae, int setsize);
void _moj_ae_free(struct moj_ae *ae);
/* Register fd or change its interest; 0, or -1 with errno (EMFILE when fd is
 * beyond the set size). */
int _moj_ae_add(struct moj_ae *ae, int fd, int mask, moj_ae_file_fn *fn, void *data);
int _moj_ae_set_mask(struct moj_ae *ae, int fd, int mask);
void _moj_ae_del(struct moj_ae *ae, int fd);
void _moj_ae_set_tick(struct moj_ae *ae, moj_ae_tick_fn *fn, void *data);
/* Turn until *stop is set (0) or epoll fails (-1, errno). */
int _moj_ae_run(struct moj_ae *ae, volatile sig_atomic_t *stop);

#endif
