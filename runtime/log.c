/* log.c — formatting and writing of log lines (see log.h).  State is a few
 * words set once at start-up; the write is one system call per line so
 * lines from threads and processes sharing a descriptor do not interleave. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char log_tag[64] = "mojave";
static int log_fd = 2;
static int log_ts = -1;  /* -1: not set up; MOJAVE_LOG_TIME=1 asks for timestamps */
static int log_level = MOJ_LOG_INFO;

static const char *const level_name[] = {"fatal", "error", "warn", "info", "debug"};
#define NLEVELS 5

static int parse_level(const char *s) {
  if (!s || !*s) return MOJ_LOG_INFO;
  for (int i = 0; i < NLEVELS; i++)
    if (!strcmp(s, level_name[i])) return i;
  if (s[0] >= '0' && s[0] < '0' + NLEVELS && !s[1]) return s[0] - '0';
  return MOJ_LOG_INFO;
}

void _moj_log_setup(const char *tag, int fd, int timestamps) {
  if (tag) snprintf(log_tag, sizeof log_tag, "%s", tag);
  if (fd >= 0) log_fd = fd;
  log_ts = timestamps;
  log_level = parse_level(getenv("MOJAVE_LOG_LEVEL"));
}

void _moj_log_set_fd(int fd) {
  if (fd >= 0) log_fd = fd;
}

int _moj_log_enabled(int level) { return level <= log_level; }

void _moj_vlog_as(const char *tag, int level, const char *fmt, va_list ap) { _moj_vlog_fd(-1, tag, level, fmt, ap); }

void _moj_vlog_fd(int fd, const char *tag, int level, const char *fmt, va_list ap) {
  if (log_ts < 0) { /* a library nobody set up: the environment decides */
    const char *e = getenv("MOJAVE_LOG_TIME");
    log_ts = e && *e == '1';
    log_level = parse_level(getenv("MOJAVE_LOG_LEVEL"));
  }
  if (level > log_level) return;
  char buf[1024];
  int n = 0;
  if (log_ts) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = (int)strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(buf + n, sizeof buf - (size_t)n, ".%03ldZ ", ts.tv_nsec / 1000000);
  }
  n += snprintf(buf + n, sizeof buf - (size_t)n, "%s: %s: ", tag ? tag : log_tag,
                level_name[level < 0 ? 0 : level >= NLEVELS ? NLEVELS - 1 : level]);
  int m = vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
  n = m < 0 ? n : n + m;
  if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2; /* truncated, still one line */
  buf[n++] = '\n';
  /* raw syscall: an interposed write() (the speculation runtime holds output
   * in a level's buffer) must not swallow a diagnostic */
  if (syscall(SYS_write, fd >= 0 ? fd : log_fd, buf, (size_t)n) < 0) {}
}

void _moj_vlog(int level, const char *fmt, va_list ap) { _moj_vlog_as(NULL, level, fmt, ap); }

void _moj_log_as(const char *tag, int level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  _moj_vlog_as(tag, level, fmt, ap);
  va_end(ap);
}

void _moj_log(int level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  _moj_vlog(level, fmt, ap);
  va_end(ap);
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The limiter itself: callers that put the count in their own line use it
 * directly; _moj_log_rl_admit prints the count as a summary line. */
int _moj_ratelimit_pass(struct moj_ratelimit *rl, int burst, int window_ms, uint32_t *dropped) {
  int64_t now = mono_ms();
  if (dropped) *dropped = 0;
  if (!rl->window_start_ms || now - rl->window_start_ms >= window_ms) {
    if (dropped) *dropped = rl->dropped;
    rl->window_start_ms = now;
    rl->passed = rl->dropped = 0;
  }
  if (rl->passed >= (uint32_t)burst) {
    rl->dropped++;
    return 0;
  }
  rl->passed++;
  return 1;
}

int _moj_log_rl_admit(struct moj_ratelimit *rl, int burst, int window_ms, int level, const char *source) {
  uint32_t dropped;
  int ok = _moj_ratelimit_pass(rl, burst, window_ms, &dropped);
  if (dropped) _moj_log(level, "(%u similar message%s%s%s suppressed in the last %d s)", dropped, dropped == 1 ? "" : "s",
                        source ? " from " : "", source ? source : "", window_ms / 1000);
  return ok;
}

void _moj_log_rl(struct moj_ratelimit *rl, int burst, int window_ms, int level, const char *fmt, ...) {
  if (!_moj_log_rl_admit(rl, burst, window_ms, level, NULL)) return;
  va_list ap;
  va_start(ap, fmt);
  _moj_vlog(level, fmt, ap);
  va_end(ap);
}

uint32_t _moj_log_rl_flush(struct moj_ratelimit *rl) {
  uint32_t d = rl->dropped;
  rl->dropped = rl->passed = 0;
  rl->window_start_ms = 0;
  return d;
}
