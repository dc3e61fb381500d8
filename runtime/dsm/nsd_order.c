/* nsd_order.c — the total-order layer among the daemons (cluster file
 * `order classical|speculative`): one outgoing link to every other daemon
 * (authenticated like any member, then TO_PEER names it), broadcast of
 * ordered messages and QUIETs over those links, the window T kept from the
 * measured round trip like TCP's retransmission timeout (srtt + 4 rttvar,
 * RFC 6298), injected link delay/jitter/loss for tests and the model sweeps,
 * and the daemon's consumer of deliveries: a replicated log whose committed
 * sequence is summarised by a hash chain and recorded per message for the
 * latency model (TO_LOG).  The ordering itself is order.c. */
#include "nsd.h"
#include "order.h"

#include <unistd.h>

#define MOJ_TO_KEEP 1000000 /* committed messages recorded for TO_LOG */
#define PING_EVERY_NS 200000000LL
#define REDIAL_NS 500000000LL

struct lframe { int64_t due; uint16_t type; uint32_t len; struct lframe *next; uint8_t data[]; };
struct plink {
  struct cref c;            /* our outgoing connection to that daemon */
  int up;
  int64_t next_try;
  struct lframe *q, *qt;    /* frames held by the injected delay, FIFO */
  int64_t due_last;
  int64_t srtt, rttvar;     /* ns; srtt 0 = no sample yet */
  int64_t ping_at;
  int64_t heard_ns;         /* last frame from that daemon (failure detection) */
  int dialing;              /* a dial is under way (nsd_dial.c) */
};
static struct plink links[MOJ_MAX_HOSTS];
static struct _moj_to TO;
static int to_on;
static int self_excluded; /* the others excluded us: ordered operations are refused */
static unsigned inj_seed;

/* ---- the consumer: a replicated log ---- */
static uint64_t chain_tent[4096]; /* hash chain after each tentative delivery (bounded by the queue) */
static int ntent;
static uint64_t chain_committed;
static struct _moj_to_log_e *rec;
static size_t nrec, caprec;

static uint32_t fnv(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}
static uint64_t mix(uint64_t chain, const struct _moj_to_msg *m) {
  uint64_t x = chain ^ (m->t * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)m->m << 48) ^ fnv(m->data, m->len);
  x ^= x >> 31; x *= 0xbf58476d1ce4e5b9ull; x ^= x >> 29;
  return x;
}
static void on_deliver(void *ctx, const struct _moj_to_msg *m, int spec) {
  (void)ctx; (void)spec;
  uint64_t prev = ntent ? chain_tent[ntent - 1] : chain_committed;
  if (ntent < (int)(sizeof chain_tent / sizeof chain_tent[0])) chain_tent[ntent++] = mix(prev, m);
}
static void on_undo(void *ctx, const struct _moj_to_msg *m) {
  (void)ctx; (void)m;
  if (ntent) ntent--;
}
static void on_commit(void *ctx, const struct _moj_to_msg *m) {
  (void)ctx;
  chain_committed = mix(chain_committed, m);
  uint32_t kind = MOJ_OK_LOG;
  if (m->len >= sizeof kind) memcpy(&kind, m->data, sizeof kind);
  if (kind != MOJ_OK_LOG) ord_commit(m->data, m->len); /* the log keeps the whole committed sequence */
  if (ntent) { memmove(chain_tent, chain_tent + 1, (size_t)(ntent - 1) * sizeof chain_tent[0]); ntent--; }
  if (nrec == caprec && caprec < MOJ_TO_KEEP) {
    size_t nc = caprec ? caprec * 2 : 4096;
    struct _moj_to_log_e *r = realloc(rec, nc * sizeof *r);
    if (r) { rec = r; caprec = nc; }
  }
  if (nrec < caprec) {
    struct _moj_to_log_e *e = &rec[nrec++];
    memset(e, 0, sizeof *e);
    e->t = m->t; e->m = m->m; e->hash = fnv(m->data, m->len);
    e->stable = m->stable_ns - m->recv_ns;
    e->latency = m->deliver_ns - m->recv_ns;
    e->first = m->first_deliver_ns - m->recv_ns;
    e->w = m->last_smaller_ns ? m->last_smaller_ns - m->recv_ns : -1;
    e->aborts = (uint16_t)(m->aborts > 65535 ? 65535 : m->aborts);
    e->immediate = m->immediate;
    e->spec = m->state == 1;
  }
}

