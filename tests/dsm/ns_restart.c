/* ns_restart.c — a segment homed on a delegate (h2) stays usable while a
 * nameserver (the root h1, or the delegate h2 that is the segment's home) is
 * killed -9 and restarted: attached processes keep their pages (read copies
 * and a dirty page are re-registered with a restarted home), coherence goes on,
 * and a process started after the restart resolves and attaches the key.
 *   ns_restart writer|reader|late KEY OUTDIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

static void touch(const char *out, const char *n) {
  char p[512]; snprintf(p, sizeof p, "%s/%s", out, n);
  FILE *f = fopen(p, "w"); if (f) fclose(f);
}
static int wait_file(const char *out, const char *n) {
  char p[512]; snprintf(p, sizeof p, "%s/%s", out, n);
  for (int i = 0; i < 600; i++) { if (access(p, F_OK) == 0) return 0; usleep(50000); }
  printf("FAIL timeout waiting for %s\n", n);
  return -1;
}
static int check(volatile int *m, int v) {
  for (int i = 1; i < 4 * 1024; i++) if (m[i] != v * 100000 + i) { printf("FAIL word %d = %d, want %d\n", i, m[i], v * 100000 + i); return -1; }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: ns_restart writer|reader|late KEY OUTDIR\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  const char *out = argv[3];
  int w = !strcmp(argv[1], "writer");
  if (!w && wait_file(out, "w1")) return 1;
  if (!strcmp(argv[1], "late") && wait_file(out, "w2")) return 1;
  int id = shmget(key, 4 * 4096, w ? IPC_CREAT | 0600 : 0600);
  volatile int *m = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (m == (void *)-1) { perror("FAIL shm"); return 1; }
  if (w) {
    for (int i = 1; i < 4 * 1024; i++) m[i] = 100000 + i;
    touch(out, "w1");
    if (wait_file(out, "r1")) return 1;
    m[3 * 1024 + 5] = 777; /* page 3 dirty here (only copy) across the restart */
    touch(out, "d1");
    if (wait_file(out, "go")) return 1;
    for (int i = 1; i < 4 * 1024; i++) m[i] = 200000 + i;
    touch(out, "w2");
    time_t t0 = time(NULL);
    while (m[0] < 2) if (time(NULL) - t0 > 30) { printf("FAIL writer: readers never confirmed\n"); return 1; }
  } else if (!strcmp(argv[1], "reader")) {
    if (check(m, 1)) return 1;
    touch(out, "r1");
    if (wait_file(out, "go_r")) return 1;
    if (m[3 * 1024 + 5] != 777) { printf("FAIL reader: dirty word = %d after restart, want 777\n", m[3 * 1024 + 5]); return 1; }
    touch(out, "r2");
    if (wait_file(out, "w2") || check(m, 2)) return 1;
    m[0] = m[0] + 1;
  } else {
    if (check(m, 2)) return 1;
    while (m[0] != 1) usleep(1000); /* reader first, then us: no racing increments */
    m[0] = 2;
  }
  shmdt((void *)m);
  printf("PASS ns_restart %s\n", argv[1]);
  return 0;
}
