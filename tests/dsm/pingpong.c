/* pingpong.c — concurrent writers on one page, no locks: NPROCS processes on
 * different hosts, each with NTHREADS threads, and every thread increments its
 * own word in the same page ITERS times (false sharing: the page ping-pongs on
 * every store).  Each word has a single writer, so any lost update or stale
 * install by the protocol shows as a wrong final count.  Index 0 checks all.
 *   pingpong KEY NPROCS INDEX ITERS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 2
struct area { volatile long word[64]; volatile long done[16]; };
static struct area *a;
static int me, iters;

static void *worker(void *p) {
  int w = me * NTHREADS + (int)(long)p;
  for (int i = 0; i < iters; i++) a->word[w] = a->word[w] + 1;
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: pingpong KEY NPROCS INDEX ITERS\n"); return 2; }
  key_t key = (key_t)strtol(argv[1], NULL, 0);
  int n = atoi(argv[2]);
  me = atoi(argv[3]);
  iters = atoi(argv[4]);
  int id = shmget(key, sizeof(struct area), IPC_CREAT | 0600);
  a = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (a == (void *)-1) { perror("FAIL shm"); return 1; }
  pthread_t t[NTHREADS];
  for (long i = 0; i < NTHREADS; i++) pthread_create(&t[i], NULL, worker, (void *)i);
  for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
  a->done[me] = 1;
  if (me == 0) {
    time_t t0 = time(NULL);
    for (int p = 0; p < n; p++)
      while (!a->done[p]) if (time(NULL) - t0 > 100) { printf("FAIL timeout waiting for %d\n", p); return 1; }
    int bad = 0;
    for (int w = 0; w < n * NTHREADS; w++)
      if (a->word[w] != iters) { printf("FAIL word %d = %ld, want %d (lost updates)\n", w, a->word[w], iters); bad = 1; }
    shmctl(id, IPC_RMID, NULL);
    if (bad) return 1;
    printf("%d writers x %d increments on one page: all exact\n", n * NTHREADS, iters);
  } else {
    /* stay attached until index 0 has read everything: a detach hands pages back anyway */
    time_t t0 = time(NULL);
    while (!a->done[15] && time(NULL) - t0 < 2) usleep(1000);
  }
  shmdt((void *)a);
  printf("PASS pingpong %d\n", me);
  return 0;
}
