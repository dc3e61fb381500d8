/* nsd_oreq.c — ordered System V objects (cluster file `ordered RANGE`,
 * docs/speculative-dsm.md §5), the side of the daemon a process talks to
 * (the origin): its semget/semop/semctl and msgget/msgsnd/msgrcv/msgctl on
 * ordered keys are submitted to the total order (nsd_order.c) with who asked
 * (struct _moj_ord_w), and answered when they commit; CANCELs after a
 * signal, semtimedop deadlines and departed processes are submitted as
 * ordered messages too, so no replica acts on one daemon's clock or
 * connections.  Every daemon applies every committed request to its
 * replicas (nsd_osem.c for semaphore sets, nsd_omsg.c for queues), in the
 * one committed order; only the origin answers. */
#include "nsd.h"

/* Our own processes' ordered requests not answered yet: what a CANCEL, a
 * deadline or a closed connection must be submitted for. */
struct oreq { struct cref c; uint32_t seq; int64_t deadline; int cancel_sent; struct oreq *next; };
static struct oreq *oreqs;
/* What must be submitted but cannot be from where we are (a connection
 * closing inside a commit callback, which walks the order's queue): sent by
 * ord_tick. */
struct obox { struct obox *next; uint32_t len; uint8_t data[]; };
static struct obox *outbox, **outbox_t = &outbox;

int ord_key(int32_t key, int kind) { return C.order && _moj_cluster_is_ordered_kind(&C, key, kind); }

/* ---------------- the origin: submitting, answering ---------------- */
static int submit_now(const struct _moj_ord_w *w, const void *pl, uint32_t len) {
  uint8_t buf[MOJ_TO_MAX_DATA];
  if (sizeof *w + len > sizeof buf) return EMSGSIZE;
  memcpy(buf, w, sizeof *w);
  if (len) memcpy(buf + sizeof *w, pl, len);
  return order_submit(buf, (uint32_t)(sizeof *w + len), NULL);
}
static void submit_later(const struct _moj_ord_w *w) {
  struct obox *b = malloc(sizeof *b + sizeof *w);
  if (!b) { logw("ordered IPC: out of memory: a CANCEL or a departure of pid on fd %u is lost", w->fd); return; }
  b->next = NULL; b->len = sizeof *w;
  memcpy(b->data, w, sizeof *w);
  *outbox_t = b; outbox_t = &b->next;
}
/* A client's request: ordered, answered when it commits. */
void ord_submit(struct conn *c, const struct _moj_hdr *h, uint32_t kind, const uint8_t *pl, int64_t timeout_ns) {
  struct _moj_ord_w w = {kind, (uint32_t)self_idx, (uint32_t)c->fd, c->gen, h->seq, h->aux};
  struct oreq *r = calloc(1, sizeof *r);
  if (!r) { reply(c, h, ENOMEM, NULL, 0); return; }
  int e = submit_now(&w, pl, h->len);
  if (e) { free(r); reply(c, h, e, NULL, 0); return; }
  c->ord_used = 1;
  r->c = cref_of(c); r->seq = h->seq;
  r->deadline = timeout_ns > 0 ? now_ns() + timeout_ns : 0;
  r->next = oreqs; oreqs = r;
}
static struct oreq **find_req(uint32_t fd, uint32_t gen, uint32_t seq) {
  struct oreq **pp = &oreqs;
  while (*pp && !((uint32_t)(*pp)->c.fd == fd && (*pp)->c.gen == gen && (*pp)->seq == seq)) pp = &(*pp)->next;
  return pp;
}
/* The origin answers its process (other replicas only apply). */
void ord_answer(const struct _moj_ord_w *w, uint16_t type, int32_t st, const void *p, size_t l, const void *p2,
                   size_t l2) {
  if (w->origin != (uint32_t)self_idx) return;
  if (st != MOJ_EQUEUED) {
    struct oreq **pp = find_req(w->fd, w->gen, w->seq);
    if (*pp) { struct oreq *r = *pp; *pp = r->next; free(r); }
  }
  struct conn *c = cget((struct cref){(int)w->fd, w->gen});
  if (c) sendm(c, (uint16_t)(type | MOJ_REPLY), w->seq, st, 0, p, l, p2, l2);
}

