/* nsd_conn.c — mojave-nsd's connections: accepting peers, the handshake
 * (HELLO nonce, then exactly one AUTH), framing of the byte stream into
 * messages (sealed with the session keys when the cluster file says
 * `encrypt`), dispatch to the rooms, buffered replies, and the close that
 * releases everything a peer held (attachments, SEM_UNDO, waiters).
 *
 * A peer that has not authenticated costs a bounded, small amount: its
 * buffer holds exactly one AUTH frame and any other first frame closes it,
 * at most MAX_UNAUTH such peers exist (a new one pushes out the oldest) and
 * each has 5 s; what any peer makes the daemon log is rate limited per
 * address (logp).  docs/dsm.md "Security". */
#include "nsd.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn *conns[65536];
uint32_t gen_ctr = 1;
int maxfd;

#define AUTH_FRAME (sizeof(struct _moj_hdr) + sizeof(struct _moj_auth)) /* all a stranger may send */
#define MAX_UNAUTH 256        /* unauthenticated connections at once; more push out the oldest */
#define RX_MIN 65536u         /* an authenticated connection's buffer between large frames */
#define TX_KEEP (1u << 20)    /* a drained send buffer larger than this is given back */

/* ---------------- peer-caused log lines ---------------- */
/* One limiter per peer address (the 64 most recently heard, least recently
 * used replaced) and one over all peers, so neither one noisy member nor
 * many addresses can grow the log faster than PEER_BURST (ALL_BURST) lines
 * per window; suppressed lines are counted in the next one that passes. */
#define PEER_SLOTS 64
#define PEER_BURST 60
#define ALL_BURST 200
#define RL_WINDOW_MS 10000
static struct peer_rl { uint32_t addr; int64_t last; struct moj_ratelimit rl; } peer_rl[PEER_SLOTS];
static struct moj_ratelimit all_rl;

void logp(struct conn *c, int level, const char *fmt, ...) {
  if (!_moj_log_enabled(level)) return;
  struct peer_rl *p = &peer_rl[0];
  for (int i = 0; i < PEER_SLOTS; i++) {
    if (peer_rl[i].addr == c->addr && peer_rl[i].last) { p = &peer_rl[i]; break; }
    if (peer_rl[i].last < p->last) p = &peer_rl[i];
  }
  if (p->addr != c->addr || !p->last) { memset(p, 0, sizeof *p); p->addr = c->addr; }
  p->last = now_ns();
  char who[INET_ADDRSTRLEN];
  struct in_addr ia = {c->addr};
  inet_ntop(AF_INET, &ia, who, sizeof who);
  if (!_moj_log_rl_admit(&p->rl, PEER_BURST, RL_WINDOW_MS, level, who) ||
      !_moj_log_rl_admit(&all_rl, ALL_BURST, RL_WINDOW_MS, level, "all peers"))
    return;
  va_list ap;
  va_start(ap, fmt);
  _moj_vlog(level, fmt, ap);
  va_end(ap);
}

/* ---------------- the handshake list ---------------- */
static struct conn *hs_head, *hs_tail;
static int n_unauth;
static void hs_add(struct conn *c) {
  c->hs_prev = hs_tail;
  c->hs_next = NULL;
  if (hs_tail) hs_tail->hs_next = c; else hs_head = c;
  hs_tail = c;
  n_unauth++;
}
static void hs_del(struct conn *c) {
  if (c->hs_prev) c->hs_prev->hs_next = c->hs_next; else hs_head = c->hs_next;
  if (c->hs_next) c->hs_next->hs_prev = c->hs_prev; else hs_tail = c->hs_prev;
  c->hs_prev = c->hs_next = NULL;
  n_unauth--;
}

struct conn *cget(struct cref r) {
  if (r.fd < 0 || r.fd >= 65536) return NULL;
  struct conn *c = conns[r.fd];
  return c && c->gen == r.gen ? c : NULL;
}
struct cref cref_of(struct conn *c) { return (struct cref){c->fd, c->gen}; }


