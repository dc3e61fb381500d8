/* tests/migrate/dsm_mig.c — a mojcc program attached to a distributed System V
 * segment migrates (t_dsm.sh, ctest migrate_dsm / migrate_dsm_fail).
 *
 *   dsm_mig mover KEY HOPS   (on h1, under mojave-run; HOPS "h2" or "h2,h3",
 *                            "+ir" at the end: IR mode)
 *   dsm_mig peer KEY N       (on h3, started directly)
 *
 * 64 KiB segment at KEY, semaphore set at KEY+1 (0: mover -> peer, 1: peer ->
 * mover, 2: SEM_UNDO probe).  Pages 0-7: the mover's writes before the move;
 * 8-11: the peer's pattern; 12: the peer's counter (N increments); 13-15: the
 * mover's writes after the move.  The mover keeps the segment's address in a
 * global, a heap object and a local; after the move (or after a refused one)
 * all three must still be the segment, its earlier writes intact, and the
 * peer must see what it writes next.  Every wait is a semaphore operation
 * (bounded by the peer's N steps), never a clock. */
#include <errno.h>
#include <mojave.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#define SEG (64 * 1024)
#define PG 4096
static int bad;
#define CHECK(c, ...) do { if (!(c)) { printf("FAIL: " __VA_ARGS__); printf("\n"); fflush(stdout); bad = 1; } } while (0)

static char *g_seg; /* a global pointing into the segment */
struct holder { int tag; char *seg; };

static unsigned char pat(int page, int j, int phase) { return (unsigned char)(page * 37 + j * 7 + phase); }
static void fill(char *s, int page, int phase) {
  for (int j = 0; j < PG; j++) s[page * PG + j] = (char)pat(page, j, phase);
}
static int same(const char *s, int page, int phase) {
  for (int j = 0; j < PG; j++)
    if ((unsigned char)s[page * PG + j] != pat(page, j, phase)) return 0;
  return 1;
}
static int sem(int id, int num, int op, int flg) {
  struct sembuf b = {(unsigned short)num, (short)op, (short)flg};
  int r;
  while ((r = semop(id, &b, 1)) < 0 && errno == EINTR) {}
  return r;
}

static int attach(long key, int *semid, char **seg) {
  int shmid = shmget((key_t)key, SEG, IPC_CREAT | 0600);
  *semid = semget((key_t)key + 1, 3, IPC_CREAT | 0600);
  if (shmid < 0 || *semid < 0) { printf("FAIL: shmget/semget: %s\n", strerror(errno)); return -1; }
  *seg = shmat(shmid, NULL, 0);
  if (*seg == (char *)-1) { printf("FAIL: shmat: %s\n", strerror(errno)); return -1; }
  return shmid;
}

/* The DSM's reader thread is the runtime's own, not an application thread:
 * speculation is allowed after DSM calls.  (A function of its own: a
 * returns_twice call on the stack blocks migration.) */
static __attribute__((noinline)) void try_spec(void) {
  int sid = spec_enter();
  CHECK(sid > 0, "spec_enter after DSM calls: %d (errno %d %s)", sid, errno, strerror(errno));
  if (sid > 0 && spec_commit(sid) == 0) printf("spec: entered and committed\n");
}

