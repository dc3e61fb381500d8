/* migrate/wire.c — framing, deadline-bounded socket I/O, dialling mojaved and
 * control-socket packets for the migration transport (wire.h).  Linked into
 * libmojave (so it runs inside applications: raw syscalls for I/O, because
 * the runtime and the DSM client interpose write/send; errno is the caller's
 * business) and into mojaved / mojave-run. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"

void mg_hdr_init(struct _moj_hdr *h, uint16_t type, uint32_t len, int32_t status, uint32_t aux) {
  _moj_hdr_init_as(h, MG_MAGIC, MG_VERSION, type, len, 0, status);
  h->aux = aux;
}

const char *mg_type_name(unsigned t) {
  switch (t & ~MG_REPLY) {
  case MG_HELLO: return "HELLO"; case MG_AUTH: return "AUTH"; case MG_AUTH_OK: return "AUTH_OK";
  case MG_ERROR: return "ERROR"; case MG_HAVE_EXE: return "HAVE_EXE"; case MG_EXE: return "EXE";
  case MG_DATA: return "DATA"; case MG_SHIP: return "SHIP"; case MG_RESTORED: return "RESTORED";
  case MG_GO: return "GO"; case MG_ABORT: return "ABORT"; case MG_ATTACH: return "ATTACH";
  case MG_OUT: return "OUT"; case MG_STDIN: return "STDIN"; case MG_STDIN_EOF: return "STDIN_EOF";
  case MG_STDIN_ACK: return "STDIN_ACK"; case MG_SIGNAL: return "SIGNAL"; case MG_EXIT: return "EXIT";
  case MG_MOVED: return "MOVED"; case MG_PROGRESS: return "PROGRESS"; case MG_FAILED: return "FAILED";
  case MG_LIST: return "LIST"; case MG_MOVE: return "MOVE"; case MG_READY: return "READY";
  case MG_REQUEST: return "REQUEST";
  default: return NULL;
  }
}

const char *mg_hdr_check(const struct _moj_hdr *h) {
  const char *why = _moj_hdr_check_as(h, MG_MAGIC, MG_VERSION, MG_MAX_PAYLOAD);
  if (why) return why;
  if (!mg_type_name(h->type)) return "unknown message type";
  return NULL;
}

int mg_str_ok(const char *s, size_t n) { return n && s[0] && memchr(s, 0, n) != NULL; }

int64_t mg_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for `ev` or the deadline passes. */
static int wait_fd(int fd, short ev, int64_t deadline) {
  for (;;) {
    int tmo = -1;
    if (deadline >= 0) {
      int64_t left = deadline - mg_now_ms();
      if (left <= 0) { errno = ETIMEDOUT; return -1; }
      tmo = left > 1000000 ? 1000000 : (int)left;
    }
    struct pollfd p = {fd, ev, 0};
    int r = poll(&p, 1, tmo);
    if (r > 0) return 0;
    if (r < 0 && errno != EINTR) return -1;
  }
}

int mg_write_by(int fd, const void *buf, size_t n, int64_t deadline) {
  const char *p = buf;
  while (n) {
    if (wait_fd(fd, POLLOUT, deadline)) return -1;
    long r = syscall(SYS_sendto, fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT, NULL, 0);
    if (r < 0 && errno == ENOTSOCK) r = syscall(SYS_write, fd, p, n);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    p += r; n -= (size_t)r;
  }
  return 0;
}

int mg_read_by(int fd, void *buf, size_t n, int64_t deadline) {
  char *p = buf;
  while (n) {
    if (wait_fd(fd, POLLIN, deadline)) return -1;
    long r = syscall(SYS_recvfrom, fd, p, n, MSG_DONTWAIT, NULL, NULL);
    if (r < 0 && errno == ENOTSOCK) r = syscall(SYS_read, fd, p, n);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    if (r == 0) { errno = EPIPE; return -1; }
    p += r; n -= (size_t)r;
  }
  return 0;
}

int mg_send(int fd, uint16_t type, int32_t status, uint32_t aux, const void *p, size_t n, int64_t deadline) {
  struct _moj_hdr h;
  mg_hdr_init(&h, type, (uint32_t)n, status, aux);
  if (mg_write_by(fd, &h, sizeof h, deadline)) return -1;
  return n ? mg_write_by(fd, p, n, deadline) : 0;
}