void flush_out(struct conn *c) {
  while (c->txoff < c->txlen) {
    ssize_t w = send(c->fd, c->tx + c->txoff, c->txlen - c->txoff, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return; /* reader side will see the error and close */
    }
    c->txoff += (size_t)w;
  }
  if (c->txoff == c->txlen) c->txoff = c->txlen = 0;
  if (!c->txlen && c->txcap > TX_KEEP) { free(c->tx); c->tx = NULL; c->txcap = 0; }
  int want = c->txlen > 0;
  if (want != c->want_out) {
    _moj_ae_set_mask(&nsd_loop, c->fd, MOJ_AE_READ | (want ? MOJ_AE_WRITE : 0));
    c->want_out = want;
  }
}
/* A plain frame with a bulk payload (pages) and nothing queued before it goes
 * out by one sendmsg from where the payload lies: no copy into c->tx (and no
 * 256 KiB buffer allocated and freed per read-ahead batch).  Returns the
 * bytes sent; what the socket did not take is queued by the caller. */
static size_t send_direct(struct conn *c, const uint8_t *head, size_t hl, const void *p2, size_t l2) {
  struct iovec v[2] = {{(void *)head, hl}, {(void *)p2, l2}};
  struct msghdr m = {.msg_iov = v, .msg_iovlen = 2};
  ssize_t w;
  do w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT); while (w < 0 && errno == EINTR);
  return w < 0 ? 0 : (size_t)w;
}
void sendm(struct conn *c, uint16_t type, uint32_t seq, int32_t status, uint32_t aux,
                  const void *p1, size_t l1, const void *p2, size_t l2) {
  if (!c) return;
  if (__builtin_expect(c->dq || delay_applies(c, type), 0)) { delay_put(c, type, seq, status, aux, p1, l1, p2, l2); return; }
  if (!c->ch.tx.alg && !c->txlen && l2 >= MOJ_PAGE && l1 <= 64) {
    uint8_t head[24 + 64];
    size_t hl = _moj_frame_put(&c->ch.tx, head, type, seq, status, aux, p1, l1, NULL, 0);
    struct _moj_hdr h;
    memcpy(&h, head, sizeof h);
    h.len = (uint32_t)(l1 + l2); /* the header announces the payload sent beside it */
    memcpy(head, &h, sizeof h);
    size_t sent = send_direct(c, head, hl, p2, l2);
    if (sent == hl + l2) return;
    /* the rest waits in c->tx like any queued reply */
    size_t rest = hl + l2 - sent;
    if (rest > c->txcap) {
      uint8_t *t = realloc(c->tx, rest);
      if (!t) { conn_close(c, "out of memory for its replies"); return; }
      c->tx = t;
      c->txcap = rest;
    }
    if (sent < hl) {
      memcpy(c->tx, head + sent, hl - sent);
      memcpy(c->tx + hl - sent, p2, l2);
    } else {
      memcpy(c->tx, (const uint8_t *)p2 + (sent - hl), rest);
    }
    c->txoff = 0;
    c->txlen = rest;
    flush_out(c);
    return;
  }
  size_t fl = _moj_frame_size(&c->ch.tx, l1 + l2);
  if (c->txlen + fl > MAX_TX) {
    conn_close(c, "peer does not read its replies (tx buffer limit)");
    return;
  }
  size_t need = c->txlen + fl;
  if (need > c->txcap) {
    /* a stranger gets HELLO and perhaps one ERROR: no need for 8 kB each */
    size_t nc = c->txcap ? c->txcap : c->authed ? 8192 : 256;
    while (nc < need) nc *= 2;
    uint8_t *t = realloc(c->tx, nc);
    if (!t) { conn_close(c, "out of memory for its replies"); return; }
    c->tx = t;
    c->txcap = nc;
  }
  size_t n = _moj_frame_put(&c->ch.tx, c->tx + c->txlen, type, seq, status, aux, p1, l1, p2, l2);
  if (!n) { conn_close(c, "cannot seal a frame"); return; }
  c->txlen += n;
  flush_out(c);
}
void reply(struct conn *c, const struct _moj_hdr *rq, int32_t status, const void *p, size_t l) {
  sendm(c, (uint16_t)(rq->type | MOJ_REPLY), rq->seq, status, 0, p, l, NULL, 0);
}


