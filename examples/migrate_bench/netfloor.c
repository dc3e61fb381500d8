/* examples/migrate_bench/netfloor.c — Figure 4's floor: the same heap bytes
 * (heap_fill.h), compressed with zstd level 1 and sent over one TCP
 * connection to a receiver on another host, which acknowledges the last byte.
 * Nothing of mojave is involved: a migration cannot be faster than this.
 *   netfloor --listen PORT           (receiver; serves until killed)
 *   netfloor --send ADDR PORT SIZE   (prints floor_ms and the bytes sent) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "heap_fill.h"

#define CHUNK 65536

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int listen_loop(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 4)) { perror("netfloor: listen"); return 1; }
  static char buf[1 << 20];
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    uint64_t want = 0, got = 0;
    if (read(c, &want, 8) == 8) {
      ssize_t r;
      while (got < want && (r = read(c, buf, sizeof buf)) > 0) got += (uint64_t)r;
      if (write(c, "k", 1) != 1) perror("netfloor: ack");
    }
    close(c);
  }
}

static int send_once(const char *addr, int port, size_t size) {
  unsigned char *raw = malloc(size ? size : 1);
  for (size_t i = 0, k = 0; i < size; i += CHUNK, k++)
    heap_fill(raw + i, size - i < CHUNK ? size - i : CHUNK, k);
  double t0 = mono();
  size_t cap = ZSTD_compressBound(size);
  unsigned char *z = malloc(cap);
  size_t zn = ZSTD_compress(z, cap, raw, size, 1);
  if (ZSTD_isError(zn)) { fprintf(stderr, "netfloor: zstd: %s\n", ZSTD_getErrorName(zn)); return 1; }
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, addr, &a.sin_addr);
  if (connect(s, (struct sockaddr *)&a, sizeof a)) { perror("netfloor: connect"); return 1; }
  uint64_t n = zn;
  if (write(s, &n, 8) != 8) return 1;
  for (size_t off = 0; off < zn;) {
    ssize_t w = write(s, z + off, zn - off);
    if (w <= 0) { perror("netfloor: write"); return 1; }
    off += (size_t)w;
  }
  char k;
  if (read(s, &k, 1) != 1) { fprintf(stderr, "netfloor: no ack\n"); return 1; }
  double t1 = mono();
  printf("floor_ms %.3f compressed_bytes %zu heap_bytes %zu\n", (t1 - t0) * 1e3, zn, size);
  close(s);
  free(raw);
  free(z);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--listen")) return listen_loop(atoi(argv[2]));
  if (argc == 5 && !strcmp(argv[1], "--send")) return send_once(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 0));
  fprintf(stderr, "usage: netfloor --listen PORT | --send ADDR PORT SIZE\n");
  return 2;
}
