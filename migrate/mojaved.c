/* migrate/mojaved.c — the per-host migration daemon: one epoll loop (redis-ae
 * style, no threads) that authenticates peers with the cluster secret,
 * receives executables (content-addressed cache under the state directory)
 * and images, and answers launchers (attach, list, move).  The supervised
 * programs themselves are mojaved_job.c.  Protocol: wire.h and
 * docs/migration.md.  Hostile input is logged (rate-limited) and
 * the connection closed; nothing a peer sends can stop the loop. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mojaved.h"
#include "image.h" /* the format version (the header check below) */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


struct _moj_cluster C;
int self_idx = -1;
int self_arch;
char *emulator[16];
const char *self_name, *cluster_path, *state_dir, *mojcc_path = "mojcc";
int epfd = -1;
struct conn *conns;
static int nconns;
static int stop;
static FILE *logf;
#define MAX_CONNS 512

/* Optional image validation by the image library when it is linked in. */
int moj_img_peek(const void *buf, size_t len, uint32_t *version, uint64_t *raw_len, uint64_t *zstd_len, char *err,
                 size_t errlen) __attribute__((weak));

/* ---- logging ---- */
static void vlog(const char *fmt, va_list ap) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  fprintf(logf, "%02d:%02d:%02d.%03ld mojaved[%s]: ", tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
          self_name ? self_name : "-");
  vfprintf(logf, fmt, ap);
  fputc('\n', logf);
  fflush(logf);
}
void logm(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}
/* At most 20 lines per 10 s from peer mistakes, so garbage cannot fill the disk. */
void logm_rl(const char *fmt, ...) {
  static int64_t window;
  static int n, dropped;
  int64_t now = mg_now_ms();
  if (now - window > 10000) {
    if (dropped) logm("(%d similar messages suppressed)", dropped);
    window = now;
    n = dropped = 0;
  }
  if (++n > 20) { dropped++; return; }
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}

