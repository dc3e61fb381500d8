/* nsd_conn.c — mojave-nsd's connections: accepting peers, the handshake
 * (HELLO nonce, then exactly one AUTH), framing of the byte stream into
 * messages, dispatch to the rooms, buffered replies, and the close that
 * releases everything a peer held (attachments, SEM_UNDO, waiters). */
#include "nsd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn *conns[65536];
uint32_t gen_ctr = 1;
int maxfd;

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
  int want = c->txlen > 0;
  if (want != c->want_out) {
    _moj_ae_set_mask(&nsd_loop, c->fd, MOJ_AE_READ | (want ? MOJ_AE_WRITE : 0));
    c->want_out = want;
  }
}
void sendm(struct conn *c, uint16_t type, uint32_t seq, int32_t status, uint32_t aux,
                  const void *p1, size_t l1, const void *p2, size_t l2) {
  if (!c) return;
  if (c->txlen + 24 + l1 + l2 > MAX_TX) {
    conn_close(c, "peer does not read its replies (tx buffer limit)");
    return;
  }
  size_t need = c->txlen + 24 + l1 + l2;
  if (need > c->txcap) {
    size_t nc = c->txcap ? c->txcap : 8192;
    while (nc < need) nc *= 2;
    c->tx = realloc(c->tx, nc);
    c->txcap = nc;
  }
  struct _moj_hdr h;
  _moj_hdr_init(&h, type, (uint32_t)(l1 + l2), seq, status);
  h.aux = aux;
  memcpy(c->tx + c->txlen, &h, 24);
  if (l1) memcpy(c->tx + c->txlen + 24, p1, l1);
  if (l2) memcpy(c->tx + c->txlen + 24 + l1, p2, l2);
  c->txlen = need;
  flush_out(c);
}
void reply(struct conn *c, const struct _moj_hdr *rq, int32_t status, const void *p, size_t l) {
  sendm(c, (uint16_t)(rq->type | MOJ_REPLY), rq->seq, status, 0, p, l, NULL, 0);
}