static int mover(long key, const char *dest) {
  int semid;
  char *seg;
  int shmid = attach(key, &semid, &seg);
  if (shmid < 0) return 1;
  g_seg = seg;
  struct holder *h = malloc(sizeof *h);
  h->tag = 42;
  h->seg = seg;
  for (int p = 0; p < 8; p++) fill(seg, p, 1);

  try_spec();

  /* a SEM_UNDO adjustment (-1 on semaphore 2, held at the home) travels with
   * the process: not applied when a source leaves, applied when the process
   * finally exits (the peer sees semaphore 2 come back to 0 then) */
  CHECK(sem(semid, 2, 1, SEM_UNDO) == 0, "semop +1 SEM_UNDO: %s", strerror(errno));

  printf("before: pid %d on %s\n", (int)getpid(), getenv("MOJAVE_HOST"));
  fflush(stdout);
  CHECK(sem(semid, 0, 1, 0) == 0, "V(0): %s", strerror(errno)); /* the peer starts working now */
  /* DEST is a comma-separated list of hops; a trailing "+ir" ships bitcode */
  char hops[256];
  snprintf(hops, sizeof hops, "%s", dest);
  int flags = 0;
  char *ir = strstr(hops, "+ir");
  if (ir) { *ir = 0; flags = MOJ_MIGRATE_IR; }
  for (char *hop = hops, *next; hop && *hop; hop = next) {
    next = strchr(hop, ',');
    if (next) *next++ = 0;
    int r = moj_migrate(hop, flags);
    if (r == MOJ_MIGRATE_ARRIVED) printf("after: arrived at %s\n", getenv("MOJAVE_HOST"));
    else printf("after: stayed at %s (%s)\n", getenv("MOJAVE_HOST"), moj_migrate_error());
    fflush(stdout);
    CHECK(g_seg == seg && h->seg == seg && h->tag == 42, "pointers changed: global %p heap %p local %p",
          (void *)g_seg, (void *)h->seg, (void *)seg);
    for (int p = 0; p < 8; p++) CHECK(same(g_seg, p, 1), "page %d written before the move is not intact", p);
  }
  /* once every source of a hop has left (attach count back to mover + peer),
   * none of them applied the adjustment on its way out */
  struct shmid_ds ds;
  for (int tries = 0; tries < 3000; tries++) {
    CHECK(shmctl(shmid, IPC_STAT, &ds) == 0, "IPC_STAT: %s", strerror(errno));
    if (ds.shm_nattch <= 2) break;
    usleep(10000);
  }
  int v2 = semctl(semid, 2, GETVAL);
  CHECK(v2 == 1, "semaphore 2 is %d after the hops: the SEM_UNDO adjustment was applied early or lost", v2);
  printf("undo: carried (semaphore 2 still %d)\n", v2);
  for (int p = 13; p < 16; p++) fill(h->seg, p, 2);
  CHECK(sem(semid, 1, -1, 0) == 0, "P(1): %s", strerror(errno)); /* peer's phase 1 done */
  for (int p = 8; p < 12; p++) CHECK(same(seg, p, 3), "page %d of the peer is wrong", p);
  int n;
  memcpy(&n, seg + 12 * PG, sizeof n);
  printf("counter: %d\n", n);
  CHECK(sem(semid, 0, 1, 0) == 0, "V(0): %s", strerror(errno)); /* peer checks pages 13-15 */
  CHECK(sem(semid, 1, -1, 0) == 0, "P(1): %s", strerror(errno)); /* peer verified */
  CHECK(shmdt(seg) == 0, "shmdt: %s", strerror(errno));
  CHECK(sem(semid, 0, 1, 0) == 0, "V(0): %s", strerror(errno)); /* detached */
  printf("%s dsm_mig mover\n", bad ? "FAIL" : "PASS");
  return bad;
}

static int peer(long key, int n) {
  int semid;
  char *seg;
  int shmid = attach(key, &semid, &seg);
  if (shmid < 0) return 1;
  CHECK(sem(semid, 0, -1, 0) == 0, "P(0): %s", strerror(errno));
  /* while the mover migrates: read its pages, write ours */
  for (int p = 0; p < 8; p++) CHECK(same(seg, p, 1), "peer: mover's page %d is wrong", p);
  for (int p = 8; p < 12; p++) fill(seg, p, 3);
  for (int i = 0; i < n; i++) {
    int c;
    memcpy(&c, seg + 12 * PG, sizeof c);
    c++;
    memcpy(seg + 12 * PG, &c, sizeof c);
    if (i % 50 == 0) CHECK(same(seg, i % 8, 1), "peer: mover's page %d changed", i % 8);
  }
  CHECK(sem(semid, 1, 1, 0) == 0, "V(1): %s", strerror(errno));
  CHECK(sem(semid, 0, -1, 0) == 0, "P(0): %s", strerror(errno));
  for (int p = 13; p < 16; p++) CHECK(same(seg, p, 2), "peer: page %d written after the move is wrong", p);
  for (int p = 0; p < 8; p++) CHECK(same(seg, p, 1), "peer: page %d is wrong at the end", p);
  CHECK(sem(semid, 1, 1, 0) == 0, "V(1): %s", strerror(errno));
  CHECK(sem(semid, 0, -1, 0) == 0, "P(0): %s", strerror(errno)); /* the mover detached */
  /* the source of a move detaches when it leaves, right after the hand-off
   * and concurrently with the destination: allow it a bounded number of polls */
  struct shmid_ds ds;
  for (int tries = 0; tries < 3000; tries++) {
    CHECK(shmctl(shmid, IPC_STAT, &ds) == 0, "IPC_STAT: %s", strerror(errno));
    if (ds.shm_nattch <= 1) break;
    usleep(10000);
  }
  printf("nattch at the end: %d\n", (int)ds.shm_nattch);
  CHECK(ds.shm_nattch == 1, "nattch %d after the mover detached, expected 1 (the peer)", (int)ds.shm_nattch);
  /* the mover's exit applies its SEM_UNDO adjustment (-1 on semaphore 2) */
  int v2 = -1;
  for (int tries = 0; tries < 3000 && (v2 = semctl(semid, 2, GETVAL)) != 0; tries++) usleep(10000);
  CHECK(v2 == 0, "semaphore 2 is %d after the mover exited: its SEM_UNDO adjustment was not applied once", v2);
  if (v2 == 0) printf("undo: applied at exit\n");
  shmdt(seg);
  shmctl(shmid, IPC_RMID, NULL);
  semctl(semid, 0, IPC_RMID);
  printf("%s dsm_mig peer\n", bad ? "FAIL" : "PASS");
  return bad;
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "mover")) return mover(strtol(argv[2], NULL, 0), argv[3]);
  if (argc == 4 && !strcmp(argv[1], "peer")) return peer(strtol(argv[2], NULL, 0), atoi(argv[3]));
  fprintf(stderr, "usage: dsm_mig mover KEY DEST | peer KEY N\n");
  return 2;
}
