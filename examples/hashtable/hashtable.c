/* hashtable.c — the write-heavy workload of issue 12's benchmarks: a hash
 * table in one distributed System V segment (4096 open-addressing slots, 16
 * pages), updated under one semaphore by processes on several hosts.  Each
 * operation: P; add 1 to the value of a random key among 1024 (insert on
 * first use, linear probing); V.  Built by mojcc so that `speculative-locks
 * on` applies (the critical section runs while P's request travels).
 *   hashtable init KEY          semaphore (value 1) and an empty table
 *   hashtable run KEY N SEED    N operations; prints "us_per_op OPS SECONDS"
 *   hashtable run-tx KEY N SEED the same with no semaphore: each operation a
 *                               speculation over the (ordered) segment,
 *                               committed as a checked transaction or run
 *                               again when a page it read changed
 *                               (docs/speculative-dsm.md §5.3); stderr:
 *                               "transactions: C committed, R refused"
 *   hashtable check KEY TOTAL   the values sum to TOTAL (no lost update);
 *                               removes both objects */
#include <errno.h>
#include <mojave.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>

#define SLOTS 4096
#define KEYS 1024
struct slot { uint32_t key, used; uint64_t value; };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: hashtable init|run|check KEY [N SEED | TOTAL]\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  int create = !strcmp(argv[1], "init");
  int sem = semget(key, 1, create ? IPC_CREAT | 0600 : 0600);
  int shm = shmget(key, SLOTS * sizeof(struct slot), create ? IPC_CREAT | 0600 : 0600);
  struct slot *t = shm < 0 ? (void *)-1 : shmat(shm, NULL, 0);
  if (sem < 0 || t == (void *)-1) { printf("FAIL hashtable: %s\n", strerror(errno)); return 1; }
  if (create) {
    /* only the slots a previous run left: a new segment is zero already, and
     * on an ordered segment every store is an ordered message */
    for (int i = 0; i < SLOTS; i++)
      if (t[i].key || t[i].used || t[i].value) memset(&t[i], 0, sizeof t[i]);
    if (semctl(sem, 0, SETVAL, 1)) { printf("FAIL hashtable: SETVAL: %s\n", strerror(errno)); return 1; }
  } else if (!strcmp(argv[1], "run") && argc == 5) {
    long n = atol(argv[3]);
    unsigned seed = (unsigned)atol(argv[4]);
    struct sembuf p = {0, -1, 0}, v = {0, 1, 0};
    double t0 = now();
    for (long i = 0; i < n; i++) {
      uint32_t k = (uint32_t)rand_r(&seed) % KEYS + 1;
      if (semop(sem, &p, 1)) { printf("FAIL hashtable: P: %s\n", strerror(errno)); return 1; }
      uint32_t h = (k * 2654435761u) % SLOTS;
      while (t[h].used && t[h].key != k) h = (h + 1) % SLOTS;
      if (!t[h].used) { t[h].key = k; t[h].used = 1; }
      t[h].value++;
      if (semop(sem, &v, 1)) { printf("FAIL hashtable: V: %s\n", strerror(errno)); return 1; }
    }
    double s = now() - t0;
    printf("%.1f %ld %.3f\n", s * 1e6 / (double)n, n, s);
  } else if (!strcmp(argv[1], "run-tx") && argc == 5) {
    long n = atol(argv[3]), refused = 0;
    unsigned seed = (unsigned)atol(argv[4]);
    double t0 = now();
    for (long i = 0; i < n; i++) {
      uint32_t k = (uint32_t)rand_r(&seed) % KEYS + 1; /* drawn outside the level: a retry updates the same key */
      int lv = spec_enter();
      if (lv < 0) { refused++; i--; continue; }
      if (lv == 0) { printf("FAIL hashtable: spec_enter: %s\n", strerror(errno)); return 1; }
      uint32_t h = (k * 2654435761u) % SLOTS;
      while (t[h].used && t[h].key != k) h = (h + 1) % SLOTS;
      if (!t[h].used) { t[h].key = k; t[h].used = 1; }
      t[h].value++;
      if (spec_commit(lv)) { printf("FAIL hashtable: spec_commit: %s\n", strerror(errno)); return 1; }
    }
    double s = now() - t0;
    printf("%.1f %ld %.3f\n", s * 1e6 / (double)n, n, s);
    fprintf(stderr, "transactions: %ld committed, %ld refused\n", n, refused);
  } else if (!strcmp(argv[1], "check") && argc == 4) {
    uint64_t want = strtoull(argv[3], NULL, 10), sum = 0;
    for (int i = 0; i < SLOTS; i++) sum += t[i].used ? t[i].value : 0;
    shmdt(t);
    shmctl(shm, IPC_RMID, NULL);
    semctl(sem, 0, IPC_RMID);
    if (sum != want) { printf("FAIL hashtable: values sum to %llu, want %llu\n", (unsigned long long)sum, (unsigned long long)want); return 1; }
    printf("hashtable: %llu updates, none lost\n", (unsigned long long)sum);
    return 0;
  } else {
    fprintf(stderr, "usage: hashtable init|run|check KEY [N SEED | TOTAL]\n");
    return 2;
  }
  shmdt(t);
  return 0;
}
