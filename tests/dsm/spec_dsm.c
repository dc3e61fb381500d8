/* spec_dsm.c — speculation keeps working in a mojcc program that uses the
 * distributed System V calls (issue 9, item 4).  The DSM client starts a
 * reader thread per home connection; it must not count as an application
 * thread (spec_enter would then fail with ENOTSUP), and a first DSM call
 * made inside a speculation must complete (it starts that thread and the
 * connection from inside the level).  What speculative writes to DSM pages
 * mean is the speculative-DSM issue's; here only the local state is checked.
 *
 *   spec_dsm KEY        — on h2 (keys homed on h1); leaves the objects
 *   spec_dsm check KEY  — on h1 (its own IPC namespace): the objects are
 *                         there with the values h2 left, then removed; so
 *                         the calls above really went through the DSM */
#include <errno.h>
#include <mojave.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

static int bad;
#define CHECK(c, ...) do { if (!(c)) { printf("FAIL: " __VA_ARGS__); printf("\n"); fflush(stdout); bad = 1; } } while (0)

static int counter; /* a global the levels change */

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "check")) {
    key_t k = (key_t)strtol(argv[2], NULL, 0);
    int s = semget(k + 1, 1, 0), m = shmget(k, 0, 0);
    CHECK(s >= 0 && m >= 0, "objects not visible on the home host: sem %d shm %d (%s)", s, m, strerror(errno));
    if (s < 0 || m < 0) return 1;
    char *p = shmat(m, NULL, SHM_RDONLY);
    CHECK(p != (void *)-1 && !strcmp(p, "outside"), "segment text on the home host");
    CHECK(semctl(s, 0, GETVAL) == 50, "semaphore on the home host: %d", semctl(s, 0, GETVAL));
    if (p != (void *)-1) shmdt(p);
    shmctl(m, IPC_RMID, NULL);
    semctl(s, 0, IPC_RMID);
    printf("%s dsm_spec check\n", bad ? "FAIL" : "PASS");
    return bad;
  }
  if (argc != 2) { fprintf(stderr, "usage: spec_dsm KEY | spec_dsm check KEY\n"); return 2; }
  key_t key = (key_t)strtol(argv[1], NULL, 0);
  int *heap = malloc(16 * sizeof *heap);
  for (int i = 0; i < 16; i++) heap[i] = i;

  /* 1. the very first IPC call of the process happens inside a speculation */
  int id = spec_enter();
  CHECK(id > 0, "spec_enter before any DSM call: %d (%s)", id, strerror(errno));
  int sid = semget(key + 1, 1, IPC_CREAT | 0600);
  CHECK(sid >= 0, "semget inside a speculation: %s", strerror(errno));
  counter = 1;
  CHECK(spec_commit(id) == 0, "commit after the first DSM call: %s", strerror(errno));
  CHECK(counter == 1, "committed global lost: %d", counter);

  /* 2. attach a segment outside, then speculate: enter, abort, enter, commit */
  int shm = shmget(key, 8192, IPC_CREAT | 0600);
  CHECK(shm >= 0, "shmget: %s", strerror(errno));
  char *seg = shmat(shm, NULL, 0);
  CHECK(seg != (void *)-1, "shmat: %s", strerror(errno));
  if (seg == (void *)-1) return 1;
  strcpy(seg, "outside");
  for (int round = 0; round < 50; round++) {
    int l = spec_enter();
    if (l == 0) { CHECK(0, "spec_enter after shmat (round %d): %s", round, strerror(errno)); break; }
    if (l > 0) { /* first return: change local state, then roll it back */
      counter = 1000 + round;
      heap[round % 16] = -1;
      struct sembuf op = {0, 1, 0};
      CHECK(semop(sid, &op, 1) == 0, "semop inside a speculation: %s", strerror(errno));
      spec_abort(l);
      CHECK(0, "spec_abort returned");
    }
    /* after the abort: the level's changes are gone */
    CHECK(counter == 1 + round, "round %d: global after abort %d", round, counter);
    CHECK(heap[round % 16] == round % 16, "round %d: heap after abort %d", round, heap[round % 16]);
    int c = spec_enter();
    CHECK(c > 0, "spec_enter for commit (round %d): %s", round, strerror(errno));
    counter = 2 + round;
    struct sembuf op = {0, 1, 0};
    CHECK(semop(sid, &op, 1) == 0, "semop inside a committed speculation: %s", strerror(errno));
    CHECK(spec_commit(c) == 0, "commit (round %d): %s", round, strerror(errno));
  }
  CHECK(strcmp(seg, "outside") == 0, "segment text changed: %.16s", seg);
  /* the +1 of each aborted level was held and dropped, that of each
   * committed level sent at its commit (client_specipc.c): one per round */
  int v = semctl(sid, 0, GETVAL);
  CHECK(v == 50, "semaphore %d, expected 50", v);
  shmdt(seg);
  printf("%s dsm_spec\n", bad ? "FAIL" : "PASS");
  return bad;
}
