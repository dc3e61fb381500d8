/* client.h — the rooms of the DSM client and what they share.  The client
 * is built three ways from the same files: libmojave_ipc.so (LD_PRELOAD),
 * the static library mojave_dsm, and inside libmojave (MOJ_IN_RUNTIME).
 * Cross-file names carry the _moj_dsm_ prefix: the static library is linked
 * into applications, whose own names must not collide with ours.  Rooms:
 *   client_init.c     configuration, the real libc functions, start-up
 *   client_names.c    key -> home host (nameserver lookups, caches), id tests
 *   client_conn.c     connections to homes: calls, the reader thread, recovery
 *   client_fault.c    attached segments, page faults (SIGSEGV), page service,
 *                     system calls that read or write DSM memory
 *   client_shm.c      shmget/shmat/shmdt/shmctl
 *   client_sem.c      semget/semop/semctl and the SEM_UNDO record
 *   client_msg.c      msgget/msgsnd/msgrcv/msgctl
 *   client_life.c     fork, exec and exit: what a process hands on or back
 *   client_migrate.c  capture and restore for process migration (libmojave)
 *
 * Memory model: each attached segment has one memfd per process mapped twice —
 * the runtime view (always read/write, used to install and ship pages) and one
 * application view per shmat (protections follow the page's access right).
 * Installing data through the runtime view before raising the application
 * view's protection is what makes fills race-free. */
#ifndef MOJ_DSM_CLIENT_H
#define MOJ_DSM_CLIENT_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cluster.h"
#include "proto.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <zstd.h>

#define EXPORT __attribute__((visibility("default")))
/* Inside libmojave, libc functions we wrap are weak like the runtime's other
 * interposers: a program may define its own. */
#ifdef MOJ_IN_RUNTIME
#define EXPORT_WRAP EXPORT __attribute__((weak))
#else
#define EXPORT_WRAP EXPORT
#endif

#include "../arch.h"
#include "../log.h"

/* ---------------- configuration and start-up (client_init.c) ---------------- */
extern int (*_moj_dsm_real_shmget)(key_t, size_t, int);
extern void *(*_moj_dsm_real_shmat)(int, const void *, int);
extern int (*_moj_dsm_real_shmdt)(const void *);
extern int (*_moj_dsm_real_shmctl)(int, int, struct shmid_ds *);
extern int (*_moj_dsm_real_semget)(key_t, int, int);
extern int (*_moj_dsm_real_semtimedop)(int, struct sembuf *, size_t, const struct timespec *);
extern int (*_moj_dsm_real_semctl)(int, int, int, ...);
extern int (*_moj_dsm_real_msgget)(key_t, int);
extern int (*_moj_dsm_real_msgsnd)(int, const void *, size_t, int);
extern ssize_t (*_moj_dsm_real_msgrcv)(int, void *, size_t, long, int);
extern int (*_moj_dsm_real_msgctl)(int, int, struct msqid_ds *);
extern struct _moj_cluster _moj_dsm_cluster;
extern int _moj_dsm_cfg_ok;      /* a cluster file was loaded: distributed keys exist */
extern int _moj_dsm_cfg_err;     /* MOJAVE_CLUSTER set but unusable: every IPC call fails with it */
extern int _moj_dsm_private_local; /* MOJAVE_DSM_PRIVATE=local: IPC_PRIVATE stays in the kernel */
extern int _moj_dsm_self_host;
extern pid_t _moj_dsm_owner_pid; /* the process whose attachments and sockets these are (not a vfork child) */
extern pthread_once_t _moj_dsm_init_once;
extern long _moj_dsm_spin_us;
extern int _moj_dsm_stats_on;    /* MOJAVE_DSM_STATS=1: fault counters, printed at exit */
extern _Atomic uint64_t _moj_dsm_st_rfault, _moj_dsm_st_wfault, _moj_dsm_st_upgrade, _moj_dsm_st_upmsg, _moj_dsm_st_pages,
    _moj_dsm_st_batches, _moj_dsm_st_wait_ns;
