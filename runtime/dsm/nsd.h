/* nsd.h — the rooms of mojave-nsd and what they share.  The daemon is one
 * epoll loop without threads (ae.c): every object below is touched only by
 * that loop, which is what makes a semop atomic and serialises ownership
 * changes per page without locks.  Rooms, by file:
 *   nsd_main.c     options, start-up, the loop's timers
 *   nsd_conn.c     connections: accept, framing, authentication, dispatch, close
 *   nsd_names.c    key namespace: resolution, delegation, slots, permissions
 *   nsd_shm.c      shared segments: shmget/shmat/shmdt/shmctl, restart recovery
 *   nsd_pages.c    page directory and coherence (IVY centralized manager)
 *   nsd_persist.c  state files that let a restarted home keep its segments
 *   nsd_state.c    state files of semaphore sets and queues, request-id
 *                  records (a retried request is not applied twice), clients
 *                  returning after a restart, replies held until state is saved
 *   nsd_sem.c      semaphore sets, SEM_UNDO and its migration hand-over
 *   nsd_msg.c      message queues
 *   nsd_wait.c     blocked semop/msgsnd/msgrcv: waiters, cancel, timeouts
 *   nsd_admin.c    LIST: what this daemon homes, for mojave-ipcs
 *   nsd_delay.c    injected latency on the links to processes (`client-link`)
 *   nsd_oreq.c     ordered objects: requests submitted to the total order, answered at commit
 *   nsd_osem.c     ordered semaphore sets: the replica every daemon keeps
 *   nsd_omsg.c     ordered message queues: the replica every daemon keeps
 *   nsd_order.c    total order among the daemons (links, window, QUIETs,
 *                  the replicated log); the algorithm itself is order.c */
#ifndef MOJ_NSD_H
#define MOJ_NSD_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "../log.h"
#include "ae.h"
#include "cluster.h"
#include "proto.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <time.h>

#define MAX_SLOTS 4096
#define MAX_ATT 64     /* processes attached to one segment (copyset is a 64-bit mask) */
#define SEMMSL 32000
#define SEMOPM 500
#define SEMVMX 32767
#define MSGMAX 8192
#define MSGMNB 16384
#define SHMMAX_DSM (1ull << 32)
#define MAX_TX (64u << 20)

/* ---------------- connections ---------------- */
struct conn {
  int fd;
  uint32_t gen;
  int authed;
  int64_t t_accept;
  struct conn *hs_prev, *hs_next; /* unauthenticated connections, oldest first */
  uint32_t addr;                  /* peer IPv4 (network order): whose log budget it spends */
  struct _moj_chan ch;            /* frame sealing after the handshake (cluster file `encrypt`) */
  char peer[64];
  char host[32];
  uint32_t pid;
  uint8_t snonce[16];
  uint8_t *rx; size_t rxlen, rxcap;
  uint8_t *tx; size_t txlen, txoff, txcap;
  int want_out;
  struct undo *undos;
  uint32_t fetch_seq;
  int to_peer;                    /* total order: 1 + the host index of the daemon whose ordered traffic this carries */
  int daemon_link;                /* our own connection to another daemon (conn_adopt) */
  int ord_used;                   /* made requests on ordered objects (nsd_oreq.c) */
  struct dframe *dq, *dqt;        /* frames held by the injected `client-link` delay (nsd_delay.c) */
  size_t dq_bytes;
  int64_t dq_last;
  int dlisted;
  struct conn *dnext;
};
struct cref { int fd; uint32_t gen; };

extern struct conn *conns[65536];
extern uint32_t gen_ctr;
extern int maxfd;
extern struct moj_ae nsd_loop;
struct conn *cget(struct cref r);
struct cref cref_of(struct conn *c);
void flush_out(struct conn *c);
void sendm(struct conn *c, uint16_t type, uint32_t seq, int32_t status, uint32_t aux, const void *p1, size_t l1,
           const void *p2, size_t l2);
void reply(struct conn *c, const struct _moj_hdr *rq, int32_t status, const void *p, size_t l);
void conn_close(struct conn *c, const char *why);
int listen_on(const char *addr, uint16_t port);
void conn_accept(int lfd);
/* Our own authenticated connection to another daemon, served by the loop like an accepted one. */
struct conn *conn_adopt(int fd, const char *host, struct _moj_chan *ch);
void conn_expire_handshakes(void);

