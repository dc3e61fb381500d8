/* nsd_delay.c — injected latency on the daemon's links to application
 * processes (cluster file `client-link DELAY_US JITTER_US`), for tests and
 * benchmarks that need a long round trip on a machine whose loopback has
 * none (this kernel has no netem).  Only processes of other hosts pay it.
 *
 * Why here and not in the client: a delay slept by the caller before a call
 * (MOJAVE_NET_DELAY_US) is paid only by code that makes a call, so a
 * protocol that sends a request and carries on (speculative lock
 * acquisition) would never pay it.  Holding every frame the daemon sends to
 * a process for DELAY + uniform(0..JITTER) makes each request/reply exchange
 * cost that much more whoever waits for it: the whole round trip's delay sits
 * on the daemon-to-process direction.  Frames keep their order per
 * connection (due times never decrease, as on a TCP stream); they are sealed
 * when queued, so encrypted links keep their counters in order.  Daemon links
 * have their own injection (`order-link`, nsd_order.c). */
#include "nsd.h"

struct dframe {
  struct dframe *next;
  int64_t due;
  size_t len;
  uint8_t data[];
};

static struct conn *delayed;  /* connections with held frames, a list through c->dnext */
static unsigned delay_seed;

/* Processes of other hosts only: one on our own host talks to us over its
 * loopback, as it would on real machines.  Never the handshake's AUTH_OK:
 * another daemon dialling us for its order link waits for it inside its
 * loop (nsd_order.c dial), and two daemons dialling each other would each
 * hold the other's answer until a handshake timed out. */
int delay_applies(const struct conn *c, uint16_t type) {
  return (C.client_delay_us || C.client_jitter_us) && c->authed && !c->daemon_link && !c->to_peer &&
         type != MOJ_AUTH_OK && strcmp(c->host, C.host[self_idx].name);
}

static void unlist(struct conn *c) {
  for (struct conn **p = &delayed; *p; p = &(*p)->dnext)
    if (*p == c) { *p = c->dnext; break; }
  c->dnext = NULL;
}

/* Move what is due into the send buffer.  Returns 0, or -1 when the
 * connection was closed (out of memory). */
static int release(struct conn *c, int64_t now) {
  while (c->dq && c->dq->due <= now) {
    struct dframe *f = c->dq;
    if (c->txlen + f->len > c->txcap) {
      size_t nc = c->txcap ? c->txcap : 8192;
      while (nc < c->txlen + f->len) nc *= 2;
      uint8_t *t = realloc(c->tx, nc);
      if (!t) { conn_close(c, "out of memory for its replies"); return -1; }
      c->tx = t;
      c->txcap = nc;
    }
    memcpy(c->tx + c->txlen, f->data, f->len);
    c->txlen += f->len;
    c->dq_bytes -= f->len;
    c->dq = f->next;
    if (!c->dq) c->dqt = NULL;
    free(f);
  }
  flush_out(c);
  return 0;
}

void delay_put(struct conn *c, uint16_t type, uint32_t seq, int32_t status, uint32_t aux, const void *p1, size_t l1,
               const void *p2, size_t l2) {
  size_t fl = _moj_frame_size(&c->ch.tx, l1 + l2);
  if (c->txlen + c->dq_bytes + fl > MAX_TX) {
    conn_close(c, "peer does not read its replies (tx buffer limit)");
    return;
  }
  struct dframe *f = malloc(sizeof *f + fl);
  if (!f) { conn_close(c, "out of memory for its replies"); return; }
  f->len = _moj_frame_put(&c->ch.tx, f->data, type, seq, status, aux, p1, l1, p2, l2);
  if (!f->len) { free(f); conn_close(c, "cannot seal a frame"); return; }
  if (!delay_seed) delay_seed = (unsigned)now_ns() | 1;
  int64_t now = now_ns(), d = C.client_delay_us * 1000;
  if (C.client_jitter_us) d += (int64_t)(rand_r(&delay_seed) % (unsigned)(C.client_jitter_us + 1)) * 1000;
  f->due = now + d < c->dq_last ? c->dq_last : now + d;
  c->dq_last = f->due;
  f->next = NULL;
  if (c->dqt) c->dqt->next = f; else c->dq = f;
  c->dqt = f;
  c->dq_bytes += f->len;
  if (!c->dlisted) { c->dlisted = 1; c->dnext = delayed; delayed = c; }
}

int64_t delay_tick(void) {
  if (!delayed) return 0;
  int64_t now = now_ns(), next = 0;
  for (struct conn *c = delayed, *n; c; c = n) {
    n = c->dnext;
    if (release(c, now)) continue; /* closed: delay_drop unlisted it */
    if (!c->dq) { unlist(c); c->dlisted = 0; continue; }
    if (!next || c->dq->due < next) next = c->dq->due;
  }
  return next;
}

void delay_drop(struct conn *c) {
  if (c->dlisted) { unlist(c); c->dlisted = 0; }
  while (c->dq) {
    struct dframe *f = c->dq;
    c->dq = f->next;
    free(f);
  }
  c->dqt = NULL;
  c->dq_bytes = 0;
}
