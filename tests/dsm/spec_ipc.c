/* spec_ipc.c — semop, msgsnd and msgrcv on distributed objects inside
 * speculations (issue 12, item 1), built by mojcc.  The writer (h2) uses a
 * semaphore set and a queue homed on h1:
 *   A  +1 and a message inside a level; while the level runs, the reader
 *      (h1) sees neither (held); the level aborts; they never appear
 *   B  the same, committed: both appear
 *   C  -1 and a msgrcv inside a level, aborted: the unit and the message
 *      are given back
 *   D  +1 held at an outer level, a message held at a nested one that
 *      commits into it; the outer aborts: neither appears
 *   E  semctl SETVAL, msgctl IPC_SET and both IPC_RMIDs inside a level
 *      that aborts: nothing changed, both objects still there (held until
 *      commit, dropped on abort; reads inside the level see the state
 *      before the level — the held changes are not applied yet)
 *   F  SETVAL inside a level that commits: applied at the commit
 *   spec_ipc writer KEY DIR      spec_ipc reader KEY DIR */
#include <errno.h>
#include <mojave.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <time.h>

static const char *dir;
static int bad;
#define CHECK(c, ...) do { if (!(c)) { printf("FAIL: " __VA_ARGS__); printf("\n"); fflush(stdout); bad = 1; } } while (0)
struct m { long type; char text[16]; };

static void flag(const char *name) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  if (f) fclose(f);
}
static void await(const char *name) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  struct stat st;
  for (int i = 0; i < 6000 && stat(p, &st); i++) { struct timespec ts = {0, 10000000}; nanosleep(&ts, NULL); }
  if (stat(p, &st)) { printf("FAIL: %s never appeared\n", name); exit(1); }
}
static int val(int sem) { return semctl(sem, 0, GETVAL); }
static int take(int q, char *out) { /* one message without waiting: 1, or 0 when none */
  struct m m;
  ssize_t r = msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT);
  if (r < 0) return 0;
  if (out) strcpy(out, m.text);
  return 1;
}
static void put(int q, const char *t) {
  struct m m = {1, {0}};
  strcpy(m.text, t);
  if (msgsnd(q, &m, sizeof m.text, 0)) printf("FAIL: msgsnd %s: %s\n", t, strerror(errno));
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: spec_ipc writer|reader KEY DIR\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  dir = argv[3];
  int writer = !strcmp(argv[1], "writer");
  int sem = semget(key, 1, writer ? IPC_CREAT | 0600 : 0600), q = msgget(key, writer ? IPC_CREAT | 0600 : 0600);
  if (sem < 0 || q < 0) { printf("FAIL: objects: %s\n", strerror(errno)); return 1; }
  if (!writer) {
    await("A-inside");
    int v = val(sem), got = take(q, NULL);
    flag(v == 0 && !got ? "A-checked-ok" : "A-checked-bad");
    if (v || got) printf("FAIL reader: inside level A the semaphore is %d and a message %s\n", v, got ? "was there" : "was not");
    printf("%s dsm_spec_ipc reader\n", v || got ? "FAIL" : "PASS");
    return v || got;
  }
  semctl(sem, 0, SETVAL, 0);
  struct sembuf up = {0, 1, 0}, down = {0, -1, 0};
  char t[16];
  /* A */
  int a = spec_enter();
  if (a > 0) {
    CHECK(semop(sem, &up, 1) == 0, "held +1 returned an error: %s", strerror(errno));
    put(q, "a");
    flag("A-inside");
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/A-checked-ok", dir);
    for (int i = 0; i < 6000; i++) {
      char p2[512];
      snprintf(p2, sizeof p2, "%s/A-checked-bad", dir);
      if (!stat(p, &st) || !stat(p2, &st)) break;
      struct timespec ts = {0, 10000000};
      nanosleep(&ts, NULL);
    }
    spec_abort(a);
  }
  CHECK(val(sem) == 0, "after the abort of A the semaphore is %d, want 0", val(sem));
  CHECK(!take(q, NULL), "after the abort of A its message is in the queue");
  /* B */
  int b = spec_enter();
  if (b > 0) {
    semop(sem, &up, 1);
    put(q, "b");
    spec_commit(b);
  }
  CHECK(val(sem) == 1, "after the commit of B the semaphore is %d, want 1", val(sem));
  CHECK(take(q, t) && !strcmp(t, "b"), "after the commit of B its message is missing");
  /* C */
  put(q, "c");
  int c = spec_enter();
  if (c > 0) {
    CHECK(semop(sem, &down, 1) == 0, "-1 inside C: %s", strerror(errno));
    CHECK(take(q, t) && !strcmp(t, "c"), "msgrcv inside C");
    spec_abort(c);
  }
  CHECK(val(sem) == 1, "after the abort of C the semaphore is %d, want 1 (the unit given back)", val(sem));
  CHECK(take(q, t) && !strcmp(t, "c"), "after the abort of C its received message is not back");
  /* D */
  int d1 = spec_enter();
  if (d1 > 0) {
    semop(sem, &up, 1);
    int d2 = spec_enter();
    if (d2 > 0) {
      put(q, "d");
      spec_commit(d2);
    }
    spec_abort(d1);
  }
  CHECK(val(sem) == 1, "after the abort of D the semaphore is %d, want 1", val(sem));
  CHECK(!take(q, NULL), "after the abort of D its nested level's message is in the queue");
  /* E */
  struct msqid_ds md;
  CHECK(msgctl(q, IPC_STAT, &md) == 0, "IPC_STAT before E: %s", strerror(errno));
  unsigned long qbytes = md.msg_qbytes;
  int e = spec_enter();
  if (e > 0) {
    CHECK(semctl(sem, 0, SETVAL, 5) == 0, "SETVAL inside E: %s", strerror(errno));
    CHECK(val(sem) == 1, "inside E, before its commit, GETVAL is %d, want the value before the level (1)", val(sem));
    md.msg_qbytes = qbytes / 2;
    CHECK(msgctl(q, IPC_SET, &md) == 0, "IPC_SET inside E: %s", strerror(errno));
    CHECK(semctl(sem, 0, IPC_RMID) == 0, "semaphore IPC_RMID inside E: %s", strerror(errno));
    CHECK(msgctl(q, IPC_RMID, NULL) == 0, "queue IPC_RMID inside E: %s", strerror(errno));
    CHECK(semctl(sem, 0, 12345) == -1 && errno == EINVAL, "an unknown semctl command inside E must fail at once");
    spec_abort(e);
  }
  CHECK(val(sem) == 1, "after the abort of E the semaphore is %d (%s), want 1 and still there", val(sem), strerror(errno));
  CHECK(msgctl(q, IPC_STAT, &md) == 0 && md.msg_qbytes == qbytes, "after the abort of E the queue is gone or changed");
  /* F */
  int f = spec_enter();
  if (f > 0) {
    semctl(sem, 0, SETVAL, 4);
    spec_commit(f);
  }
  CHECK(val(sem) == 4, "after the commit of F the semaphore is %d, want 4", val(sem));
  semctl(sem, 0, IPC_RMID);
  msgctl(q, IPC_RMID, NULL);
  printf("%s dsm_spec_ipc writer\n", bad ? "FAIL" : "PASS");
  return bad;
}
