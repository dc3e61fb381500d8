/* oshm_probe.c — an ordered shared-memory segment (cluster file `ordered
 * RANGE` covering shm; nsd_oshm.c, client_ocapture.c) seen by a plain-cc
 * program under LD_PRELOAD, for t_oshm.sh:
 *   oshm_probe write KEY   create the segment (3 pages) and a semaphore of
 *                          the same key, make stores of every shape the
 *                          capture must catch, then V the semaphore
 *   oshm_probe fork KEY    a fork()ed child stores and reads through the
 *                          order (the attachment taken over by REATTACH)
 *   oshm_probe check KEY   P/V the semaphore, then compare every byte with
 *                          what `write` stored (run on other hosts: the
 *                          bytes came through the order and their replicas)
 *   oshm_probe tear0|tear1|tearr KEY
 *                          two writers store 8-byte words to one place
 *                          whose upper bytes are all 0 or all 0xff, a
 *                          reader checks no torn word ever appears (the
 *                          capture ships whole stores, see below)
 *   oshm_probe stat KEY    IPC_STAT (ordered), a write into the segment by
 *                          read(2) (refused with EFAULT, documented), then
 *                          IPC_RMID and a shmget that must not find it
 * Prints PASS/FAIL lines; exit 0 on PASS. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <signal.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096
#define SIZE (3 * PG)

/* What `write` leaves in the segment, byte for byte. */
static void expected(uint8_t *e) {
  memset(e, 0, SIZE);
  e[1] = 0x11;
  uint16_t v16 = 0x2233; memcpy(e + 2, &v16, 2);
  uint32_t v32 = 0x44556677u; memcpy(e + 4, &v32, 4);
  uint64_t v64 = 0x8899aabbccddeeffull; memcpy(e + 8, &v64, 8);
  for (int i = 0; i < 16; i++) e[32 + i] = (uint8_t)(0xa0 + i);
  for (int i = 0; i < 40; i++) e[64 + i] = (uint8_t)(0x30 + i);
  uint64_t cross = 0x0102030405060708ull; memcpy(e + PG - 4, &cross, 8); /* pages 0 and 1 */
  memset(e + PG + 100, 0xab, 300);
  for (int i = 0; i < 700; i++) e[2 * PG + 50 + i] = (uint8_t)(i * 7 + 1);
  e[2 * PG + 1000] = 0; /* stored although it already was 0 */
}

