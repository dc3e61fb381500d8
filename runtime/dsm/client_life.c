/* client_life.c — process lifecycle: fork (the child becomes a cluster
 * member of its own), exec (owned pages are handed back first), exit. */
#include "client.h"

/* fork(): as with the kernel, the child inherits the parent's DSM attachments —
 * but as a separate cluster member.  It must not share the parent's sockets or
 * page copies, so it gets fresh connections, a fresh memfd mapped over every
 * inherited view (MAP_FIXED, no access: pages are fetched on demand) and
 * registers its attachments with the homes (REATTACH with no pages), so nattch
 * counts it at once.  Runs in the child before fork() returns there. */
static MOJ_DSM_VAR int fork_pipe[2] = {-1, -1};
/* The parent's fork() returns only once the child is registered, so an
 * IPC_STAT right after fork counts the child, as the kernel does. */
void _moj_dsm_atfork_prepare(void) {
  fork_pipe[0] = fork_pipe[1] = -1;
  if (_moj_dsm_segs && pipe2(fork_pipe, O_CLOEXEC)) fork_pipe[0] = fork_pipe[1] = -1;
}
void _moj_dsm_atfork_parent(void) {
  if (fork_pipe[0] < 0) return;
  close(fork_pipe[1]);
  char b;
  while (syscall(SYS_read, fork_pipe[0], &b, 1) < 0 && errno == EINTR) {}
  close(fork_pipe[0]);
}
void _moj_dsm_atfork_child(void) {
  _moj_dsm_owner_pid = getpid();
  if (_moj_dsm_tl_efd >= 0) { close(_moj_dsm_tl_efd); _moj_dsm_tl_efd = -1; }
  if (fork_pipe[0] >= 0) close(fork_pipe[0]);
  for (int i = 0; i < MOJ_MAX_HOSTS; i++) {
    if (_moj_dsm_homes[i].fd >= 0) close(_moj_dsm_homes[i].fd);
    _moj_dsm_homes[i].fd = -1;
    _moj_dsm_homes[i].dead = 0;
    _moj_dsm_homes[i].pend = NULL;
    atomic_store(&_moj_dsm_homes[i].recovering, 0);
    atomic_store(&_moj_dsm_homes[i].self_rd, 0); /* callers in other threads do not exist here */
    atomic_store(&_moj_dsm_homes[i].rd_parked, 0);
    pthread_mutex_init(&_moj_dsm_homes[i].lock, NULL);
    pthread_mutex_init(&_moj_dsm_homes[i].rx, NULL);
  }
  pthread_mutex_init(&_moj_dsm_seg_lock, NULL);
  pthread_mutex_init(&_moj_dsm_conn_lock, NULL);
  pthread_mutex_init(&_moj_dsm_kc_lock, NULL);
  for (struct cseg *s = _moj_dsm_segs; s; s = s->next) {
    int fd = memfd_create("mojave-dsm", MFD_CLOEXEC);
    uint8_t *rt = MAP_FAILED;
    if (fd >= 0 && ftruncate(fd, (off_t)s->mapsize) == 0)
      rt = mmap(NULL, s->mapsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int ok = rt != MAP_FAILED;
    for (int v = 0; ok && v < s->nviews; v++)
      ok = mmap(s->v[v].addr, s->mapsize, PROT_NONE, MAP_SHARED | MAP_FIXED, fd, 0) != MAP_FAILED;
    munmap(s->rt, s->mapsize);
    close(s->memfd);
    s->memfd = fd;
    s->rt = rt == MAP_FAILED ? NULL : rt;
    memset((void *)s->acc, 0, s->npages);
    struct _moj_reattach q = {s->id, (uint32_t)s->nviews, _moj_dsm_cred()};
    int st = ok ? _moj_dsm_call(s->host, MOJ_REATTACH, &q, sizeof q, NULL, 0, NULL, 0, NULL, 0) : ENOMEM;
    if (st) {
      s->orphan = 1;
      _moj_dsm_warn("fork: child could not take over attachment of segment 0x%x (%s); its accesses raise SIGBUS", s->id, strerror(st));
    }
  }
  if (fork_pipe[1] >= 0) close(fork_pipe[1]); /* EOF releases the parent */
}
/* exit() detaches like the kernel does, handing owned pages back to the home. */
/* One MOJAVE_DSM_STATS line to stderr, by one write (no stdio at exit). */
__attribute__((format(printf, 1, 2))) static void stat_line(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (k > 0 && syscall(SYS_write, 2, line, (size_t)(k < (int)sizeof line ? k : (int)sizeof line - 1)) < 0) {}
}
__attribute__((destructor)) static void at_exit_detach(void) {
  _moj_dsm_speclock_settle(); /* a lock speculation left behind by the program (client_speclock.c) */
  while (_moj_dsm_segs && _moj_dsm_segs->nviews) shmdt(_moj_dsm_segs->v[0].addr);
  if (_moj_dsm_stats_on && _moj_dsm_st_rfault + _moj_dsm_st_wfault + _moj_dsm_st_upgrade) {
    int pid = (int)getpid();
    stat_line("mojave dsm: pid %d: %llu read faults, %llu write faults (%.1f ms waiting), %llu pages received in %llu replies, %llu write-ahead pages stored to (%llu upgrades)\n",
              pid, (unsigned long long)_moj_dsm_st_rfault, (unsigned long long)_moj_dsm_st_wfault, (double)_moj_dsm_st_wait_ns / 1e6,
              (unsigned long long)_moj_dsm_st_pages, (unsigned long long)_moj_dsm_st_batches, (unsigned long long)_moj_dsm_st_upgrade,
              (unsigned long long)_moj_dsm_st_upmsg);
    uint64_t a, b, c;
    _moj_dsm_speclock_stats(&a, &b, &c);
    if (a + b)
      stat_line("mojave dsm: pid %d: speculative locks: %llu committed, %llu rolled back (%llu by a page fetch)\n", pid,
                (unsigned long long)a, (unsigned long long)b, (unsigned long long)c);
    _moj_dsm_spec_stats(&a, &b, &c);
    if (a)
      stat_line("mojave dsm: pid %d: speculations saved %llu pages, held %llu fetches, restored %llu pages\n", pid,
                (unsigned long long)a, (unsigned long long)b, (unsigned long long)c);
    _moj_dsm_otx_stats(&a, &b, &c);
    if (a + b)
      stat_line("mojave dsm: pid %d: ordered transactions: %llu committed, %llu refused; %llu levels doomed by an invalidation "
                "(refused without a message, or aborted first)\n", pid, (unsigned long long)a, (unsigned long long)b, (unsigned long long)c);
    _moj_dsm_st_rfault = _moj_dsm_st_wfault = _moj_dsm_st_upgrade = _moj_dsm_st_upmsg = 0;
  }
}
/* _exit()/_Exit() skip destructors, yet forked children commonly leave that
 * way after writing shared memory: hand the pages back here too.  A vfork()
 * child shares our memory and sockets but has another pid: it must not touch
 * them, so only the process that owns the attachments detaches. */
static void exit_detach(void) {
  if (_moj_dsm_segs && _moj_dsm_owner_pid == getpid()) at_exit_detach();
}
EXPORT void _exit(int status) {
  exit_detach();
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}
EXPORT void _Exit(int status) {
  exit_detach();
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

/* exec() replaces the image and closes our home connections (CLOEXEC), which
 * the homes treat like a crash: pages only we hold would be lost.  Before
 * exec, hand every page we own back (the SHMDT page records without the
 * detach) and drop our copies, then wait for one round trip per home so the
 * records are applied before the connection closes.  If exec fails we carry on
 * attached, faulting pages back in as needed.  A vfork() child (another pid
 * sharing our memory) leaves everything alone. */
static void exec_handback(void) {
  if (!_moj_dsm_segs || _moj_dsm_owner_pid != getpid()) return;
  _moj_dsm_handback(NULL);
}
/* The hand-back itself, shared by exec() and migration: returns 0 when every
 * home with pages of ours acknowledged them (one PING round trip after the
 * records), -1 with *bad_host set when a home could not be told (its
 * connection is dead or broke meanwhile: whatever we owned there is lost
 * either way, as with any broken connection). */
int _moj_dsm_handback(int *bad_host) {
  sigset_t om;
  int used[MOJ_MAX_HOSTS] = {0}, rc = 0;
  _moj_dsm_lk(&_moj_dsm_seg_lock, &om);
  const size_t rec = 4 + MOJ_PAGE, chunk = 200;
  uint8_t *buf = malloc(chunk * rec);
  if (!buf) rc = -1;
  for (struct cseg *s = _moj_dsm_segs; s && buf; s = s->next) {
    struct hconn *hc = &_moj_dsm_homes[s->host];
    if (hc->fd < 0 || hc->dead) {
      for (uint32_t pn = 0; pn < s->npages && bad_host; pn++)
        if (s->acc[pn] == MOJ_ACC_WRITE || s->acc[pn] == ACC_CLEAN) { rc = -1; *bad_host = s->host; break; }
      continue;
    }
    struct _moj_shmdt d = {s->id, _moj_dsm_cred()};
    size_t n = 0;
    for (uint32_t pn = 0; pn <= s->npages; pn++) {
      int last = pn == s->npages;
      if (!last && (s->acc[pn] == MOJ_ACC_WRITE || s->acc[pn] == ACC_CLEAN)) {
        memcpy(buf + n * rec, &pn, 4);
        memcpy(buf + n * rec + 4, s->rt + (size_t)pn * MOJ_PAGE, MOJ_PAGE);
        n++;
        _moj_dsm_set_prot(s, pn, MOJ_ACC_NONE); /* the home's copy is the current one now */
      }
      if (n && (n == chunk || last)) {
        pthread_mutex_lock(&hc->lock);
        if (_moj_dsm_send_locked(hc, MOJ_SHMDT, 0, 1, &d, sizeof d, buf, n * rec) && bad_host) { /* aux 1: records only, stay attached */
          rc = -1;
          *bad_host = s->host;
        }
        pthread_mutex_unlock(&hc->lock);
        used[s->host] = 1;
        n = 0;
      }
    }
  }
  free(buf);
  _moj_dsm_ulk(&_moj_dsm_seg_lock, &om);
  for (int h = 0; h < MOJ_MAX_HOSTS; h++)
    if (used[h] && _moj_dsm_call(h, MOJ_PING, NULL, 0, NULL, 0, NULL, 0, NULL, 0) && bad_host) {
      rc = -1;
      *bad_host = h;
    }
  return rc;
}
#define EXEC_REAL(name) \
  static __typeof__(name) *real_##name; \
  if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)
EXPORT_WRAP int execve(const char *path, char *const argv[], char *const envp[]) {
  EXEC_REAL(execve);
  exec_handback();
  return real_execve(path, argv, envp);
}
EXPORT_WRAP int execv(const char *path, char *const argv[]) {
  EXEC_REAL(execv);
  exec_handback();
  return real_execv(path, argv);
}
EXPORT_WRAP int execvp(const char *file, char *const argv[]) {
  EXEC_REAL(execvp);
  exec_handback();
  return real_execvp(file, argv);
}
EXPORT_WRAP int execvpe(const char *file, char *const argv[], char *const envp[]) {
  EXEC_REAL(execvpe);
  exec_handback();
  return real_execvpe(file, argv, envp);
}
EXPORT_WRAP int fexecve(int fd, char *const argv[], char *const envp[]) {
  EXEC_REAL(fexecve);
  exec_handback();
  return real_fexecve(fd, argv, envp);
}
/* execl, execlp, execle: collect the variadic list (bounded like ARG_MAX's
 * pointer count would be) and go through the vector forms above. */
#define EXECL_ARGS(arg, ap, av)                                                   \
  size_t cnt_ = 1;                                                                \
  va_start(ap, arg);                                                              \
  while (va_arg(ap, char *)) cnt_++;                                              \
  va_end(ap);                                                                     \
  char **av = malloc((cnt_ + 1) * sizeof *av);                                    \
  if (!av) { errno = ENOMEM; return -1; }                                         \
  va_start(ap, arg);                                                              \
  av[0] = (char *)arg;                                                            \
  for (size_t i_ = 1; i_ <= cnt_; i_++) av[i_] = i_ < cnt_ ? va_arg(ap, char *) : NULL
static int freed_av(int r, char **av) { /* exec returned: free the vector, keep errno */
  int e = errno;
  free(av);
  errno = e;
  return r;
}
EXPORT_WRAP int execl(const char *path, const char *arg, ...) {
  va_list ap;
  EXECL_ARGS(arg, ap, av);
  va_end(ap);
  return freed_av(execv(path, av), av);
}
EXPORT_WRAP int execlp(const char *file, const char *arg, ...) {
  va_list ap;
  EXECL_ARGS(arg, ap, av);
  va_end(ap);
  return freed_av(execvp(file, av), av);
}
EXPORT_WRAP int execle(const char *path, const char *arg, ...) {
  va_list ap;
  EXECL_ARGS(arg, ap, av);
  char *const *envp = va_arg(ap, char *const *); /* after the terminating NULL */
  va_end(ap);
  return freed_av(execve(path, av, envp), av);
}

/* For programs linked with the runtime: query whether DSM is active. */
EXPORT int mojave_dsm_active(void) { _moj_dsm_ensure_init(); return _moj_dsm_cfg_ok; }
/* Latency probe for benchmarks: one PING round trip to a host's daemon. */
EXPORT int mojave_dsm_ping(const char *host) {
  _moj_dsm_ensure_init();
  if (!_moj_dsm_cfg_ok) return -1;
  int h = _moj_cluster_find_host(&_moj_dsm_cluster, host);
  if (h < 0) return -1;
  uint8_t b[8] = {0};
  return _moj_dsm_call(h, MOJ_PING, b, sizeof b, NULL, 0, b, sizeof b, NULL, 0) ? -1 : 0;
}

