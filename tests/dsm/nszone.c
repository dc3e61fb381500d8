/* nszone.c — keys in every zone of a 4-level nameserver tree (root h1 → h2 →
 * h3 → h4): the id's embedded host index must name the zone's home, and a
 * segment homed three referrals down shares data across hosts.
 *   nszone home KEY WANT_HOST_INDEX    shmget/semget/msgget KEY: check the home
 *   nszone put KEY                     create a segment, write a pattern
 *   nszone get KEY                     attach it, check the pattern, remove it */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

static int host_of(int id) { return (id >> 20) & 0x3ff; }

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: see the banner of nszone.c\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  if (!strcmp(argv[1], "home") && argc == 4) {
    int want = atoi(argv[3]);
    int ids[3] = {shmget(key, 4096, IPC_CREAT | 0600), semget(key, 1, IPC_CREAT | 0600), msgget(key, IPC_CREAT | 0600)};
    const char *kind[3] = {"shm", "sem", "msg"};
    for (int i = 0; i < 3; i++) {
      if (ids[i] < 0) { printf("FAIL %sget 0x%x: %m\n", kind[i], (unsigned)key); return 1; }
      if (!(ids[i] & 0x40000000) || host_of(ids[i]) != want) {
        printf("FAIL %s key 0x%x: id 0x%x is homed on host index %d, want %d\n", kind[i], (unsigned)key, ids[i], host_of(ids[i]), want);
        return 1;
      }
    }
    printf("key 0x%x: shm, sem and msg homed on host index %d\n", (unsigned)key, want);
    shmctl(ids[0], IPC_RMID, NULL);
    semctl(ids[1], 0, IPC_RMID);
    msgctl(ids[2], IPC_RMID, NULL);
    return 0;
  }
  int put = !strcmp(argv[1], "put");
  int id = shmget(key, 3 * 4096, put ? IPC_CREAT | IPC_EXCL | 0600 : 0600);
  char *m = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (m == (void *)-1) { printf("FAIL %s 0x%x: %m\n", argv[1], (unsigned)key); return 1; }
  for (int i = 0; i < 3 * 4096; i++) {
    if (put) m[i] = (char)(i * 31 + 5);
    else if (m[i] != (char)(i * 31 + 5)) { printf("FAIL get: byte %d differs\n", i); return 1; }
  }
  if (!put) { shmctl(id, IPC_RMID, NULL); printf("get: segment homed on host index %d read intact\n", host_of(id)); }
  shmdt(m);
  return 0;
}