/* ---- buffers ---- */
int buf_put(struct buf *b, const void *p, size_t n) {
  if (b->off && b->off == b->len) b->off = b->len = 0;
  if (b->len + n > b->cap) {
    if (b->off) { /* compact before growing */
      memmove(b->p, b->p + b->off, b->len - b->off);
      b->len -= b->off;
      b->off = 0;
    }
    if (b->len + n > b->cap) {
      size_t cap = b->cap ? b->cap : 4096;
      while (cap < b->len + n) cap *= 2;
      char *q = realloc(b->p, cap);
      if (!q) return -1;
      b->p = q;
      b->cap = cap;
    }
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}
int buf_frame(struct buf *b, uint16_t type, int32_t status, uint32_t aux, const void *p, size_t n) {
  struct _moj_hdr h;
  mg_hdr_init(&h, type, (uint32_t)n, status, aux);
  return buf_put(b, &h, sizeof h) || (n && buf_put(b, p, n)) ? -1 : 0;
}
void buf_free(struct buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

void ep_set(int fd, struct watch *w, uint32_t events, int *on) {
  struct epoll_event ev = {.events = events, .data.ptr = w};
  if (events && !*on) epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  else if (events && *on) epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
  else if (!events && *on) epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
  *on = events != 0;
}

/* ---- connections ---- */
void conn_flush(struct conn *c) {
  while (!c->dead && buf_size(&c->tx)) {
    ssize_t r = send(c->fd, c->tx.p + c->tx.off, buf_size(&c->tx), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      conn_close(c, strerror(errno));
      return;
    }
    c->tx.off += (size_t)r;
  }
  if (c->dead) return;
  int want = buf_size(&c->tx) > 0;
  if (want != c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = &c->w};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
  }
  /* room again: an attached job may produce more */
  if (c->job && c->job->launcher == c && buf_size(&c->tx) < OUT_LIMIT / 2) job_pump(c->job);
}

void conn_send(struct conn *c, uint16_t type, int32_t status, uint32_t aux, const void *p, size_t n) {
  if (c->dead) return;
  if (buf_frame(&c->tx, type, status, aux, p, n)) { conn_close(c, "out of memory"); return; }
  conn_flush(c);
}

static void recv_reset(struct conn *c) {
  if (c->recv_fd >= 0) close(c->recv_fd);
  if (c->recv_kind == MG_EXE && c->tmp_path[0]) unlink(c->tmp_path);
  c->recv_fd = -1;
  c->recv_kind = 0;
  c->tmp_path[0] = 0;
  free(c->ship);
  c->ship = NULL;
}

void conn_close(struct conn *c, const char *why) {
  if (c->dead) return;
  logm("closed %s%s%s: %s", c->peer, c->host[0] ? " " : "", c->host, why);
  c->dead = 1;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  recv_reset(c);
  if (c->job) {
    if (c->job->src == c) job_src_gone(c->job);
    else if (c->job->launcher == c) job_detach(c->job);
    c->job = NULL;
  }
}

/* A fatal protocol error: say why to the peer, log it (rate-limited), close. */
void refuse(struct conn *c, int err, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  logm_rl("refused %s%s%s: %s", c->peer, c->host[0] ? " " : "", c->host, msg);
  conn_send(c, MG_ERROR, err, 0, msg, strlen(msg));
  conn_flush(c);
  conn_close(c, "protocol error");
}

static void accept_all(int lfd) {
  for (;;) {
    struct sockaddr_in pa;
    socklen_t pl = sizeof pa;
    int fd = accept4(lfd, (struct sockaddr *)&pa, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (nconns >= MAX_CONNS) {
      logm_rl("refused %s:%u: too many connections", inet_ntoa(pa.sin_addr), ntohs(pa.sin_port));
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    _moj_sock_liveness(fd);
    struct conn *c = calloc(1, sizeof *c);
    if (!c) { close(fd); continue; }
    c->w.kind = W_CONN;
    c->w.obj = c;
    c->fd = fd;
    c->recv_fd = -1;
    c->t_accept = mg_now_ms();
    snprintf(c->peer, sizeof c->peer, "%s:%u", inet_ntoa(pa.sin_addr), ntohs(pa.sin_port));
    c->next = conns;
    conns = c;
    nconns++;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->w};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    struct _moj_hello hello;
    _moj_random(c->snonce, 16);
    memcpy(hello.nonce, c->snonce, 16);
    hello.server_idx = (uint32_t)self_idx;
    conn_send(c, MG_HELLO, 0, 0, &hello, sizeof hello);
  }
}

/* ---- images ---- */
/* SHIP payload: struct + cwd + argc + envc strings, exactly. */
static const char *ship_check(const char *p, size_t n) {
  if (n < sizeof(struct mg_ship) + 2) return "SHIP payload too short";
  struct mg_ship s;
  memcpy(&s, p, sizeof s);
  if (s.mode != 1 && s.mode != 2) return "unknown migration mode";
  if (s.flags) return "unknown SHIP flags";
  if (s.argc == 0) return "empty argv";
  if (s.image_len < 64 || s.image_len > MG_MAX_IMAGE) return "image length out of range";
  if (!memchr(s.src_host, 0, sizeof s.src_host)) return "bad source host";
  /* the source refuses this itself (moj_ship_mode); a peer that does not
   * would have its executable started on the wrong instruction set */
  int from = _moj_cluster_find_host(&C, s.src_host);
  if (s.mode == 1 && from >= 0 && C.host[from].arch != self_arch)
    return "binary mode across instruction sets (IR mode moves between them)";
  uint64_t want = 1 + (uint64_t)s.argc + s.envc, got = 0;
  for (size_t i = sizeof s; i < n; i++) got += p[i] == 0;
  if (got != want || p[n - 1]) return "SHIP strings do not match argc/envc";
  return NULL;
}

static void on_ship(struct conn *c, const char *p, size_t n) {
  const char *why = ship_check(p, n);
  if (why) { refuse(c, EINVAL, "image refused by %s: %s", self_name, why); return; }
  struct mg_ship s;
  memcpy(&s, p, sizeof s);
  c->recv_fd = memfd_create("mojave-image", MFD_CLOEXEC);
  if (c->recv_fd < 0) { refuse(c, errno, "restore failed at %s: memfd_create: %s", self_name, strerror(errno)); return; }
  c->ship = malloc(n);
  if (!c->ship) { refuse(c, ENOMEM, "restore failed at %s: out of memory", self_name); return; }
  memcpy(c->ship, p, n);
  c->ship_len = n;
  c->recv_kind = MG_SHIP;
  c->recv_left = c->img_len = s.image_len;
  c->img_got = 0;
  _moj_sha_init(&c->sha);
}

/* The image header (image.h): magic, version, lengths, SHA-256 of the
 * compressed payload — checked here so a corrupt image is refused before a
 * process is started for it.  The sections are the runtime's business. */
static const char *image_check(struct conn *c, char *why, size_t wl) {
  const uint8_t *h = c->head;
  uint32_t ver;
  uint64_t raw, zlen;
  memcpy(&ver, h + 8, 4);
  memcpy(&raw, h + 16, 8);
  memcpy(&zlen, h + 24, 8);
  if (memcmp(h, "MOJIMG\r\n", 8)) return "bad magic";
  if (ver != MOJ_IMG_VERSION) {
    snprintf(why, wl, "version %u unsupported (this is %u)", ver, MOJ_IMG_VERSION);
    return why;
  }
  if (zlen != c->img_len - 64) return "payload length does not match the header";
  uint8_t sum[32];
  _moj_sha_final(&c->sha, sum);
  if (memcmp(sum, h + 32, 32)) return "checksum mismatch";
  if (moj_img_peek) {
    uint32_t v;
    uint64_t r, z;
    if (moj_img_peek(h, 64, &v, &r, &z, why, wl)) return why;
  }
  return NULL;
}

static void image_done(struct conn *c) {
  char why[256];
  const char *bad = image_check(c, why, sizeof why);
  if (bad) { refuse(c, EBADMSG, "image refused by %s: %s", self_name, bad); return; }
  struct mg_ship s;
  memcpy(&s, c->ship, sizeof s);
  char path[600];
  exe_path(s.exe_hash, (int)s.mode, path, sizeof path);
  if (access(path, X_OK)) { refuse(c, ENOENT, "restore failed at %s: executable not in the cache", self_name); return; }
  lseek(c->recv_fd, 0, SEEK_SET);
  char reason[512];
  struct job *j = job_spawn(c, path, c->recv_fd, reason, sizeof reason);
  recv_reset(c); /* the job's child has its own copy of the memfd */
  if (!j) { refuse(c, EAGAIN, "restore failed at %s: %s", self_name, reason); return; }
  c->job = j;
}

static void on_data(struct conn *c, const char *p, size_t n) {
  if (!c->recv_kind) { refuse(c, EPROTO, "DATA without EXE or SHIP"); return; }
  if (n > c->recv_left) { refuse(c, EPROTO, "more DATA than announced"); return; }
  if (c->recv_kind == MG_SHIP) {
    /* the header is kept, the payload after it hashed, everything stored */
    for (size_t i = 0; i < n; i++, c->img_got++)
      if (c->img_got < 64) c->head[c->img_got] = (uint8_t)p[i];
      else { _moj_sha_update(&c->sha, p + i, n - i); c->img_got += n - i; break; }
  } else {
    _moj_sha_update(&c->sha, p, n);
  }
  for (size_t off = 0; off < n;) {
    ssize_t w = write(c->recv_fd, p + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) { refuse(c, EIO, "restore failed at %s: cannot store data: %s", self_name, strerror(errno)); return; }
    off += (size_t)w;
  }
  c->recv_left -= n;
  if (c->recv_left) return;
  if (c->recv_kind == MG_EXE) exe_done(c);
  else image_done(c);
}

/* ---- dispatch ---- */
static void on_auth(struct conn *c) {
  if (c->h.type != MG_AUTH || c->h.len != sizeof(struct _moj_auth)) {
    refuse(c, EACCES, "first message must be AUTH (%s, %u bytes)", mg_type_name(c->h.type), c->h.len);
    return;
  }
  struct _moj_auth a;
  struct _moj_auth_ok ok;
  memcpy(&a, c->pl, sizeof a);
  if (_moj_auth_server(C.secret, C.secret_len, c->snonce, &a, &ok) || _moj_cluster_find_host(&C, a.host) < 0) {
    refuse(c, EACCES, "authentication failed (bad cluster secret or unknown host '%s')", a.host);
    return;
  }
  c->authed = 1;
  snprintf(c->host, sizeof c->host, "%s", a.host);
  ok.client_id = 0;
  conn_send(c, MG_AUTH_OK, 0, 0, &ok, sizeof ok);
}

#define NEED(n) do { if (h->len != (n)) { refuse(c, EPROTO, "%s: payload %u bytes, want %zu", mg_type_name(h->type), h->len, (size_t)(n)); return; } } while (0)
static void dispatch(struct conn *c) {
  const struct _moj_hdr *h = &c->h;
  char *p = c->pl;
  if (!c->authed) { on_auth(c); return; }
  if (c->recv_kind && h->type != MG_DATA) { refuse(c, EPROTO, "%s in the middle of a transfer", mg_type_name(h->type)); return; }
  struct job *j = c->job;
  switch (h->type) {
  case MG_HAVE_EXE: {
    NEED(32);
    char path[600];
    exe_path((const uint8_t *)p, h->aux == 2 ? 2 : 1, path, sizeof path);
    conn_send(c, MG_HAVE_EXE | MG_REPLY, access(path, X_OK) ? ENOENT : 0, 0, NULL, 0);
    break;
  }
  case MG_EXE: {
    NEED(sizeof(struct mg_exe));
    struct mg_exe e;
    memcpy(&e, p, sizeof e);
    if (c->compile_pid) { refuse(c, EPROTO, "EXE while compiling the last one"); return; }
    on_exe(c, &e, (int)h->aux);
    break;
  }
  case MG_DATA: on_data(c, p, h->len); break;
  case MG_SHIP:
    if (j) { refuse(c, EPROTO, "second SHIP on one connection"); return; }
    on_ship(c, p, h->len);
    break;
  case MG_GO:
    NEED(0);
    if (!j || j->src != c || j->state != JOB_RESTORED) { refuse(c, EPROTO, "GO without a restored job"); return; }
    job_go(j);
    conn_send(c, MG_GO | MG_REPLY, 0, 0, NULL, 0);
    break;
  case MG_ABORT:
    NEED(0);
    if (j && j->src == c) job_src_gone(j);
    c->job = NULL;
    break; /* late ABORTs (after GO, or after a failure) are harmless */
  case MG_ATTACH: {
    if (h->len == 0 || h->len >= sizeof j->id || memchr(p, 0, h->len)) { refuse(c, EPROTO, "ATTACH: bad job id"); return; }
    if (j) { refuse(c, EPROTO, "second ATTACH on one connection"); return; }
    char id[64];
    memcpy(id, p, h->len);
    id[h->len] = 0;
    struct job *t = job_find(id);
    if (!t || t->state == JOB_RESTORING || t->state == JOB_RESTORED || t->state == JOB_ABORTED) {
      conn_send(c, MG_ATTACH | MG_REPLY, ENOENT, 0, NULL, 0);
    } else if (t->launcher) {
      conn_send(c, MG_ATTACH | MG_REPLY, EBUSY, 0, NULL, 0);
    } else {
      uint64_t acked;
      c->job = t;
      c->was_launcher = 1;
      job_attach(t, c, &acked);
    }
    break;
  }
  case MG_STDIN:
    if (!j && c->was_launcher) break; /* the job has ended meanwhile */
    if (!j || j->launcher != c) { refuse(c, EPROTO, "STDIN without an attached job"); return; }
    if (buf_size(&j->inq) + h->len > IN_LIMIT) { refuse(c, EPROTO, "STDIN beyond the unacknowledged window"); return; }
    job_stdin(j, p, h->len);
    break;
  case MG_STDIN_EOF:
    if (!j && c->was_launcher) break; /* the job has ended meanwhile */
    if (!j || j->launcher != c) { refuse(c, EPROTO, "STDIN_EOF without an attached job"); return; }
    job_stdin_eof(j);
    break;
  case MG_SIGNAL:
    NEED(0);
    if (!j && c->was_launcher) break; /* the job has ended meanwhile */
    if (!j || j->launcher != c) { refuse(c, EPROTO, "SIGNAL without an attached job"); return; }
    if (job_signal(j, (int)h->aux)) logm_rl("SIGNAL %u from %s refused", h->aux, c->peer);
    break;
  case MG_LIST: {
    NEED(0);
    size_t cap = 512 + (size_t)MAX_JOBS * 300;
    char *out = malloc(cap);
    if (!out) { conn_close(c, "out of memory"); return; }
    size_t n = job_list(out, cap);
    conn_send(c, MG_LIST | MG_REPLY, 0, 0, out, n);
    free(out);
    break;
  }
  case MG_MOVE: {
    NEED(sizeof(struct mg_move));
    struct mg_move m;
    memcpy(&m, p, sizeof m);
    if (!mg_str_ok(m.job, sizeof m.job) || !mg_str_ok(m.host, sizeof m.host)) { refuse(c, EPROTO, "MOVE: bad strings"); return; }
    char msg[200];
    struct job *t = job_find(m.job);
    int st = 0;
    if (_moj_cluster_find_host(&C, m.host) < 0) st = EINVAL, snprintf(msg, sizeof msg, "host %s not in cluster file", m.host);
    else if (!t || t->state != JOB_RUNNING) st = ENOENT, snprintf(msg, sizeof msg, "no running job %s on %s", m.job, self_name);
    else if (job_request(t, m.host, m.mode <= 2 ? m.mode : 0)) st = EIO, snprintf(msg, sizeof msg, "job %s cannot be asked", m.job);
    else snprintf(msg, sizeof msg, "asked job %s to migrate to %s", m.job, m.host);
    logm("MOVE from %s: %s", c->host, msg);
    conn_send(c, MG_MOVE | MG_REPLY, st, 0, msg, strlen(msg));
    break;
  }
  default:
    refuse(c, EPROTO, "unexpected message type %s", mg_type_name(h->type));
  }
}

static void on_readable(struct conn *c) {
  for (int budget = 64; budget > 0 && !c->dead; budget--) {
    ssize_t r;
    if (c->hgot < sizeof c->h) {
      r = recv(c->fd, (char *)&c->h + c->hgot, sizeof c->h - c->hgot, MSG_DONTWAIT);
    } else {
      r = recv(c->fd, c->pl + c->plgot, c->h.len - c->plgot, MSG_DONTWAIT);
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) return;
    if (r <= 0) {
      if (c->hgot || c->recv_kind) logm_rl("%s: truncated message (connection closed mid-frame)", c->peer);
      conn_close(c, r == 0 ? "peer closed" : strerror(errno));
      return;
    }
    if (c->hgot < sizeof c->h) {
      c->hgot += (size_t)r;
      if (c->hgot < sizeof c->h) continue;
      const char *why = mg_hdr_check(&c->h);
      if (why) { refuse(c, EPROTO, "%s (type %u, %u bytes)", why, c->h.type, c->h.len); return; }
      if (!c->authed && c->h.len > sizeof(struct _moj_auth)) { refuse(c, EACCES, "first message must be AUTH"); return; }
      if (c->h.len > c->plcap) {
        char *q = realloc(c->pl, c->h.len);
        if (!q) { conn_close(c, "out of memory"); return; }
        c->pl = q;
        c->plcap = c->h.len;
      }
      c->plgot = 0;
    } else {
      c->plgot += (size_t)r;
    }
    if (c->hgot == sizeof c->h && c->plgot == c->h.len) {
      c->hgot = 0;
      dispatch(c);
    }
  }
}

static void conns_tick(int64_t now) {
  for (struct conn *c = conns; c; c = c->next)
    if (!c->dead && !c->authed && now - c->t_accept > 5000) {
      logm_rl("refused %s: no AUTH within 5 s", c->peer);
      conn_close(c, "handshake timeout");
    }
}

static void free_dead(void) {
  for (struct conn **pp = &conns; *pp;) {
    struct conn *c = *pp;
    if (!c->dead) { pp = &c->next; continue; }
    *pp = c->next;
    nconns--;
    buf_free(&c->tx);
    free(c->pl);
    free(c);
  }
  job_free_dead();
}

static int listen_on(const char *addr, unsigned port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
    fprintf(stderr, "mojaved: address '%s' of host %s is not an IPv4 address\n", addr, self_name);
    exit(2);
  }
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 128)) {
    fprintf(stderr, "mojaved: cannot listen on %s:%u: %s\n", addr, port, strerror(errno));
    exit(2);
  }
  return fd;
}

