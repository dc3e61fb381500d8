/* state_fuzz.c — damaged semaphore/queue state files must be refused with a
 * log line, never crash mojave-nsd (t_state_fuzz.sh).
 *   state_fuzz hold SEMKEY MQKEY OUTDIR
 *       make a set (with SEM_UNDO and request records) and a queue with
 *       messages, touch OUTDIR/ready, wait for OUTDIR/go (the home is
 *       restarted in between), check that both came back intact, remove them
 *   state_fuzz mutate NSD CLUSTER HOST GOOD WORKDIR N SEED
 *       N damaged copies of state file GOOD, each loaded by
 *       `NSD --verify-state` from WORKDIR: truncations, bit flips in the
 *       current image or the control block, appended or cut bytes and a
 *       future version must be rejected; random changes behind a recomputed
 *       checksum (which reach the parser) and anywhere in the file (the spare
 *       slot is not read) may be accepted or rejected — but the daemon must
 *       exit 0 or 1, never die of a signal. */
#include "state_fmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int wait_file(const char *out, const char *n) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", out, n);
  for (int i = 0; i < 1200; i++) { if (access(p, F_OK) == 0) return 0; usleep(50000); }
  printf("FAIL timeout waiting for %s\n", n);
  return -1;
}
struct m { long mtype; char text[200]; };

static int hold(key_t sk, key_t mk, const char *out) {
  int s = semget(sk, 3, IPC_CREAT | IPC_EXCL | 0600), q = msgget(mk, IPC_CREAT | IPC_EXCL | 0600);
  if (s < 0 || q < 0) { perror("FAIL create"); return 1; }
  unsigned short v[3] = {5, 7, 9};
  struct sembuf up = {1, 2, SEM_UNDO};
  if (semctl(s, 0, SETALL, v) || semop(s, &up, 1)) { perror("FAIL semaphore setup"); return 1; }
  for (int i = 1; i <= 5; i++) {
    struct m x = {i, {0}};
    snprintf(x.text, sizeof x.text, "message %d", i);
    if (msgsnd(q, &x, (size_t)(20 * i), 0)) { perror("FAIL msgsnd"); return 1; }
  }
  struct m x;
  if (msgrcv(q, &x, sizeof x.text, 0, 0) != 20) { perror("FAIL msgrcv"); return 1; }
  char p[512];
  snprintf(p, sizeof p, "%s/ready", out);
  FILE *f = fopen(p, "w");
  if (f) fclose(f);
  if (wait_file(out, "go")) return 1;
  int a = semctl(s, 0, GETVAL), b = semctl(s, 1, GETVAL), c = semctl(s, 2, GETVAL);
  struct msqid_ds ds;
  int rc = 0;
  if (a != 5 || b != 9 || c != 9) { printf("FAIL semaphores after restart: %d %d %d, want 5 9 9\n", a, b, c); rc = 1; }
  if (msgctl(q, IPC_STAT, &ds) || ds.msg_qnum != 4) { printf("FAIL queue after restart: %d messages, want 4\n", (int)ds.msg_qnum); rc = 1; }
  if (msgrcv(q, &x, sizeof x.text, 0, 0) != 40 || strcmp(x.text, "message 2")) { printf("FAIL first message after restart\n"); rc = 1; }
  semctl(s, 0, IPC_RMID);
  msgctl(q, IPC_RMID, NULL);
  if (!rc) printf("PASS state_fuzz hold\n");
  return rc;
}

static const char *nsd, *cluster, *host, *work, *base;
/* 0 accepted, 1 rejected (with its log line), -1 anything else */
static int verify(const uint8_t *buf, size_t len, char *why, size_t wl) {
  char path[600], log[600];
  snprintf(path, sizeof path, "%s/%s", work, base);
  snprintf(log, sizeof log, "%s.log", work);
  FILE *f = fopen(path, "w");
  if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) { snprintf(why, wl, "cannot write %s", path); return -1; }
  pid_t pid = fork();
  if (pid == 0) {
    FILE *l = freopen(log, "w", stderr);
    (void)l;
    execl(nsd, nsd, "--cluster", cluster, "--host", host, "--state", work, "--verify-state", (char *)NULL);
    _exit(127);
  }
  int st;
  if (pid < 0 || waitpid(pid, &st, 0) != pid) { snprintf(why, wl, "cannot run %s", nsd); return -1; }
  if (WIFSIGNALED(st)) { snprintf(why, wl, "daemon killed by signal %d", WTERMSIG(st)); return -1; }
  if (WEXITSTATUS(st) > 1) { snprintf(why, wl, "daemon exit status %d", WEXITSTATUS(st)); return -1; }
  if (WEXITSTATUS(st) == 0) return 0;
  FILE *lf = fopen(log, "r");
  char line[1024];
  int said = 0;
  while (lf && fgets(line, sizeof line, lf))
    if (strstr(line, "rejecting state file")) { said = 1; snprintf(why, wl, "%s", strstr(line, "rejecting")); }
  if (lf) fclose(lf);
  if (!said) { snprintf(why, wl, "rejected without a log line"); return -1; }
  return 1;
}
static size_t io, il, cap; /* the current image: offset in the file, length; slot size */
/* Set the image's body length and make its checksum right again. */
static void fix(uint8_t *b, size_t body_len) {
  struct moj_state_hdr h;
  memcpy(&h, b + io, sizeof h);
  h.body_len = (uint32_t)body_len;
  h.sum = moj_state_sum(b + io + sizeof h, body_len);
  memcpy(b + io, &h, sizeof h);
}

