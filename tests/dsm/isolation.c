/* isolation.c — cluster hosts are really separate machines: System V objects
 * under a key outside the `distributed` ranges, and POSIX shared memory
 * (/dev/shm), exist only on the host that made them, while a distributed key
 * is seen everywhere.  A test that passes because two "hosts" share one kernel
 * IPC namespace proves nothing about the DSM, so this guards cluster.sh.
 *   isolation make LOCALKEY DISTKEY NAME   create all three (on the first host)
 *   isolation home LOCALKEY DISTKEY NAME   all three visible (same host, new process)
 *   isolation away LOCALKEY DISTKEY NAME   only the distributed one (another host)
 *   isolation clean LOCALKEY DISTKEY NAME  remove what this host holds */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#define MARK "isolation-mark"

static int fails;
static void fail(const char *what) { printf("FAIL %s (errno %s)\n", what, strerrorname_np(errno)); fails++; }

/* the local key's segment, semaphore set and queue: present or ENOENT */
static void check_local(key_t k, int present) {
  const char *kind[3] = {"shm", "sem", "msg"};
  for (int i = 0; i < 3; i++) {
    int id = i == 0 ? shmget(k, 0, 0) : i == 1 ? semget(k, 0, 0) : msgget(k, 0);
    char what[96];
    if (present && id < 0) {
      snprintf(what, sizeof what, "local %s key 0x%x missing on its own host", kind[i], k);
      fail(what);
    } else if (!present && (id >= 0 || errno != ENOENT)) {
      snprintf(what, sizeof what, "local %s key 0x%x visible from another host (id %d)", kind[i], k, id);
      fail(what);
    }
  }
}

static void check_dist(key_t k) {
  int id = shmget(k, 0, 0);
  char *p = id < 0 ? (void *)-1 : shmat(id, NULL, SHM_RDONLY);
  if (p == (void *)-1) { fail("distributed segment not attachable"); return; }
  if (strcmp(p, MARK)) fail("distributed segment lacks the creator's mark");
  shmdt(p);
}

static void check_posix(const char *name, int present) {
  int fd = shm_open(name, O_RDONLY, 0);
  if (present && fd < 0) fail("shm_open name missing on its own host");
  if (!present && (fd >= 0 || errno != ENOENT)) fail("shm_open name visible from another host");
  if (fd >= 0) close(fd);
}

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: isolation make|home|away|clean LOCALKEY DISTKEY NAME\n"); return 2; }
  const char *mode = argv[1], *name = argv[4];
  key_t local = (key_t)strtoul(argv[2], NULL, 0), dist = (key_t)strtoul(argv[3], NULL, 0);
  if (!strcmp(mode, "make")) {
    if (shmget(local, 4096, IPC_CREAT | 0600) < 0) fail("shmget local");
    if (semget(local, 1, IPC_CREAT | 0600) < 0) fail("semget local");
    if (msgget(local, IPC_CREAT | 0600) < 0) fail("msgget local");
    int id = shmget(dist, 4096, IPC_CREAT | 0600);
    char *p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
    if (p == (void *)-1) fail("distributed segment");
    else { strcpy(p, MARK); shmdt(p); }
    int fd = shm_open(name, O_CREAT | O_RDWR, 0600);
    if (fd < 0) fail("shm_open create");
    else close(fd);
  } else if (!strcmp(mode, "home") || !strcmp(mode, "away")) {
    int home = !strcmp(mode, "home");
    check_local(local, home);
    check_dist(dist);
    check_posix(name, home);
  } else if (!strcmp(mode, "clean")) {
    /* best effort: on the old shared namespace this is what keeps the
     * machine's own IPC namespace clean after a failing run */
    int id;
    if ((id = shmget(local, 0, 0)) >= 0) shmctl(id, IPC_RMID, NULL);
    if ((id = semget(local, 0, 0)) >= 0) semctl(id, 0, IPC_RMID);
    if ((id = msgget(local, 0)) >= 0) msgctl(id, IPC_RMID, NULL);
    if ((id = shmget(dist, 0, 0)) >= 0) shmctl(id, IPC_RMID, NULL);
    shm_unlink(name);
    return 0;
  } else {
    fprintf(stderr, "isolation: unknown mode %s\n", mode);
    return 2;
  }
  printf("isolation %s: %s\n", mode, fails ? "FAIL" : "ok");
  return fails != 0;
}