/* ---- links ---- */
static int64_t window_auto(void) {
  int64_t w = 0;
  for (int k = 0; k < C.nhosts; k++)
    if (k != self_idx && links[k].srtt && !TO.excluded[k] && !TO.failing[k]) { /* not a dead link's last samples */
      int64_t rto = links[k].srtt + 4 * links[k].rttvar;
      if (rto > w) w = rto;
    }
  return w ? (w < 100000 ? 100000 : w) : 1000000; /* 0.1 ms floor; 1 ms until measured */
}
static void set_windows(void) {
  TO.window_ns = C.order_window_us > 0 ? C.order_window_us * 1000 : window_auto();
  TO.quiet_ns = C.order_quiet_us > 0 ? C.order_quiet_us * 1000 : 2 * TO.window_ns;
}

static void link_flush(int k, int64_t now) {
  struct plink *l = &links[k];
  struct conn *c = cget(l->c);
  if (!c) return; /* held until the link is up (daemons start in any order) */
  while (l->q && l->q->due <= now) {
    struct lframe *f = l->q;
    l->q = f->next;
    if (!l->q) l->qt = NULL;
    sendm(c, f->type, 0, 0, 0, f->data, f->len, NULL, 0);
    free(f);
  }
}
/* Queue a frame to daemon k behind the injected delay: due times never
 * decrease on a link (TCP keeps order), a "lost" frame waits a retransmission. */
static void link_send(int k, uint16_t type, const void *p, uint32_t len, int64_t now) {
  struct plink *l = &links[k];
  struct conn *c = cget(l->c);
  if (c && !C.link_delay_us && !C.link_jitter_us && C.link_loss <= 0 && !l->q) {
    sendm(c, type, 0, 0, 0, p, len, NULL, 0);
    return;
  }
  struct lframe *f = malloc(sizeof *f + len);
  if (!f) {
    logw("total order: out of memory for a frame to %s: link closed", C.host[k].name);
    if (c) conn_close(c, "out of memory");
    return;
  }
  int64_t d = C.link_delay_us * 1000;
  if (C.link_jitter_us) d += (int64_t)(rand_r(&inj_seed) % (unsigned)(C.link_jitter_us + 1)) * 1000;
  if (C.link_loss > 0 && (double)rand_r(&inj_seed) / RAND_MAX < C.link_loss) d += 200000000LL;
  f->due = now + d < l->due_last ? l->due_last : now + d;
  l->due_last = f->due;
  f->type = type; f->len = len; f->next = NULL;
  memcpy(f->data, p, len);
  if (l->qt) l->qt->next = f; else l->q = f;
  l->qt = f;
  link_flush(k, now);
}
static void bcast(uint16_t type, const void *p, uint32_t len, int64_t now) {
  for (int k = 0; k < C.nhosts; k++)
    if (k != self_idx && !TO.excluded[k]) link_send(k, type, p, len, now);
}
/* A TO_MSG or TO_QUIET: id, data, then our receipt counts. */
static void bcast_ordered(uint16_t type, uint64_t t, const void *data, uint32_t len, int64_t now) {
  uint8_t buf[sizeof(struct _moj_to_wire) + MOJ_TO_MAX_DATA + 4 * MOJ_MAX_HOSTS];
  struct _moj_to_wire w = {t, (uint32_t)self_idx, len};
  memcpy(buf, &w, sizeof w);
  if (len) memcpy(buf + sizeof w, data, len);
  memcpy(buf + sizeof w + len, TO.rcount, 4 * (size_t)C.nhosts);
  bcast(type, buf, (uint32_t)(sizeof w + len + 4 * (size_t)C.nhosts), now);
}