/* A signal interrupted the caller (MOJ_CANCEL): 1 if it was ours to cancel. */
int ord_cancel(struct conn *c, uint32_t seq) {
  struct oreq **pp = find_req((uint32_t)c->fd, c->gen, seq);
  if (!*pp) return 0;
  if (!(*pp)->cancel_sent) {
    struct _moj_ord_w w = {MOJ_OK_CANCEL, (uint32_t)self_idx, (uint32_t)c->fd, c->gen, seq, EINTR};
    (*pp)->cancel_sent = 1;
    submit_later(&w);
  }
  return 1;
}
/* The process's connection closed: its waiters go, its SEM_UNDO applies. */
void ord_conn_gone(struct conn *c) {
  if (!c->ord_used) return;
  for (struct oreq **pp = &oreqs; *pp;) {
    struct oreq *r = *pp;
    if (r->c.fd == c->fd && r->c.gen == c->gen) { *pp = r->next; free(r); }
    else pp = &r->next;
  }
  struct _moj_ord_w w = {MOJ_OK_GONE, (uint32_t)self_idx, (uint32_t)c->fd, c->gen, 0, 0};
  submit_later(&w);
}
/* Deadlines and what waited in the outbox; the next deadline (0: none). */
int64_t ord_tick(void) {
  while (outbox) {
    struct obox *b = outbox;
    if (order_submit(b->data, b->len, NULL)) break; /* out of memory: next turn */
    outbox = b->next;
    if (!outbox) outbox_t = &outbox;
    free(b);
  }
  int64_t now = now_ns(), next = 0;
  for (struct oreq *r = oreqs; r; r = r->next) {
    if (!r->deadline || r->cancel_sent) continue;
    if (r->deadline <= now) {
      struct _moj_ord_w w = {MOJ_OK_CANCEL, (uint32_t)self_idx, (uint32_t)r->c.fd, r->c.gen, r->seq, EAGAIN};
      if (!submit_now(&w, NULL, 0)) r->cancel_sent = 1;
    } else if (!next || r->deadline < next) {
      next = r->deadline;
    }
  }
  return next;
}

/* A committed ordered message that is not the log's (nsd_order.c). */
void ord_commit(const uint8_t *data, uint32_t len) {
  struct _moj_ord_w w;
  if (len < sizeof w) { logw("ordered IPC: a committed message of %u bytes is too short, ignored", len); return; }
  memcpy(&w, data, sizeof w);
  if (w.origin >= (uint32_t)C.nhosts) { logw("ordered IPC: origin %u out of range, ignored", w.origin); return; }
  const uint8_t *pl = data + sizeof w;
  uint32_t n = len - (uint32_t)sizeof w;
  switch (w.kind) {
  case MOJ_OK_SEMGET: case MOJ_OK_SEMOP: case MOJ_OK_SEMCTL: osem_apply(&w, pl, n); break;
  case MOJ_OK_MSGGET: case MOJ_OK_MSGSND: case MOJ_OK_MSGRCV: case MOJ_OK_MSGCTL: omsg_apply(&w, pl, n); break;
  case MOJ_OK_SHMGET: case MOJ_OK_SHMCTL: case MOJ_OK_PWRITE: oshm_apply(&w, pl, n); break;
  case MOJ_OK_CANCEL: /* a cancel ordered after its request finds it waiting, or already answered */
    if (!osem_cancel_waiter(&w)) omsg_cancel_waiter(&w);
    break;
  case MOJ_OK_GONE: osem_gone(&w); omsg_gone(&w); break;
  default: logw("ordered IPC: unknown kind %u, ignored", w.kind);
  }
}

/* ---- waiters on the replicas (nsd_osem.c, nsd_omsg.c) ---- */
int ow_wait(struct owaiter **head, const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len) {
  struct owaiter *x = malloc(sizeof *x + len);
  if (!x) return ENOMEM;
  x->who = *w; x->len = len; x->next = NULL;
  memcpy(x->req, pl, len);
  while (*head) head = &(*head)->next;
  *head = x;
  return 0;
}
struct owaiter *ow_take(struct owaiter **head, const struct _moj_ord_w *w) {
  for (; *head; head = &(*head)->next) {
    struct owaiter *x = *head;
    if (ord_same_proc(&x->who, w) && x->who.seq == w->seq) { *head = x->next; return x; }
  }
  return NULL;
}
int ow_drop(struct owaiter **head, const struct _moj_ord_w *w) {
  int n = 0;
  while (*head) {
    struct owaiter *x = *head;
    if (ord_same_proc(&x->who, w)) { *head = x->next; free(x); n++; }
    else head = &x->next;
  }
  return n;
}
