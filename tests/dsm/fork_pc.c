/* fork_pc.c — the textbook single-program producer/consumer: the parent
 * creates a segment and two semaphores, attaches, then fork()s; the child
 * produces into the ring, the parent consumes.  Plain cc, run under
 * LD_PRELOAD on a host that is not the objects' home.  Also checks that the
 * child counts in IPC_STAT nattch right after fork, as with the kernel.
 *   fork_pc KEY N */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define SLOTS 16
struct ring { long item[SLOTS][128]; long pad[512]; };
static int op(int s, int n, int v) { struct sembuf b = {(unsigned short)n, (short)v, 0}; return semop(s, &b, 1); }

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: fork_pc KEY N\n"); return 2; }
  key_t key = (key_t)strtol(argv[1], NULL, 0);
  long n = atol(argv[2]);
  int shm = shmget(key, sizeof(struct ring), IPC_CREAT | IPC_EXCL | 0600);
  int sem = semget(key, 2, IPC_CREAT | IPC_EXCL | 0600);
  if (shm < 0 || sem < 0) { perror("FAIL get"); return 1; }
  unsigned short init[2] = {SLOTS, 0};
  if (semctl(sem, 0, SETALL, init)) { perror("FAIL SETALL"); return 1; }
  struct ring *r = shmat(shm, NULL, 0);
  if (r == (void *)-1) { perror("FAIL shmat"); return 1; }
  r->item[0][0] = -1; /* the parent owns a dirty page before the fork */
  pid_t c = fork();
  if (c < 0) { perror("FAIL fork"); return 1; }
  if (c == 0) {
    if (r->item[0][0] != -1) { printf("FAIL child: inherited segment content not visible\n"); exit(1); }
    for (long i = 0; i < n; i++) {
      if (op(sem, 0, -1)) { perror("FAIL child P"); exit(1); }
      for (int k = 0; k < 128; k++) r->item[i % SLOTS][k] = i * 1000 + k;
      if (op(sem, 1, 1)) { perror("FAIL child V"); exit(1); }
    }
    shmdt(r);
    exit(0);
  }
  struct shmid_ds ds;
  if (shmctl(shm, IPC_STAT, &ds) || ds.shm_nattch != 2) { printf("FAIL nattch after fork = %lu, want 2\n", (unsigned long)ds.shm_nattch); return 1; }
  for (long i = 0; i < n; i++) {
    if (op(sem, 1, -1)) { perror("FAIL parent P"); return 1; }
    for (int k = 0; k < 128; k++)
      if (r->item[i % SLOTS][k] != i * 1000 + k) { printf("FAIL item %ld word %d = %ld\n", i, k, r->item[i % SLOTS][k]); return 1; }
    if (op(sem, 0, 1)) { perror("FAIL parent V"); return 1; }
  }
  int st;
  waitpid(c, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) { printf("FAIL child exit status %d\n", st); return 1; }
  if (shmctl(shm, IPC_STAT, &ds) || ds.shm_nattch != 1) { printf("FAIL nattch after child exit = %lu\n", (unsigned long)ds.shm_nattch); return 1; }
  shmctl(shm, IPC_RMID, NULL);
  semctl(sem, 0, IPC_RMID);
  shmdt(r);
  printf("PASS fork_pc %ld items\n", n);
  return 0;
}