/* ---- failures: write speculation for faults (order.h) ---- */
static void send_fail(unsigned f, int64_t now) {
  struct _moj_to_fail m = {f, _moj_to_suspect(&TO, f, now)};
  bcast(MOJ_TO_FAIL, &m, sizeof m, now);
}
/* Daemon k has been silent longer than `order-fail-after`. */
static void suspect(int k, int64_t now) {
  logw("total order: %s silent for %lld ms: suspected dead, telling the others (its messages received here: %u)",
       C.host[k].name, (long long)((now - links[k].heard_ns) / 1000000), TO.rcount[k]);
  send_fail((unsigned)k, now);
}
/* Every other daemon agreed: k is out.  Its processes are gone with it, so
 * the lowest-numbered survivor orders their departure from the ordered
 * objects (waiters dropped, SEM_UNDO applied) — at one point of the
 * committed sequence, the same for every replica. */
static void excluded(int k, int64_t now) {
  struct conn *c = cget(links[k].c);
  if (c) conn_close(c, "excluded from the total order");
  links[k].up = 0;
  while (links[k].q) { struct lframe *f = links[k].q; links[k].q = f->next; free(f); } /* never sent now */
  links[k].qt = NULL;
  int alive = 0, lowest = -1;
  for (int j = 0; j < C.nhosts; j++)
    if (!TO.excluded[j]) { alive++; if (lowest < 0) lowest = j; }
  logw("total order: %s excluded by agreement; %llu of its messages beyond the agreed cut dropped; %d daemons go on",
       C.host[k].name, (unsigned long long)TO.dropped, alive);
  if (lowest == self_idx) {
    struct _moj_ord_w w = {MOJ_OK_GONE, (uint32_t)k, UINT32_MAX, UINT32_MAX, 0, 0};
    if (order_submit(&w, sizeof w, NULL)) logw("total order: cannot order the departure of %s's processes", C.host[k].name);
  }
  (void)now;
}
void do_to_fail(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  struct _moj_to_fail m;
  if (!to_on || !c->to_peer || h->len != sizeof m) {
    logp(c, MOJ_LOG_WARN, "TO_FAIL from %s (host %s): not from a peer link or malformed: link closed", c->peer, c->host);
    conn_close(c, "bad TO_FAIL");
    return;
  }
  memcpy(&m, pl, sizeof m);
  int from = c->to_peer - 1;
  int64_t now = now_ns();
  links[from].heard_ns = now;
  if (m.suspect == (uint32_t)self_idx) {
    if (!self_excluded)
      loge("total order: %s says the others take us for dead: we are out of the total order; ordered operations fail with ENOLINK",
           C.host[from].name);
    self_excluded = 1;
    return;
  }
  if (m.suspect >= (uint32_t)C.nhosts || TO.excluded[m.suspect]) return;
  if (!TO.failing[m.suspect]) {
    logw("total order: %s suspects %s: so do we", C.host[from].name, C.host[m.suspect].name);
    send_fail(m.suspect, now); /* contagious: our own count goes to everyone */
  }
  int r = _moj_to_recv_fail(&TO, (unsigned)from, m.suspect, m.count, now);
  if (r < 0) { logp(c, MOJ_LOG_WARN, "TO_FAIL from %s: refused", c->host); return; }
  if (r == 1) excluded((int)m.suspect, now);
}

/* Connect and authenticate to daemon k: on a thread (nsd_dial.c), so this
 * daemon keeps serving — among others the daemons dialling it meanwhile;
 * blocking here, four daemons dialling each other could keep each other's
 * handshakes timing out for minutes under load. */
