/* flood.c — a hostile peer at scale against mojave-nsd (issue 9, item 6):
 * many unauthenticated connections that announce 1 MiB frames and stream
 * them, send junk, or sit idle, held open together while a legitimate client
 * must still authenticate and be served; then a churn of short connections
 * each sending junk, which must not grow the daemon's log without bound.
 * Last, more idle strangers than the daemon keeps (256): the oldest must be
 * dropped at once, a member still served, and the rest closed by the 5 s
 * handshake deadline.  Prints the daemon's VmRSS before, at the peak and
 * after, so the driver (t_flood.sh) can bound it; exits 1 if the member was
 * refused or the idle connections outlived their limits.
 *   flood CLUSTERFILE TARGETHOST MYHOST NSDPID NCONN CHURN */
#define _GNU_SOURCE
#include "cluster.h"
#include "proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct _moj_cluster C;
static int target;
static long nsd_pid;
static const char *argv_me;

static long rss_kb(void) {
  char p[64], line[256];
  snprintf(p, sizeof p, "/proc/%ld/status", nsd_pid);
  FILE *f = fopen(p, "r");
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  return kb;
}
static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
static int dial(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(C.host[target].port)};
  inet_pton(AF_INET, C.host[target].addr, &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) { close(fd); return -1; }
  return fd;
}
/* Has the daemon closed this connection (EOF or reset, without blocking)? */
static int closed_by_peer(int f) {
  char b[256];
  ssize_t k;
  while ((k = recv(f, b, sizeof b, MSG_DONTWAIT)) > 0) {}
  return k == 0 || (k < 0 && errno != EAGAIN);
}
/* A member's full exchange while the flood is held: handshake (with the
 * cluster's encryption if configured) and one PING answered in time. */
