/* log.h — the one logging interface of the runtime, the DSM client and the
 * daemons: levels, a readable UTC timestamp, a component tag, and rate
 * limiting for messages a peer or a restart can repeat without bound.
 * Lines go out with one write(2) on a raw descriptor: never through the
 * application's stdio streams, never allocating, so a line can be written
 * from the preload library, a signal path or the event loop alike. */
#ifndef MOJ_LOG_H
#define MOJ_LOG_H

#include <stdarg.h>
#include <stdint.h>

/* A line reads "[TIME ]TAG: LEVEL: message", e.g.
 * "2026-11-29 21:57:16.843Z mojave-nsd[h1]: info: serving on 10.77.0.1:7700". */
enum { MOJ_LOG_FATAL = 0, MOJ_LOG_ERROR = 1, MOJ_LOG_WARN = 2, MOJ_LOG_INFO = 3, MOJ_LOG_DEBUG = 4 };

/* Name this process's lines ("mojave-nsd[h1]", "mojave-dsm[1234]"), pick the
 * descriptor (default 2) and whether lines carry a timestamp.  The level comes
 * from MOJAVE_LOG_LEVEL (fatal|error|warn|info|debug or 0-4; default info). */
void _moj_log_setup(const char *tag, int fd, int timestamps);
/* The descriptor to write to may change later (the runtime keeps the
 * original stderr when it buffers output); fd < 0 keeps the current one. */
void _moj_log_set_fd(int fd);
int _moj_log_enabled(int level);
void _moj_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void _moj_vlog(int level, const char *fmt, va_list ap);
/* The same with another tag: libraries sharing a process (the DSM client
 * inside libmojave) keep their own names without taking the process's. */
void _moj_log_as(const char *tag, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void _moj_vlog_as(const char *tag, int level, const char *fmt, va_list ap);
/* ... to another descriptor than the configured one (fd < 0: the configured). */
void _moj_vlog_fd(int fd, const char *tag, int level, const char *fmt, va_list ap);

/* A limiter lets `burst` lines through per `window_ms`; the first line after
 * a suppressed stretch reports how many were dropped.  One limiter per
 * source (per peer, per reconnect loop): zero-initialised storage is ready. */
struct moj_ratelimit {
  int64_t window_start_ms;
  uint32_t passed, dropped;
};
void _moj_log_rl(struct moj_ratelimit *rl, int burst, int window_ms, int level, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The decision alone, for callers with their own line format: 1 if a line
 * may go out now; *dropped (if set) receives how many were suppressed since
 * the last line that went out. */
int _moj_ratelimit_pass(struct moj_ratelimit *rl, int burst, int window_ms, uint32_t *dropped);
/* The limiter alone, for callers that format their own line or chain two
 * limiters (one per peer and one for all peers): 1 if a line may go out now.
 * The line that closes a suppressed stretch names `source` when given. */
int _moj_log_rl_admit(struct moj_ratelimit *rl, int burst, int window_ms, int level, const char *source);
/* The dropped count of a limiter, reported now (e.g. when the condition it
 * was limiting is over: "reconnected after 37 attempts"). */
uint32_t _moj_log_rl_flush(struct moj_ratelimit *rl);

#endif
