/* mq_restart.c — a distributed message queue whose home is killed -9 and
 * restarted (t_ipc_restart.sh mq) while producers send numbered messages and
 * consumers receive them: every message must arrive exactly once.  The
 * queue holds about 150 messages, so producers block on a full queue and
 * consumers on an empty one, across the restarts too.
 *   mq_restart create KEY                    make the queue
 *   mq_restart produce KEY ID COUNT OUTDIR   send (ID, 0..COUNT-1)
 *   mq_restart consume KEY ID OUTDIR         receive until a stop message; write OUTDIR/got.ID
 *   mq_restart stop KEY NCONS                one stop message per consumer (after all data)
 *   mq_restart check KEY NPROD COUNT NCONS OUTDIR   exactly once? then remove the queue
 * Producers and consumers write their count to OUTDIR/prog.p|c.ID every
 * PROGRESS_EVERY messages: the driver's clock for the restarts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#define PROGRESS_EVERY 20
#define MAXPROD 16
#define MAXCOUNT 100000
struct m { long mtype; int prod; int seq; char pad[92]; };
enum { DATA = 1, STOP = 2 };

static void progress(const char *out, const char *who, int id, int n) {
  char p[512], t[520];
  snprintf(p, sizeof p, "%s/prog.%s.%d", out, who, id);
  snprintf(t, sizeof t, "%s.tmp", p);
  FILE *f = fopen(t, "w");
  if (!f) return;
  fprintf(f, "%d\n", n);
  fclose(f);
  rename(t, p);
}
static int qid(key_t key) {
  int q;
  for (int i = 0; (q = msgget(key, 0600)) < 0; i++) {
    if (errno != ENOENT || i == 3000) { perror("FAIL msgget"); return -1; }
    usleep(10000);
  }
  return q;
}
static int snd(int q, struct m *x) {
  for (int i = 0; i < 1000; i++) {
    if (msgsnd(q, x, sizeof *x - sizeof(long), 0) == 0) return 0;
    if (errno != EINTR) break;
  }
  perror("FAIL msgsnd");
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: see mq_restart.c\n"); return 2; }
  const char *mode = argv[1];
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  if (!strcmp(mode, "create")) {
    if (msgget(key, IPC_CREAT | IPC_EXCL | 0600) < 0) { perror("FAIL msgget create"); return 1; }
    return 0;
  }
  int q = qid(key);
  if (q < 0) return 1;
  if (!strcmp(mode, "produce") && argc == 6) {
    int id = atoi(argv[3]), count = atoi(argv[4]);
    for (int s = 0; s < count; s++) {
      struct m x = {DATA, id, s, {0}};
      if (snd(q, &x)) return 1;
      if ((s + 1) % PROGRESS_EVERY == 0) progress(argv[5], "p", id, s + 1);
    }
    progress(argv[5], "p", id, count);
    printf("PASS mq_restart produce %d\n", id);
    return 0;
  }
  if (!strcmp(mode, "consume") && argc == 5) {
    int id = atoi(argv[3]), n = 0, cap = 1024;
    int *got = malloc(sizeof(int) * 2 * (size_t)cap);
    for (;;) {
      struct m x;
      ssize_t r = msgrcv(q, &x, sizeof x - sizeof(long), 0, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r != (ssize_t)(sizeof x - sizeof(long))) { perror("FAIL msgrcv"); printf("FAIL msgrcv returned %zd\n", r); return 1; }
      if (x.mtype == STOP) break;
      if (n == cap) { cap *= 2; got = realloc(got, sizeof(int) * 2 * (size_t)cap); }
      got[2 * n] = x.prod; got[2 * n + 1] = x.seq;
      n++;
      if (n % PROGRESS_EVERY == 0) progress(argv[4], "c", id, n);
    }
    char p[512];
    snprintf(p, sizeof p, "%s/got.%d", argv[4], id);
    FILE *f = fopen(p, "w");
    if (!f || fwrite(got, sizeof(int) * 2, (size_t)n, f) != (size_t)n || fclose(f)) { printf("FAIL cannot write %s\n", p); return 1; }
    printf("PASS mq_restart consume %d (%d messages)\n", id, n);
    return 0;
  }
  if (!strcmp(mode, "stop") && argc == 4) {
    for (int i = 0; i < atoi(argv[3]); i++) {
      struct m x = {STOP, -1, -1, {0}};
      if (snd(q, &x)) return 1;
    }
    return 0;
  }
  if (!strcmp(mode, "check") && argc == 7) {
    int np = atoi(argv[3]), count = atoi(argv[4]), nc = atoi(argv[5]);
    if (np < 1 || np > MAXPROD || count < 1 || count > MAXCOUNT) { printf("FAIL check: bad arguments\n"); return 1; }
    unsigned char *seen = calloc((size_t)np * (size_t)count, 1);
    long total = 0, bad = 0, dup = 0;
    for (int c = 0; c < nc; c++) {
      char p[512];
      snprintf(p, sizeof p, "%s/got.%d", argv[6], c);
      FILE *f = fopen(p, "r");
      if (!f) { printf("FAIL check: no %s\n", p); return 1; }
      int rec[2];
      while (fread(rec, sizeof rec, 1, f) == 1) {
        total++;
        if (rec[0] < 0 || rec[0] >= np || rec[1] < 0 || rec[1] >= count) { bad++; continue; }
        if (seen[(size_t)rec[0] * (size_t)count + (size_t)rec[1]]++) dup++;
      }
      fclose(f);
    }
    long missing = 0;
    for (size_t i = 0; i < (size_t)np * (size_t)count; i++) missing += !seen[i];
    struct msqid_ds ds;
    int left = msgctl(q, IPC_STAT, &ds) == 0 ? (int)ds.msg_qnum : -1;
    printf("received %ld of %ld: %ld duplicate(s), %ld missing, %ld malformed, %d left in the queue\n", total,
           (long)np * count, dup, missing, bad, left);
    msgctl(q, IPC_RMID, NULL);
    if (dup || missing || bad || left != 0) { printf("FAIL mq_restart: not exactly once\n"); return 1; }
    printf("PASS mq_restart check\n");
    return 0;
  }
  fprintf(stderr, "usage: see mq_restart.c\n");
  return 2;
}