static void dialled(int k, int fd, int ar, struct _moj_chan *ch) {
  struct plink *l = &links[k];
  l->dialing = 0;
  if (fd < 0 || ar || !to_on || TO.excluded[k] || cget(l->c)) {
    if (fd >= 0 && ar) {
      static struct moj_ratelimit rl;
      _moj_log_rl(&rl, 5, 10000, MOJ_LOG_WARN, "total order: cannot join %s (%s:%u): handshake failed (%d)", C.host[k].name,
                  C.host[k].addr, C.host[k].port, ar);
    }
    _moj_chan_free(ch);
    if (fd >= 0) close(fd);
    return;
  }
  struct conn *c = conn_adopt(fd, C.host[k].name, ch);
  if (!c) return;
  l->c = cref_of(c);
  l->up = 1;
  l->srtt = l->rttvar = 0;
  l->ping_at = 0;
  uint32_t me = (uint32_t)self_idx;
  sendm(c, MOJ_TO_PEER, 0, 0, 0, &me, sizeof me, NULL, 0);
  logm("total order: link to %s up", C.host[k].name);
}

static void dial(int k, int64_t now) {
  struct plink *l = &links[k];
  /* jittered, so that failing dials of several daemons do not stay in step */
  l->next_try = now + REDIAL_NS / 2 + (int64_t)(rand_r(&inj_seed) % 1000) * (REDIAL_NS / 1000);
  if (l->dialing) return;
  if (nsd_dial_start(k, dialled) == 0) l->dialing = 1;
}

void order_start(void) {
  if (!C.order) return;
  struct _moj_to_consumer cons = {on_deliver, on_undo, on_commit, now_ns, NULL};
  _moj_to_init(&TO, self_idx, C.nhosts, C.order, 0, 0, &cons);
  /* Receipts make a commit wait until every daemon has the message (one
   * whole acknowledgement round, even when the others' own traffic already
   * proved it stable); only exclusion needs that, so only with failure
   * detection on.  Without it a dead daemon stalls every commit, nothing is
   * ever cut, and the classical mode keeps its latency. */
  TO.receipts = C.order_fail_ms != 0;
  set_windows();
  to_on = 1;
  for (int k = 0; k < C.nhosts; k++) links[k].heard_ns = now_ns(); /* failure detection counts from the start */
  inj_seed = (unsigned)getpid() ^ (unsigned)now_ns();
  logm("total order: %s mode, %d hosts, window %s, link delay %lld us jitter %lld us loss %g",
       C.order == MOJ_TO_SPECULATIVE ? "speculative" : "classical", C.nhosts, C.order_window_us > 0 ? "fixed" : "from the round trip",
       (long long)C.link_delay_us, (long long)C.link_jitter_us, C.link_loss);
}

/* Timed work: links (dial, pings, delayed frames), progress, QUIETs.  Returns
 * the next time something is due (0: nothing). */
int64_t order_tick(void) {
  if (!to_on) return 0;
  int64_t next = 0;
#define NEXT(x) do { int64_t x_ = (x); if (x_ && (!next || x_ < next)) next = x_; } while (0)
  NEXT(ord_tick()); /* deadlines and departures of processes using ordered objects */
  int64_t now = now_ns();
  for (int k = 0; k < C.nhosts; k++) {
    if (k == self_idx || TO.excluded[k]) continue;
    struct plink *l = &links[k];
    if (C.order_fail_ms && !TO.failing[k] && now - l->heard_ns > C.order_fail_ms * 1000000) suspect(k, now);
    struct conn *c = cget(l->c);
    if (l->up && !c) {
      l->up = 0;
      logw("total order: link to %s lost: ordered traffic it carried is gone; deliveries that need it wait (docs/speculative-dsm.md)",
           C.host[k].name);
    }
    if (!c && now >= l->next_try) dial(k, now);
    if (!c) { NEXT(l->next_try); continue; } /* its frames wait in l->q */
    if (now >= l->ping_at) {
      int64_t t = now;
      link_send(k, MOJ_PING, &t, sizeof t, now);
      l->ping_at = now + PING_EVERY_NS;
    }
    NEXT(l->ping_at);
    link_flush(k, now);
  }
  if (C.order_window_us <= 0) set_windows();
  _moj_to_progress(&TO, now);
  uint64_t qt = _moj_to_quiet_due(&TO, now);
  if (qt) bcast_ordered(MOJ_TO_QUIET, qt, NULL, 0, now);
  NEXT(_moj_to_next_deadline(&TO));
  /* last: frames held by the injected delay, including the QUIET just queued
   * (scheduled before it, the loop would sleep past its due time) */
  for (int k = 0; k < C.nhosts; k++)
    if (k != self_idx && links[k].q && cget(links[k].c)) NEXT(links[k].q->due);
  if (C.order_fail_ms) NEXT(now + 100000000); /* look at the silence of the others every 100 ms */
  return next;
#undef NEXT
}

