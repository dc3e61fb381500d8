/* examples/migrate_bench/heap_fill.h — the benchmark's heap content, shared
 * by the migrated program and the network floor so both compress the same
 * bytes: 8-byte words from a fixed LCG, every other 64-byte line zero
 * (about 2:1 for zstd level 1, like a heap of numbers and pointers). */
#ifndef MIGBENCH_HEAP_FILL_H
#define MIGBENCH_HEAP_FILL_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>
static void heap_fill(unsigned char *p, size_t n, uint64_t seed) {
  uint64_t x = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t w = ((i / 64) & 1) ? 0 : (x >> 11);
    memcpy(p + i, &w, 8);
  }
  for (size_t i = n & ~(size_t)7; i < n; i++) p[i] = 0;
}
#endif