/* ---------------- connection lifecycle ---------------- */
void conn_close(struct conn *c, const char *why) {
  if (c->authed) logp(c, MOJ_LOG_INFO, "closing %s (host %s pid %u): %s", c->peer, c->host, c->pid, why);
  else { logp(c, MOJ_LOG_INFO, "closing unauthenticated %s: %s", c->peer, why); hs_del(c); }
  _moj_chan_free(&c->ch);
  delay_drop(c);
  ord_conn_gone(c);
  oshm_conn_gone(c);
  conns[c->fd] = NULL;
  _moj_ae_del(&nsd_loop, c->fd);
  close(c->fd);
  sem_undo_exit(c);
  for (int i = 0; i < MAX_SLOTS; i++) {
    if (shms[i]) shm_detach(i, c, 1, 1);
    if (sems[i]) sem_wake(i);  /* drops its waiters */
    if (mqs[i]) mq_wake(i);
  }
  ipc_client_gone(c); /* its request records; saves what changed, then sends the replies */
  free(c->rx); free(c->tx); free(c);
}

/* Tell the peer why, then close (unless sending already closed it). */
static void refuse(struct conn *c, uint32_t seq, int32_t err, const char *msg, const char *why) {
  struct cref r = cref_of(c);
  sendm(c, MOJ_ERROR, seq, err, 0, msg, strlen(msg), NULL, 0);
  if ((c = cget(r))) {
    flush_out(c);
    conn_close(c, why);
  }
}

/* The one frame a stranger may send (on_readable checked type and length). */
static void handle_auth(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  struct _moj_auth a; memcpy(&a, pl, sizeof a);
  struct _moj_auth_ok ok;
  if (_moj_auth_server(C.secret, C.secret_len, c->snonce, &a, &ok) || _moj_cluster_find_host(&C, a.host) < 0) {
    logp(c, MOJ_LOG_WARN, "refused %s claiming host '%s' pid %u: bad cluster secret or unknown host", c->peer, a.host, a.pid);
    refuse(c, h->seq, EACCES, "authentication failed", "authentication failed");
    return;
  }
  if (h->aux != (uint32_t)C.encrypt) { /* a member whose cluster file differs: say so on both ends */
    logp(c, MOJ_LOG_WARN, "refused %s (host %s): its cluster file says 'encrypt %s', ours 'encrypt %s'", c->peer, a.host,
         _moj_aead_name((int)h->aux), _moj_aead_name(C.encrypt));
    refuse(c, h->seq, EPROTO, "cluster files disagree on 'encrypt'", "encryption setting differs");
    return;
  }
  struct _moj_chan ch = {0};
  if (C.encrypt && _moj_chan_keys(&ch, C.encrypt, 1, C.secret, C.secret_len, c->snonce, a.cnonce, a.host)) {
    conn_close(c, "cannot derive session keys (libcrypto)");
    return;
  }
  hs_del(c);
  c->authed = 1;
  memcpy(c->host, a.host, 32);
  c->pid = a.pid;
  ipc_client_back(c); /* a process known from before a restart: its SEM_UNDO records again */
  ok.client_id = c->gen;
  sendm(c, MOJ_AUTH_OK, h->seq, 0, 0, &ok, sizeof ok, NULL, 0); /* the last clear frame */
  c->ch = ch;
}

static void dispatch(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  switch (h->type) {
  case MOJ_PING:
    if (c->to_peer) order_ping(c, h, pl);
    else reply(c, h, 0, pl, h->len);
    break;
  case MOJ_RESOLVE: do_resolve(c, h, pl); break;
  case MOJ_SHMGET: do_shmget(c, h, pl); break;
  case MOJ_SHMAT: do_shmat(c, h, pl); break;
  case MOJ_SHMDT: do_shmdt(c, h, pl); break;
  case MOJ_SHMCTL: do_shmctl(c, h, pl); break;
  case MOJ_PAGE_REQ: do_page_req(c, h, pl); break;
  case MOJ_PAGE_WRITE: do_page_write(c, h, pl); break;
  case MOJ_PAGE_DIRTY: do_page_dirty(c, h, pl); break;
  case MOJ_REATTACH: do_reattach(c, h, pl); break;
  case MOJ_PAGE_FETCH | MOJ_REPLY: do_fetch_reply(c, h, pl); break;
  case MOJ_SEMGET: do_semget(c, h, pl); break;
  case MOJ_SEMOP: do_semop(c, h, pl); break;
  case MOJ_SEMCTL: do_semctl(c, h, pl); break;
  case MOJ_CANCEL: do_cancel(c, h); break;
  case MOJ_UNDO_TAKE: do_undo_take(c, h, pl); break;
  case MOJ_UNDO_GIVE: do_undo_give(c, h, pl); break;
  case MOJ_MSGGET: do_msgget(c, h, pl); break;
  case MOJ_MSGSND: do_msgsnd(c, h, pl); break;
  case MOJ_MSGRCV: do_msgrcv(c, h, pl); break;
  case MOJ_MSGCTL: do_msgctl(c, h, pl); break;
  case MOJ_LIST: do_list(c, h, pl); break;
  case MOJ_PING | MOJ_REPLY: order_pong(c, h, pl); break;
  case MOJ_TO_PEER: do_to_peer(c, h, pl); break;
  case MOJ_TO_MSG: do_to_msg(c, h, pl); break;
  case MOJ_TO_QUIET: do_to_quiet(c, h, pl); break;
  case MOJ_TO_SUBMIT: do_to_submit(c, h, pl); break;
  case MOJ_TO_LOG: do_to_log(c, h, pl); break;
  case MOJ_TO_FAIL: do_to_fail(c, h, pl); break;
  default:
    logp(c, MOJ_LOG_WARN, "unknown message type %u from %s, rejected", h->type, c->peer);
    reply(c, h, EPROTO, NULL, 0);
  }
}

