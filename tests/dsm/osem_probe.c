/* osem_probe.c — one System V call on the ordered semaphore set KEY (plain
 * cc, run under LD_PRELOAD), for t_osem.sh:
 *   osem_probe init KEY V    create the set (1 semaphore) and SETVAL V
 *   osem_probe get KEY       print GETVAL (a semctl, ordered like the rest)
 *   osem_probe undo KEY      take 1 with SEM_UNDO and exit: when the process
 *                            is gone its daemon submits the departure and
 *                            every replica gives the unit back
 *   osem_probe timeout KEY   semtimedop -1 with a 200 ms timeout on a zero
 *                            semaphore: must fail with EAGAIN (the deadline
 *                            is a CANCEL ordered like everything else)
 *   osem_probe rm KEY        IPC_RMID */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: %s init|get|undo|timeout|rm KEY [V]\n", argv[0]); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  const char *cmd = argv[1];
  int init = !strcmp(cmd, "init");
  int s = semget(key, 1, init ? IPC_CREAT | IPC_EXCL | 0600 : 0600);
  if (s < 0) { printf("FAIL osem_probe %s: semget: %s\n", cmd, strerror(errno)); return 1; }
  if (init) {
    if (argc != 4 || semctl(s, 0, SETVAL, atoi(argv[3]))) { printf("FAIL osem_probe: SETVAL: %s\n", strerror(errno)); return 1; }
  } else if (!strcmp(cmd, "get")) {
    int v = semctl(s, 0, GETVAL);
    if (v < 0) { printf("FAIL osem_probe: GETVAL: %s\n", strerror(errno)); return 1; }
    printf("%d\n", v);
  } else if (!strcmp(cmd, "undo")) {
    struct sembuf b = {0, -1, SEM_UNDO};
    if (semop(s, &b, 1)) { printf("FAIL osem_probe: semop: %s\n", strerror(errno)); return 1; }
  } else if (!strcmp(cmd, "timeout")) {
    struct sembuf b = {0, -1, 0};
    struct timespec t = {0, 200000000};
    int r = semtimedop(s, &b, 1, &t);
    if (r == 0 || errno != EAGAIN) { printf("FAIL osem_probe: semtimedop returned %d (%s), want EAGAIN\n", r, strerror(errno)); return 1; }
  } else if (!strcmp(cmd, "rm")) {
    if (semctl(s, 0, IPC_RMID)) { printf("FAIL osem_probe: IPC_RMID: %s\n", strerror(errno)); return 1; }
  } else {
    fprintf(stderr, "osem_probe: unknown command '%s'\n", cmd);
    return 2;
  }
  return 0;
}
