/* crash.c — kill -9 of a participant.  The victim takes the mutex semaphore
 * (SEM_UNDO), becomes the only holder of page 0, signals readiness and waits to
 * be killed.  Survivors block on the mutex; after the kill they must get it
 * (SEM_UNDO applied by the home) within 2 s, get SIGBUS within 2 s when touching
 * the page that died with the victim, and find their own pages intact.
 *   crash victim KEY NSURV OUTDIR      crash survivor KEY INDEX OUTDIR */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
static sigjmp_buf jb;
static void on_bus(int s) { (void)s; siglongjmp(jb, 1); }
static double now(void) { struct timespec t; clock_gettime(CLOCK_REALTIME, &t); return (double)t.tv_sec + (double)t.tv_nsec / 1e9; }
static int op(int s, int n, int v, int fl) { struct sembuf b = {(unsigned short)n, (short)v, (short)fl}; return semop(s, &b, 1); }

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: crash victim KEY NSURV OUTDIR | survivor KEY INDEX OUTDIR\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  int arg = atoi(argv[3]);
  const char *out = argv[4];
  int sem, shm;
  if (!strcmp(argv[1], "survivor") && arg == 1) {
    sem = semget(key, 2, IPC_CREAT | IPC_EXCL | 0600);
    unsigned short init[2] = {1, 0};
    if (sem < 0 || semctl(sem, 0, SETALL, init)) { perror("FAIL sem create"); return 1; }
  } else {
    for (int i = 0; i < 3000 && (sem = semget(key, 2, 0600)) < 0 && errno == ENOENT; i++) usleep(10000);
    if (sem < 0) { perror("FAIL semget"); return 1; }
  }
  shm = shmget(key, 8 * PAGE, IPC_CREAT | 0600);
  volatile char *m = shm < 0 ? (void *)-1 : shmat(shm, NULL, 0);
  if (m == (void *)-1) { perror("FAIL shm"); return 1; }
  if (!strcmp(argv[1], "victim")) {
    if (op(sem, 0, -1, SEM_UNDO)) { perror("FAIL victim P"); return 1; }
    memset((char *)m, 'V', PAGE); /* page 0: only copy will be here */
    if (op(sem, 1, arg, 0)) { perror("FAIL victim ready"); return 1; }
    char p[512];
    snprintf(p, sizeof p, "%s/victim.ready", out);
    FILE *f = fopen(p, "w"); /* our pid: the driver kills exactly this process */
    if (f) { fprintf(f, "%d\n", (int)getpid()); fclose(f); }
    for (;;) pause();
  }
  int me = arg;
  for (int i = 0; i < PAGE; i++) m[me * PAGE + i] = (char)('a' + me);
  if (op(sem, 1, -1, 0)) { perror("FAIL wait ready"); return 1; }
  /* victim holds the mutex now; this blocks until the kill releases it */
  if (op(sem, 0, -1, SEM_UNDO)) { perror("FAIL survivor P"); return 1; }
  double got = now();
  char p[512];
  snprintf(p, sizeof p, "%s/kill.time", out);
  FILE *f = fopen(p, "r");
  double killed = 0;
  if (!f || fscanf(f, "%lf", &killed) != 1) { printf("FAIL no kill time recorded\n"); return 1; }
  fclose(f);
  printf("survivor %d: semaphore released %.3f s after kill -9\n", me, got - killed);
  int rc = 0;
  if (got - killed > 2.0) { printf("FAIL survivor %d: took longer than 2 s\n", me); rc = 1; }
  signal(SIGBUS, on_bus);
  double t1 = now();
  if (sigsetjmp(jb, 1) == 0) {
    volatile char c = m[0];
    (void)c;
    printf("FAIL survivor %d: read a page whose only copy died without SIGBUS\n", me);
    rc = 1;
  } else {
    printf("survivor %d: SIGBUS on the lost page after %.3f s\n", me, now() - t1);
    if (now() - t1 > 2.0) rc = 1;
  }
  signal(SIGBUS, SIG_DFL);
  for (int i = 0; i < PAGE; i++)
    if (m[me * PAGE + i] != (char)('a' + me)) { printf("FAIL survivor %d: own page damaged\n", me); rc = 1; break; }
  if (op(sem, 0, 1, SEM_UNDO)) { perror("FAIL survivor V"); rc = 1; }
  if (!rc) printf("PASS crash survivor %d\n", me);
  return rc;
}
