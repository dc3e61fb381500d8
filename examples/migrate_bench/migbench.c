/* examples/migrate_bench/migbench.c — Figure 4's program (built by mojcc):
 * a heap of SIZE bytes in 64 KiB objects, one moj_migrate(HOST) at the bottom
 * of a few frames; prints how long the program was frozen (CLOCK_REALTIME at
 * the call and on arrival, the same clock on every namespace host) and checks
 * the heap at the destination (check_ms: how long that took there).
 *   migbench SIZE_BYTES HOST binary|ir */
#include <mojave.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heap_fill.h"

#define CHUNK 65536
static unsigned char **chunks;
static size_t nchunks, last;

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int check(size_t size) {
  unsigned char *want = malloc(CHUNK);
  int bad = 0;
  for (size_t i = 0; i < nchunks && !bad; i++) {
    size_t n = i + 1 == nchunks ? last : CHUNK;
    heap_fill(want, n, i);
    bad = memcmp(chunks[i], want, n) != 0;
  }
  free(want);
  (void)size;
  return !bad;
}

static int __attribute__((noinline)) hop(const char *host, int mode, int depth, size_t size) {
  if (depth > 0) return hop(host, mode, depth - 1, size) + 1;
  double t0 = wall();
  int r = moj_migrate(host, mode);
  double t1 = wall();
  if (r != MOJ_MIGRATE_ARRIVED) {
    printf("FAIL migbench: moj_migrate(%s): %s\n", host, moj_migrate_error());
    return -1000;
  }
  printf("frozen_ms %.3f heap_bytes %zu\n", (t1 - t0) * 1e3, size);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: migbench SIZE_BYTES HOST binary|ir\n"); return 2; }
  size_t size = strtoull(argv[1], NULL, 0);
  int mode = !strcmp(argv[3], "ir") ? MOJ_MIGRATE_IR : MOJ_MIGRATE_BINARY;
  nchunks = (size + CHUNK - 1) / CHUNK;
  last = size - (nchunks - 1) * CHUNK;
  chunks = malloc(nchunks * sizeof *chunks);
  for (size_t i = 0; i < nchunks; i++) {
    size_t n = i + 1 == nchunks ? last : CHUNK;
    chunks[i] = malloc(n);
    heap_fill(chunks[i], n, i);
  }
  if (hop(argv[2], mode, 8, size) < 0) return 1;
  /* the same work at every host: under an emulator it shows the slowdown */
  double c0 = wall();
  int ok = check(size);
  printf("check_ms %.3f\n", (wall() - c0) * 1e3);
  if (!ok) { printf("FAIL migbench: heap differs after the migration\n"); return 1; }
  printf("PASS migbench\n");
  return 0;
}
