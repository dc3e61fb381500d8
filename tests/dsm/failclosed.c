/* failclosed.c — the DSM client fails closed (issue 9, item 5).
 *   failclosed refuse KEY    MOJAVE_CLUSTER set but unusable: every System V
 *                            call fails with ENONET (distributed key, local
 *                            key, IPC_PRIVATE), none runs on local IPC
 *   failclosed fallback KEY  the same with MOJAVE_DSM_FALLBACK=local: the
 *                            calls work, on the local kernel
 *   failclosed down KEY      the daemons are down: calls fail with a
 *                            connection errno, never EIDRM (20 tries; the
 *                            driver counts the messages: rate-limited)
 * Plain cc, run under LD_PRELOAD=libmojave_ipc.so. */
#define _GNU_SOURCE /* strerrorname_np */
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

static const char *ename(int e) { const char *n = strerrorname_np(e); return n ? n : "?"; }

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: failclosed refuse|fallback|down KEY\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  if (!strcmp(argv[1], "refuse")) {
    key_t keys[] = {key, 0x13570f00, IPC_PRIVATE};
    for (int i = 0; i < 3; i++) {
      errno = 0;
      int r = shmget(keys[i], 4096, IPC_CREAT | 0600);
      CHECK(r == -1 && errno == ENONET, "shmget(0x%x): %d %s, expected ENONET", (unsigned)keys[i], r, ename(errno));
      errno = 0;
      r = semget(keys[i], 1, IPC_CREAT | 0600);
      CHECK(r == -1 && errno == ENONET, "semget(0x%x): %d %s, expected ENONET", (unsigned)keys[i], r, ename(errno));
      errno = 0;
      r = msgget(keys[i], IPC_CREAT | 0600);
      CHECK(r == -1 && errno == ENONET, "msgget(0x%x): %d %s, expected ENONET", (unsigned)keys[i], r, ename(errno));
    }
    errno = 0;
    CHECK(shmat(12345, NULL, 0) == (void *)-1 && errno == ENONET, "shmat(id) errno %s, expected ENONET", ename(errno));
  } else if (!strcmp(argv[1], "fallback")) {
    int s = shmget(key, 4096, IPC_CREAT | 0600), m = semget(IPC_PRIVATE, 1, 0600), q = msgget(key, IPC_CREAT | 0600);
    CHECK(s >= 0 && m >= 0 && q >= 0, "local fallback: shm %d sem %d msg %d (%s)", s, m, q, ename(errno));
    if (s >= 0) shmctl(s, IPC_RMID, NULL);
    if (m >= 0) semctl(m, 0, IPC_RMID);
    if (q >= 0) msgctl(q, IPC_RMID, NULL);
  } else if (!strcmp(argv[1], "down")) {
    for (int i = 0; i < 20; i++) {
      errno = 0;
      int r = shmget(key, 4096, IPC_CREAT | 0600);
      int e = errno;
      CHECK(r == -1 && (e == ECONNREFUSED || e == EHOSTUNREACH || e == ETIMEDOUT || e == ENETUNREACH),
            "try %d with the daemons down: shmget %d %s, expected a connection errno", i, r, ename(e));
    }
  } else {
    fprintf(stderr, "failclosed: unknown mode %s\n", argv[1]);
    return 2;
  }
  printf("%s dsm_failclosed %s\n", bad ? "FAIL" : "PASS", argv[1]);
  return bad;
}