extern int _moj_dsm_zcomp;       /* MOJAVE_DSM_COMPRESS=1: pages we ship are zstd-compressed */
void _moj_dsm_init(void);
/* MOJAVE_DSM_TRACE=1: CLOCK_MONOTONIC timestamps at fixed points of each
 * request (fault entry, request written, waiter woken, reply read, page
 * installed and protected, waiter woken, caller resumed, handler returned); the medians of
 * the gaps go to stderr at exit (docs/performance.md, "Where the time goes").
 * Off, each point costs one predictable branch. */
enum { TR_ENTRY, TR_SENT, TR_WOKE, TR_READ, TR_INST, TR_WAKE, TR_DONE, TR_RET, TR_N };
extern int _moj_dsm_trace_on;
extern __thread int64_t _moj_dsm_tl_entry; /* fault entry time, picked up by the call it makes */
extern __thread int _moj_dsm_tl_tr;        /* trace slot of this thread's last call, -1: none */
int64_t _moj_dsm_now(void);
int _moj_dsm_tr_slot(uint16_t type);
void _moj_dsm_tr_set(int slot, int point, int64_t t);
static inline void _moj_dsm_ensure_init(void) { pthread_once(&_moj_dsm_init_once, _moj_dsm_init); }
/* A warning tagged "mojave-dsm[PID]" (the PID of the process now: fork). */
void _moj_dsm_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2), visibility("hidden")));

/* ---------------- key names (client_names.c) ---------------- */
struct moj_dsm_kcache { int32_t key; int host; };
struct moj_dsm_rcache { uint32_t lo, hi; int host; };
extern struct moj_dsm_kcache _moj_dsm_kcache[256];
extern struct moj_dsm_rcache _moj_dsm_rcache[64];
extern int _moj_dsm_nk, _moj_dsm_nr;
extern pthread_mutex_t _moj_dsm_kc_lock;
int _moj_dsm_key_home(int32_t key); /* host index, or -errno */
int _moj_dsm_is_dist_id(int id);
int _moj_dsm_id_host(int id);
/* 0: the kernel's; 1: distributed, *home set; -1: refused, errno set */
int _moj_dsm_route_key(key_t key, int *home);
int _moj_dsm_route_get(key_t key, int kind, int *home); /* semget/msgget/shmget: ordered keys (kind MOJ_ORD_*) go to our own daemon */
int _moj_dsm_route_id(int id, int *home);

/* ---------------- connections to homes (client_conn.c) ---------------- */
#define MOJ_ERETRY 0x7ffe /* internal: the home restarted, repeat the request */
struct pend {
  uint32_t seq;
  uint16_t type;
  int efd;           /* >= 0: the waiter polls this eventfd (interruptible calls) */
  _Atomic uint32_t done;
  int status;
  uint8_t *buf; size_t cap, len;
  int tr;            /* trace slot (MOJAVE_DSM_TRACE), -1: not traced */
  struct pend *next;
  /* speculative lock acquisition (client_speclock.c): a heap record nobody
   * waits on; a provisional MOJ_EQUEUED reply leaves it pending (queued) */
  uint8_t keep_queued;
  _Atomic uint8_t queued;
  void (*on_done)(struct pend *); /* called, hc->lock held, when done or queued */
};
struct hconn {
  int fd;          /* -1: not connected */
  int dead;        /* connection lost: calls _moj_dsm_fail with EIDRM, faults raise SIGBUS */
  _Atomic int recovering; /* reconnecting to a restarted home: faults wait and retry */
  pthread_mutex_t lock; /* protects pend list and sends */
  /* Whoever holds rx reads the next message from fd: normally the reader
   * thread, but a calling thread reads its own reply (one wake-up and one
   * thread hand-off fewer on the fault path).  Order: rx before _moj_dsm_seg_lock. */
  pthread_mutex_t rx;
  uint8_t *rxbuf;  /* MOJ_MAX_FRAME bytes, used by the rx holder */
  struct _moj_chan ch; /* cluster file `encrypt`: tx sealed under lock, rx opened under rx */
  uint8_t *txbuf;  /* with encryption: a sealed frame is built here (under lock) */
  _Atomic uint32_t self_rd; /* calling threads reading for themselves: the reader thread stands aside */
  _Atomic uint32_t rd_parked; /* the reader thread waits for self_rd to drop to 0 */
  struct pend *pend;
  _Atomic uint32_t seq;
  pthread_t reader;
  _Atomic int err;          /* why the last connect failed or the connection broke: calls fail with it */
  struct moj_ratelimit rl;  /* "cannot reach" messages while reconnecting: the first, then a summary */
};
#define CALL_FAULT 2 /* `interruptible` value for page faults: a signal does not cancel the request */
extern struct hconn _moj_dsm_homes[MOJ_MAX_HOSTS];
extern pthread_mutex_t _moj_dsm_conn_lock;
extern __thread int _moj_dsm_tl_efd;
/* 1 while this thread runs with all signals blocked by the runtime (the
 * fault handler, a call outside its wait); _moj_dsm_tl_appmask is then the
 * application's mask, which the wait restores. */
