/* hygiene.c — the interposed System V calls leave the application's libc
 * state alone (issue 9, item 4): an application strtok loop that makes the
 * process's first IPC call (the client's lazy start-up) between tokens still
 * sees every token; errno keeps the application's value across successful
 * calls; the application's stdio streams carry only its own text.
 *
 *   hygiene KEY        — plain cc, on h2 under LD_PRELOAD=libmojave_ipc.so
 *   hygiene check KEY  — on h1 (own IPC namespace): the segment h2 wrote is
 *                        there, so the calls really went through the DSM */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

static int bad;
#define CHECK(c, ...) do { if (!(c)) { printf("FAIL: " __VA_ARGS__); printf("\n"); fflush(stdout); bad = 1; } } while (0)

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "check")) {
    int m = shmget((key_t)strtol(argv[2], NULL, 0), 0, 0);
    char *p = m >= 0 ? shmat(m, NULL, 0) : (void *)-1;
    CHECK(p != (void *)-1 && p[0] == 'x', "segment written on h2 not seen on the home host (%s)", strerror(errno));
    if (p != (void *)-1) shmdt(p);
    if (m >= 0) shmctl(m, IPC_RMID, NULL);
    printf("%s dsm_hygiene check\n", bad ? "FAIL" : "PASS");
    return bad;
  }
  if (argc != 2) { fprintf(stderr, "usage: hygiene KEY | hygiene check KEY\n"); return 2; }
  key_t key = (key_t)strtol(argv[1], NULL, 0);
  char text[] = "alpha beta gamma";
  int n = 0, shm = -1;
  for (char *t = strtok(text, " "); t; t = strtok(NULL, " ")) {
    if (n++ == 0) shm = shmget(key, 4096, IPC_CREAT | 0600); /* first IPC call: lazy start-up */
  }
  CHECK(n == 3, "application strtok saw %d tokens, expected 3", n);
  CHECK(shm >= 0, "shmget: %s", strerror(errno));

  errno = 4242;
  int sid = semget(key + 1, 1, IPC_CREAT | 0600);
  CHECK(sid >= 0, "semget failed");
  CHECK(errno == 4242, "errno after a successful semget: %d", errno);
  errno = 4243;
  struct sembuf op = {0, 1, 0};
  CHECK(semop(sid, &op, 1) == 0, "semop failed");
  CHECK(errno == 4243, "errno after a successful semop: %d", errno);
  errno = 4244;
  char *p = shmat(shm, NULL, 0);
  CHECK(p != (void *)-1, "shmat failed");
  CHECK(errno == 4244, "errno after a successful shmat: %d", errno);
  errno = 4245;
  p[0] = 'x'; /* a page fault through the client */
  CHECK(errno == 4245, "errno after a DSM page fault: %d", errno);
  errno = 4246;
  int q = msgget(key + 2, IPC_CREAT | 0600);
  struct { long t; char b[8]; } m = {1, "hi"};
  CHECK(q >= 0 && msgsnd(q, &m, sizeof m.b, 0) == 0, "msgget/msgsnd failed");
  CHECK(errno == 4246, "errno after successful msgget+msgsnd: %d", errno);
  CHECK(msgrcv(q, &m, sizeof m.b, 0, 0) == (ssize_t)sizeof m.b, "msgrcv failed");
  CHECK(errno == 4246, "errno after a successful msgrcv: %d", errno);
  /* a failing call still reports its error */
  errno = 0;
  CHECK(shmget(key + 3, 4096, 0600) == -1 && errno == ENOENT, "missing key: errno %d, expected ENOENT", errno);

  shmdt(p);
  semctl(sid, 0, IPC_RMID);
  msgctl(q, IPC_RMID, NULL);
  printf("%s dsm_hygiene\n", bad ? "FAIL" : "PASS");
  return bad;
}
