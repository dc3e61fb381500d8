/* nsd_dial.c — dialling another daemon without stopping the loop.
 *
 * The total order's links (nsd_order.c) are dialled by every daemon to every
 * other, and the member handshake is blocking code (proto.c: up to a second
 * per step).  Run inside the epoll loop it froze the daemon for that long:
 * two daemons dialling each other each waited for an answer while answering
 * nobody, and under load four of them could keep each other's handshakes
 * timing out for minutes (dsm_otx_bank hung about one run in nine with both
 * cores busy).  So each dial runs on a short-lived thread of its own, with
 * every signal blocked, that connects, authenticates and writes the outcome
 * into a pipe the loop watches; the loop adopts the connection (or logs the
 * failure) as if it had dialled itself.  The thread touches nothing of the
 * daemon's: it gets copies of the address, the host name and the secret. */
#include "nsd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct dial_job {
  int k;
  nsd_dial_done_fn *done;
  struct _moj_host peer;
  char self[sizeof C.host[0].name];
  char secret[sizeof C.secret];
  size_t secret_len;
  int encrypt;
};
/* written whole into the pipe (far below PIPE_BUF: one write, one read) */
struct dial_result {
  int k, fd, ar;
  nsd_dial_done_fn *done;
  struct _moj_chan ch;
};

static int pipefd[2] = {-1, -1};

static void *dial_main(void *p) {
  struct dial_job *j = p;
  struct dial_result r = {.k = j->k, .fd = -1, .ar = -1, .done = j->done};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(j->peer.port)};
  if (fd >= 0 && inet_pton(AF_INET, j->peer.addr, &a.sin_addr) == 1) {
    int c = connect(fd, (struct sockaddr *)&a, sizeof a);
    if (c < 0 && errno == EINPROGRESS) {
      struct pollfd pf = {fd, POLLOUT, 0};
      int e = 0;
      socklen_t el = sizeof e;
      if (poll(&pf, 1, 200) == 1 && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) && !e) c = 0;
    }
    if (c == 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      struct timeval tv = {1, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      r.ar = _moj_auth_client_ch(fd, MOJ_MAGIC, MOJ_DSM_PROTO_VERSION, j->secret, j->secret_len, j->self, j->encrypt,
                                 &r.ch);
      struct timeval none = {0, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
      r.fd = fd;
      fd = -1;
    }
  }
  if (fd >= 0) close(fd);
  memset(j->secret, 0, sizeof j->secret);
  free(j);
  ssize_t w;
  do w = write(pipefd[1], &r, sizeof r);
  while (w < 0 && errno == EINTR);
  if (w != (ssize_t)sizeof r) { /* cannot happen with a live loop; never leak the socket */
    _moj_chan_free(&r.ch);
    if (r.fd >= 0) close(r.fd);
  }
  return NULL;
}

static void on_result(struct moj_ae *ae, int fd, void *data, int mask) {
  (void)ae; (void)data; (void)mask;
  struct dial_result r;
  for (;;) {
    ssize_t n = read(fd, &r, sizeof r);
    if (n < 0 && errno == EINTR) continue;
    if (n != (ssize_t)sizeof r) return; /* EAGAIN: all taken */
    r.done(r.k, r.fd, r.ar, &r.ch);
  }
}

int nsd_dial_start(int k, nsd_dial_done_fn *done) {
  if (pipefd[0] < 0) {
    if (pipe2(pipefd, O_CLOEXEC) < 0) return -1;
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    if (_moj_ae_add(&nsd_loop, pipefd[0], MOJ_AE_READ, on_result, NULL) < 0) {
      close(pipefd[0]); close(pipefd[1]);
      pipefd[0] = pipefd[1] = -1;
      return -1;
    }
  }
  struct dial_job *j = calloc(1, sizeof *j);
  if (!j) return -1;
  j->k = k;
  j->done = done;
  j->peer = C.host[k];
  snprintf(j->self, sizeof j->self, "%s", C.host[self_idx].name);
  memcpy(j->secret, C.secret, sizeof j->secret);
  j->secret_len = C.secret_len;
  j->encrypt = C.encrypt;
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&at, 256 << 10);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  int rc = pthread_create(&t, &at, dial_main, j);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&at);
  if (rc) { memset(j->secret, 0, sizeof j->secret); free(j); return -1; }
  return 0;
}