static int legit_ping(void) {
  int fd = dial();
  if (fd < 0) return -1;
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct _moj_chan ch;
  memset(&ch, 0, sizeof ch);
  int rc = _moj_auth_client_ch(fd, MOJ_MAGIC, MOJ_DSM_PROTO_VERSION, C.secret, C.secret_len, argv_me, C.encrypt, &ch);
  static uint8_t scratch[256], buf[MOJ_MAX_FRAME];
  if (!rc) rc = _moj_chan_send(fd, &ch.tx, scratch, MOJ_PING, 7, 0, 0, "ping", 4, NULL, 0);
  struct _moj_hdr h;
  const uint8_t *pl = NULL;
  if (!rc) rc = _moj_chan_recv(fd, &ch.rx, &h, buf, &pl) ? -1 : 0;
  if (!rc && (h.type != (MOJ_PING | MOJ_REPLY) || h.seq != 7 || h.len != 4 || memcmp(pl, "ping", 4))) rc = -1;
  _moj_chan_free(&ch);
  close(fd);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 7) { fprintf(stderr, "usage: flood CLUSTERFILE TARGETHOST MYHOST NSDPID NCONN CHURN\n"); return 2; }
  char err[256];
  if (_moj_cluster_load(argv[1], &C, err, sizeof err)) { printf("FAIL %s\n", err); return 1; }
  target = _moj_cluster_find_host(&C, argv[2]);
  argv_me = argv[3];
  nsd_pid = atol(argv[4]);
  int n = atoi(argv[5]), churn = atoi(argv[6]);
  long rss0 = rss_kb(), peak = rss0;
  if (legit_ping()) { printf("FAIL legitimate client refused before the flood\n"); return 1; }

  int *fd = calloc((size_t)n, sizeof *fd);
  size_t *sent = calloc((size_t)n, sizeof *sent);
  static uint8_t junk[65536];
  _moj_random(junk, sizeof junk);
  int open_ok = 0;
  for (int i = 0; i < n; i++) {
    fd[i] = dial();
    if (fd[i] < 0) continue;
    open_ok++;
    fcntl(fd[i], F_SETFL, O_NONBLOCK);
    struct _moj_hdr h;
    switch (i % 4) {
    case 0: /* an AUTH that claims the largest payload, then streams it */
      _moj_hdr_init(&h, MOJ_AUTH, MOJ_MAX_PAYLOAD, 1, 0);
      if (send(fd[i], &h, sizeof h, MSG_NOSIGNAL) < 0) {}
      break;
    case 1: /* a well-formed request before authenticating, 1 MiB long */
      _moj_hdr_init(&h, MOJ_PING, MOJ_MAX_PAYLOAD, 1, 0);
      if (send(fd[i], &h, sizeof h, MSG_NOSIGNAL) < 0) {}
      break;
    case 2: /* random bytes */
      if (send(fd[i], junk, 4096, MSG_NOSIGNAL) < 0) {}
      break;
    default: break; /* idle: only the handshake deadline (or the cap) ends it */
    }
  }
  /* push the announced megabytes for up to 3 s, sampling the daemon's RSS */
  double t0 = now_s(), last = 0;
  int dropped = 0;
  while (now_s() - t0 < 3.0) {
    int busy = 0;
    for (int i = 0; i < n; i += 1) {
      if (fd[i] < 0 || i % 4 > 1 || sent[i] >= MOJ_MAX_PAYLOAD) continue;
      size_t want = MOJ_MAX_PAYLOAD - sent[i];
      ssize_t w = send(fd[i], junk, want < sizeof junk ? want : sizeof junk, MSG_NOSIGNAL);
      if (w > 0) { sent[i] += (size_t)w; busy = 1; }
      else if (w < 0 && errno != EAGAIN) { close(fd[i]); fd[i] = -1; dropped++; }
    }
    if (now_s() - last > 0.1) {
      long r = rss_kb();
      if (r > peak) peak = r;
      last = now_s();
    }
    if (!busy) usleep(20000);
  }
  long r = rss_kb();
  if (r > peak) peak = r;
  size_t total = 0;
  for (int i = 0; i < n; i++) total += sent[i];
  int legit = legit_ping();
  /* how many of the held connections has the daemon closed by now? */
  int closed = dropped;
  for (int i = 0; i < n; i++)
    if (fd[i] >= 0 && closed_by_peer(fd[i])) closed++;
  for (int i = 0; i < n; i++) if (fd[i] >= 0) close(fd[i]);
  usleep(500000);
  long rss1 = rss_kb();
  printf("flood: %d connections held (%d opened), %zu bytes pushed, %d closed by the daemon; "
         "daemon VmRSS before %ld kB, peak %ld kB (+%ld kB), after %ld kB; legitimate client %s\n",
         n, open_ok, total, closed, rss0, peak, peak - rss0, rss1, legit ? "FAILED" : "served");
  printf("rss_delta_kb %ld\n", peak - rss0);

  /* churn: short connections, each sending junk then leaving */
  double c0 = now_s();
  int made = 0;
  for (int i = 0; i < churn; i++) {
    int f = dial();
    if (f < 0) continue;
    made++;
    struct _moj_hdr h;
    _moj_hdr_init(&h, (uint16_t)(i % 2 ? MOJ_SHMGET : 999), 8, 1, 0);
    if (i % 3 == 0) h.magic = 0xdeadbeef;
    if (send(f, &h, sizeof h, MSG_NOSIGNAL) < 0 || send(f, junk, 8, MSG_NOSIGNAL) < 0) {}
    close(f);
  }
  printf("churn: %d junk connections in %.1f s\n", made, now_s() - c0);
  if (legit_ping()) { printf("FAIL legitimate client refused after the churn\n"); return 1; }
  if (legit) { printf("FAIL legitimate client refused during the flood\n"); return 1; }

  /* idle strangers: 300 > 256 */
  int idle = 300, bad = 0;
  for (int i = 0; i < idle; i++) fd[i] = dial();
  /* the daemon accepts in order (perhaps slowly on a loaded machine): wait
   * up to 5 s, within the handshake deadline, for the oldest to be dropped */
  int early = 0, late = 0;
  for (int tries = 0; tries < 50 && early < idle - 256; tries++) {
    usleep(100000);
    early = late = 0;
    for (int i = 0; i < idle; i++) {
      if (fd[i] < 0 || !closed_by_peer(fd[i])) continue;
      if (i < idle - 256) early++; else late++;
    }
  }
  printf("idle: %d connections, %d of the oldest %d closed at once, %d of the newest 256\n", idle, early, idle - 256, late);
  if (early < idle - 256 || late > 4) bad = 1;
  if (legit_ping()) { printf("FAIL legitimate client refused among idle strangers\n"); return 1; }
  sleep(7); /* all were accepted by now (the cap acted): 5 s deadline, scanned twice a second */
  int open_left = 0;
  for (int i = 0; i < idle; i++) {
    if (fd[i] >= 0 && !closed_by_peer(fd[i])) open_left++;
    if (fd[i] >= 0) close(fd[i]);
  }
  printf("idle: %d still open 7 s later\n", open_left);
  if (open_left) bad = 1;
  if (bad) { printf("FAIL idle strangers outlived the cap or the handshake deadline\n"); return 1; }
  printf("flood done\n");
  return 0;
}