/* ---------------- injected latency to application processes (nsd_delay.c) ---------------- */
int delay_applies(const struct conn *c, uint16_t type);
void delay_put(struct conn *c, uint16_t type, uint32_t seq, int32_t status, uint32_t aux, const void *p1, size_t l1,
               const void *p2, size_t l2);
int64_t delay_tick(void); /* releases what is due; the next due time (0: nothing held) */
void delay_drop(struct conn *c);

/* ---------------- daemon configuration (nsd_main.c) ---------------- */
extern struct _moj_cluster C;
extern int self_idx;
extern const char *state_dir; /* --state: home copies + metadata survive a daemon restart */
extern int debug;             /* MOJAVE_NSD_DEBUG=1: trace page traffic */
extern int zcomp;             /* --compress: zstd page transfers */
extern uint64_t z_pages, z_raw, z_sent;
extern int ra_pages, ra_max, wa_on; /* fault batching (see nsd_pages.c) */
int64_t now_ns(void);
#define logm(...) _moj_log(MOJ_LOG_INFO, __VA_ARGS__)
#define logw(...) _moj_log(MOJ_LOG_WARN, __VA_ARGS__)
#define loge(...) _moj_log(MOJ_LOG_ERROR, __VA_ARGS__)
/* A line a peer can cause at will (malformed, refused, closed...): rate
 * limited per peer address and over all peers, so a flood cannot grow the log
 * without bound (nsd_conn.c). */