/* Size the receive buffer for what may come next: a stranger's is exactly
 * one AUTH frame; a member's holds the frame whose (already checked) header
 * starts it, else RX_MIN, and shrinks back after a large frame. */
static int rx_fit(struct conn *c) {
  size_t want = AUTH_FRAME;
  if (c->authed) {
    want = RX_MIN;
    if (c->rxlen >= sizeof(struct _moj_hdr)) {
      struct _moj_hdr h;
      memcpy(&h, c->rx, sizeof h);
      if (sizeof h + h.len > want) want = sizeof h + h.len;
    }
    if (want < c->rxlen) want = c->rxlen;
  }
  if (want == c->rxcap || (want < c->rxcap && c->rxcap <= RX_MIN)) return 0;
  uint8_t *r = realloc(c->rx, want);
  if (!r) return -1;
  c->rx = r;
  c->rxcap = want;
  return 0;
}

static void on_readable(struct conn *c) {
  for (;;) {
    if (rx_fit(c)) { conn_close(c, "out of memory for its requests"); return; }
    if (c->rxcap == c->rxlen) { conn_close(c, "receive buffer full"); return; } /* cannot happen: a full buffer holds a complete frame */
    ssize_t r = recv(c->fd, c->rx + c->rxlen, c->rxcap - c->rxlen, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      conn_close(c, strerror(errno));
      return;
    }
    if (r == 0) {
      if (c->rxlen) logp(c, MOJ_LOG_WARN, "%s: connection closed inside a message (%zu bytes pending): truncated message dropped", c->peer, c->rxlen);
      conn_close(c, "connection closed");
      return;
    }
    c->rxlen += (size_t)r;
    size_t off = 0;
    while (c->rxlen - off >= sizeof(struct _moj_hdr)) {
      struct _moj_hdr h;
      memcpy(&h, c->rx + off, sizeof h);
      const char *bad = _moj_frame_check(&c->ch.rx, &h);
      if (bad) {
        logp(c, MOJ_LOG_WARN, "malformed message from %s: %s (magic 0x%08x version %u type %u len %u), rejected", c->peer, bad,
             h.magic, h.version, h.type, h.len);
        refuse(c, h.seq, EPROTO, bad, "protocol error: the byte stream cannot be resynchronised");
        return;
      }
      if (!c->authed && (h.type != MOJ_AUTH || h.len != sizeof(struct _moj_auth))) {
        logp(c, MOJ_LOG_WARN, "refused %s: first message must be AUTH of %zu bytes (%s, %u bytes)", c->peer,
             sizeof(struct _moj_auth), _moj_type_name(h.type), h.len);
        refuse(c, h.seq, EACCES, "authentication required", "not authenticated");
        return;
      }
      if (c->rxlen - off < sizeof h + h.len) break;
      const uint8_t *pl;
      bad = _moj_frame_open(&c->ch.rx, &h, c->rx + off + sizeof h, &pl);
      if (bad) {
        logp(c, MOJ_LOG_WARN, "%s (host %s): %s", c->peer, c->host, bad);
        conn_close(c, bad);
        return;
      }
      off += sizeof(struct _moj_hdr) + ((const struct _moj_hdr *)(c->rx + off))->len; /* the outer frame */
      uint32_t gen = c->gen;
      int fd = c->fd;
      if (c->authed) dispatch(c, &h, pl);
      else handle_auth(c, &h, pl);
      if (conns[fd] != c || c->gen != gen) return; /* closed by the handler */
    }
    if (off) { memmove(c->rx, c->rx + off, c->rxlen - off); c->rxlen -= off; }
  }
}

