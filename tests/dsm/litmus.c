/* litmus.c — sequential-consistency litmus tests over the DSM, one process per
 * host.  Role 0 coordinates (resets x and y, releases each round with one atomic
 * semop, waits for all); roles 1..k run the litmus threads with a random delay so
 * rounds interleave differently.  Observations are written to OUTDIR and the
 * `check` mode counts outcomes; any SC-forbidden outcome fails the test.
 *   litmus run TEST KEY ROLE ITERS OUTDIR     TEST = sb | mp | lb | iriw | 2+2w
 *   litmus check TEST ITERS OUTDIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

struct area { char p0[4096]; volatile int x; char p1[4092]; volatile int y; char p2[4092]; };

static int nthreads(const char *t) { return strcmp(t, "iriw") ? 2 : 4; }

static void jitter(unsigned *seed) {
  int n = rand_r(seed) % 4000;
  for (volatile int i = 0; i < n; i++) {}
}

static int run(const char *t, key_t key, int role, int iters, const char *out) {
  int k = nthreads(t), sem;
  if (role == 0) {
    sem = semget(key, k + 1, IPC_CREAT | IPC_EXCL | 0600);
  } else {
    for (int i = 0; i < 3000 && (sem = semget(key, k + 1, 0600)) < 0 && errno == ENOENT; i++) usleep(10000);
  }
  if (sem < 0) { perror("FAIL semget"); return 1; }
  int id = shmget(key, sizeof(struct area), IPC_CREAT | 0600);
  struct area *a = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (a == (void *)-1) { perror("FAIL shm"); return 1; }
  signed char *res = calloc((size_t)iters, 4);
  unsigned seed = (unsigned)getpid() * 2654435761u;
  struct sembuf go[5], wait_done = {0, (short)-k, 0}, mine = {(unsigned short)role, -1, 0}, done = {0, 1, 0};
  for (int j = 0; j < k; j++) go[j] = (struct sembuf){(unsigned short)(j + 1), 1, 0};
  for (int i = 0; i < iters; i++) {
    if (role == 0) {
      a->x = 0;
      a->y = 0;
      if (semop(sem, go, (size_t)k) || semop(sem, &wait_done, 1)) { perror("FAIL semop"); return 1; }
      if (!strcmp(t, "2+2w")) { res[4 * i] = (signed char)a->x; res[4 * i + 1] = (signed char)a->y; }
      continue;
    }
    if (semop(sem, &mine, 1)) { perror("FAIL semop"); return 1; }
    jitter(&seed);
    signed char *r = &res[4 * i];
    if (!strcmp(t, "sb")) {
      if (role == 1) { a->x = 1; r[0] = (signed char)a->y; }
      else { a->y = 1; r[0] = (signed char)a->x; }
    } else if (!strcmp(t, "mp")) {
      if (role == 1) { a->x = 1; a->y = 1; }
      else { r[0] = (signed char)a->y; r[1] = (signed char)a->x; }
    } else if (!strcmp(t, "lb")) {
      if (role == 1) { r[0] = (signed char)a->x; a->y = 1; }
      else { r[0] = (signed char)a->y; a->x = 1; }
    } else if (!strcmp(t, "iriw")) {
      if (role == 1) a->x = 1;
      else if (role == 2) a->y = 1;
      else if (role == 3) { r[0] = (signed char)a->x; r[1] = (signed char)a->y; }
      else { r[0] = (signed char)a->y; r[1] = (signed char)a->x; }
    } else if (!strcmp(t, "2+2w")) {
      if (role == 1) { a->x = 1; a->y = 2; }
      else { a->y = 1; a->x = 2; }
    }
    if (semop(sem, &done, 1)) { perror("FAIL semop"); return 1; }
  }
  char path[512];
  snprintf(path, sizeof path, "%s/%s.%d", out, t, role);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(res, 4, (size_t)iters, f) != (size_t)iters || fclose(f)) { perror("FAIL write results"); return 1; }
  if (role == 0) { semctl(sem, 0, IPC_RMID); shmctl(id, IPC_RMID, NULL); }
  shmdt((void *)a);
  return 0;
}

static signed char *load(const char *out, const char *t, int role, int iters) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.%d", out, t, role);
  signed char *r = malloc((size_t)iters * 4);
  FILE *f = fopen(path, "rb");
  if (!f || fread(r, 4, (size_t)iters, f) != (size_t)iters) { printf("FAIL cannot read %s\n", path); exit(1); }
  fclose(f);
  return r;
}

static int check(const char *t, int iters, const char *out) {
  int hist[16] = {0}, forbidden = 0;
  signed char *c = load(out, t, 0, iters), *p1 = load(out, t, 1, iters), *p2 = load(out, t, 2, iters);
  signed char *p3 = NULL, *p4 = NULL;
  if (!strcmp(t, "iriw")) { p3 = load(out, t, 3, iters); p4 = load(out, t, 4, iters); }
  for (int i = 0; i < iters; i++) {
    int o, bad;
    if (!strcmp(t, "sb")) { o = p1[4 * i] * 2 + p2[4 * i]; bad = o == 0; }
    else if (!strcmp(t, "mp")) { o = p2[4 * i] * 2 + p2[4 * i + 1]; bad = o == 2; }            /* y=1, x=0 */
    else if (!strcmp(t, "lb")) { o = p1[4 * i] * 2 + p2[4 * i]; bad = o == 3; }
    else if (!strcmp(t, "iriw")) { o = p3[4 * i] * 8 + p3[4 * i + 1] * 4 + p4[4 * i] * 2 + p4[4 * i + 1]; bad = o == 10; }
    else { o = (c[4 * i] - 1) * 2 + (c[4 * i + 1] - 1); bad = c[4 * i] == 1 && c[4 * i + 1] == 1; if (o < 0 || o > 3) o = 15; }
    if (o < 0 || o > 15) o = 15;
    hist[o]++;
    forbidden += bad;
  }
  printf("litmus %s: %d iterations, outcome histogram:", t, iters);
  for (int o = 0; o < 16; o++) if (hist[o]) printf(" [%d]=%d", o, hist[o]);
  printf("\nlitmus %s: forbidden outcomes: %d\n", t, forbidden);
  if (forbidden) { printf("FAIL litmus %s\n", t); return 1; }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 7 && !strcmp(argv[1], "run"))
    return run(argv[2], (key_t)strtol(argv[3], NULL, 0), atoi(argv[4]), atoi(argv[5]), argv[6]);
  if (argc == 5 && !strcmp(argv[1], "check")) return check(argv[2], atoi(argv[3]), argv[4]);
  fprintf(stderr, "usage: litmus run TEST KEY ROLE ITERS OUTDIR | litmus check TEST ITERS OUTDIR\n");
  return 2;
}