extern __thread int _moj_dsm_tl_blocked;
extern __thread sigset_t _moj_dsm_tl_appmask;
void _moj_dsm_fwait(_Atomic uint32_t *a, uint32_t v);
void _moj_dsm_lk(pthread_mutex_t *m, sigset_t *old);
void _moj_dsm_ulk(pthread_mutex_t *m, const sigset_t *old);
int _moj_dsm_send_locked(struct hconn *hc, uint16_t type, uint32_t seq, uint32_t aux, const void *p1, size_t l1,
                         const void *p2, size_t l2);
struct hconn *_moj_dsm_hget(int host);
int _moj_dsm_call(int host, uint16_t type, const void *p1, size_t l1, const void *p2, size_t l2, void *rbuf,
                  size_t rcap, size_t *rlen, int interruptible);
struct _moj_cred _moj_dsm_cred(void);
int _moj_dsm_fail(int e);
extern __thread int _moj_dsm_tl_retried; /* the last _moj_dsm_call was repeated after a home restart */
uint64_t _moj_dsm_rid(void);             /* a new request id (proto.h) */

/* ---------------- segments and faults (client_fault.c) ---------------- */
#define MAX_VIEWS 16
struct cseg {
  int id, host;
  size_t size, mapsize;
  uint32_t npages;
  int memfd;
  uint8_t *rt;              /* runtime view, always RW */
  int orphan;               /* the restarted home no longer knows it: faults raise SIGBUS */
  _Atomic uint8_t *acc;     /* per page MOJ_ACC_* */
  int nviews;
  struct { uint8_t *addr; int rdonly; } v[MAX_VIEWS];
  uint8_t *twlev;           /* per page: highest speculation level holding its twin (client_spec.c), or NULL */
  uint32_t up_next, up_run; /* ranged clean upgrades: where a sequential writer goes next, pages upgraded in its run */
  int ordered;              /* an ordered segment (no home; stores captured and ordered: client_ocapture.c) */
  uint32_t *over;           /* ordered: per page the version of our copy (from its grant) */
  struct cseg *next;
};
/* Local page state: MOJ_ACC_NONE/READ/WRITE as granted, or ACC_CLEAN: owned
 * through write-ahead but not yet stored to (mapped read-only; the first
 * store tells the home, then maps it writable without a round trip). */
#define ACC_CLEAN 3
extern struct cseg *_moj_dsm_segs;
extern pthread_mutex_t _moj_dsm_seg_lock;
struct cseg *_moj_dsm_seg_by_id(int id);
void _moj_dsm_set_prot(struct cseg *s, uint32_t pn, uint32_t acc);
void _moj_dsm_serve_fetch(struct hconn *hc, const struct _moj_hdr *h, const uint8_t *pl);
int _moj_dsm_install_page(const struct _moj_hdr *h, const uint8_t *pl);
int _moj_dsm_recv_pages(int fd, const struct _moj_hdr *h, const struct _moj_page *q);
void _moj_dsm_set_prot_n(struct cseg *s, uint32_t pn, uint32_t n, uint32_t acc);
void _moj_dsm_fetch_reply(struct hconn *hc, uint32_t seq, const struct _moj_page *q, struct cseg *s);
int _moj_dsm_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
int _moj_dsm_chain(const struct sigaction *old, int sig, siginfo_t *si, void *uc);
/* stores to ordered segments (client_ocapture.c) */
int _moj_dsm_ocap_install(void);
int _moj_dsm_ocap_fault(struct cseg *s, uint32_t pn, void *uc, const sigset_t *appmask);
int _moj_dsm_ocap_active(void);
/* sigaction(SIGTRAP) while the capture owns it: recorded as the application's (0), or -1: not installed */
int _moj_dsm_ocap_sigaction(const struct sigaction *act, struct sigaction *old);
/* speculations over ordered segments (client_otx.c) */
void _moj_dsm_otx_read(struct cseg *s, uint32_t pn);
void _moj_dsm_otx_invalidated(struct cseg *s, uint32_t pn);
int _moj_dsm_otx_store(struct cseg *s, uint32_t pn, const uint8_t *before, uint32_t off, uint32_t len, const uint8_t *bytes);
int _moj_dsm_otx_vote(int k);
void _moj_dsm_otx_event(int ev, int k, int depth_before);
void _moj_dsm_otx_stats(uint64_t *commits, uint64_t *conflicts, uint64_t *doomed_early);
int _moj_dsm_spec_twin(struct cseg *s, uint32_t pn, const uint8_t *before);

