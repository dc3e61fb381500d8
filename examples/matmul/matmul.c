/* matmul.c — the paper's Figure 3 benchmark: naive n x n matrix multiplication
 * with the result split into four equal submatrices (row strips), computed by
 * four workers in four versions:
 *   threads N                 pthreads in one process (time: thread start..join)
 *   shm N                     4 forked processes, local System V shm (time incl. fork)
 *   copies N                  control: 4 forked processes, each copying A and B into
 *                             private memory first, as 4 hosts hold 4 copies (time incl.
 *                             fork and copy); shows what 4 copies cost in the shared
 *                             caches of one machine, without any network
 *   msg-worker ADDR:PORT      message passing over TCP: a worker serving one strip
 *   msg-master N H:P x4       master ships A strip + B, collects C strips
 *   dsm-init KEY N            DSM: create + fill the segment (run under LD_PRELOAD)
 *   dsm-work KEY N Q          DSM: compute strip Q (one process per host)
 *   dsm-check KEY N           DSM: verify C, remove the segment
 * threads/shm print "wall CPU" seconds (CPU of the computing threads/children).
 * MATMUL_TIMING=1 makes dsm-work report its strip time (faults included).
 * Plain C + System V IPC: the DSM version is the shm version's code unchanged,
 * run on four hosts under LD_PRELOAD=libmojave_ipc.so. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int n;
/* CPU seconds (user + system) of this process or of its waited-for children */
static double cpu(int who) {
  struct rusage r;
  getrusage(who, &r);
  return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (double)t.tv_sec + (double)t.tv_nsec / 1e9; }
static void fill(double *a, double *b) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) { a[(size_t)i * n + j] = (i + j) % 7 - 3; b[(size_t)i * n + j] = (i * j) % 5 - 2; }
}
/* naive: one row of A and one column of B per element, as in the paper */
static void strip(const double *a, const double *b, double *c, int q) {
  int lo = q * n / 4, hi = (q + 1) * n / 4;
  for (int i = lo; i < hi; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int k = 0; k < n; k++) s += a[(size_t)i * n + k] * b[(size_t)k * n + j];
      c[(size_t)i * n + j] = s;
    }
}
static int verify(const double *c) {
  for (int t = 0; t < 200; t++) {
    int i = (int)((unsigned)(t * 7919) % (unsigned)n), j = (int)((unsigned)(t * 104729 + 13) % (unsigned)n);
    double s = 0;
    for (int k = 0; k < n; k++) s += (double)((i + k) % 7 - 3) * (double)((k * j) % 5 - 2);
    if (c[(size_t)i * n + j] != s) { fprintf(stderr, "matmul: wrong C[%d][%d] = %g, want %g\n", i, j, c[(size_t)i * n + j], s); return 1; }
  }
  return 0;
}

struct targ { double *a, *b, *c; int q; };
static void *tmain(void *p) { struct targ *t = p; strip(t->a, t->b, t->c, t->q); return NULL; }

static int run_threads(void) {
  size_t sz = (size_t)n * n * sizeof(double);
  double *a = malloc(sz), *b = malloc(sz), *c = malloc(sz);
  fill(a, b);
  double t0 = now(), c0 = cpu(RUSAGE_SELF);
  pthread_t th[4];
  struct targ ta[4];
  for (int q = 0; q < 4; q++) { ta[q] = (struct targ){a, b, c, q}; pthread_create(&th[q], NULL, tmain, &ta[q]); }
  for (int q = 0; q < 4; q++) pthread_join(th[q], NULL);
  printf("%.3f %.3f\n", now() - t0, cpu(RUSAGE_SELF) - c0); /* wall, CPU */
  return verify(c);
}

/* private != 0: the "copies" control — each worker reads its own copy of A and B */
static int run_shm(int private) {
  size_t sz = (size_t)n * n * sizeof(double);
  int id = shmget(IPC_PRIVATE, 3 * sz, IPC_CREAT | 0600);
  double *a = shmat(id, NULL, 0);
  if (a == (void *)-1) { perror("shm"); return 1; }
  shmctl(id, IPC_RMID, NULL);
  double *b = a + (size_t)n * n, *c = b + (size_t)n * n;
  fill(a, b);
  double t0 = now();
  for (int q = 0; q < 4; q++)
    if (fork() == 0) {
      double *pa = a, *pb = b, c0 = cpu(RUSAGE_SELF);
      if (private) {
        pa = malloc(sz); pb = malloc(sz);
        if (!pa || !pb) _exit(1);
        memcpy(pa, a, sz);
        memcpy(pb, b, sz);
      }
      double c1 = cpu(RUSAGE_SELF);
      strip(pa, pb, c, q);
      if (getenv("MATMUL_TIMING")) fprintf(stderr, "worker %d CPU: copy %.3f s, work %.3f s\n", q, c1 - c0, cpu(RUSAGE_SELF) - c1);
      _exit(0);
    }
  for (int q = 0; q < 4; q++) wait(NULL);
  printf("%.3f %.3f\n", now() - t0, cpu(RUSAGE_CHILDREN)); /* wall, CPU of the 4 workers */
  return verify(c);
}