/* A PING from daemon k on its link: answered on our link to k, so the answer
 * crosses the injected delay too (both directions of a real link have it). */
void order_ping(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  if (h->len != sizeof(int64_t)) { reply(c, h, EPROTO, NULL, 0); return; }
  links[c->to_peer - 1].heard_ns = now_ns();
  /* not while our link to k is still down: held back, the sample would measure that */
  if (cget(links[c->to_peer - 1].c)) link_send(c->to_peer - 1, MOJ_PING | MOJ_REPLY, pl, h->len, now_ns());
}
/* Our PING came back from daemon k (on its link to us): one round-trip sample. */
void order_pong(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  if (!to_on || h->len != sizeof(int64_t) || !c->to_peer) return;
  int k = c->to_peer - 1;
  int64_t t; memcpy(&t, pl, sizeof t);
  int64_t r = now_ns() - t;
  if (r < 0) return;
  struct plink *l = &links[k];
  if (!l->srtt) { l->srtt = r; l->rttvar = r / 2; }
  else {
    int64_t d = r > l->srtt ? r - l->srtt : l->srtt - r;
    l->rttvar = (3 * l->rttvar + d) / 4;
    l->srtt = (7 * l->srtt + r) / 8;
  }
}

void do_to_peer(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  uint32_t k;
  if (h->len != sizeof k) { logp(c, MOJ_LOG_WARN, "TO_PEER from %s: payload %u bytes, rejected", c->peer, h->len); conn_close(c, "malformed TO_PEER"); return; }
  memcpy(&k, pl, sizeof k);
  /* the authenticated host name must be that daemon's: a client cannot inject ordered traffic */
  if (!to_on || k >= (uint32_t)C.nhosts || (int)k == self_idx || strcmp(c->host, C.host[k].name)) {
    logp(c, MOJ_LOG_WARN, "TO_PEER %u from %s (host %s) refused%s", k, c->peer, c->host, to_on ? "" : ": total order is off here");
    conn_close(c, "TO_PEER refused");
    return;
  }
  c->to_peer = (int)k + 1;
}

/* Checks an ordered frame from a peer link; records its receipt counts. */
static int to_wire(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl, struct _moj_to_wire *w) {
  size_t rl = 4 * (size_t)C.nhosts;
  if (!c->to_peer || h->len < sizeof *w + rl) return -1;
  memcpy(w, pl, sizeof *w);
  if (w->m != (uint32_t)(c->to_peer - 1) || w->len > MOJ_TO_MAX_DATA || w->len != h->len - sizeof *w - rl) return -1;
  uint32_t rc[MOJ_MAX_HOSTS];
  memcpy(rc, pl + sizeof *w + w->len, rl);
  links[w->m].heard_ns = now_ns();
  _moj_to_receipts(&TO, w->m, rc);
  return 0;
}
void do_to_msg(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  struct _moj_to_wire w;
  if (to_wire(c, h, pl, &w) || _moj_to_recv(&TO, w.t, w.m, pl + sizeof w, w.len, now_ns())) {
    logp(c, MOJ_LOG_WARN, "TO_MSG from %s (host %s): not from a peer link, malformed, or out of order: link closed", c->peer, c->host);
    conn_close(c, "bad ordered message");
  }
}
void do_to_quiet(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  struct _moj_to_wire w;
  if (to_wire(c, h, pl, &w) || w.len || _moj_to_recv_quiet(&TO, w.t, w.m, now_ns())) {
    logp(c, MOJ_LOG_WARN, "TO_QUIET from %s (host %s): not from a peer link, malformed, or out of order: link closed", c->peer, c->host);
    conn_close(c, "bad quiet message");
  }
}

