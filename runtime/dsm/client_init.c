/* client_init.c — DSM client start-up: the cluster file and this host's
 * entry, the real System V functions behind our interposers, tuning from the
 * environment, fault statistics and the request trace (MOJAVE_DSM_TRACE) at
 * exit. */
#include "client.h"

MOJ_DSM_VAR int (*_moj_dsm_real_shmget)(key_t, size_t, int);
MOJ_DSM_VAR void *(*_moj_dsm_real_shmat)(int, const void *, int);
MOJ_DSM_VAR int (*_moj_dsm_real_shmdt)(const void *);
MOJ_DSM_VAR int (*_moj_dsm_real_shmctl)(int, int, struct shmid_ds *);
MOJ_DSM_VAR int (*_moj_dsm_real_semget)(key_t, int, int);
MOJ_DSM_VAR int (*_moj_dsm_real_semtimedop)(int, struct sembuf *, size_t, const struct timespec *);
MOJ_DSM_VAR int (*_moj_dsm_real_semctl)(int, int, int, ...);
MOJ_DSM_VAR int (*_moj_dsm_real_msgget)(key_t, int);
MOJ_DSM_VAR int (*_moj_dsm_real_msgsnd)(int, const void *, size_t, int);
MOJ_DSM_VAR ssize_t (*_moj_dsm_real_msgrcv)(int, void *, size_t, long, int);
MOJ_DSM_VAR int (*_moj_dsm_real_msgctl)(int, int, struct msqid_ds *);

static void resolve_real(void) {
#define R(n) _moj_dsm_real_##n = dlsym(RTLD_NEXT, #n)
  R(shmget); R(shmat); R(shmdt); R(shmctl); R(semget); R(semtimedop); R(semctl);
  R(msgget); R(msgsnd); R(msgrcv); R(msgctl);
#undef R
}

/* ---------------- configuration ---------------- */
void _moj_dsm_warn(const char *fmt, ...) {
  char tag[32];
  snprintf(tag, sizeof tag, "mojave-dsm[%d]", (int)getpid());
  va_list ap;
  va_start(ap, fmt);
  _moj_vlog_as(tag, MOJ_LOG_WARN, fmt, ap);
  va_end(ap);
}

MOJ_DSM_VAR struct _moj_cluster _moj_dsm_cluster;
MOJ_DSM_VAR int _moj_dsm_cfg_ok;      /* a cluster file was loaded: distributed keys exist */
MOJ_DSM_VAR int _moj_dsm_cfg_err;
MOJ_DSM_VAR int _moj_dsm_private_local;
MOJ_DSM_VAR int _moj_dsm_self_host = -1;
MOJ_DSM_VAR pid_t _moj_dsm_owner_pid; /* the process whose attachments and sockets these are (not a vfork child) */
MOJ_DSM_VAR pthread_once_t _moj_dsm_init_once = PTHREAD_ONCE_INIT;
MOJ_DSM_VAR long _moj_dsm_spin_us = 50;
/* MOJAVE_DSM_STATS=1: fault counters, printed to stderr at exit */
MOJ_DSM_VAR int _moj_dsm_stats_on;
MOJ_DSM_VAR _Atomic uint64_t _moj_dsm_st_rfault, _moj_dsm_st_wfault, _moj_dsm_st_upgrade, _moj_dsm_st_upmsg, _moj_dsm_st_pages, _moj_dsm_st_batches, _moj_dsm_st_wait_ns;
MOJ_DSM_VAR int _moj_dsm_zcomp; /* MOJAVE_DSM_COMPRESS=1: pages we ship are zstd-compressed when that saves >= 1/8 */ /* spinning lost to sleeping on a loaded 2-core host; see docs/performance.md */