static void usage(FILE *f) {
  fprintf(f,
    "usage: mojaved --cluster FILE --host NAME [--state-dir DIR] [--foreground] [--log FILE]\n"
    "               [--mojcc PATH] [--emulator CMD]\n"
    "\n"
    "The mojave migration daemon of host NAME.  It receives migrating programs\n"
    "(their executable, cached by SHA-256, and a checkpoint image), restarts them\n"
    "here under its supervision, relays their stdin/stdout/stderr, signals and\n"
    "exit status to the attached mojave-run, and answers job listings.  It\n"
    "listens on the host's cluster-file address with port + 1 (mojave-nsd owns\n"
    "the listed port).  Peers authenticate with the cluster secret.\n"
    "\n"
    "  --cluster FILE    cluster file (docs/cluster.md); also MOJAVE_CLUSTER\n"
    "  --host NAME       this daemon's host entry; also MOJAVE_HOST\n"
    "  --state-dir DIR   executable cache and job counter (default /var/tmp/mojaved-NAME)\n"
    "  --foreground      stay attached to the terminal (default: become a daemon)\n"
    "  --log FILE        append the log here (default: stderr in the foreground,\n"
    "                    DIR/mojaved.log otherwise)\n"
    "  --mojcc PATH      compiler for IR-mode migrations, which ship bitcode that is\n"
    "                    compiled here (default: mojcc in PATH; also MOJAVE_MOJCC)\n"
    "  --emulator CMD    run restored programs as CMD PROGRAM ARGS... (words split\n"
    "                    at spaces; also MOJAVED_EMULATOR).  Needed when the cluster\n"
    "                    file gives this host an architecture other than the\n"
    "                    machine's (default then: qemu-ARCH-static); IR mode then\n"
    "                    compiles for ARCH (mojcc --target=ARCH-linux-gnu)\n"
    "  --help, --version\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop the daemon and kill the programs it supervises.\n"
    "Exit status: 0 after SIGTERM/SIGINT, 2 on bad arguments or configuration.\n"
    "See docs/migration.md.\n");
}