/* ---------------- speculative lock acquisition (client_speclock.c) ---------------- */
struct pend *_moj_dsm_call_async(int host, uint16_t type, uint32_t aux, const void *p1, size_t l1, const void *p2,
                                 size_t l2, void (*on_done)(struct pend *));
int _moj_dsm_speclock_semop(int host, const struct _moj_semop *q, const struct _moj_sembuf *b, size_t nsops, int id,
                            const struct sembuf *ops, int *handled);
size_t _moj_dsm_sem_inverse(const struct sembuf *ops, size_t n, int keep_undo, struct _moj_sembuf *out);
void _moj_dsm_speclock_settle(void);
void _moj_dsm_self_read_enter(int host);
void _moj_dsm_self_read_leave(int host);
int _moj_dsm_pump(int host, int timeout_ms);
int _moj_dsm_speclock_pending(void);
void _moj_dsm_speclock_fetch_seen(void);
void _moj_dsm_speclock_level_event(int ev, int k);
void _moj_dsm_speclock_stats(uint64_t *commit, uint64_t *abort, uint64_t *doomed);

/* ---------------- speculations over shared pages (client_spec.c) ---------------- */
extern int _moj_dsm_spec_depth;
int _moj_dsm_spec_ro(const struct cseg *s, uint32_t pn);
int _moj_dsm_spec_write_fault(struct cseg *s, uint32_t pn);
int _moj_dsm_spec_hold_fetch(struct hconn *hc, uint32_t seq, const struct _moj_page *q, struct cseg *s);
void _moj_dsm_spec_forget(struct cseg *s);
void _moj_dsm_spec_stats(uint64_t *twins, uint64_t *held, uint64_t *restored);
void _moj_dsm_spec_init(void);

/* ---------------- System V calls inside speculations (client_specipc.c) ---------------- */
int _moj_dsm_specipc_active(void);
int _moj_dsm_specipc_replaying(void);
int _moj_dsm_specipc_semop(int host, int id, const struct sembuf *ops, size_t nsops, int *handled);
void _moj_dsm_specipc_semop_done(int host, int id, const struct sembuf *ops, size_t nsops);
int _moj_dsm_specipc_msgsnd(int host, int id, long mtype, const void *text, size_t sz, int flg);
int _moj_dsm_specipc_ctl(int host, uint16_t type, const struct _moj_ctl *q, const void *vals, size_t vl);
void _moj_dsm_specipc_msgrcv_done(int host, int id, long mtype, const void *text, size_t sz);
void _moj_dsm_specipc_event(int ev, int k, int is_abort);
void _moj_dsm_sigsegv_install(void);

/* ---------------- semaphores (client_sem.c) ---------------- */
#define UNDO_MAX 64
struct moj_dsm_undo { int id; uint16_t num; int32_t adj; };
extern struct moj_dsm_undo _moj_dsm_undo_tab[UNDO_MAX];
extern int _moj_dsm_undo_n, _moj_dsm_undo_overflow;
extern pthread_mutex_t _moj_dsm_undo_lock;
void _moj_dsm_undo_note(int id, const struct sembuf *ops, size_t nsops);
void _moj_dsm_undo_clear(int id, int num);

/* ---------------- process lifecycle (client_life.c) ---------------- */
void _moj_dsm_atfork_prepare(void);
void _moj_dsm_atfork_parent(void);
void _moj_dsm_atfork_child(void);
int _moj_dsm_handback(int *bad_host);

#endif
