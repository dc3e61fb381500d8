/* mixcalls.c — every thread reads its own reply from the connection it shares
 * with the other threads of its process, and hands on what it reads for them
 * (their replies, page grants, PAGE_FETCH for pages this process owns).  Three
 * threads on the main host: semop V/P (interruptible calls), shmctl IPC_STAT
 * (plain calls), and faults on a page the peer keeps writing while storing to
 * a page the peer keeps reading.  A reply consumed and not handed on leaves
 * its thread waiting until the test's timeout; counts and values are checked.
 *   mixcalls KEY main|peer OUTDIR */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#define ROUNDS 3000
struct area {
  volatile long peer; char p0[4096 - sizeof(long)];  /* written by the peer */
  volatile long mine; char p1[4096 - sizeof(long)];  /* written by main's fault thread */
  volatile int stop; char p2[4096 - sizeof(int)];
};
static struct area *a;
static int shm_id, sem_id;
static volatile int failed;

static void *sem_thread(void *x) {
  (void)x;
  struct sembuf v = {0, 1, 0}, p = {0, -1, 0};
  for (int i = 0; i < ROUNDS && !failed; i++) {
    if (semop(sem_id, &v, 1)) { perror("FAIL semop V"); failed = 1; }
    while (semop(sem_id, &p, 1) && errno == EINTR) {}
  }
  return NULL;
}
static void *stat_thread(void *x) {
  (void)x;
  for (int i = 0; i < ROUNDS && !failed; i++) {
    struct shmid_ds ds;
    if (shmctl(shm_id, IPC_STAT, &ds) || ds.shm_segsz != sizeof(struct area)) {
      printf("FAIL IPC_STAT round %d: %s, size %zu\n", i, strerror(errno), (size_t)ds.shm_segsz);
      failed = 1;
    }
  }
  return NULL;
}
static void *fault_thread(void *x) {
  (void)x;
  long last = -1;
  for (int i = 0; i < ROUNDS && !failed; i++) {
    long v = a->peer;
    if (v < last) { printf("FAIL fault thread: peer's counter went back from %ld to %ld\n", last, v); failed = 1; }
    last = v;
    a->mine = i + 1;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: mixcalls KEY main|peer OUTDIR\n"); return 2; }
  key_t key = (key_t)strtol(argv[1], NULL, 0);
  int main_role = !strcmp(argv[2], "main");
  char flag[512];
  snprintf(flag, sizeof flag, "%s/ready", argv[3]);
  if (!main_role) for (int i = 0; i < 400 && access(flag, F_OK); i++) usleep(10000);
  shm_id = shmget(key, sizeof(struct area), IPC_CREAT | 0600);
  sem_id = semget(key, 1, IPC_CREAT | 0600);
  a = shm_id < 0 ? (void *)-1 : shmat(shm_id, NULL, 0);
  if (a == (void *)-1 || sem_id < 0) { perror("FAIL setup"); return 1; }
  if (!main_role) { /* keep the main process faulting, and fetching from it */
    long last = 0;
    for (long i = 0; !a->stop && i < 2000000; i++) {
      a->peer = i;
      long m = a->mine;
      if (m < last) { printf("FAIL peer: main's counter went back from %ld to %ld\n", last, m); return 1; }
      last = m;
      usleep(50);
    }
    shmdt((void *)a);
    printf("PASS mixcalls peer\n");
    return 0;
  }
  FILE *f = fopen(flag, "w");
  if (f) fclose(f);
  pthread_t t[3];
  pthread_create(&t[0], NULL, sem_thread, NULL);
  pthread_create(&t[1], NULL, stat_thread, NULL);
  pthread_create(&t[2], NULL, fault_thread, NULL);
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  a->stop = 1;
  int val = semctl(sem_id, 0, GETVAL);
  if (val != 0) { printf("FAIL semaphore value %d after balanced V/P, expected 0\n", val); failed = 1; }
  if (a->mine != ROUNDS && !failed) { printf("FAIL own counter %ld, expected %d\n", a->mine, ROUNDS); failed = 1; }
  semctl(sem_id, 0, IPC_RMID);
  shmctl(shm_id, IPC_RMID, NULL);
  shmdt((void *)a);
  if (failed) return 1;
  printf("PASS mixcalls main\n");
  return 0;
}
