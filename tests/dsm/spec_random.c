/* spec_random.c — randomized multi-host check of speculation over the DSM
 * (issue 12 item 4), built by mojcc.  Processes on several hosts run rounds
 * of: P on a lock (an ordered semaphore set, `speculative-locks on`: the
 * section may run speculatively and roll back), an explicit speculation
 * (spec_enter) doing 1-8 random reads and writes of 64 shared cells spread
 * over 8 pages, recording what it read and wrote in a shared log, and
 * releasing one unit of a counter semaphore (held until commit); then a
 * random 1 in 4 spec_abort, else spec_commit; V.  What an aborted level did
 * must vanish everywhere: its writes, its log entry, its semop.
 * `check` replays the log against a sequential model: every read must see
 * the value the model holds after the entries before it, the final cells
 * must equal the model's, the log must hold exactly the committed sections
 * (the sum the processes report) and the counter semaphore must equal it.
 *   spec_random init KEY               lock (KEY), counter (KEY+1), segment (KEY)
 *   spec_random run KEY ID ROUNDS      prints "commits C aborts A"
 *   spec_random check KEY COMMITS      verifies; removes the objects */
#include <errno.h>
#include <mojave.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#define CELLS 64
#define MAX_LOG 4096
struct cell { uint32_t v; char pad[508]; };
struct op { uint32_t kind_idx; uint32_t val; }; /* kind in bit 8: 1 write, 0 read */
struct ent { uint16_t host, nops; uint32_t round; struct op ops[8]; };
struct area { struct cell cells[CELLS]; uint64_t nlog; struct ent log[MAX_LOG]; };

static uint32_t mix(uint32_t a, uint32_t b, uint32_t c) {
  uint64_t x = ((uint64_t)a << 40) ^ ((uint64_t)b << 20) ^ c ^ 0x9e3779b97f4a7c15ull;
  x ^= x >> 31; x *= 0xbf58476d1ce4e5b9ull; x ^= x >> 29;
  return (uint32_t)x | 1;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: spec_random init|run|check KEY ...\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  int create = !strcmp(argv[1], "init");
  int lock = semget(key, 1, create ? IPC_CREAT | IPC_EXCL | 0600 : 0600);
  int ctr = semget(key + 1, 1, create ? IPC_CREAT | IPC_EXCL | 0600 : 0600);
  int shm = shmget(key, sizeof(struct area), create ? IPC_CREAT | IPC_EXCL | 0600 : 0600);
  struct area *a = shm < 0 ? (void *)-1 : shmat(shm, NULL, 0);
  if (lock < 0 || ctr < 0 || a == (void *)-1) { printf("FAIL spec_random %s: %s\n", argv[1], strerror(errno)); return 1; }
  if (create) {
    if (semctl(lock, 0, SETVAL, 1)) { printf("FAIL spec_random: SETVAL: %s\n", strerror(errno)); return 1; }
  } else if (!strcmp(argv[1], "run") && argc == 5) {
    uint32_t host = (uint32_t)atoi(argv[3]);
    int rounds = atoi(argv[4]);
    long commits = 0, aborts = 0;
    uint32_t attempts = 0;
    struct sembuf p = {0, -1, 0}, v = {0, 1, 0}, up = {0, 1, 0};
    for (int r = 0; r < rounds; r++) {
      if (semop(lock, &p, 1)) { printf("FAIL spec_random: P: %s\n", strerror(errno)); return 1; }
      int id = spec_enter();
      if (id > 0) {
        /* the seed depends on the attempt count, which an abort does not roll
         * back (it is counted after spec_enter returns), so a retried round
         * makes other choices */
        unsigned seed = mix(host, (uint32_t)r, attempts);
        if (a->nlog >= MAX_LOG) { printf("FAIL spec_random: log full\n"); return 1; }
        struct ent *e = &a->log[a->nlog];
        int n = 1 + rand_r(&seed) % 8;
        e->host = (uint16_t)host; e->nops = (uint16_t)n; e->round = (uint32_t)r;
        for (int k = 0; k < n; k++) {
          uint32_t idx = (uint32_t)rand_r(&seed) % CELLS;
          if (rand_r(&seed) & 1) {
            uint32_t val = (uint32_t)rand_r(&seed);
            a->cells[idx].v = val;
            e->ops[k] = (struct op){idx | 0x100, val};
          } else {
            e->ops[k] = (struct op){idx, a->cells[idx].v};
          }
        }
        a->nlog++;
        if (semop(ctr, &up, 1)) { printf("FAIL spec_random: counter: %s\n", strerror(errno)); return 1; }
        if (rand_r(&seed) % 4 == 0) spec_abort(id);
        commits++;
        spec_commit(id);
      } else if (id < 0) {
        aborts++;
      } else {
        printf("FAIL spec_random: spec_enter: %s\n", strerror(errno));
        return 1;
      }
      attempts++;
      if (semop(lock, &v, 1)) { printf("FAIL spec_random: V: %s\n", strerror(errno)); return 1; }
    }
    printf("commits %ld aborts %ld\n", commits, aborts);
  } else if (!strcmp(argv[1], "check") && argc == 4) {
    long want = atol(argv[3]);
    uint32_t model[CELLS] = {0};
    int bad = 0;
    if ((long)a->nlog != want) { printf("FAIL spec_random: the log holds %llu sections, %ld committed\n", (unsigned long long)a->nlog, want); bad = 1; }
    for (uint64_t i = 0; i < a->nlog && i < MAX_LOG; i++) {
      const struct ent *e = &a->log[i];
      for (int k = 0; k < e->nops && k < 8; k++) {
        uint32_t idx = e->ops[k].kind_idx & 0xff;
        if (idx >= CELLS) { printf("FAIL spec_random: entry %llu: bad cell %u\n", (unsigned long long)i, idx); return 1; }
        if (e->ops[k].kind_idx & 0x100) model[idx] = e->ops[k].val;
        else if (e->ops[k].val != model[idx] && bad++ < 5)
          printf("FAIL spec_random: entry %llu (host %u round %u) read cell %u = %u, the sequential model holds %u\n",
                 (unsigned long long)i, e->host, e->round, idx, e->ops[k].val, model[idx]);
      }
    }
    for (int i = 0; i < CELLS; i++)
      if (a->cells[i].v != model[i] && bad++ < 10) printf("FAIL spec_random: cell %d = %u, model %u\n", i, a->cells[i].v, model[i]);
    int cv = semctl(ctr, 0, GETVAL), lv = semctl(lock, 0, GETVAL);
    if (cv != want) { printf("FAIL spec_random: counter semaphore %d, want %ld (semops of aborted levels must vanish)\n", cv, want); bad = 1; }
    if (lv != 1) { printf("FAIL spec_random: lock semaphore %d, want 1\n", lv); bad = 1; }
    printf("spec_random: %llu committed sections replayed against the sequential model, %s\n", (unsigned long long)a->nlog,
           bad ? "MISMATCH" : "all reads and the final state agree");
    shmdt(a);
    shmctl(shm, IPC_RMID, NULL);
    semctl(lock, 0, IPC_RMID);
    semctl(ctr, 0, IPC_RMID);
    return bad ? 1 : 0;
  } else {
    fprintf(stderr, "usage: spec_random init KEY | run KEY ID ROUNDS | check KEY COMMITS\n");
    return 2;
  }
  shmdt(a);
  return 0;
}
