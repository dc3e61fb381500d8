/* batch.c — fault batching (read-ahead, write-ahead) and what a crash loses
 * with it.  Run under LD_PRELOAD with MOJAVE_DSM_STATS=1; t_batch.sh checks the
 * fault counts the runtime prints and the home daemon's log.
 *   batch fill KEY NPAGES       create + write a pattern, detach
 *   batch scan KEY NPAGES       read every page in order, check the pattern
 *   batch write KEY NPAGES      write every page of a fresh segment in order
 *   batch victim KEY OUTDIR     store to pages 0 and 1 of a fresh segment, wait to be killed
 *   batch survivor KEY          after the kill: pages 0, 1 lost (SIGBUS), the rest intact */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#define PAGE 4096
static unsigned char pat(long pg, long i) { return (unsigned char)(pg * 7 + i * 13 + 1); }
static sigjmp_buf jb;
static void on_bus(int s) { (void)s; siglongjmp(jb, 1); }

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: see the banner of batch.c\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  const char *mode = argv[1];
  long np = strtol(argv[3], NULL, 10);
  int victim = !strcmp(mode, "victim"), survivor = !strcmp(mode, "survivor");
  if (victim || survivor) np = 64;
  int id = shmget(key, (size_t)np * PAGE, (!strcmp(mode, "scan") || survivor) ? 0600 : IPC_CREAT | 0600);
  volatile unsigned char *m = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (m == (void *)-1) { perror("FAIL batch attach"); return 1; }
  if (!strcmp(mode, "fill")) {
    for (long p = 0; p < np; p++)
      for (long i = 0; i < PAGE; i++) m[p * PAGE + i] = pat(p, i);
  } else if (!strcmp(mode, "scan")) {
    for (long p = 0; p < np; p++)
      for (long i = 0; i < PAGE; i += 61)
        if (m[p * PAGE + i] != pat(p, i)) { printf("FAIL scan: page %ld byte %ld = %u, want %u\n", p, i, m[p * PAGE + i], pat(p, i)); return 1; }
  } else if (!strcmp(mode, "write")) {
    for (long p = 0; p < np; p++) m[p * PAGE + (p % PAGE)] = 0x5a;
    for (long p = 0; p < np; p++)
      if (m[p * PAGE + (p % PAGE)] != 0x5a) { printf("FAIL write: page %ld lost its store\n", p); return 1; }
  } else if (victim) {
    m[0] = 'V'; /* write fault: page 0 granted, the following idle pages come along clean */
    m[PAGE] = 'W'; /* a clean page stored to: must be reported before the store */
    char p[512];
    snprintf(p, sizeof p, "%s/victim.ready", argv[3]);
    FILE *f = fopen(p, "w");
    if (f) { fprintf(f, "%d\n", (int)getpid()); fclose(f); }
    for (;;) pause();
  } else if (survivor) {
    signal(SIGBUS, on_bus);
    for (long p = 0; p < np; p++) {
      if (sigsetjmp(jb, 1) == 0) {
        unsigned char c = m[p * PAGE + 9];
        if (p < 2) { printf("FAIL survivor: page %ld, stored to by the killed process, read without SIGBUS\n", p); return 1; }
        if (c != 0) { printf("FAIL survivor: page %ld = %u, want 0\n", p, c); return 1; }
      } else if (p >= 2) {
        printf("FAIL survivor: page %ld, never stored to by the killed process, was lost (SIGBUS)\n", p);
        return 1;
      }
    }
    printf("survivor: pages 0-1 lost, pages 2-%ld intact\n", np - 1);
  } else {
    fprintf(stderr, "batch: unknown mode %s\n", mode);
    return 2;
  }
  shmdt((void *)m);
  return 0;
}