int main(int argc, char **argv) {
  /* descriptors inherited from whoever started us are not ours, and would
   * leak into every job (where a pipe makes a later migration refuse) */
  close_range(3, ~0u, 0);
  const char *host = getenv("MOJAVE_HOST"), *logpath = NULL;
  cluster_path = getenv("MOJAVE_CLUSTER");
  int fg = 0;
  const char *emu = getenv("MOJAVED_EMULATOR");
  static struct option lo[] = {{"cluster", 1, 0, 'c'}, {"host", 1, 0, 'H'}, {"state-dir", 1, 0, 's'},
                               {"foreground", 0, 0, 'f'}, {"log", 1, 0, 'l'}, {"mojcc", 1, 0, 'm'}, {"emulator", 1, 0, 'e'}, {"help", 0, 0, 'h'},
                               {"version", 0, 0, 'V'}, {0, 0, 0, 0}};
  logf = stderr;
  int o;
  opterr = 0;
  /* the mojcc installed beside this mojaved (build tree bin/, or the install
   * prefix's bin/) compiles IR images; else one on PATH */
  static char beside[4096];
  ssize_t bl = readlink("/proc/self/exe", beside, sizeof beside - 8);
  if (bl > 0) {
    beside[bl] = 0;
    char *slash = strrchr(beside, '/');
    if (slash) {
      strcpy(slash + 1, "mojcc");
      if (access(beside, X_OK) == 0) mojcc_path = beside;
    }
  }
  if (getenv("MOJAVE_MOJCC") && *getenv("MOJAVE_MOJCC")) mojcc_path = getenv("MOJAVE_MOJCC");
  while ((o = getopt_long(argc, argv, "+c:H:s:fl:m:e:hV", lo, NULL)) != -1) {
    switch (o) {
    case 'c': cluster_path = optarg; break;
    case 'H': host = optarg; break;
    case 's': state_dir = optarg; break;
    case 'f': fg = 1; break;
    case 'l': logpath = optarg; break;
    case 'm': mojcc_path = optarg; break;
    case 'e': emu = optarg; break;
    case 'h': usage(stdout); return 0;
    case 'V': printf("mojaved (mojave) %s, wire protocol %d\n", MOJ_VERSION_STRING, MG_VERSION); return 0;
    default:
      if (optopt) fprintf(stderr, "mojaved: option '%s' needs an argument or is unknown\n", argv[optind - 1]);
      else fprintf(stderr, "mojaved: unknown option '%s'\n", argv[optind - 1]);
      fprintf(stderr, "Try 'mojaved --help'.\n");
      return 2;
    }
  }
  if (optind < argc) { fprintf(stderr, "mojaved: unexpected argument '%s'\n", argv[optind]); return 2; }
  if (!cluster_path || !host) {
    fprintf(stderr, "mojaved: need --cluster FILE and --host NAME (or MOJAVE_CLUSTER/MOJAVE_HOST)\n");
    return 2;
  }
  char err[600];
  if (_moj_cluster_load(cluster_path, &C, err, sizeof err)) { fprintf(stderr, "mojaved: %s\n", err); return 2; }
  self_idx = _moj_cluster_find_host(&C, host);
  if (self_idx < 0) { fprintf(stderr, "mojaved: host '%s' is not in %s\n", host, cluster_path); return 2; }
  self_name = C.host[self_idx].name;
  self_arch = C.host[self_idx].arch;
  static char emu_buf[1024];
  if ((!emu || !*emu) && self_arch != _moj_arch_native()) {
    /* Debian's multiarch libraries sit where qemu-user looks without -L */
    snprintf(emu_buf, sizeof emu_buf, "qemu-%s-static", _moj_arch_name(self_arch));
  } else if (emu && *emu) {
    snprintf(emu_buf, sizeof emu_buf, "%s", emu);
  }
  int nw = 0;
  for (char *w = strtok(emu_buf, " \t"); w; w = strtok(NULL, " \t")) {
    if (nw == 15) { fprintf(stderr, "mojaved: --emulator has more than 15 words\n"); return 2; }
    emulator[nw++] = w;
  }
  /* children get the cluster file by absolute path: they run in other cwds */
  static char abs_cluster[4096];
  if (realpath(cluster_path, abs_cluster)) cluster_path = abs_cluster;
  static char dflt_state[600];
  if (!state_dir) {
    snprintf(dflt_state, sizeof dflt_state, "/var/tmp/mojaved-%s", self_name);
    state_dir = dflt_state;
  }
  char exedir[700], irdir[700];
  snprintf(exedir, sizeof exedir, "%s/exe", state_dir);
  snprintf(irdir, sizeof irdir, "%s/ir", state_dir);
  mkdir(state_dir, 0700);
  mkdir(irdir, 0700);
  if (mkdir(exedir, 0700) && errno != EEXIST) {
    fprintf(stderr, "mojaved: cannot create the state directory %s: %s\n", exedir, strerror(errno));
    return 2;
  }
  static char abs_state[4096];
  if (realpath(state_dir, abs_state)) state_dir = abs_state;
  char deflog[700];
  if (!logpath && !fg) snprintf(deflog, sizeof deflog, "%s/mojaved.log", state_dir), logpath = deflog;
  if (logpath) {
    logf = fopen(logpath, "ae");
    if (!logf) { fprintf(stderr, "mojaved: cannot open log %s: %s\n", logpath, strerror(errno)); return 2; }
  }
  unsigned port = (unsigned)C.host[self_idx].port + MG_PORT_OFFSET;
  if (port > 65535) { fprintf(stderr, "mojaved: port %u of host %s + 1 is not a port\n", port - 1, self_name); return 2; }
  int lfd = listen_on(C.host[self_idx].addr, port);
  if (!fg && daemon(1, 0) < 0) { fprintf(stderr, "mojaved: daemon: %s\n", strerror(errno)); return 2; }

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  signal(SIGPIPE, SIG_IGN);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct watch wl = {W_LISTEN, NULL}, ws = {W_SIGNAL, NULL};
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &wl};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.ptr = &ws;
  epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
  logm("serving on %s:%u (state %s)", C.host[self_idx].addr, port, state_dir);
  if (emulator[0]) logm("host architecture %s: programs run under %s", _moj_arch_name(self_arch), emulator[0]);

  int64_t last_tick = 0;
  while (!stop) {
    struct epoll_event evs[64];
    int n = epoll_wait(epfd, evs, 64, 500);
    if (n < 0 && errno != EINTR) { logm("epoll_wait: %s", strerror(errno)); break; }
    for (int i = 0; i < n; i++) {
      struct watch *w = evs[i].data.ptr;
      if (w->kind == W_LISTEN) {
        accept_all(lfd);
      } else if (w->kind == W_SIGNAL) {
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si)
          if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) stop = 1;
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
          if (!job_reaped(pid, st)) compile_reaped(pid, st);
      } else if (w->kind == W_CONN) {
        struct conn *c = w->obj;
        if (c->dead) continue;
        if (evs[i].events & EPOLLOUT) conn_flush(c);
        if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(c);
      } else {
        job_event(w, evs[i].events);
      }
    }
    int64_t now = mg_now_ms();
    if (now - last_tick >= 500) {
      last_tick = now;
      conns_tick(now);
      job_tick(now);
    }
    free_dead();
  }
  logm("shutting down");
  job_shutdown();
  for (struct conn *c = conns; c; c = c->next) conn_close(c, "daemon stopping");
  free_dead();
  close(lfd);
  close(sfd);
  close(epfd);
  if (logf != stderr) fclose(logf);
  return 0;
}
