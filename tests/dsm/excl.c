/* excl.c — IPC_CREAT|IPC_EXCL is atomic cluster-wide: processes on several
 * hosts race to create the same keys (shm, sem, msg; keys homed on the root
 * and on a delegate); for every key exactly one creator may win and all the
 * others must get EEXIST.  Each process records its wins; `check` counts.
 *   excl race INDEX ROUNDS OUTDIR      excl check NPROCS ROUNDS OUTDIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

static key_t keyof(int r) { return (r & 1) ? 0x4d4aa000 + r : 0x4d4a1000 + r; } /* odd: delegate h2, even: root */

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: excl race INDEX ROUNDS OUTDIR | excl check NPROCS ROUNDS OUTDIR\n"); return 2; }
  int a = atoi(argv[2]), rounds = atoi(argv[3]);
  char path[512];
  if (!strcmp(argv[1], "race")) {
    snprintf(path, sizeof path, "%s/go", argv[4]);
    for (int i = 0; i < 400 && access(path, F_OK); i++) usleep(5000);
    char *won = calloc((size_t)rounds, 3);
    for (int r = 0; r < rounds; r++) {
      key_t k = keyof(r);
      int s = shmget(k, 4096, IPC_CREAT | IPC_EXCL | 0600);
      if (s >= 0) won[3 * r] = 1; else if (errno != EEXIST) { perror("FAIL shmget"); return 1; }
      s = semget(k, 1, IPC_CREAT | IPC_EXCL | 0600);
      if (s >= 0) won[3 * r + 1] = 1; else if (errno != EEXIST) { perror("FAIL semget"); return 1; }
      s = msgget(k, IPC_CREAT | IPC_EXCL | 0600);
      if (s >= 0) won[3 * r + 2] = 1; else if (errno != EEXIST) { perror("FAIL msgget"); return 1; }
    }
    snprintf(path, sizeof path, "%s/won.%d", argv[4], a);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(won, 3, (size_t)rounds, f) != (size_t)rounds || fclose(f)) { perror("FAIL write"); return 1; }
    return 0;
  }
  int bad = 0;
  int *cnt = calloc((size_t)rounds, 3 * sizeof(int));
  for (int p = 0; p < a; p++) {
    snprintf(path, sizeof path, "%s/won.%d", argv[4], p);
    FILE *f = fopen(path, "rb");
    char *won = malloc((size_t)rounds * 3);
    if (!f || fread(won, 3, (size_t)rounds, f) != (size_t)rounds) { printf("FAIL missing %s\n", path); return 1; }
    fclose(f);
    for (int i = 0; i < 3 * rounds; i++) cnt[i] += won[i];
    free(won);
  }
  for (int i = 0; i < 3 * rounds; i++) if (cnt[i] != 1) { printf("FAIL key 0x%x kind %d: %d creators\n", keyof(i / 3), i % 3, cnt[i]); bad++; }
  printf("excl: %d keys x 3 kinds, %d processes: %s\n", rounds, a, bad ? "violations" : "exactly one creator each");
  if (!bad) printf("PASS excl\n");
  return bad != 0;
}