int mg_recv(int fd, struct _moj_hdr *h, void *buf, size_t cap, int64_t deadline, const char **why) {
  *why = NULL;
  if (mg_read_by(fd, h, sizeof *h, deadline)) return -1;
  if ((*why = mg_hdr_check(h)) || h->len > cap) {
    if (!*why) *why = "reply larger than expected";
    errno = EPROTO;
    return -1;
  }
  return h->len ? mg_read_by(fd, buf, h->len, deadline) : 0;
}

int mg_dial(const struct _moj_cluster *c, const char *name, const char *self, int64_t deadline, char *reason,
            size_t rlen) {
  int hi = _moj_cluster_find_host(c, name);
  if (hi < 0) {
    snprintf(reason, rlen, "host %s not in cluster file", name);
    errno = ENOENT;
    return -1;
  }
  if (!self || !*self) self = getenv("MOJAVE_HOST");
  char hn[64];
  if ((!self || !*self) && gethostname(hn, sizeof hn) == 0) {
    hn[sizeof hn - 1] = 0;
    self = hn;
  }
  /* the name is informational (the secret authenticates): a launcher on a
   * machine outside the host list speaks as the first host */
  if (!self || _moj_cluster_find_host(c, self) < 0) self = c->host[0].name;
  const struct _moj_host *h = &c->host[hi];
  unsigned port = (unsigned)h->port + MG_PORT_OFFSET;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, h->addr, &sa.sin_addr) != 1) {
    snprintf(reason, rlen, "host %s: address '%s' is not an IPv4 address", name, h->addr);
    errno = EINVAL;
    return -1;
  }
  int fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    snprintf(reason, rlen, "socket: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  _moj_sock_liveness(fd);
  int e = 0;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    e = errno;
    if (e == EINPROGRESS) {
      socklen_t el = sizeof e;
      e = wait_fd(fd, POLLOUT, deadline) ? errno : 0;
      if (!e && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0) e = errno;
    }
  }
  if (e) {
    if (e == ECONNREFUSED) snprintf(reason, rlen, "connection refused by %s (%s:%u)", name, h->addr, port);
    else snprintf(reason, rlen, "cannot reach %s (%s:%u): %s", name, h->addr, port, strerror(e));
    close(fd);
    errno = e;
    return -1;
  }
  /* The handshake is the DSM's blocking helper; bound it with socket timeouts. */
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  int64_t left = deadline < 0 ? 10000 : deadline - mg_now_ms();
  if (left < 1) left = 1;
  struct timeval tv = {left / 1000, (left % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int auth = _moj_auth_client(fd, MG_MAGIC, MG_VERSION, c->secret, c->secret_len, self);
  if (auth) {
    if (auth == MOJ_AUTH_BAD_GREETING)
      snprintf(reason, rlen, "%s (%s:%u) is not a mojaved (bad greeting)", name, h->addr, port);
    else if (auth == MOJ_AUTH_REFUSED)
      snprintf(reason, rlen, "authentication failed: wrong secret (refused by %s)", name);
    else snprintf(reason, rlen, "authentication failed: %s does not know the cluster secret", name);
    close(fd);
    errno = EACCES;
    return -1;
  }
  struct timeval zero = {0, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof zero);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof zero);
  return fd;
}

int mg_pkt_send(int fd, uint16_t type, int32_t status, uint32_t aux, const void *p, size_t n) {
  char buf[sizeof(struct _moj_hdr) + 1024];
  if (n > sizeof buf - sizeof(struct _moj_hdr)) { errno = EMSGSIZE; return -1; }
  struct _moj_hdr h;
  mg_hdr_init(&h, type, (uint32_t)n, status, aux);
  memcpy(buf, &h, sizeof h);
  if (n) memcpy(buf + sizeof h, p, n);
  for (;;) {
    long r = syscall(SYS_sendto, fd, buf, sizeof h + n, MSG_NOSIGNAL, NULL, 0);
    if (r >= 0) return 0;
    if (errno != EINTR) return -1;
  }
}

int mg_pkt_recv(int fd, struct _moj_hdr *h, void *buf, size_t cap, int nonblock) {
  char pkt[sizeof(struct _moj_hdr) + 1024];
  for (;;) {
    long r = syscall(SYS_recvfrom, fd, pkt, sizeof pkt, nonblock ? MSG_DONTWAIT : 0, NULL, NULL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) { errno = EPIPE; return -1; }
    if ((size_t)r < sizeof *h) { errno = EPROTO; return -1; }
    memcpy(h, pkt, sizeof *h);
    if (mg_hdr_check(h) || h->len != (size_t)r - sizeof *h || h->len > cap) { errno = EPROTO; return -1; }
    if (h->len) memcpy(buf, pkt + sizeof *h, h->len);
    return 0;
  }
}
