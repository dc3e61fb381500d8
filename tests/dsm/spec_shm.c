/* spec_shm.c — speculations over distributed shared memory (issue 12, item
 * 1), built by mojcc.  The writer (h2) stores to a DSM segment homed on h1
 * inside speculations while the reader (h1) reads the same page:
 *   A  write 111 in a level, abort it  -> the writer sees 0 again; the
 *      reader, blocked meanwhile, reads 0 (never 111)
 *   B  write 222 in a level, 333 and a second page in a nested one, abort
 *      the nested one, commit the outer -> writer 222 and 0; the reader,
 *      blocked until the commit, reads 222 and 0
 * The files in DIR order the two; the reader may not finish a read before
 * the writer resolves the level (checked when the writer resolves it).
 *   spec_shm writer KEY DIR      spec_shm reader KEY DIR */
#include <errno.h>
#include <mojave.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static int bad;
#define CHECK(c, ...) do { if (!(c)) { printf("FAIL: " __VA_ARGS__); printf("\n"); fflush(stdout); bad = 1; } } while (0)

static void put(const char *name, long v) {
  char p[512], t[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  snprintf(t, sizeof t, "%s.tmp", p);
  FILE *f = fopen(t, "w");
  if (!f) { perror(t); exit(1); }
  fprintf(f, "%ld\n", v);
  fclose(f);
  rename(t, p);
}
static int has(const char *name) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  struct stat st;
  return stat(p, &st) == 0;
}
static long get(const char *name) { /* waits (bounded by count) for the file */
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  for (int i = 0; i < 6000; i++) {
    FILE *f = fopen(p, "r");
    if (f) {
      long v = -1;
      if (fscanf(f, "%ld", &v) != 1) v = -1;
      fclose(f);
      return v;
    }
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  printf("FAIL: %s never appeared\n", name);
  exit(1);
}
static void nap_ms(long ms) { struct timespec ts = {ms / 1000, (ms % 1000) * 1000000}; nanosleep(&ts, NULL); }

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: spec_shm writer|reader KEY DIR\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  dir = argv[3];
  int writer = !strcmp(argv[1], "writer");
  int id = shmget(key, 2 * 4096, IPC_CREAT | 0600);
  volatile long *x = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (x == (void *)-1) { printf("FAIL: shm: %s\n", strerror(errno)); return 1; }
  volatile long *y = x + 4096 / sizeof(long); /* the second page */
  if (writer) {
    x[0] = 0; y[0] = 0; /* ours, writable, before any level */
    /* A */
    int a = spec_enter();
    if (a > 0) {
      x[0] = 111;
      CHECK(x[0] == 111, "inside level: %ld", x[0]);
      put("A-written", 1);
      get("A-reading");
      nap_ms(300);
      CHECK(!has("A-read"), "the reader read the page while a level held its speculative write");
      spec_abort(a);
    }
    CHECK(a < 0, "spec_enter A: %d (%s)", a, strerror(errno));
    CHECK(x[0] == 0, "after abort the writer sees %ld, want 0", x[0]);
    CHECK(get("A-read") == 0, "the reader saw %ld after the abort, want 0", get("A-read"));
    /* B */
    int b = spec_enter();
    CHECK(b > 0, "spec_enter B: %d (%s)", b, strerror(errno));
    x[0] = 222;
    int c = spec_enter();
    if (c > 0) {
      x[0] = 333;
      y[0] = 5;
      spec_abort(c);
    }
    CHECK(x[0] == 222 && y[0] == 0, "after the nested abort: x %ld y %ld, want 222 0", x[0], y[0]);
    put("B-written", 1);
    get("B-reading");
    nap_ms(300);
    CHECK(!has("B-read"), "the reader read the page before the commit");
    spec_commit(b);
    CHECK(get("B-read") == 222, "the reader saw %ld after the commit, want 222", get("B-read"));
    CHECK(get("B-read-y") == 0, "the reader saw y = %ld, want 0", get("B-read-y"));
    shmdt((void *)x);
    shmctl(id, IPC_RMID, NULL);
    printf("%s dsm_spec_shm writer\n", bad ? "FAIL" : "PASS");
    return bad;
  }
  get("A-written");
  put("A-reading", 1);
  put("A-read", x[0]); /* blocks until the writer's level is resolved */
  get("B-written");
  put("B-reading", 1);
  long v = x[0];
  put("B-read-y", y[0]);
  put("B-read", v);
  shmdt((void *)x);
  printf("PASS dsm_spec_shm reader\n");
  return 0;
}