void logp(struct conn *c, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---------------- names and permissions (nsd_names.c) ---------------- */
struct perm { int32_t key; uint32_t uid, gid, cuid, cgid, mode; };
int perm_ok(const struct perm *p, const struct _moj_cred *cr, int flag);
int is_owner(const struct perm *p, const struct _moj_cred *cr);
int free_slot(void **tab);
int key_is_mine(struct conn *c, const struct _moj_hdr *h, int32_t key);
int find_by_key_shm(int32_t key);
struct shm *shm_by_id(int id, int *slot);
void do_resolve(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);

/* ---------------- waiters (nsd_wait.c) ---------------- */
struct waiter {
  struct cref c;
  uint32_t seq;
  uint16_t type;
  int64_t deadline; /* 0 = none */
  uint8_t *req; size_t reqlen; /* copy of the request payload, re-run on every change */
  struct waiter *next;
};

void waiters_fail(struct waiter **list, int err);
void add_waiter(struct waiter **list, struct conn *c, const struct _moj_hdr *h, const uint8_t *pl, int64_t timeout_ns);
void do_cancel(struct conn *c, const struct _moj_hdr *h);
int64_t expire_waiters(void);

/* ---------------- shared memory ---------------- */
struct page {
  uint8_t claimed;   /* recovery: the owner re-registered it as writable */
  uint8_t busy;
  uint8_t want_data;
  uint8_t clean;     /* owned through write-ahead, no MOJ_PAGE_DIRTY yet: the home copy is still current */
  uint64_t copyset;  /* attachment slots holding read-only copies */
  uint64_t waitmask; /* slots whose PAGE_FETCH reply we still await */
  int fetch_from;    /* slot we asked for data */
  struct cref req_c; uint32_t req_seq; int req_slot; uint32_t req_acc; /* current transaction */
  struct pq { struct cref c; uint32_t seq; uint32_t acc; struct pq *next; } *q, *qt;
};
struct ra { uint32_t next, win; }; /* per attachment and direction: where a scan would fault next, batch size */
struct att { struct cref c; int count; struct ra ra[2]; };
struct who { char host[32]; uint32_t pid; };
struct shm {
  int used, removed;
  int8_t *own;       /* per page: attachment slot holding the only (writable) copy; -1 home copy valid; -2 lost.
                        Persisted (mapped file) with --state so a restarted home knows who owns what. */
  struct who who[MAX_ATT]; /* which process holds each attachment slot (persisted) */
  int recovering;    /* restored after a restart: page requests wait until the former attachers re-register */
  uint64_t returned; /* recovery: slots that re-registered */
  int64_t recover_until;
  struct perm perm;
  uint64_t size; uint32_t npages;
  uint8_t *home;
  struct page *pg;
  struct att att[MAX_ATT];
  int64_t atime, dtime, ctime;
  uint32_t cpid, lpid;
};
extern struct shm *shms[MAX_SLOTS];

/* ---------------- request-id records (nsd_state.c) ---------------- */
/* Per object and per client (host, pid): the last applied request id and the
 * reply it got, so a request repeated after a restart is answered, not redone. */
struct rec { char host[32]; uint32_t pid; uint64_t rid; int32_t status; uint32_t len; uint8_t *data; };
struct recs { struct rec *v; int n, cap; };

/* ---------------- semaphores ---------------- */
struct sem {
  int used;
  uint32_t gen;
  struct recs recs;
  struct perm perm;
  int nsems;
  uint16_t *val; uint32_t *pid;
  int64_t otime, ctime;
  struct waiter *w;
};
extern struct sem *sems[MAX_SLOTS];
struct undo { int slot; uint32_t gen; int16_t *adj; int nsems; struct undo *next; };

/* ---------------- message queues ---------------- */
struct msg { int64_t type; uint32_t size; struct msg *next; uint8_t data[]; };
struct mq {
  int used;
  struct perm perm;
  struct msg *head, *tail;
  uint64_t qbytes, cbytes, qnum;
  int64_t stime, rtime, ctime;
  uint32_t lspid, lrpid;
  struct waiter *w;
  struct recs recs;
};
extern struct mq *mqs[MAX_SLOTS];

/* SEM_UNDO records of processes not (yet) reconnected after a restart */
struct ghost { char host[32]; uint32_t pid; struct undo *undos; struct ghost *next; };
extern struct ghost *ghosts;

static inline int64_t wall(void) { return (int64_t)time(NULL); }

/* shared segments (nsd_shm.c) */
void shm_detach(int slot, struct conn *c, int all, int crashed);
void fill_perm(struct _moj_stat_r *r, const struct perm *p);
void check_recovery_deadlines(void);
void do_shmget(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_shmat(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_shmdt(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_shmctl(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_reattach(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
/* page directory (nsd_pages.c) */
int att_slot(struct shm *s, struct conn *c);
void page_run(struct shm *s, int id, uint32_t pn);
void page_fetched(struct shm *s, int id, uint32_t pn, int from_slot, const uint8_t *data, int dead);
void do_page_req(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_page_dirty(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_fetch_reply(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
/* persistence (nsd_persist.c) */
void state_path(char *buf, size_t n, int slot, const char *ext);
void shm_save_meta(int slot);
uint8_t *home_map(int slot, size_t bytes, int keep, const char *ext);
void state_load(void);
/* semaphore and queue state, request ids (nsd_state.c) */
extern int state_sync;   /* --fsync: also fsync state files (survive a machine crash) */
extern int state_verify; /* --verify-state: load, report, change nothing, exit */
extern int ipc_state_rejected; /* state files refused by the last load */
int rec_replay(struct recs *r, struct conn *c, const struct _moj_hdr *h, uint64_t rid);
void rec_set(struct recs *r, struct conn *c, uint64_t rid, int32_t status, const void *p1, size_t l1, const void *p2, size_t l2);
void rec_free(struct recs *r);
void dsend(struct conn *c, uint16_t type, uint32_t seq, int32_t status, const void *p1, size_t l1, const void *p2, size_t l2);
void sem_dirty(int slot);
void mq_dirty(int slot);
void ipc_commit(void);
void ipc_state_remove(int is_mq, int slot);
void ipc_state_load(void);
void ipc_client_back(struct conn *c);
void ipc_client_gone(struct conn *c);
void ipc_ghosts_expire(void);
/* semaphores (nsd_sem.c) */
void undo_apply(struct undo **list);
void sem_wake(int slot);
void sem_undo_exit(struct conn *c);
void do_semget(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_semop(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_semctl(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_undo_take(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_undo_give(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
/* message queues (nsd_msg.c) */
struct msg *msg_select(struct msg *head, int64_t mtype, int flags, struct msg **prev);
/* the queue operations shared by home queues and ordered replicas (nsd_msg.c) */
int mq_put(struct mq *m, const struct _moj_msgsnd *q, const uint8_t *text);
struct msg *mq_take(struct mq *m, const struct _moj_msgrcv *q, uint32_t *sz, int *err);
void mq_stat(const struct mq *m, struct _moj_stat_r *r);
int mq_set(struct mq *m, const struct _moj_ctl *q);
void mq_drain(struct mq *m);
void mq_wake(int sl);
void do_msgget(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_msgsnd(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_msgrcv(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_msgctl(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);

/* administration (nsd_admin.c) */
void do_list(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);

/* total order among the daemons (nsd_order.c) */
/* nsd_dial.c: connect and authenticate to daemon k on a thread of its own;
 * done(k, fd, ar, ch) runs later in the loop: fd < 0 (could not connect) or
 * ar != 0 (the handshake failed) — else an authenticated socket and channel. */
typedef void nsd_dial_done_fn(int k, int fd, int ar, struct _moj_chan *ch);
int nsd_dial_start(int k, nsd_dial_done_fn *done);
void order_start(void);
int64_t order_tick(void);
void order_ping(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void order_pong(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_to_peer(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_to_msg(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_to_quiet(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_to_submit(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_to_log(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
void do_to_fail(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);
int order_submit(const void *data, uint32_t len, uint64_t *t);

/* ordered System V objects, replicated through the total order: the
 * origin's side and the dispatch of committed requests (nsd_oreq.c) */
int ord_key(int32_t key, int kind); /* kind: MOJ_ORD_* */
void ord_submit(struct conn *c, const struct _moj_hdr *h, uint32_t kind, const uint8_t *pl, int64_t timeout_ns);
void ord_answer(const struct _moj_ord_w *w, uint16_t type, int32_t st, const void *p, size_t l, const void *p2, size_t l2);
int ord_cancel(struct conn *c, uint32_t seq);
void ord_conn_gone(struct conn *c);
int64_t ord_tick(void);
void ord_commit(const uint8_t *data, uint32_t len);
/* Does request a come from the process b names?  b->fd == UINT32_MAX: any
 * process of b's origin (a daemon excluded with all its processes). */
static inline int ord_same_proc(const struct _moj_ord_w *a, const struct _moj_ord_w *b) {
  return a->origin == b->origin && (b->fd == UINT32_MAX || (a->fd == b->fd && a->gen == b->gen));
}
/* A caller blocked on a replica (semop, msgsnd, msgrcv): its request as
 * committed.  Every replica keeps its waiters FIFO in commit order, so all
 * serve them alike. */
struct owaiter {
  struct _moj_ord_w who;
  uint32_t len;
  struct owaiter *next;
  uint8_t req[];
};
/* Queues a copy of request w (pl, len) at the end of *head: 0 or ENOMEM. */
int ow_wait(struct owaiter **head, const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len);
/* Unlinks the waiter of w's process with w's seq (NULL: none). */
struct owaiter *ow_take(struct owaiter **head, const struct _moj_ord_w *w);
/* Frees every waiter of the process(es) w names; returns how many. */
int ow_drop(struct owaiter **head, const struct _moj_ord_w *w);
/* the replicas: semaphore sets (nsd_osem.c), queues (nsd_omsg.c) */
void osem_apply(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len);
int osem_cancel_waiter(const struct _moj_ord_w *w); /* 1: it was waiting here (answered) */
void osem_gone(const struct _moj_ord_w *w);
void omsg_apply(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len);
int omsg_cancel_waiter(const struct _moj_ord_w *w);
void omsg_gone(const struct _moj_ord_w *w);
/* ordered segments (nsd_oshm.c) */
void oshm_apply(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len);
void oshm_at(struct conn *c, const struct _moj_hdr *h, const struct _moj_shmat *q);
void oshm_dt(struct conn *c, const struct _moj_hdr *h, const struct _moj_shmdt *q);
void oshm_page_req(struct conn *c, const struct _moj_hdr *h, const struct _moj_page_req *q);
void oshm_conn_gone(struct conn *c);
void oshm_reattach(struct conn *c, const struct _moj_hdr *h, const struct _moj_reattach *q);
void do_page_write(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl);

/* A handler's payload must hold at least a T (h, c in scope). */
#define NEED(T) \
  if (h->len < sizeof(T)) { logp(c, MOJ_LOG_INFO, "%s from %s: payload %u < %zu bytes, rejected", _moj_type_name(h->type), c->peer, h->len, sizeof(T)); reply(c, h, EPROTO, NULL, 0); return; }


#endif