static int getsem(key_t key, int create) {
  for (int i = 0; i < 3000; i++) {
    int s = semget(key, 1, create ? IPC_CREAT | 0600 : 0600);
    if (s >= 0 || errno != ENOENT) return s;
    usleep(10000);
  }
  return -1;
}
static uint8_t *attach(key_t key, int create, int *idp) {
  int id = -1;
  for (int i = 0; i < 3000 && (id = shmget(key, SIZE, create ? IPC_CREAT | 0600 : 0600)) < 0 && errno == ENOENT; i++) usleep(10000);
  if (id < 0) { printf("FAIL oshm_probe: shmget: %s\n", strerror(errno)); return NULL; }
  uint8_t *p = shmat(id, NULL, 0);
  if (p == (void *)-1) { printf("FAIL oshm_probe: shmat: %s\n", strerror(errno)); return NULL; }
  if (idp) *idp = id;
  return p;
}
static volatile sig_atomic_t traps;
static void on_trap(int sig) { (void)sig; traps++; }
static int sop(int s, int op) {
  struct sembuf b = {0, (short)op, 0};
  return semop(s, &b, 1);
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s write|fork|check|tear0|tear1|tearr|stat KEY\n", argv[0]); return 2; }
  const char *cmd = argv[1];
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  static uint8_t e[SIZE];
  expected(e);
  if (!strcmp(cmd, "write")) {
    int s = getsem(key, 1), id;
    uint8_t *p = attach(key, 1, &id);
    if (s < 0 || !p) { printf("FAIL oshm_probe write: setup: %s\n", strerror(errno)); return 1; }
    /* the program's own SIGTRAP handler: kept apart from the capture's
     * (which steps stores with the trap flag) and called for its own traps */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_trap;
    if (sigaction(SIGTRAP, &sa, NULL)) { printf("FAIL oshm_probe write: sigaction: %s\n", strerror(errno)); return 1; }
    volatile uint8_t *v = p;
    v[1] = 0x11;                                   /* 1, 2, 4, 8 bytes */
    *(volatile uint16_t *)(p + 2) = 0x2233;
    *(volatile uint32_t *)(p + 4) = 0x44556677u;
    *(volatile uint64_t *)(p + 8) = 0x8899aabbccddeeffull;
    memcpy(p + 32, e + 32, 16);                    /* 16 (SSE) */
    memcpy(p + 64, e + 64, 40);                    /* a copy loop or vector stores */
    uint64_t cross; memcpy(&cross, e + PG - 4, 8); /* one store across a page boundary */
    __asm__ volatile("movq %1, %0" : "=m"(*(uint64_t *)(p + PG - 4)) : "r"(cross));
    memset(p + PG + 100, 0xab, 300);               /* string or vector stores */
    memcpy(p + 2 * PG + 50, e + 2 * PG + 50, 700);
    v[2 * PG + 1000] = 0;
    for (int i = 0; i < SIZE; i++)
      if (p[i] != e[i]) { printf("FAIL oshm_probe write: byte %d reads %#x after the stores, want %#x\n", i, p[i], e[i]); return 1; }
    if (traps) { printf("FAIL oshm_probe write: the program's SIGTRAP handler ran %d times during the stores\n", (int)traps); return 1; }
    raise(SIGTRAP);
    if (traps != 1) { printf("FAIL oshm_probe write: raise(SIGTRAP) reached the program's handler %d times, want 1\n", (int)traps); return 1; }
    if (sop(s, 1)) { printf("FAIL oshm_probe write: V: %s\n", strerror(errno)); return 1; }
    printf("PASS oshm_probe write\n");
    return 0;
  }
  if (!strcmp(cmd, "fork")) {
    /* a fork()ed child inherits the attachment (REATTACH to its own
     * connection), stores through the order and reads what the parent's
     * host wrote; the parent then reads the child's store */
    int id;
    uint8_t *p = attach(key, 0, &id);
    if (!p) return 1;
    if (p[1] != 0x11) { printf("FAIL oshm_probe fork: byte 1 is %#x before fork\n", p[1]); return 1; }
    pid_t k = fork();
    if (k == 0) {
      volatile uint8_t *v = p;
      v[2 * PG + 3000] = 0x5a;
      _exit(v[1] == 0x11 && v[2 * PG + 3000] == 0x5a ? 0 : 3);
    }
    int st;
    if (k < 0 || waitpid(k, &st, 0) != k || !WIFEXITED(st) || WEXITSTATUS(st)) {
      printf("FAIL oshm_probe fork: the child failed (status %#x)\n", k < 0 ? -1 : st);
      return 1;
    }
    if (p[2 * PG + 3000] != 0x5a) { printf("FAIL oshm_probe fork: the child's store reads %#x here\n", p[2 * PG + 3000]); return 1; }
    p[2 * PG + 3000] = 0; /* back as `check` expects it */
    printf("PASS oshm_probe fork\n");
    return 0;
  }
  if (!strcmp(cmd, "check")) {
    int s = getsem(key, 0);
    uint8_t *p = attach(key, 0, NULL);
    if (s < 0 || !p) return 1;
    if (sop(s, -1) || sop(s, 1)) { printf("FAIL oshm_probe check: P/V: %s\n", strerror(errno)); return 1; }
    for (int i = 0; i < SIZE; i++)
      if (p[i] != e[i]) { printf("FAIL oshm_probe check: byte %d is %#x, want %#x\n", i, p[i], e[i]); return 1; }
    printf("PASS oshm_probe check (%d bytes as written on another host)\n", SIZE);
    return 0;
  }
  if (!strcmp(cmd, "tear0") || !strcmp(cmd, "tear1") || !strcmp(cmd, "tearr")) {
    /* Two hosts store whole 8-byte values to one word, a third reads it.
     * Writer 0 stores 0x00000000000000ii (ii < 0x80), writer 1
     * 0xffffffffffffffjj (jj >= 0x80): a
     * store's seven upper bytes equal the ones its process's copy holds
     * whenever its own previous store was the last it saw, so a capture
     * that shipped only the bytes that changed would order a lone low byte
     * behind the other writer's word — a value nobody stored.  Every value
     * read must be one somebody stored. */
    int id, role = cmd[4] == 'r' ? 2 : cmd[4] - '0', n = 300;
    uint8_t *p = attach(key, 0, &id);
    if (!p) return 1;
    volatile uint64_t *w = (volatile uint64_t *)(p + 2 * PG + 1024);
    for (int i = 0; i < n; i++) {
      if (role < 2) *w = role ? 0xffffffffffffff80ull | (uint64_t)(i & 0x7f) : (uint64_t)(i & 0x7f);
      uint64_t x = *w, hi = x >> 8;
      if (!(hi == 0 && x < 0x80) && !(hi == 0xffffffffffffffull && (x & 0x80))) {
        printf("FAIL oshm_probe %s: read %#018llx at round %d: a torn store\n", cmd, (unsigned long long)x, i);
        return 1;
      }
      if (role == 2) usleep(500);
    }
    printf("PASS oshm_probe %s\n", cmd);
    return 0;
  }
  if (!strcmp(cmd, "stat")) {
    int id;
    uint8_t *p = attach(key, 0, &id);
    if (!p) return 1;
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds) || ds.shm_segsz != SIZE || ds.shm_perm.__key != key || ds.shm_nattch < 1) {
      printf("FAIL oshm_probe stat: IPC_STAT: %s (size %zu, nattch %lu)\n", strerror(errno), (size_t)ds.shm_segsz, (unsigned long)ds.shm_nattch);
      return 1;
    }
    int fd = open("/dev/zero", O_RDONLY);
    ssize_t r = read(fd, p + 2 * PG + 2000, 16);
    if (r >= 0 || errno != EFAULT) { printf("FAIL oshm_probe stat: read(2) into an ordered page returned %zd (%s), want EFAULT\n", r, strerror(errno)); return 1; }
    close(fd);
    if (shmctl(id, IPC_RMID, NULL)) { printf("FAIL oshm_probe stat: IPC_RMID: %s\n", strerror(errno)); return 1; }
    if (p[1] != 0x11) { printf("FAIL oshm_probe stat: the attached segment changed after IPC_RMID\n"); return 1; }
    if (shmget(key, SIZE, 0600) >= 0 || errno != ENOENT) { printf("FAIL oshm_probe stat: shmget after IPC_RMID: %s, want ENOENT\n", strerror(errno)); return 1; }
    shmdt(p);
    printf("PASS oshm_probe stat\n");
    return 0;
  }
  fprintf(stderr, "oshm_probe: unknown command '%s'\n", cmd);
  return 2;
}
