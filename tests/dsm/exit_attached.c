/* exit_attached.c — `w`: write 8 pages of a DSM segment and return from main
 * still attached, so the pages go home from the client library's destructor,
 * which runs after every atexit handler (libcrypto's cleanup among them: with
 * `encrypt` the hand-back is sealed after it).  `r`: check the 8 pages.
 *   exit_attached KEY w|r */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: exit_attached KEY w|r\n"); return 2; }
  int id = shmget((key_t)strtol(argv[1], NULL, 0), 8 * 4096, IPC_CREAT | 0600);
  volatile char *m = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (m == (void *)-1) { perror("exit_attached: shm"); return 1; }
  if (argv[2][0] == 'w') {
    for (int i = 0; i < 8; i++) m[i * 4096] = (char)('A' + i);
    return 0;
  }
  for (int i = 0; i < 8; i++)
    if (m[i * 4096] != 'A' + i) { printf("FAIL exit_attached: page %d holds %d\n", i, m[i * 4096]); return 1; }
  shmctl(id, IPC_RMID, NULL);
  shmdt((void *)m);
  printf("ok: pages handed back at exit are intact\n");
  return 0;
}
