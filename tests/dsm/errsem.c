/* errsem.c — System V error semantics, checked identically against the kernel
 * (a key outside the distributed range) and the DSM (a distributed key): the
 * same expectations must hold for both, so the DSM matches the kernel on every
 * case listed here.  Built with plain cc, run under LD_PRELOAD.
 *   errsem KEYBASE   (uses KEYBASE .. KEYBASE+9) */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fails;
static key_t base;
#define EXPECT_ERR(call, e)                                                                          \
  do {                                                                                               \
    errno = 0;                                                                                       \
    long r_ = (long)(call);                                                                          \
    if (r_ != -1 || errno != (e)) {                                                                  \
      printf("FAIL key 0x%x line %d: %s -> %ld errno %s, expected %s\n", base, __LINE__, #call, r_, \
             strerrorname_np(errno), strerrorname_np(e));                                            \
      fails++;                                                                                       \
    }                                                                                                \
  } while (0)
#define EXPECT(c)                                                                                    \
  do {                                                                                               \
    if (!(c)) { printf("FAIL key 0x%x line %d: %s (errno %s)\n", base, __LINE__, #c, strerrorname_np(errno)); fails++; } \
  } while (0)

static void on_alarm(int s) { (void)s; }
static sigjmp_buf segv_jb;
static volatile int app_segv;
static void on_segv(int s) { (void)s; app_segv++; siglongjmp(segv_jb, 1); }

static void cleanup(void) {
  for (int i = 0; i < 10; i++) {
    int id;
    if ((id = shmget(base + i, 0, 0)) >= 0) shmctl(id, IPC_RMID, NULL);
    if ((id = semget(base + i, 0, 0)) >= 0) semctl(id, 0, IPC_RMID);
    if ((id = msgget(base + i, 0)) >= 0) msgctl(id, IPC_RMID, NULL);
  }
}

static void shm_cases(void) {
  key_t k = base;
  EXPECT_ERR(shmget(k, 4096, 0600), ENOENT);
  int id = shmget(k, 8192, IPC_CREAT | 0600);
  EXPECT(id >= 0);
  EXPECT_ERR(shmget(k, 4096, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
  EXPECT_ERR(shmget(k, 1 << 20, 0600), EINVAL); /* larger than the existing segment */
  EXPECT(shmget(k, 100, 0600) == id);
  EXPECT_ERR(shmget(base + 1, 0, IPC_CREAT | 0600), EINVAL); /* size 0 */
  EXPECT_ERR(shmctl(id, 12345, NULL), EINVAL);
  EXPECT_ERR((long)shmat(0x4d4aff00 | 0x40000000, NULL, 0), EINVAL);
  EXPECT_ERR((long)shmat(id, (void *)0x1001, 0), EINVAL); /* unaligned without SHM_RND */
  EXPECT_ERR(shmdt((void *)0x1000), EINVAL);
  char *p = shmat(id, NULL, 0), *q = shmat(id, NULL, SHM_RDONLY);
  EXPECT(p != (void *)-1 && q != (void *)-1);
  strcpy(p, "hello");
  EXPECT(!strcmp(q, "hello"));
  struct shmid_ds ds;
  EXPECT(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 2 && ds.shm_segsz == 8192 && (ds.shm_perm.mode & 0777) == 0600);
  /* a store through a SHM_RDONLY attach is a plain SIGSEGV, as with the kernel */
  pid_t c = fork();
  if (c == 0) { volatile char *qq = shmat(id, NULL, SHM_RDONLY); qq[0] = 'x'; _exit(0); }
  int st;
  waitpid(c, &st, 0);
  EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
  /* an application SIGSEGV handler installed after attaching: shared memory
   * keeps working, and a genuine fault (store through SHM_RDONLY) reaches it */
  struct sigaction sa = {.sa_handler = on_segv}, prev;
  sigemptyset(&sa.sa_mask);
  EXPECT(sigaction(SIGSEGV, &sa, &prev) == 0);
  c = fork();
  if (c == 0) { p[100] = 'y'; _exit(p[100] == 'y' && !strcmp(q, "hello") ? 0 : 1); }
  waitpid(c, &st, 0);
  EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  if (sigsetjmp(segv_jb, 1) == 0) { ((volatile char *)q)[1] = 'x'; }
  EXPECT(app_segv == 1 && p[1] == 'e');
  EXPECT(sigaction(SIGSEGV, &prev, NULL) == 0);
  /* permissions: another user may not open a 0600 segment (needs root to become nobody) */
  c = geteuid() == 0 ? fork() : -1;
  if (c == 0) {
    if (setgid(65534) || setuid(65534)) _exit(3);
    errno = 0;
    int r1 = shmget(k, 0, 0600);
    int e1 = errno;
    void *r2 = shmat(id, NULL, 0);
    int e2 = errno;
    _exit(r1 == -1 && e1 == EACCES && r2 == (void *)-1 && e2 == EACCES ? 0 : 1);
  }
  if (c > 0) {
    waitpid(c, &st, 0);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  /* IPC_RMID: the segment lives until the last detach; the key is free at once */
  EXPECT(shmctl(id, IPC_RMID, NULL) == 0);
  EXPECT(shmctl(id, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & SHM_DEST) && ds.shm_nattch == 2);
  EXPECT(!strcmp(p, "hello"));
  EXPECT_ERR(shmget(k, 4096, 0600), ENOENT);
  int id2 = shmget(k, 4096, IPC_CREAT | IPC_EXCL | 0600);
  EXPECT(id2 >= 0 && id2 != id);
  EXPECT(shmdt(p) == 0 && shmdt(q) == 0);
  EXPECT_ERR(shmctl(id, IPC_STAT, &ds), EINVAL); /* destroyed after the last detach */
  EXPECT(shmctl(id2, IPC_RMID, NULL) == 0);
}

static void sem_cases(void) {
  key_t k = base + 2;
  EXPECT_ERR(semget(k, 1, 0600), ENOENT);
  EXPECT_ERR(semget(k, 0, IPC_CREAT | 0600), EINVAL);
  int s = semget(k, 2, IPC_CREAT | 0600);
  EXPECT(s >= 0);
  EXPECT_ERR(semget(k, 2, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
  EXPECT_ERR(semget(k, 3, 0600), EINVAL); /* more semaphores than the set has */
  struct sembuf b = {0, -1, IPC_NOWAIT};
  EXPECT_ERR(semop(s, &b, 1), EAGAIN);
  struct sembuf bad = {5, 1, 0};
  EXPECT_ERR(semop(s, &bad, 1), EFBIG);
  struct sembuf many[600];
  memset(many, 0, sizeof many);
  EXPECT_ERR(semop(s, many, 600), E2BIG);
  EXPECT_ERR(semctl(s, 0, SETVAL, 40000), ERANGE);
  EXPECT_ERR(semctl(s, 7, GETVAL), EINVAL);
  /* atomic multi-op: the second op cannot proceed, so the first must not apply */
  struct sembuf two[2] = {{0, 1, 0}, {1, -1, IPC_NOWAIT}};
  EXPECT_ERR(semop(s, two, 2), EAGAIN);
  EXPECT(semctl(s, 0, GETVAL) == 0);
  struct timespec ts = {0, 150 * 1000 * 1000};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  struct sembuf w = {0, -1, 0};
  EXPECT_ERR(semtimedop(s, &w, 1, &ts), EAGAIN);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  EXPECT(el >= 0.14 && el < 5.0); /* upper bound: a hang guard, not a latency claim */
  /* a signal interrupts a blocked semop with EINTR (never restarted); the
   * alarm repeats because a loaded machine may deliver the first one before
   * semop has blocked */
  struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
  sigaction(SIGALRM, &sa, NULL);
  ualarm(100000, 100000);
  EXPECT_ERR(semop(s, &w, 1), EINTR);
  ualarm(0, 0);
  /* SEM_UNDO is applied when the process exits */
  pid_t c = fork();
  if (c == 0) { struct sembuf u = {1, 3, SEM_UNDO}; _exit(semop(s, &u, 1) ? 1 : 0); }
  int st;
  waitpid(c, &st, 0);
  EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  EXPECT(semctl(s, 1, GETVAL) == 0);
  /* a waiter sees EIDRM when the set is removed */
  c = fork();
  if (c == 0) { struct sembuf u = {0, -1, 0}; int r = semop(s, &u, 1); _exit(r == -1 && errno == EIDRM ? 0 : 1); }
  /* the child has blocked once the set counts it as a waiter: polled, since
   * how long a fork and a (remote) semop take depends on the machine's load */
  for (int i = 0; i < 3000 && semctl(s, 0, GETNCNT) != 1; i++) usleep(10000);
  EXPECT(semctl(s, 0, GETNCNT) == 1);
  EXPECT(semctl(s, 0, IPC_RMID) == 0);
  waitpid(c, &st, 0);
  EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  EXPECT_ERR(semop(s, &w, 1), EINVAL);
}

static void msg_cases(void) {
  key_t k = base + 4;
  EXPECT_ERR(msgget(k, 0600), ENOENT);
  int q = msgget(k, IPC_CREAT | 0600);
  EXPECT(q >= 0);
  EXPECT_ERR(msgget(k, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
  struct { long t; char d[9000]; } m;
  memset(&m, 0, sizeof m);
  m.t = 0;
  EXPECT_ERR(msgsnd(q, &m, 10, 0), EINVAL); /* mtype < 1 */
  m.t = 1;
  EXPECT_ERR(msgsnd(q, &m, 8193, 0), EINVAL); /* > MSGMAX */
  EXPECT(msgsnd(q, &m, 8192, 0) == 0 && msgsnd(q, &m, 8192, 0) == 0);
  EXPECT_ERR(msgsnd(q, &m, 8192, IPC_NOWAIT), EAGAIN); /* queue full (16384 bytes) */
  EXPECT_ERR(msgrcv(q, &m, 100, 1, 0), E2BIG);
  EXPECT_ERR(msgrcv(q, &m, sizeof m.d, 2, IPC_NOWAIT), ENOMSG);
  EXPECT(msgrcv(q, &m, sizeof m.d, 1, 0) == 8192);
  EXPECT_ERR(msgctl(q, 12345, NULL), EINVAL);
  EXPECT(msgctl(q, IPC_RMID, NULL) == 0);
  EXPECT_ERR(msgrcv(q, &m, sizeof m.d, 0, IPC_NOWAIT), EINVAL);
}

/* Another user (nobody) against 0600 objects of root: every call that needs a
 * permission must fail with EACCES, and the owner-only controls with EPERM. */
static void perm_cases(void) {
  if (geteuid() != 0) { printf("note: not root, permission cases as another user skipped\n"); return; }
  int shm = shmget(base + 6, 4096, IPC_CREAT | 0600), sem = semget(base + 6, 1, IPC_CREAT | 0600), q = msgget(base + 6, IPC_CREAT | 0600);
  EXPECT(shm >= 0 && sem >= 0 && q >= 0);
  pid_t c = fork();
  if (c == 0) {
    if (setgid(65534) || setuid(65534)) _exit(100);
    int bad = 0;
#define CHILD_ERR(call, e) do { errno = 0; long r_ = (long)(call); if (r_ != -1 || errno != (e)) { printf("FAIL key 0x%x as nobody: %s -> %ld %s, expected %s\n", base, #call, r_, strerrorname_np(errno), strerrorname_np(e)); bad++; } } while (0)
    struct sembuf b = {0, 1, IPC_NOWAIT};
    struct { long t; char d[8]; } m = {1, "x"};
    struct shmid_ds sd; struct msqid_ds md; struct semid_ds xd;
    CHILD_ERR(semop(sem, &b, 1), EACCES);
    CHILD_ERR(semctl(sem, 0, GETVAL), EACCES);
    CHILD_ERR(semctl(sem, 0, SETVAL, 1), EACCES);
    CHILD_ERR(msgsnd(q, &m, 8, IPC_NOWAIT), EACCES);
    CHILD_ERR(msgrcv(q, &m, 8, 0, IPC_NOWAIT), EACCES);
    CHILD_ERR(shmctl(shm, IPC_STAT, &sd), EACCES);
    CHILD_ERR(msgctl(q, IPC_STAT, &md), EACCES);
    union { int v; struct semid_ds *b; } u = {.b = &xd};
    CHILD_ERR(semctl(sem, 0, IPC_STAT, u), EACCES);
    CHILD_ERR(shmctl(shm, IPC_RMID, NULL), EPERM);
    CHILD_ERR(semctl(sem, 0, IPC_RMID), EPERM);
    CHILD_ERR(msgctl(q, IPC_RMID, NULL), EPERM);
    memset(&sd, 0, sizeof sd);
    CHILD_ERR(shmctl(shm, IPC_SET, &sd), EPERM);
    _exit(bad ? 1 : 0);
  }
  int st;
  waitpid(c, &st, 0);
  EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  /* the owner may change the mode; then nobody may read */
  struct shmid_ds sd;
  EXPECT(shmctl(shm, IPC_STAT, &sd) == 0);
  sd.shm_perm.mode = 0644;
  EXPECT(shmctl(shm, IPC_SET, &sd) == 0);
  EXPECT(shmctl(shm, IPC_STAT, &sd) == 0 && (sd.shm_perm.mode & 0777) == 0644);
  c = fork();
  if (c == 0) {
    if (setgid(65534) || setuid(65534)) _exit(100);
    void *p = shmat(shm, NULL, SHM_RDONLY);
    _exit(p != (void *)-1 ? 0 : 1);
  }
  waitpid(c, &st, 0);
  EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: errsem KEYBASE\n"); return 2; }
  base = (key_t)strtol(argv[1], NULL, 0);
  cleanup();
  shm_cases();
  sem_cases();
  msg_cases();
  perm_cases();
  cleanup();
  if (fails) { printf("FAIL errsem 0x%x: %d case(s)\n", base, fails); return 1; }
  printf("PASS errsem 0x%x\n", base);
  return 0;
}
