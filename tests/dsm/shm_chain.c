/* shm_chain.c — plain System V program (built with plain cc, run under
 * LD_PRELOAD on different hosts): process i waits for process i-1's flag in a
 * shared segment, checks every page i-1 wrote, then writes its own pattern.
 * Exercises page transfer, invalidation, spinning readers and IPC_STAT nattch.
 * usage: shm_chain KEY NPROCS INDEX */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#define PAGES 16
struct area {
  volatile int flag[16];
  char pad[4096 - 64];
  volatile unsigned data[PAGES][1024];
};

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s KEY NPROCS INDEX\n", argv[0]); return 2; }
  key_t key = (key_t)strtol(argv[1], NULL, 0);
  int n = atoi(argv[2]), me = atoi(argv[3]);
  int id = shmget(key, sizeof(struct area), IPC_CREAT | 0600);
  if (id < 0) { perror("FAIL shmget"); return 1; }
  struct area *a = shmat(id, NULL, 0);
  if (a == (void *)-1) { perror("FAIL shmat"); return 1; }
  time_t t0 = time(NULL);
  if (me > 0) {
    while (!a->flag[me - 1])
      if (time(NULL) - t0 > 30) { printf("FAIL %d: timeout waiting for %d\n", me, me - 1); return 1; }
    for (int p = 0; p < PAGES; p++)
      for (int w = 0; w < 1024; w++)
        if (a->data[p][w] != (unsigned)((me - 1) * 1000003 + p * 1024 + w)) {
          printf("FAIL %d: page %d word %d = %u\n", me, p, w, a->data[p][w]);
          return 1;
        }
  }
  for (int p = 0; p < PAGES; p++)
    for (int w = 0; w < 1024; w++) a->data[p][w] = (unsigned)(me * 1000003 + p * 1024 + w);
  a->flag[me] = 1;
  if (me == 0) {
    /* wait for the whole chain, then the last writer's data must be here */
    while (!a->flag[n - 1])
      if (time(NULL) - t0 > 30) { printf("FAIL 0: timeout waiting for chain\n"); return 1; }
    for (int p = 0; p < PAGES; p++)
      for (int w = 0; w < 1024; w++)
        if (a->data[p][w] != (unsigned)((n - 1) * 1000003 + p * 1024 + w)) { printf("FAIL 0: final data\n"); return 1; }
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds)) { perror("FAIL IPC_STAT"); return 1; }
    printf("nattch=%lu size=%zu\n", (unsigned long)ds.shm_nattch, (size_t)ds.shm_segsz);
    if (ds.shm_segsz != sizeof(struct area) || ds.shm_nattch < 1) { printf("FAIL 0: IPC_STAT\n"); return 1; }
    a->flag[15] = 1; /* release the others */
    if (shmctl(id, IPC_RMID, NULL)) { perror("FAIL IPC_RMID"); return 1; }
  } else {
    while (!a->flag[15])
      if (time(NULL) - t0 > 30) { printf("FAIL %d: timeout waiting for release\n", me); return 1; }
  }
  if (shmdt((void *)a)) { perror("FAIL shmdt"); return 1; }
  printf("PASS shm_chain %d\n", me);
  return 0;
}
