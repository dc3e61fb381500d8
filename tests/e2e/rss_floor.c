/* tests/e2e/rss_floor.c — what every mojcc program pays before main (issue
 * 11, item 4): libcrypto is not loaded until the runtime first needs it
 * (migration images, the cluster handshake and channel encryption:
 * runtime/crypto_lazy.c) — linked directly it added ~1.5 MB of resident
 * memory to every program (2.1 MB → 3.6 MB for an empty main, against 1.1 MB
 * under clang), so a small program's peak RSS could not stay within 1.5x of
 * clang's.  libzstd likewise (images, compressed DSM pages: ~90 KB;
 * runtime/zstd_lazy.c).  A new direct call from the runtime into either
 * shows here. */
#include <mojave.h>
#include <stdio.h>
#include <string.h>
#include "check.h"

int main(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f != NULL, "cannot open /proc/self/maps");
  if (!f) DONE();
  char line[512];
  int crypto = 0, zstd = 0;
  while (fgets(line, sizeof line, f)) {
    crypto |= strstr(line, "libcrypto") != NULL;
    zstd |= strstr(line, "libzstd") != NULL;
  }
  fclose(f);
  CHECK(!crypto, "libcrypto is mapped before the runtime needed it");
  CHECK(!zstd, "libzstd is mapped before the runtime needed it");
  int id = spec_enter(); /* the runtime is there and working */
  CHECK(id > 0 && spec_commit(id) == 0, "spec_enter %d", id);
  DONE();
}