/* ---------------- MOJAVE_DSM_TRACE ---------------- */
#define TR_SLOTS 65536
MOJ_DSM_VAR int _moj_dsm_trace_on;
__thread int64_t _moj_dsm_tl_entry;
__thread int _moj_dsm_tl_tr = -1;
static MOJ_DSM_VAR struct { uint16_t type; int64_t t[TR_N]; } *tr_rec;
static MOJ_DSM_VAR _Atomic int tr_next;
int64_t _moj_dsm_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
int _moj_dsm_tr_slot(uint16_t type) {
  if (!tr_rec) {
    void *m = mmap(NULL, TR_SLOTS * sizeof *tr_rec, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return -1;
    __typeof__(tr_rec) exp = NULL;
    if (!__atomic_compare_exchange_n(&tr_rec, &exp, (__typeof__(tr_rec))m, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) munmap(m, TR_SLOTS * sizeof *tr_rec);
  }
  int i = atomic_fetch_add(&tr_next, 1);
  if (i >= TR_SLOTS) return -1;
  tr_rec[i].type = type;
  return i;
}
void _moj_dsm_tr_set(int slot, int point, int64_t t) {
  if (slot >= 0 && slot < TR_SLOTS && tr_rec) tr_rec[slot].t[point] = t;
}
static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}
/* Median of each gap between consecutive recorded points, per message type. */
__attribute__((destructor)) static void tr_report(void) {
  if (!tr_rec) return;
  static const char *nm[TR_N] = {"entry", "sent", "woke", "read", "inst", "wake", "done", "ret"};
  int n = tr_next < TR_SLOTS ? tr_next : TR_SLOTS;
  int64_t *v = malloc((size_t)n * sizeof *v);
  if (!v) return;
  for (uint16_t type = 0; type < 64; type++) {
    char line[1024];
    int k = 0, cnt = 0;
    for (int i = 0; i < n; i++) cnt += tr_rec[i].type == type && tr_rec[i].t[TR_SENT];
    if (cnt < 10) continue;
    k += snprintf(line + k, sizeof line - (size_t)k, "mojave dsm trace: pid %d: %s x%d, median us:", (int)getpid(), _moj_type_name(type), cnt);
    for (int a = 0; a < TR_N; a++) {
      for (int b = a + 1; b < TR_N; b++) {
        int m = 0;
        for (int i = 0; i < n; i++)
          if (tr_rec[i].type == type && tr_rec[i].t[a] && tr_rec[i].t[b]) {
            int ok = 1; /* consecutive: no recorded point in between */
            for (int c = a + 1; c < b; c++) ok &= !tr_rec[i].t[c];
            if (ok) v[m++] = tr_rec[i].t[b] - tr_rec[i].t[a];
          }
        if (m < cnt / 2) continue;
        qsort(v, (size_t)m, sizeof *v, cmp64);
        k += snprintf(line + k, sizeof line - (size_t)k, " %s>%s %.1f", nm[a], nm[b], (double)v[m / 2] / 1e3);
        if (k >= (int)sizeof line - 64) break;
      }
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
      int64_t t0 = tr_rec[i].t[TR_ENTRY], t1 = tr_rec[i].t[TR_RET] ? tr_rec[i].t[TR_RET] : tr_rec[i].t[TR_DONE];
      if (tr_rec[i].type == type && t0 && t1) v[m++] = t1 - t0;
    }
    if (m) { qsort(v, (size_t)m, sizeof *v, cmp64); k += snprintf(line + k, sizeof line - (size_t)k, " | total %.1f", (double)v[m / 2] / 1e3); }
    line[k++] = '\n';
    if (syscall(SYS_write, 2, line, (size_t)k) < 0) {}
  }
  free(v);
}

/* MOJAVE_CLUSTER names a cluster this process cannot join.  Unless the user
 * asked for the local fallback, every System V call then fails with `e`
 * (ENONET: "machine is not on the network") — running on local IPC would
 * look like success and split the program across kernels.  One message. */
static void refuse(int e, const char *why) {
  const char *fb = getenv("MOJAVE_DSM_FALLBACK");
  if (fb && !strcmp(fb, "local")) {
    _moj_dsm_warn("%s; MOJAVE_DSM_FALLBACK=local: all IPC keys stay with the local kernel", why);
    return;
  }
  _moj_dsm_cfg_err = e;
  _moj_dsm_warn("%s; System V IPC calls fail with %s (MOJAVE_DSM_FALLBACK=local runs on local IPC instead)", why,
                strerrorname_np(e) ? strerrorname_np(e) : "an error");
}

#ifdef MOJ_IN_RUNTIME
void _moj_zstd_preload(void) __attribute__((visibility("hidden"))); /* runtime/zstd_lazy.c */
#endif

void _moj_dsm_init(void) {
  resolve_real();
  _moj_dsm_zcomp = getenv("MOJAVE_DSM_COMPRESS") && atoi(getenv("MOJAVE_DSM_COMPRESS"));
  if (getenv("MOJAVE_DSM_SPIN_US")) _moj_dsm_spin_us = strtol(getenv("MOJAVE_DSM_SPIN_US"), NULL, 10);
  _moj_dsm_stats_on = getenv("MOJAVE_DSM_STATS") && atoi(getenv("MOJAVE_DSM_STATS"));
  _moj_dsm_trace_on = getenv("MOJAVE_DSM_TRACE") && atoi(getenv("MOJAVE_DSM_TRACE"));
  _moj_net_inject_init();
  const char *path = getenv("MOJAVE_CLUSTER");
  if (!path || !*path) return; /* no cluster: every key is local */
  const char *pv = getenv("MOJAVE_DSM_PRIVATE");
  _moj_dsm_private_local = pv && !strcmp(pv, "local");
  char err[512];
  if (_moj_cluster_load(path, &_moj_dsm_cluster, err, sizeof err)) {
    refuse(ENONET, err);
    return;
  }
  const char *h = getenv("MOJAVE_HOST");
  if (h) _moj_dsm_self_host = _moj_cluster_find_host(&_moj_dsm_cluster, h);
  if (_moj_dsm_self_host < 0) {
    char hn[64] = "";
    gethostname(hn, sizeof hn - 1);
    _moj_dsm_self_host = _moj_cluster_find_host(&_moj_dsm_cluster, h ? h : hn);
    if (_moj_dsm_self_host < 0) {
      snprintf(err, sizeof err, "this host ('%s') is not in cluster file %s (set MOJAVE_HOST)", h ? h : hn, path);
      refuse(ENONET, err);
      return;
    }
  }
  _moj_dsm_cfg_ok = 1;
  _moj_dsm_owner_pid = getpid();
#ifdef MOJ_IN_RUNTIME
  /* Pages arrive zstd-compressed in the SIGSEGV handler, where loading a
   * library is unsafe (runtime/zstd_lazy.c). */
  _moj_zstd_preload();
#endif
  _moj_dsm_sigsegv_install();
  _moj_dsm_spec_init();
  pthread_atfork(_moj_dsm_atfork_prepare, _moj_dsm_atfork_parent, _moj_dsm_atfork_child);
}


#ifdef MOJ_IN_RUNTIME
/* Inside libmojave (an archive) the runtime reaches the migration hooks only
 * through weak references, which do not pull an archive member in: this
 * strong reference does, whenever a program uses the DSM client at all. */
#include "../../migrate/image.h"
int __moj_dsm_owns_fd(int fd) __attribute__((visibility("hidden")));
__attribute__((used)) static int (*const keep_migrate_hooks)(int) = __moj_dsm_owns_fd;
#endif
