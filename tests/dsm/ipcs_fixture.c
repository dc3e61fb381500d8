/* ipcs_fixture.c — objects for the mojave-ipcs test (t_ipcs.sh).
 *   ipcs_fixture hold KEY READYFILE  create a 5-page segment (write pages 0-2),
 *                                    a 3-semaphore set and a queue with two
 *                                    messages; write READYFILE; wait until
 *                                    semaphore 0 is raised, then remove all
 *   ipcs_fixture release KEY         raise it
 * Plain cc under LD_PRELOAD=libmojave_ipc.so. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: ipcs_fixture hold KEY READYFILE | release KEY\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  int sem = semget(key + 1, 3, IPC_CREAT | 0640);
  if (sem < 0) { printf("FAIL ipcs_fixture: semget: %s\n", strerror(errno)); return 1; }
  if (!strcmp(argv[1], "release")) {
    struct sembuf up = {0, 1, 0};
    return semop(sem, &up, 1) ? 1 : 0;
  }
  if (argc != 4 || strcmp(argv[1], "hold")) return 2;
  int shm = shmget(key, 5 * 4096, IPC_CREAT | 0640), q = msgget(key + 2, IPC_CREAT | 0640);
  char *p = shm >= 0 ? shmat(shm, NULL, 0) : (void *)-1;
  if (p == (void *)-1 || q < 0) { printf("FAIL ipcs_fixture: shm/msg: %s\n", strerror(errno)); return 1; }
  memset(p, 1, 3 * 4096);
  struct { long t; char b[100]; } m = {1, "one"};
  if (msgsnd(q, &m, 10, 0) || msgsnd(q, &m, 20, 0)) { printf("FAIL ipcs_fixture: msgsnd: %s\n", strerror(errno)); return 1; }
  FILE *f = fopen(argv[3], "w");
  if (!f) return 1;
  fprintf(f, "%d\n", (int)getpid());
  fclose(f);
  struct sembuf down = {0, -1, 0};
  while (semop(sem, &down, 1) && errno == EINTR) {}
  shmdt(p);
  shmctl(shm, IPC_RMID, NULL);
  semctl(sem, 0, IPC_RMID);
  msgctl(q, IPC_RMID, NULL);
  return 0;
}