/* ---------------- connection lifecycle ---------------- */
void conn_close(struct conn *c, const char *why) {
  if (c->authed) logm("closing %s (host %s pid %u): %s", c->peer, c->host, c->pid, why);
  else logm("closing unauthenticated %s: %s", c->peer, why);
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

static void handle_auth(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  if (h->type != MOJ_AUTH || h->len != sizeof(struct _moj_auth)) {
    logw("refused %s: first message must be AUTH (%s, %u bytes)", c->peer, _moj_type_name(h->type), h->len);
    const char *m = "authentication required";
    sendm(c, MOJ_ERROR, h->seq, EACCES, 0, m, strlen(m), NULL, 0);
    conn_close(c, "not authenticated");
    return;
  }
  struct _moj_auth a; memcpy(&a, pl, sizeof a);
  struct _moj_auth_ok ok;
  if (_moj_auth_server(C.secret, C.secret_len, c->snonce, &a, &ok) || _moj_cluster_find_host(&C, a.host) < 0) {
    logw("refused %s claiming host '%s' pid %u: bad cluster secret or unknown host", c->peer, a.host, a.pid);
    const char *m = "authentication failed";
    sendm(c, MOJ_ERROR, h->seq, EACCES, 0, m, strlen(m), NULL, 0);
    conn_close(c, "authentication failed");
    return;
  }
  c->authed = 1;
  memcpy(c->host, a.host, 32);
  c->pid = a.pid;
  ipc_client_back(c); /* a process known from before a restart: its SEM_UNDO records again */
  ok.client_id = c->gen;
  sendm(c, MOJ_AUTH_OK, h->seq, 0, 0, &ok, sizeof ok, NULL, 0);
}

static void dispatch(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  if (!c->authed) { handle_auth(c, h, pl); return; }
  switch (h->type) {
  case MOJ_PING: reply(c, h, 0, pl, h->len); break;
  case MOJ_RESOLVE: do_resolve(c, h, pl); break;
  case MOJ_SHMGET: do_shmget(c, h, pl); break;
  case MOJ_SHMAT: do_shmat(c, h, pl); break;
  case MOJ_SHMDT: do_shmdt(c, h, pl); break;
  case MOJ_SHMCTL: do_shmctl(c, h, pl); break;
  case MOJ_PAGE_REQ: do_page_req(c, h, pl); break;
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
  default:
    logw("unknown message type %u from %s, rejected", h->type, c->peer);
    reply(c, h, EPROTO, NULL, 0);
  }
}

static void on_readable(struct conn *c) {
  for (;;) {
    if (c->rxcap - c->rxlen < 65536) {
      c->rxcap = c->rxcap ? c->rxcap * 2 : 131072;
      c->rx = realloc(c->rx, c->rxcap);
    }
    ssize_t r = recv(c->fd, c->rx + c->rxlen, c->rxcap - c->rxlen, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      conn_close(c, strerror(errno));
      return;
    }
    if (r == 0) {
      if (c->rxlen) logw("%s: connection closed inside a message (%zu bytes pending): truncated message dropped", c->peer, c->rxlen);
      conn_close(c, "connection closed");
      return;
    }
    c->rxlen += (size_t)r;
    size_t off = 0;
    while (c->rxlen - off >= sizeof(struct _moj_hdr)) {
      struct _moj_hdr h;
      memcpy(&h, c->rx + off, sizeof h);
      const char *bad = _moj_hdr_check(&h);
      if (bad) {
        logw("malformed message from %s: %s (magic 0x%08x version %u type %u len %u), rejected", c->peer, bad,
             h.magic, h.version, h.type, h.len);
        sendm(c, MOJ_ERROR, h.seq, EPROTO, 0, bad, strlen(bad), NULL, 0);
        flush_out(c);
        conn_close(c, "protocol error: the byte stream cannot be resynchronised");
        return;
      }
      if (c->rxlen - off < sizeof h + h.len) break;
      uint32_t gen = c->gen;
      int fd = c->fd;
      dispatch(c, &h, c->rx + off + sizeof h);
      if (conns[fd] != c || c->gen != gen) return; /* closed by the handler */
      off += sizeof h + h.len;
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

/* Accept every pending peer and greet it with the nonce its AUTH must answer. */
void conn_accept(int lfd) {
  for (;;) {
    struct sockaddr_in pa; socklen_t pl = sizeof pa;
    int cfd = accept4(lfd, (struct sockaddr *)&pa, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) break;
    if (cfd >= 65536) { close(cfd); continue; }
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    _moj_sock_liveness(cfd);
    struct conn *c = calloc(1, sizeof *c);
    if (!c || _moj_ae_add(&nsd_loop, cfd, MOJ_AE_READ, conn_event, NULL)) {
      loge("cannot accept a connection: %s", c ? strerror(errno) : "out of memory");
      free(c); close(cfd);
      continue;
    }
    c->fd = cfd; c->gen = gen_ctr++; c->t_accept = now_ns();
    snprintf(c->peer, sizeof c->peer, "%s:%u", inet_ntoa(pa.sin_addr), ntohs(pa.sin_port));
    conns[cfd] = c;
    if (cfd > maxfd) maxfd = cfd;
    struct _moj_hello hello;
    _moj_random(c->snonce, 16);
    memcpy(hello.nonce, c->snonce, 16);
    hello.server_idx = (uint32_t)self_idx;
    sendm(c, MOJ_HELLO, 0, 0, 0, &hello, sizeof hello, NULL, 0);
  }
}

/* Handshake deadline: an unauthenticated peer may not hold a connection
 * (checked twice a second, not on every turn of the loop). */
void conn_expire_handshakes(void) {
  static int64_t last_scan;
  int64_t t = now_ns();
  if (t - last_scan < 500000000LL) return;
  last_scan = t;
  for (int fd = 0; fd <= maxfd; fd++)
    if (conns[fd] && !conns[fd]->authed && t - conns[fd]->t_accept > 5000000000LL) conn_close(conns[fd], "no AUTH within 5 s");
}
