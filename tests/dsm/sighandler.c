/* sighandler.c — an application signal handler that writes DSM memory fires
 * every 200 µs while the main thread keeps calling into the runtime (semop,
 * msgsnd from a buffer that itself lives in DSM memory, faults on a page
 * another host keeps writing).  Must finish without deadlock and with the
 * handler's count intact.   sighandler KEY ROLE(main|peer) OUTDIR */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/time.h>
#include <unistd.h>

#define ROUNDS 2000
/* ticks shares page 1 with peer: the handler's store faults whenever the peer
 * took the page.  msg (page 2) is written by main every round; stop has a page
 * of its own (page 3), so the peer polling it never pulls msg's page away and
 * the run is bounded by ROUNDS alone, not by a wall-clock guess. */
struct msgbuf_ { long t; char d[64]; };
struct area {
  char p0[4096];
  volatile long peer; volatile long ticks; char p1[4096 - 16];
  struct msgbuf_ msg; char p2[4096 - sizeof(struct msgbuf_)];
  volatile int stop; char p3[4096 - sizeof(int)];
};
static struct area *a;
static void on_tick(int s) { (void)s; a->ticks++; }

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: sighandler KEY main|peer OUTDIR\n"); return 2; }
  key_t key = (key_t)strtol(argv[1], NULL, 0);
  int main_role = !strcmp(argv[2], "main");
  char flag[512];
  snprintf(flag, sizeof flag, "%s/ready", argv[3]);
  if (!main_role) for (int i = 0; i < 400 && access(flag, F_OK); i++) usleep(10000);
  int id = shmget(key, sizeof(struct area), IPC_CREAT | 0600);
  int sem = semget(key, 1, IPC_CREAT | 0600), q = msgget(key, IPC_CREAT | 0600);
  a = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (a == (void *)-1 || sem < 0 || q < 0) { perror("FAIL setup"); return 1; }
  if (!main_role) { /* keep taking page 1 away from the main process */
    for (long i = 0; !a->stop && i < 2000000; i++) { a->peer = i; usleep(100); }
    shmdt(a);
    printf("PASS sighandler peer\n");
    return 0;
  }
  FILE *f = fopen(flag, "w");
  if (f) fclose(f);
  signal(SIGALRM, on_tick);
  struct itimerval it = {{0, 200}, {0, 200}};
  setitimer(ITIMER_REAL, &it, NULL);
  struct sembuf v = {0, 1, 0}, p = {0, -1, 0};
  long seen = 0;
  int i;
  for (i = 0; i < ROUNDS; i++) {
    if (semop(sem, &v, 1) && errno != EINTR) { perror("FAIL semop V"); return 1; }
    while (semop(sem, &p, 1) && errno == EINTR) {}
    a->msg.t = 1;
    snprintf(a->msg.d, sizeof a->msg.d, "m%d", i);
    while (msgsnd(q, &a->msg, sizeof a->msg.d, 0) && errno == EINTR) {}
    struct { long t; char d[64]; } r;
    while (msgrcv(q, &r, sizeof r.d, 0, 0) < 0 && errno == EINTR) {}
    if (strcmp(r.d, a->msg.d)) { printf("FAIL message %d: got '%s'\n", i, r.d); return 1; }
    seen += a->peer >= 0;
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  a->stop = 1;
  long ticks = a->ticks;
  printf("handler ran %ld times during %d semop/msgsnd/msgrcv rounds\n", ticks, i);
  /* a 200 us timer over >= ROUNDS * 4 round trips fires far more than 10 times
   * on any machine; fewer means the handler's signals were lost or blocked */
  if (ticks < 10) { printf("FAIL sighandler: handler ran only %ld times\n", ticks); return 1; }
  semctl(sem, 0, IPC_RMID); msgctl(q, IPC_RMID, NULL); shmctl(id, IPC_RMID, NULL);
  shmdt(a);
  printf("PASS sighandler main\n");
  return 0;
}
