/* spec_lock.c — speculative lock acquisition (issue 12, paper §3.2.4), built
 * by mojcc, cluster file `speculative-locks on`: processes on several hosts
 * increment a counter in a DSM segment under a semaphore; each semop P runs
 * the critical section speculatively while the request travels, commits when
 * the home granted it at once, rolls back and waits when it had to queue.
 * The counter must be exact.
 *   spec_lock init KEY        semaphore (value 1) and counter (0)
 *   spec_lock run KEY N [WORK]  N increments, a busy loop of WORK (2000)
 *                             iterations in each critical section;
 *                             SPEC_LOCK_TIMING=1 prints microseconds per one
 *   spec_lock check KEY WANT  the counter is WANT; removes both */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: spec_lock init|run|check KEY [N]\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  int create = !strcmp(argv[1], "init");
  int sem = semget(key, 1, create ? IPC_CREAT | 0600 : 0600);
  int shm = shmget(key, 4096, create ? IPC_CREAT | 0600 : 0600);
  volatile long *ctr = shm < 0 ? (void *)-1 : shmat(shm, NULL, 0);
  if (sem < 0 || ctr == (void *)-1) { printf("FAIL spec_lock: %s\n", strerror(errno)); return 1; }
  if (create) {
    if (semctl(sem, 0, SETVAL, 1)) { printf("FAIL spec_lock: SETVAL: %s\n", strerror(errno)); return 1; }
    *ctr = 0;
  } else if (!strcmp(argv[1], "run") && (argc == 4 || argc == 5)) {
    int n = atoi(argv[3]), work = argc == 5 ? atoi(argv[4]) : 2000;
    struct sembuf p = {0, -1, 0}, v = {0, 1, 0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
      if (semop(sem, &p, 1)) { printf("FAIL spec_lock: P: %s\n", strerror(errno)); return 1; }
      long c = *ctr;
      for (volatile int k = 0; k < work; k++) {} /* a critical section worth overlapping */
      *ctr = c + 1;
      if (semop(sem, &v, 1)) { printf("FAIL spec_lock: V: %s\n", strerror(errno)); return 1; }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (getenv("SPEC_LOCK_TIMING"))
      printf("%.2f\n", ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / n);
  } else if (!strcmp(argv[1], "check") && argc == 4) {
    long want = atol(argv[3]), got = *ctr;
    shmdt((void *)ctr);
    shmctl(shm, IPC_RMID, NULL);
    semctl(sem, 0, IPC_RMID);
    if (got != want) { printf("FAIL spec_lock: counter %ld, want %ld\n", got, want); return 1; }
    printf("spec_lock: counter %ld as expected\n", got);
    return 0;
  }
  shmdt((void *)ctr);
  return 0;
}