/* Broadcast data (kind first: MOJ_OK_*) in total order.  0 or an errno.
 * Not from inside a delivery callback (the queue is being walked). */
int order_submit(const void *data, uint32_t len, uint64_t *t) {
  if (!to_on) return ENOTSUP;
  if (self_excluded) return ENOLINK;
  if (len > MOJ_TO_MAX_DATA) return EMSGSIZE;
  int64_t now = now_ns();
  const struct _moj_to_msg *x = _moj_to_send(&TO, data, len, now);
  if (!x) return ENOMEM;
  bcast_ordered(MOJ_TO_MSG, x->t, data, len, now);
  if (t) *t = x->t;
  _moj_to_progress(&TO, now);
  return 0;
}
/* A client's data for the log: kind MOJ_OK_LOG + the data, so no client can
 * pass off its data as another kind (an ordered semaphore operation). */
void do_to_submit(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  uint32_t kind = MOJ_OK_LOG;
  if (h->len > MOJ_TO_MAX_DATA - sizeof kind) { reply(c, h, to_on ? EMSGSIZE : ENOTSUP, NULL, 0); return; }
  uint8_t buf[MOJ_TO_MAX_DATA];
  memcpy(buf, &kind, sizeof kind);
  memcpy(buf + sizeof kind, pl, h->len);
  uint64_t t = 0;
  int e = order_submit(buf, (uint32_t)(sizeof kind + h->len), &t);
  if (e) { reply(c, h, e, NULL, 0); return; }
  struct _moj_to_wire w = {t, (uint32_t)self_idx, 0};
  reply(c, h, 0, &w, sizeof w);
}

void do_to_log(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  if (!to_on) { reply(c, h, ENOTSUP, NULL, 0); return; }
  uint32_t first = 0;
  if (h->len >= sizeof first) memcpy(&first, pl, sizeof first);
  struct _moj_to_log_r r = {0};
  r.mode = (uint32_t)C.order; r.nhosts = (uint32_t)C.nhosts;
  r.window_ns = TO.window_ns; r.quiet_ns = TO.quiet_ns;
  r.committed = TO.st.committed; r.chain = chain_committed;
  r.sent = TO.st.sent; r.received = TO.st.received;
  r.quiets_sent = TO.st.quiets_sent; r.quiets_received = TO.st.quiets_received;
  r.immediate = TO.st.immediate; r.spec_deliveries = TO.st.spec_deliveries; r.spec_committed = TO.st.spec_committed;
  r.abort_events = TO.st.abort_events; r.undone = TO.st.undone;
  r.te_ns = TO.st.te_ns; r.tc_ns = TO.st.tc_ns; r.ta_ns = TO.st.ta_ns;
  r.recorded = nrec;
  for (int k = 0; k < C.nhosts; k++) {
    if (k != self_idx && cget(links[k].c)) r.links_up++;
    if (TO.excluded[k]) r.excluded |= 1ull << k;
  }
  r.dropped = TO.dropped;
  size_t room = (MOJ_MAX_PAYLOAD - sizeof r) / sizeof(struct _moj_to_log_e);
  r.first = first < nrec ? first : (uint32_t)nrec;
  r.nent = (uint32_t)(nrec - r.first < room ? nrec - r.first : room);
  sendm(c, (uint16_t)(h->type | MOJ_REPLY), h->seq, 0, 0, &r, sizeof r, r.nent ? (const void *)(rec + r.first) : NULL,
        (size_t)r.nent * sizeof *rec);
}
