/* migrate/mojaved.h — shared state of the migration daemon: the epoll loop and
 * peer connections (mojaved.c), the executable cache (mojaved_cache.c) and
 * the supervised jobs (mojaved_job.c). */
#ifndef MOJ_MOJAVED_H
#define MOJ_MOJAVED_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cluster.h"
#include "wire.h"

/* What an epoll event points at. */
enum { W_LISTEN = 1, W_SIGNAL, W_CONN, W_JOB_CTL, W_JOB_OUT, W_JOB_ERR, W_JOB_IN };
struct watch { int kind; void *obj; };

/* A byte queue: data in p[off, len). */
struct buf { char *p; size_t off, len, cap; };
int buf_put(struct buf *b, const void *p, size_t n);
int buf_frame(struct buf *b, uint16_t type, int32_t status, uint32_t aux, const void *p, size_t n);
static inline size_t buf_size(const struct buf *b) { return b->len - b->off; }
void buf_free(struct buf *b);

enum { JOB_RESTORING = 1, JOB_RESTORED, JOB_RUNNING, JOB_DONE, JOB_ABORTED };
/* Limits that keep one peer or job from taking the daemon's memory. */
#define OUT_LIMIT (1u << 20)    /* buffered output per job before the pipes stop being read */
#define IN_LIMIT (2u << 20)     /* stdin bytes queued for a job before the launcher is cut off */
#define JOB_LINGER_MS (600 * 1000) /* an exited job nobody attached to is forgotten after this */
#define MAX_JOBS 1024

struct conn;
struct job {
  struct watch wctl, wout, werr, win;
  char id[64], prog[64], origin[32];
  pid_t pid;
  int state;
  int ctl, out, err, in, in_rd; /* in_rd: our copy of the stdin pipe's read end (see job_final) */
  int ctl_on, out_on, err_on, in_on; /* registered in epoll */
  struct buf outq;              /* frames for the launcher (OUT, STDIN_ACK, PROGRESS, FAILED, EXIT/MOVED) */
  struct buf inq;               /* stdin bytes not yet written into the pipe */
  uint64_t in_written, in_skip; /* bytes written into the pipe; of which image pending-stdin */
  int in_eof;                   /* the launcher said no more stdin */
  int exited, status;
  int final_sent;               /* EXIT or MOVED queued */
  struct conn *src;             /* the source connection during the hand-off */
  struct conn *launcher;        /* the attached mojave-run */
  int moved; struct mg_moved moved_to;
  int ready, req_pending; struct mg_request req;
  int64_t t_done;
  char errtail[320];            /* last stderr bytes, for "restore failed" reasons */
  struct job *next;
};

struct conn {
  struct watch w;
  int fd, dead, authed;
  char peer[64], host[32];
  uint8_t snonce[16];
  int64_t t_accept;
  struct _moj_hdr h; size_t hgot;      /* frame being read */
  char *pl; size_t plcap, plgot;
  struct buf tx; int want_out;
  /* receiving an executable or an image */
  int recv_kind, recv_mode; uint64_t recv_left; /* recv_mode: 1 executable, 2 bitcode */
  pid_t compile_pid;                 /* IR: the compiler run this EXE's reply waits for */
  struct timespec compile_t0;        /* when it started (the log gives its duration) */
  int recv_fd; char tmp_path[512]; struct _moj_sha sha; uint8_t hash[32];
  uint8_t head[64]; uint64_t img_len, img_got;
  char *ship; size_t ship_len;       /* the SHIP payload (argv/env/cwd) */
  struct job *job;                   /* job this source restores / this launcher watches */
  int was_launcher;                  /* attached once: late STDIN/SIGNAL after the job ended are dropped */
  struct conn *next;
};

/* mojaved.c */
extern struct conn *conns;
extern struct _moj_cluster C;
extern int self_idx;
extern const char *self_name, *cluster_path, *state_dir, *mojcc_path;
/* This host's instruction set (cluster file `arch`) and, when it is not the
 * one mojaved runs on, the emulator programs are started under (split into
 * words; NULL-terminated) — how the test cluster has an aarch64 host. */
extern int self_arch;
extern char *emulator[16];
extern int epfd;
void logm(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void logm_rl(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* rate-limited: peer garbage */
void conn_send(struct conn *c, uint16_t type, int32_t status, uint32_t aux, const void *p, size_t n);
void conn_flush(struct conn *c);
void conn_close(struct conn *c, const char *why);
void refuse(struct conn *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ep_set(int fd, struct watch *w, uint32_t events, int *on); /* on: current registration (0/1) */

/* mojaved_cache.c */
void exe_path(const uint8_t h[32], int mode, char *out, size_t n);
void on_exe(struct conn *c, const struct mg_exe *e, int mode);
void exe_done(struct conn *c);
void compile_reaped(pid_t pid, int st);

/* mojaved_job.c */
extern struct job *jobs;
struct job *job_find(const char *id);
struct job *job_spawn(struct conn *src, const char *exe, int memfd, char *reason, size_t rlen);
void job_event(struct watch *w, uint32_t events);
int job_reaped(pid_t pid, int status); /* 0: not a job */
void job_src_gone(struct job *j);
void job_go(struct job *j);
void job_attach(struct job *j, struct conn *c, uint64_t *acked);
void job_detach(struct job *j);
void job_pump(struct job *j);
void job_stdin(struct job *j, const void *p, size_t n);
void job_stdin_eof(struct job *j);
int job_signal(struct job *j, int sig);
int job_request(struct job *j, const char *host, uint32_t mode);
size_t job_list(char *out, size_t cap);
void job_tick(int64_t now);
void job_shutdown(void);
void job_free_dead(void);

#endif
