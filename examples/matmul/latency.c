/* latency.c — DSM latency figures next to the raw TCP round trip on the same
 * link: remote read/write page faults (page at the home, page dirty at a third
 * process), write upgrade, semaphore operations.  Plain System V code run under
 * LD_PRELOAD; the daemon PING is reached through dlsym so this stays a plain-cc
 * program.
 *   latency echo PORT                          raw TCP echo server (peer host)
 *   latency owner KEY NPAGES OUTDIR            dirties pages, stays attached
 *   latency run KEY NPAGES ECHO_ADDR:PORT OUTDIR   measures, prints a table */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PG 4096
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3; }
static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static void report(const char *what, double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmpd);
  double s = 0;
  for (int i = 0; i < n; i++) s += v[i];
  printf("| %s | %d | %.1f | %.1f | %.1f |\n", what, n, v[n / 2], s / n, v[(int)(n * 0.99)]);
}
static int full(int fd, void *p, size_t n, int out) {
  char *q = p;
  while (n) { ssize_t r = out ? write(fd, q, n) : read(fd, q, n); if (r <= 0) return -1; q += r; n -= (size_t)r; }
  return 0;
}
static void flagfile(const char *d, const char *n, int create) {
  char p[512]; snprintf(p, sizeof p, "%s/%s", d, n);
  if (create) { FILE *f = fopen(p, "w"); if (f) fclose(f); return; }
  for (int i = 0; i < 1200 && access(p, F_OK); i++) usleep(25000);
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "echo")) {
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (bind(l, (struct sockaddr *)&sa, sizeof sa) || listen(l, 1)) { perror("echo"); return 1; }
    int fd = accept(l, NULL, NULL);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static char buf[PG];
    uint32_t want;
    while (full(fd, &want, 4, 0) == 0) { if (want > PG) want = PG; if (full(fd, buf, want, 1)) break; }
    return 0;
  }
  if (argc == 5 && !strcmp(argv[1], "owner")) {
    key_t key = (key_t)strtol(argv[2], NULL, 0);
    int np = atoi(argv[3]);
    int id = shmget(key, (size_t)np * PG * 4, IPC_CREAT | 0600);
    volatile char *m = shmat(id, NULL, 0);
    if (m == (void *)-1) { perror("owner shm"); return 1; }
    for (int i = 0; i < np; i++) m[(size_t)(np + i) * PG] = 1; /* region 1: dirty here for read faults */
    for (int i = 0; i < np; i++) m[(size_t)(3 * np + i) * PG] = 1; /* region 3: dirty here for write faults */
    flagfile(argv[4], "owner.ready", 1);
    flagfile(argv[4], "run.done", 0);
    shmdt((void *)m);
    return 0;
  }
  if (argc != 6 || strcmp(argv[1], "run")) { fprintf(stderr, "see banner\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  int np = atoi(argv[3]);
  double *v = calloc((size_t)np, sizeof *v);
  char host[64];
  snprintf(host, sizeof host, "%s", argv[4]);
  char *colon = strchr(host, ':');
  *colon = 0;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  inet_pton(AF_INET, host, &sa.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  for (int t = 0; connect(fd, (struct sockaddr *)&sa, sizeof sa); t++) {
    if (t > 200) { perror("connect echo"); return 1; }
    close(fd); fd = socket(AF_INET, SOCK_STREAM, 0); usleep(10000);
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  static char buf[PG];
  printf("| operation | samples | median (us) | mean (us) | p99 (us) |\n|---|---|---|---|---|\n");
  for (int rep = 0; rep < 2; rep++) {
    uint32_t want = rep ? PG : 8;
    for (int i = 0; i < np; i++) {
      double t0 = now();
      full(fd, &want, 4, 1);
      full(fd, buf, want, 0);
      v[i] = now() - t0;
    }
    report(rep ? "raw TCP round trip, 4 B out / 4 KiB back" : "raw TCP round trip, 8 B", v, np);
  }
  close(fd);
  int (*ping)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "mojave_dsm_ping");
  if (ping) {
    for (int i = 0; i < np; i++) { double t0 = now(); ping("h1"); v[i] = now() - t0; }
    report("mojave-nsd PING round trip (client runtime path)", v, np);
  }
  flagfile(argv[5], "owner.ready", 0);
  int id = shmget(key, (size_t)np * PG * 4, 0600);
  volatile char *m = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (m == (void *)-1) { perror("run shm"); return 1; }
  for (int i = 0; i < np; i++) { double t0 = now(); (void)m[(size_t)i * PG]; v[i] = now() - t0; }
  report("read fault, page at home", v, np);
  for (int i = 0; i < np; i++) { double t0 = now(); m[(size_t)i * PG] = 2; v[i] = now() - t0; }
  report("write fault, upgrade of a read copy", v, np);
  for (int i = 0; i < np; i++) { double t0 = now(); (void)m[(size_t)(np + i) * PG]; v[i] = now() - t0; }
  report("read fault, page dirty at a third host", v, np);
  for (int i = 0; i < np; i++) { double t0 = now(); m[(size_t)(2 * np + i) * PG] = 2; v[i] = now() - t0; }
  report("write fault, page at home (no copies)", v, np);
  for (int i = 0; i < np; i++) { double t0 = now(); m[(size_t)(3 * np + i) * PG] = 2; v[i] = now() - t0; }
  report("write fault, page dirty at a third host", v, np);
  int s = semget(key, 1, IPC_CREAT | 0600);
  struct sembuf vop = {0, 1, 0}, pop = {0, -1, 0};
  for (int i = 0; i < np; i++) {
    double t0 = now();
    semop(s, &vop, 1);
    double t1 = now();
    semop(s, &pop, 1);
    v[i] = (now() - t1 + t1 - t0) / 2;
  }
  report("semop V or P, uncontended (per operation)", v, np);
  semctl(s, 0, IPC_RMID);
  shmctl(id, IPC_RMID, NULL);
  shmdt((void *)m);
  flagfile(argv[5], "run.done", 1);
  return 0;
}
