/* sem_restart.c — a distributed semaphore whose home is killed -9 and
 * restarted (t_ipc_restart.sh sem) while NPROCS processes on other hosts
 * count through it.  Set SEMKEY has two semaphores: 0 is a mutex taken with
 * SEM_UNDO, 1 counts critical sections — the V releases the mutex and adds 1
 * to it in one semop, so a V applied twice would show as an extra count (and
 * as a broken mutex).  Inside the critical section the process also does a
 * non-atomic increment of a counter in segment SHMKEY (homed on a host that
 * is not restarted): lost mutual exclusion shows as a lost update.  Index 0
 * creates everything and checks the exact totals at the end.  Every
 * PROGRESS_EVERY iterations a process writes its count to OUTDIR/prog.INDEX,
 * which the driver uses to kill the home in the middle of the run.
 *   sem_restart SEMKEY SHMKEY NPROCS ITERS INDEX OUTDIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#define PROGRESS_EVERY 20
struct area { volatile long counter; volatile long done; };

static void progress(const char *out, int me, int n) {
  char p[512], t[520];
  snprintf(p, sizeof p, "%s/prog.%d", out, me);
  snprintf(t, sizeof t, "%s.tmp", p);
  FILE *f = fopen(t, "w");
  if (!f) return;
  fprintf(f, "%d\n", n);
  fclose(f);
  rename(t, p); /* the driver never reads a half-written number */
}
static int sop(int s, unsigned short num0, short op0, short flg0, int two, short op1) {
  struct sembuf b[2] = {{num0, op0, flg0}, {1, op1, 0}};
  for (int i = 0;; i++) { /* EINTR only: a restart must never surface as an error */
    if (semop(s, b, two ? 2 : 1) == 0) return 0;
    if (errno != EINTR || i == 1000) return -1;
  }
}

int main(int argc, char **argv) {
  if (argc != 7) { fprintf(stderr, "usage: %s SEMKEY SHMKEY NPROCS ITERS INDEX OUTDIR\n", argv[0]); return 2; }
  key_t skey = (key_t)strtol(argv[1], NULL, 0), mkey = (key_t)strtol(argv[2], NULL, 0);
  int n = atoi(argv[3]), iters = atoi(argv[4]), me = atoi(argv[5]);
  const char *out = argv[6];
  int sem;
  if (me == 0) {
    sem = semget(skey, 2, IPC_CREAT | IPC_EXCL | 0600);
    if (sem < 0) { perror("FAIL semget create"); return 1; }
  } else {
    for (int i = 0; (sem = semget(skey, 2, 0600)) < 0; i++) {
      if (errno != ENOENT || i == 3000) { perror("FAIL semget"); return 1; }
      usleep(10000);
    }
  }
  int id = shmget(mkey, sizeof(struct area), IPC_CREAT | 0600);
  struct area *a = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (a == (void *)-1) { perror("FAIL shm"); return 1; }
  if (me == 0 && semctl(sem, 0, SETVAL, 1)) { perror("FAIL SETVAL"); return 1; } /* opens the gate */
  for (int i = 0; i < iters; i++) {
    if (sop(sem, 0, -1, SEM_UNDO, 0, 0)) { perror("FAIL P"); return 1; }
    long v = a->counter;
    a->counter = v + 1;
    if (sop(sem, 0, 1, SEM_UNDO, 1, 1)) { perror("FAIL V"); return 1; }
    if ((i + 1) % PROGRESS_EVERY == 0) progress(out, me, i + 1);
  }
  if (sop(sem, 0, -1, SEM_UNDO, 0, 0)) { perror("FAIL P"); return 1; }
  a->done++;
  if (sop(sem, 0, 1, SEM_UNDO, 0, 0)) { perror("FAIL V"); return 1; }
  progress(out, me, iters);
  int rc = 0;
  if (me == 0) {
    for (long k = 0; a->done < n; k++) {
      if (k == 60000) { printf("FAIL timeout: done=%ld of %d\n", a->done, n); return 1; }
      usleep(1000);
    }
    long want = (long)n * iters;
    if (sop(sem, 0, -1, SEM_UNDO, 0, 0)) { perror("FAIL final P"); return 1; } /* the last V may still be on the wire */
    int count = semctl(sem, 1, GETVAL), mutex = semctl(sem, 0, GETVAL);
    printf("shm counter=%ld semaphore count=%d mutex=%d expected=%ld\n", a->counter, count, mutex, want);
    if (a->counter != want) { printf("FAIL sem_restart: lost updates (mutual exclusion broken)\n"); rc = 1; }
    if (count != want) { printf("FAIL sem_restart: semaphore count %d, want %ld (%s)\n", count, want, count > want ? "applied twice" : "lost"); rc = 1; }
    if (mutex != 0) { printf("FAIL sem_restart: mutex %d while held, want 0\n", mutex); rc = 1; }
    semctl(sem, 0, IPC_RMID);
    shmctl(id, IPC_RMID, NULL);
  }
  shmdt((void *)a);
  if (!rc) printf("PASS sem_restart %d\n", me);
  return rc;
}
