/* exec.c — exec() after writing shared memory must not lose the pages only
 * this process held (System V detaches on exec; the data stays).
 *   exec writer KEY   create 16 pages, write them, try a failing exec (must
 *                     return ENOENT and leave the data usable), then exec
 *                     ourselves as "exec reader KEY" (and via execl)
 *   exec reader KEY   (the new image) attach and check every page
 *   exec other KEY    on another host: check every page after the reader */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#define PAGE 4096
#define NP 16
static int check(volatile unsigned char *m, unsigned char base, const char *who) {
  for (int p = 0; p < NP; p++)
    for (int i = 0; i < PAGE; i += 97)
      if (m[p * PAGE + i] != (unsigned char)(base + p + i)) {
        printf("FAIL %s: page %d byte %d = %u, want %u\n", who, p, i, m[p * PAGE + i], (unsigned char)(base + p + i));
        return 1;
      }
  return 0;
}
static void fill(volatile unsigned char *m, unsigned char base) {
  for (int p = 0; p < NP; p++)
    for (int i = 0; i < PAGE; i++) m[p * PAGE + i] = (unsigned char)(base + p + i);
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: exec writer|reader|other KEY\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  int writer = !strcmp(argv[1], "writer");
  int id = shmget(key, NP * PAGE, writer ? IPC_CREAT | 0600 : 0600);
  volatile unsigned char *m = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (m == (void *)-1) { perror("FAIL exec attach"); return 1; }
  if (writer) {
    fill(m, 1);
    /* a failing exec hands the pages back, yet the process carries on */
    char *nargv[] = {"/nonexistent/prog", NULL};
    if (execv(nargv[0], nargv) != -1 || errno != ENOENT) { printf("FAIL execv of a missing file: errno %d\n", errno); return 1; }
    if (check(m, 1, "writer after failed exec")) return 1;
    fill(m, 7); /* write again: the pages fault back in */
    if (execl("/proc/self/exe", argv[0], "reader", argv[2], (char *)NULL) == -1) { perror("FAIL execl"); return 1; }
    return 1;
  }
  if (!strcmp(argv[1], "reader")) {
    if (check(m, 7, "reader (after exec)")) return 1;
    fill(m, 9);
    printf("reader: 16 pages written before exec are intact in the new image\n");
    shmdt((void *)m);
    return 0;
  }
  if (check(m, 9, "other host")) return 1;
  printf("other: 16 pages intact on another host\n");
  shmctl(id, IPC_RMID, NULL);
  return 0;
}