static int mutate(const char *good, int n, unsigned seed) {
  FILE *f = fopen(good, "r");
  struct stat st;
  if (!f || fstat(fileno(f), &st) || st.st_size < (off_t)sizeof(struct moj_state_file) + 8) { printf("FAIL cannot read %s\n", good); return 1; }
  size_t len = (size_t)st.st_size;
  uint8_t *g = malloc(len), *b = malloc(len);
  if (fread(g, 1, len, f) != len) { printf("FAIL short read %s\n", good); return 1; }
  fclose(f);
  base = strrchr(good, '/') ? strrchr(good, '/') + 1 : good;
  const char *why0;
  struct moj_state_file c;
  memcpy(&c, g, sizeof c);
  const uint8_t *img = moj_state_image(g, len, c.kind, &il, &why0);
  if (!img) { printf("FAIL %s: %s\n", base, why0); return 1; }
  io = (size_t)(img - g); cap = c.cap;
  size_t body = il - sizeof(struct moj_state_hdr);
  mkdir(work, 0700);
  char why[1200];
  if (verify(g, len, why, sizeof why) != 0) { printf("FAIL the undamaged %s is not accepted: %s\n", base, why); return 1; }
  srand(seed);
  int fails = 0, acc = 0, rej = 0;
  const char *kinds[] = {"file truncated", "bit flip in the image", "byte changed, checksum fixed",
                         "word overwritten, checksum fixed", "bytes appended, checksum fixed",
                         "future image version, checksum fixed", "body cut, checksum fixed",
                         "bit flip in the control block", "any byte of the file changed"};
  for (int i = 0; i < n; i++) {
    int k = i % 9, must_reject = k == 0 || k == 1 || k == 4 || k == 5 || k == 6 || k == 7;
    size_t bl = len;
    memcpy(b, g, len);
    switch (k) {
    case 0: bl = (size_t)rand() % len; break;
    case 1: b[io + (size_t)rand() % il] ^= (uint8_t)(1u << (rand() % 8)); break;
    case 2: b[io + sizeof(struct moj_state_hdr) + (size_t)rand() % body] = (uint8_t)rand(); fix(b, body); break;
    case 3: {
      static const uint32_t vals[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xffffffffu, 32000, 32001, 65536};
      uint32_t v = rand() % 2 ? vals[rand() % 8] : (uint32_t)rand();
      memcpy(b + io + sizeof(struct moj_state_hdr) + (size_t)rand() % (body - 3), &v, 4);
      fix(b, body);
      break;
    }
    case 4: {
      size_t extra = 1 + (size_t)rand() % 64;
      if (il + extra > cap) extra = cap - il;
      if (!extra) { must_reject = 0; break; }
      for (size_t j = 0; j < extra; j++) b[io + il + j] = (uint8_t)rand();
      fix(b, body + extra);
      break;
    }
    case 5: { uint16_t v = MOJ_STATE_VERSION + 1; memcpy(b + io + 4, &v, 2); fix(b, body); break; }
    case 6: fix(b, (size_t)rand() % body); break;
    case 7: b[(size_t)rand() % 16] ^= (uint8_t)(1u << (rand() % 8)); break;
    case 8: b[(size_t)rand() % len] = (uint8_t)rand(); break;
    }
    int r = verify(b, bl, why, sizeof why);
    if (r < 0 || (must_reject && r == 0)) {
      printf("FAIL %s, mutation %d (%s): %s\n", base, i, kinds[k], r < 0 ? why : "accepted");
      fails++;
    }
    if (r == 0) acc++;
    if (r == 1) rej++;
    if (i < 9 && r == 1) printf("  e.g. %s: %s", kinds[k], why);
  }
  printf("%s: %d damaged copies, %d rejected, %d accepted (harmless changes behind a fixed checksum), %d failure(s)\n", base,
         n, rej, acc, fails);
  return fails != 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "hold"))
    return hold((key_t)strtol(argv[2], NULL, 0), (key_t)strtol(argv[3], NULL, 0), argv[4]);
  if (argc == 9 && !strcmp(argv[1], "mutate")) {
    nsd = argv[2]; cluster = argv[3]; host = argv[4]; work = argv[6];
    return mutate(argv[5], atoi(argv[7]), (unsigned)strtoul(argv[8], NULL, 0));
  }
  fprintf(stderr, "usage: see state_fuzz.c\n");
  return 2;
}
