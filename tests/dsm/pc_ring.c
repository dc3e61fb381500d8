/* pc_ring.c — the classic System V producer/consumer over a ring buffer in
 * shared memory with "empty"/"full" counting semaphores, as found in textbook
 * samples; built with plain cc and run unmodified on two hosts.
 *   pc_ring produce KEY N        pc_ring consume KEY N */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 64
struct ring { int in, out; long item[SLOTS][64]; /* 512 B items: the ring spans 8 pages */ };
union semun { int val; struct semid_ds *buf; unsigned short *array; };
enum { EMPTY, FULL };

static int op(int s, int num, int v) { struct sembuf b = {(unsigned short)num, (short)v, 0}; return semop(s, &b, 1); }

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: pc_ring produce|consume KEY N\n"); return 2; }
  int prod = !strcmp(argv[1], "produce");
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  long n = atol(argv[3]);
  int sem, shm;
  if (prod) {
    sem = semget(key, 2, IPC_CREAT | IPC_EXCL | 0666);
    if (sem < 0) { perror("FAIL semget"); return 1; }
    unsigned short init[2] = {SLOTS, 0};
    union semun u = {.array = init};
    if (semctl(sem, 0, SETALL, u)) { perror("FAIL SETALL"); return 1; }
  } else {
    for (int i = 0; i < 3000 && (sem = semget(key, 2, 0666)) < 0 && errno == ENOENT; i++) usleep(10000);
    if (sem < 0) { perror("FAIL semget"); return 1; }
  }
  shm = shmget(key, sizeof(struct ring), IPC_CREAT | 0666);
  struct ring *r = shm < 0 ? (void *)-1 : shmat(shm, NULL, 0);
  if (r == (void *)-1) { perror("FAIL shm"); return 1; }
  for (long i = 0; i < n; i++) {
    if (prod) {
      if (op(sem, EMPTY, -1)) { perror("FAIL P(empty)"); return 1; }
      for (int k = 0; k < 64; k++) r->item[r->in][k] = i * 64 + k;
      r->in = (r->in + 1) % SLOTS;
      if (op(sem, FULL, 1)) { perror("FAIL V(full)"); return 1; }
    } else {
      if (op(sem, FULL, -1)) { perror("FAIL P(full)"); return 1; }
      for (int k = 0; k < 64; k++)
        if (r->item[r->out][k] != i * 64 + k) { printf("FAIL pc_ring: item %ld word %d = %ld\n", i, k, r->item[r->out][k]); return 1; }
      r->out = (r->out + 1) % SLOTS;
      if (op(sem, EMPTY, 1)) { perror("FAIL V(empty)"); return 1; }
    }
  }
  if (!prod) {
    struct shmid_ds ds;
    if (shmctl(shm, IPC_STAT, &ds) || ds.shm_segsz != sizeof(struct ring)) { printf("FAIL IPC_STAT\n"); return 1; }
    semctl(sem, 0, IPC_RMID);
    shmctl(shm, IPC_RMID, NULL);
  }
  shmdt(r);
  printf("PASS pc_ring %s %ld items\n", argv[1], n);
  return 0;
}
