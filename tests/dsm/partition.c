/* partition.c — a process blocked in semop on a set homed on another host must
 * not hang when the network between them dies silently (no FIN/RST): TCP
 * keepalive notices and the call fails with a connection errno (ETIMEDOUT;
 * not EIDRM: the set was not removed).  Idle it takes ~2.5 s (the
 * liveness timers); the bound is a hang guard, far below the kernel defaults
 * (2 h keepalive, ~15 min retransmissions) that it exists to rule out.
 *   partition KEY OUTDIR   (prints the time from the cut to the error) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_REALTIME, &t); return (double)t.tv_sec + (double)t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: partition KEY OUTDIR\n"); return 2; }
  int s = semget((key_t)strtol(argv[1], NULL, 0), 1, IPC_CREAT | 0600);
  if (s < 0) { perror("FAIL semget"); return 1; }
  char p[512];
  snprintf(p, sizeof p, "%s/blocked", argv[2]);
  FILE *f = fopen(p, "w");
  if (f) fclose(f);
  struct sembuf b = {0, -1, 0};
  int r = semop(s, &b, 1);
  int e = errno;
  double t = now();
  snprintf(p, sizeof p, "%s/cut.time", argv[2]);
  f = fopen(p, "r");
  double cut = 0;
  if (!f || fscanf(f, "%lf", &cut) != 1) { printf("FAIL semop returned %d (%s) before the cut\n", r, strerror(e)); return 1; }
  fclose(f);
  printf("semop returned %d errno %s %.2f s after the link was cut\n", r, strerror(e), t - cut);
  if (r != -1 || (e != ETIMEDOUT && e != ECONNRESET && e != EHOSTUNREACH && e != ENETUNREACH && e != ECONNREFUSED) || t - cut > 30.0) { printf("FAIL partition\n"); return 1; }
  printf("PASS partition\n");
  return 0;
}
