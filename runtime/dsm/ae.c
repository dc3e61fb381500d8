/* ae.c — the epoll event loop behind ae.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "ae.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

int _moj_ae_init(struct moj_ae *ae, int setsize) {
  memset(ae, 0, sizeof *ae);
  ae->files = calloc((size_t)setsize, sizeof *ae->files);
  if (!ae->files) return -1;
  ae->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (ae->epfd < 0) {
    free(ae->files);
    return -1;
  }
  ae->setsize = setsize;
  ae->max_wait_ms = 1000;
  ae->spin_score = 8;
  return 0;
}

void _moj_ae_free(struct moj_ae *ae) {
  if (ae->epfd >= 0) close(ae->epfd);
  free(ae->files);
  ae->files = NULL;
  ae->epfd = -1;
}

static uint32_t ep_events(int mask) {
  return (mask & MOJ_AE_READ ? EPOLLIN : 0u) | (mask & MOJ_AE_WRITE ? EPOLLOUT : 0u);
}

int _moj_ae_add(struct moj_ae *ae, int fd, int mask, moj_ae_file_fn *fn, void *data) {
  if (fd < 0 || fd >= ae->setsize) {
    errno = EMFILE;
    return -1;
  }
  struct moj_ae_file *f = &ae->files[fd];
  struct epoll_event ev = {.events = ep_events(mask), .data.fd = fd};
  if (epoll_ctl(ae->epfd, f->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev)) return -1;
  f->mask = mask;
  f->fn = fn;
  f->data = data;
  return 0;
}

int _moj_ae_set_mask(struct moj_ae *ae, int fd, int mask) {
  if (fd < 0 || fd >= ae->setsize || !ae->files[fd].mask) {
    errno = EBADF;
    return -1;
  }
  if (ae->files[fd].mask == mask) return 0;
  struct epoll_event ev = {.events = ep_events(mask), .data.fd = fd};
  if (epoll_ctl(ae->epfd, EPOLL_CTL_MOD, fd, &ev)) return -1;
  ae->files[fd].mask = mask;
  return 0;
}

void _moj_ae_del(struct moj_ae *ae, int fd) {
  if (fd < 0 || fd >= ae->setsize || !ae->files[fd].mask) return;
  epoll_ctl(ae->epfd, EPOLL_CTL_DEL, fd, NULL);
  memset(&ae->files[fd], 0, sizeof ae->files[fd]);
}

void _moj_ae_set_tick(struct moj_ae *ae, moj_ae_tick_fn *fn, void *data) {
  ae->tick = fn;
  ae->tick_data = data;
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Right after an event, look for the next one without sleeping for up to
 * spin_us: a request/reply exchange then costs no wake-up of a halted vCPU
 * (on an idle VM that wake-up, not the work, dominates a page fault).  The
 * spin adapts: it continues only while it keeps catching events (a loaded
 * machine, where spinning would steal the CPU the peers need, turns it off
 * after a few misses), with one probe every 32 turns. */
static int ae_spin(struct moj_ae *ae, struct epoll_event *evs) {
  if (ae->spin_us <= 0 || !ae->last_event_ns) return 0;
  if (ae->spin_score < 4 && (++ae->spin_probe & 31) != 0) return 0;
  long long end = ae->last_event_ns + ae->spin_us * 1000;
  int n = 0;
  while (n == 0 && now_ns() < end) n = epoll_wait(ae->epfd, evs, 64, 0);
  if (n > 0) ae->spin_score = ae->spin_score < 16 ? ae->spin_score + 1 : 16;
  else ae->spin_score = ae->spin_score > 4 ? ae->spin_score - 4 : 0;
  return n > 0 ? n : 0;
}

int _moj_ae_run(struct moj_ae *ae, volatile sig_atomic_t *stop) {
  while (!*stop) {
    int tmo = ae->max_wait_ms;
    if (ae->tick) {
      int t = ae->tick(ae, ae->tick_data);
      if (t >= 0 && t < tmo) tmo = t;
    }
    struct epoll_event evs[64];
    int n = ae_spin(ae, evs);
    if (n == 0) {
      long long left = ae->deadline_ns ? ae->deadline_ns - now_ns() : -1;
      if (left >= 0 && (tmo < 0 || left < (long long)tmo * 1000000)) {
        struct timespec ts = {left / 1000000000, left % 1000000000};
        n = epoll_pwait2(ae->epfd, evs, 64, &ts, NULL);
      } else {
        n = epoll_wait(ae->epfd, evs, 64, tmo);
      }
    }
    if (n > 0 && ae->spin_us > 0) ae->last_event_ns = now_ns();
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      struct moj_ae_file *f = &ae->files[fd];
      if (!f->mask) continue; /* deleted by an earlier callback of this turn */
      int mask = 0;
      if (evs[i].events & EPOLLOUT) mask |= MOJ_AE_WRITE;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) mask |= MOJ_AE_READ;
      f->fn(ae, fd, f->data, mask & (f->mask | MOJ_AE_READ));
    }
  }
  return 0;
}