static int xfer(int fd, void *p, size_t len, int out) {
  char *q = p;
  while (len) {
    ssize_t r = out ? write(fd, q, len) : read(fd, q, len);
    if (r <= 0) { if (r < 0 && errno == EINTR) continue; return -1; }
    q += r; len -= (size_t)r;
  }
  return 0;
}
static int run_msg_worker(const char *hostport) {
  int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  char h[64];
  snprintf(h, sizeof h, "%s", hostport);
  char *colon = strchr(h, ':');
  if (!colon) return 2;
  *colon = 0;
  /* bound to the host's own address: in loopback mode all workers share one port space */
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  inet_pton(AF_INET, h, &sa.sin_addr);
  if (bind(l, (struct sockaddr *)&sa, sizeof sa) || listen(l, 1)) { perror("worker listen"); return 1; }
  int fd = accept(l, NULL, NULL);
  int hdr[2];
  if (xfer(fd, hdr, sizeof hdr, 0)) return 1;
  n = hdr[0];
  int q = hdr[1], rows = (q + 1) * n / 4 - q * n / 4;
  size_t sz = (size_t)n * n * sizeof(double);
  double *a = calloc(1, sz), *b = malloc(sz), *c = calloc(1, sz);
  size_t lo = (size_t)(q * n / 4) * n;
  if (xfer(fd, a + lo, (size_t)rows * n * sizeof(double), 0) || xfer(fd, b, sz, 0)) return 1;
  strip(a, b, c, q);
  if (xfer(fd, c + lo, (size_t)rows * n * sizeof(double), 1)) return 1;
  close(fd);
  return 0;
}
static int run_msg_master(char **hosts) {
  size_t sz = (size_t)n * n * sizeof(double);
  double *a = malloc(sz), *b = malloc(sz), *c = malloc(sz);
  fill(a, b);
  double t0 = now();
  int fd[4];
  for (int q = 0; q < 4; q++) {
    char h[64];
    snprintf(h, sizeof h, "%s", hosts[q]);
    char *colon = strchr(h, ':');
    *colon = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, h, &sa.sin_addr);
    fd[q] = socket(AF_INET, SOCK_STREAM, 0);
    for (int tries = 0; connect(fd[q], (struct sockaddr *)&sa, sizeof sa); tries++) {
      if (tries > 200) { perror("master connect"); return 1; }
      close(fd[q]); fd[q] = socket(AF_INET, SOCK_STREAM, 0); usleep(10000);
    }
  }
  for (int q = 0; q < 4; q++) {
    int hdr[2] = {n, q}, rows = (q + 1) * n / 4 - q * n / 4;
    if (xfer(fd[q], hdr, sizeof hdr, 1) || xfer(fd[q], a + (size_t)(q * n / 4) * n, (size_t)rows * n * sizeof(double), 1) ||
        xfer(fd[q], b, sz, 1)) return 1;
  }
  for (int q = 0; q < 4; q++) {
    int rows = (q + 1) * n / 4 - q * n / 4;
    if (xfer(fd[q], c + (size_t)(q * n / 4) * n, (size_t)rows * n * sizeof(double), 0)) return 1;
  }
  printf("%.3f\n", now() - t0);
  return verify(c);
}

static double *dsm_attach(key_t key, int create) {
  size_t sz = (size_t)n * n * sizeof(double);
  int id = shmget(key, 3 * sz, create ? IPC_CREAT | 0600 : 0600);
  double *a = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (a == (void *)-1) { perror("matmul dsm shm"); exit(1); }
  return a;
}

int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "threads")) { n = atoi(argv[2]); return run_threads(); }
  if (argc >= 3 && !strcmp(argv[1], "shm")) { n = atoi(argv[2]); return run_shm(0); }
  if (argc >= 3 && !strcmp(argv[1], "copies")) { n = atoi(argv[2]); return run_shm(1); }
  if (argc >= 3 && !strcmp(argv[1], "msg-worker")) return run_msg_worker(argv[2]);
  if (argc >= 7 && !strcmp(argv[1], "msg-master")) { n = atoi(argv[2]); return run_msg_master(argv + 3); }
  if (argc >= 4 && !strncmp(argv[1], "dsm-", 4)) {
    key_t key = (key_t)strtol(argv[2], NULL, 0);
    n = atoi(argv[3]);
    double c0 = cpu(RUSAGE_SELF);
    double *a = dsm_attach(key, !strcmp(argv[1], "dsm-init"));
    double c1 = cpu(RUSAGE_SELF), c2 = c1;
    double *b = a + (size_t)n * n, *c = b + (size_t)n * n;
    if (!strcmp(argv[1], "dsm-init")) fill(a, b);
    else if (!strcmp(argv[1], "dsm-work") && argc >= 5) {
      double t0 = now();
      strip(a, b, c, atoi(argv[4]));
      c2 = cpu(RUSAGE_SELF);
      if (getenv("MATMUL_TIMING")) fprintf(stderr, "strip %s: %.3f s (faults included)\n", argv[4], now() - t0);
    }
    else if (!strcmp(argv[1], "dsm-check")) {
      int rc = verify(c);
      shmctl(shmget(key, 0, 0600), IPC_RMID, NULL);
      shmdt(a);
      return rc;
    }
    shmdt(a);
    if (getenv("MATMUL_TIMING"))
      fprintf(stderr, "%s CPU: start+attach %.3f s, work %.3f s, detach %.3f s\n", argv[1], c1, c2 - c1, cpu(RUSAGE_SELF) - c2);
    return 0;
  }
  fprintf(stderr, "usage: see the banner of matmul.c\n");
  return 2;
}
