/* sem_counter.c — plain System V program: NPROCS processes on different hosts
 * each add ITERS to a counter in a shared segment, with a non-atomic
 * read-modify-write guarded by a distributed semaphore (SEM_UNDO).  Index 0
 * checks the exact total; any lost update or broken mutual exclusion shows.
 * usage: sem_counter KEY NPROCS ITERS INDEX */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

struct area { volatile long counter; volatile long done; char pad[4096 - 16]; volatile long other_page; };

static int P(int s) { struct sembuf b = {0, -1, SEM_UNDO}; return semop(s, &b, 1); }
static int V(int s) { struct sembuf b = {0, 1, SEM_UNDO}; return semop(s, &b, 1); }

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: %s KEY NPROCS ITERS INDEX\n", argv[0]); return 2; }
  key_t key = (key_t)strtol(argv[1], NULL, 0);
  int n = atoi(argv[2]), iters = atoi(argv[3]), me = atoi(argv[4]);
  int sem;
  if (me == 0) {
    sem = semget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
    if (sem < 0) { perror("FAIL semget create"); return 1; }
  } else {
    for (int i = 0; (sem = semget(key, 1, 0600)) < 0; i++) {
      if (errno != ENOENT || i == 3000) { perror("FAIL semget"); return 1; }
      usleep(10000);
    }
  }
  int id = shmget(key, sizeof(struct area), IPC_CREAT | 0600);
  struct area *a = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (a == (void *)-1) { perror("FAIL shm"); return 1; }
  if (me == 0 && semctl(sem, 0, SETVAL, 1)) { perror("FAIL SETVAL"); return 1; } /* opens the gate */
  for (int i = 0; i < iters; i++) {
    if (P(sem)) { perror("FAIL P"); return 1; }
    long v = a->counter;
    a->counter = v + 1;
    if (V(sem)) { perror("FAIL V"); return 1; }
  }
  if (P(sem)) { perror("FAIL P"); return 1; }
  a->done++;
  if (V(sem)) { perror("FAIL V"); return 1; }
  if (me == 0) {
    time_t t0 = time(NULL);
    while (a->done < n)
      if (time(NULL) - t0 > 60) { printf("FAIL timeout: done=%ld\n", a->done); return 1; }
    long want = (long)n * iters;
    printf("counter=%ld expected=%ld\n", a->counter, want);
    if (a->counter != want) { printf("FAIL sem_counter: lost updates\n"); return 1; }
    /* the last process bumped `done` inside its critical section, but its V
     * may still be on the wire: take the semaphore once more before removing
     * the set, or that V would find the set gone (EINVAL) */
    if (P(sem)) { perror("FAIL final P"); return 1; }
    semctl(sem, 0, IPC_RMID);
    shmctl(id, IPC_RMID, NULL);
  }
  shmdt((void *)a);
  printf("PASS sem_counter %d\n", me);
  return 0;
}
