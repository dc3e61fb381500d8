/* otx_bank.c — explicit speculations over an ordered segment (docs/
 * speculative-dsm.md §5.3), built by mojcc: processes on several hosts move
 * money between accounts, each transfer one speculation and no lock at all:
 * the speculation's stores are ordered at its commit, and only if no
 * account it read was written meanwhile (else spec_commit aborts it with
 * SPEC_ABORT_CONFLICT and it runs again).  One transfer in five aborts on
 * purpose.  Sequentially, the accounts always sum to the same total and each
 * process's own counter (in the segment too) equals its committed transfers;
 * lost updates (stores ordered without the read check) break both.
 *   otx_bank init KEY                 the segment: ACCOUNTS x 1000, counters 0
 *   otx_bank run KEY ID N             N committed transfers; prints
 *                                     "committed N aborted A conflicts C"
 *   otx_bank check KEY NPROCS TOTAL   the sums (TOTAL: committed, all hosts)
 *   otx_bank sb KEY ROLE ROUNDS       store buffering, once per round with a
 *                                     barrier (an ordered semaphore pair):
 *                                     role 0 runs spec{ x = r; a = y }, role 1
 *                                     spec{ y = r; b = x }, x and y on
 *                                     different pages; prints "r a" / "r b".
 *                                     Both a < r and b < r in one round is
 *                                     forbidden: it needs the read checks of
 *                                     pages the level did not write. */
#include <errno.h>
#include <mojave.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#define ACCOUNTS 8
#define HOSTS 8
/* accounts on two pages, counters on a third: a transfer touches 1-3 pages */
struct bank { int64_t acc[ACCOUNTS / 2]; char pad1[4096 - 8 * ACCOUNTS / 2];
              int64_t acc2[ACCOUNTS / 2]; char pad2[4096 - 8 * ACCOUNTS / 2];
              int64_t done[HOSTS]; };
static int64_t *account(struct bank *b, int i) { return i < ACCOUNTS / 2 ? &b->acc[i] : &b->acc2[i - ACCOUNTS / 2]; }

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: otx_bank init|run|check KEY ...\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  int create = !strcmp(argv[1], "init");
  int id = -1;
  for (int i = 0; i < 3000 && (id = shmget(key, sizeof(struct bank), create ? IPC_CREAT | IPC_EXCL | 0600 : 0600)) < 0 && errno == ENOENT; i++)
    usleep(10000);
  struct bank *b = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (b == (void *)-1) { printf("FAIL otx_bank %s: %s\n", argv[1], strerror(errno)); return 1; }
  if (create) {
    for (int i = 0; i < ACCOUNTS; i++) *account(b, i) = 1000;
    printf("PASS otx_bank init\n");
    return 0;
  }
  if (!strcmp(argv[1], "run") && argc == 5) {
    int me = atoi(argv[3]), n = atoi(argv[4]);
    if (me < 0 || me >= HOSTS) return 2;
    srand((unsigned)(me * 7919 + 1));
    long committed = 0, aborted = 0, conflicts = 0;
    while (committed < n) {
      /* chosen outside the level: an abort must not replay the same choice forever */
      int i = rand() % ACCOUNTS, j = (i + 1 + rand() % (ACCOUNTS - 1)) % ACCOUNTS, x = rand() % 50, fail = rand() % 5 == 0;
      int lv = spec_enter();
      if (lv < 0) {
        if (-lv == SPEC_ABORT_CONFLICT) conflicts++;
        else aborted++;
        continue;
      }
      if (lv == 0) { printf("FAIL otx_bank: spec_enter: %s\n", strerror(errno)); return 1; }
      int64_t *a = account(b, i), *c = account(b, j);
      *a -= x;
      *c += x;
      b->done[me]++;
      if (fail) spec_abort(lv);
      if (spec_commit(lv)) { printf("FAIL otx_bank: spec_commit: %s\n", strerror(errno)); return 1; }
      committed++;
    }
    printf("committed %ld aborted %ld conflicts %ld\n", committed, aborted, conflicts);
    return 0;
  }
  if (!strcmp(argv[1], "sb") && argc == 5) {
    int role = atoi(argv[3]), rounds = atoi(argv[4]);
    int sem = -1;
    for (int i = 0; i < 3000 && (sem = semget(key, 2, IPC_CREAT | 0600)) < 0 && errno == ENOENT; i++) usleep(10000);
    if (sem < 0 || role < 0 || role > 1) { printf("FAIL otx_bank sb: semget: %s\n", strerror(errno)); return 1; }
    volatile int64_t *mine = role ? &b->acc2[0] : &b->acc[0], *other = role ? &b->acc[0] : &b->acc2[0];
    for (int r = 1; r <= rounds; r++) {
      struct sembuf post = {(unsigned short)role, 1, 0}, wait = {(unsigned short)(1 - role), -1, 0};
      if (semop(sem, &post, 1) || semop(sem, &wait, 1)) { printf("FAIL otx_bank sb: barrier: %s\n", strerror(errno)); return 1; }
      int64_t seen = 0;
      for (;;) {
        int lv = spec_enter();
        if (lv < 0) continue; /* refused: run it again */
        if (lv == 0) { printf("FAIL otx_bank sb: spec_enter: %s\n", strerror(errno)); return 1; }
        *mine = r;
        seen = *other;
        if (spec_commit(lv) == 0) break;
      }
      printf("%d %lld\n", r, (long long)seen);
    }
    return 0;
  }
  if (!strcmp(argv[1], "check") && argc == 5) {
    int np = atoi(argv[3]);
    long total = atol(argv[4]), sum = 0, done = 0;
    for (int i = 0; i < ACCOUNTS; i++) sum += *account(b, i);
    for (int i = 0; i < np && i < HOSTS; i++) done += b->done[i];
    printf("accounts sum %ld (want %d), transfers counted in the segment %ld (want %ld)\n", sum, 1000 * ACCOUNTS, done, total);
    if (sum != 1000 * ACCOUNTS || done != total) { printf("FAIL otx_bank check\n"); return 1; }
    shmctl(id, IPC_RMID, NULL);
    printf("PASS otx_bank check\n");
    return 0;
  }
  fprintf(stderr, "otx_bank: bad arguments\n");
  return 2;
}