int listen_on(const char *addr, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) { logw("bad address %s", addr); exit(2); }
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 128)) {
    loge("cannot listen on %s:%u: %s", addr, port, strerror(errno));
    exit(2);
  }
  return fd;
}


static void conn_event(struct moj_ae *ae, int fd, void *data, int mask) {
  (void)ae; (void)data;
  struct conn *c = conns[fd];
  if (!c) return;
  uint32_t gen = c->gen;
  if (mask & MOJ_AE_WRITE) flush_out(c);
  if ((mask & MOJ_AE_READ) && conns[fd] == c && c->gen == gen) on_readable(c);
}

/* Accept every pending peer and greet it with the nonce its AUTH must answer
 * (and, in aux, our `encrypt` setting). */
void conn_accept(int lfd) {
  static struct moj_ratelimit accept_rl;
  for (;;) {
    struct sockaddr_in pa; socklen_t pl = sizeof pa;
    int cfd = accept4(lfd, (struct sockaddr *)&pa, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
      if ((errno == EMFILE || errno == ENFILE) && hs_head) { /* out of descriptors: strangers go first */
        conn_close(hs_head, "out of descriptors: the oldest unauthenticated connection is dropped");
        continue;
      }
      if (errno != EAGAIN && errno != EINTR) _moj_log_rl(&accept_rl, 5, RL_WINDOW_MS, MOJ_LOG_ERROR, "accept: %s", strerror(errno));
      break;
    }
    if (cfd >= 65536) { close(cfd); continue; }
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    _moj_sock_liveness(cfd);
    struct conn *c = calloc(1, sizeof *c);
    if (!c || _moj_ae_add(&nsd_loop, cfd, MOJ_AE_READ, conn_event, NULL)) {
      _moj_log_rl(&accept_rl, 5, RL_WINDOW_MS, MOJ_LOG_ERROR, "cannot accept a connection: %s", c ? strerror(errno) : "out of memory");
      free(c); close(cfd);
      continue;
    }
    if (n_unauth >= MAX_UNAUTH) conn_close(hs_head, "too many unauthenticated connections: the oldest is dropped");
    c->fd = cfd; c->gen = gen_ctr++; c->t_accept = now_ns();
    c->addr = pa.sin_addr.s_addr;
    snprintf(c->peer, sizeof c->peer, "%s:%u", inet_ntoa(pa.sin_addr), ntohs(pa.sin_port));
    conns[cfd] = c;
    hs_add(c);
    if (cfd > maxfd) maxfd = cfd;
    struct _moj_hello hello;
    _moj_random(c->snonce, 16);
    memcpy(hello.nonce, c->snonce, 16);
    hello.server_idx = (uint32_t)self_idx;
    sendm(c, MOJ_HELLO, 0, 0, (uint32_t)C.encrypt, &hello, sizeof hello, NULL, 0);
  }
}

struct conn *conn_adopt(int fd, const char *host, struct _moj_chan *ch) {
  struct conn *c = fd < 65536 ? calloc(1, sizeof *c) : NULL;
  if (!c || _moj_ae_add(&nsd_loop, fd, MOJ_AE_READ, conn_event, NULL)) {
    logw("cannot serve the link to %s: %s", host, c ? strerror(errno) : "out of memory");
    free(c); _moj_chan_free(ch); close(fd);
    return NULL;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  _moj_sock_liveness(fd);
  c->fd = fd; c->gen = gen_ctr++; c->t_accept = now_ns();
  c->authed = 1;
  c->daemon_link = 1;
  c->ch = *ch;
  snprintf(c->peer, sizeof c->peer, "link to %s", host);
  snprintf(c->host, sizeof c->host, "%s", host);
  conns[fd] = c;
  if (fd > maxfd) maxfd = fd;
  return c;
}

/* Handshake deadline: an unauthenticated peer may not hold a connection
 * (checked twice a second, not on every turn of the loop; the list is in
 * accept order, so only its expired head is visited). */
void conn_expire_handshakes(void) {
  static int64_t last_scan;
  int64_t t = now_ns();
  if (t - last_scan < 500000000LL) return;
  last_scan = t;
  while (hs_head && t - hs_head->t_accept > 5000000000LL) conn_close(hs_head, "no AUTH within 5 s");
}
