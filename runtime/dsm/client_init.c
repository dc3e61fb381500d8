/* client_init.c — DSM client start-up: the cluster file and this host's
 * entry, the real System V functions behind our interposers, tuning from the
 * environment, fault statistics at exit. */
#include "client.h"

int (*_moj_dsm_real_shmget)(key_t, size_t, int);
void *(*_moj_dsm_real_shmat)(int, const void *, int);
int (*_moj_dsm_real_shmdt)(const void *);
int (*_moj_dsm_real_shmctl)(int, int, struct shmid_ds *);
int (*_moj_dsm_real_semget)(key_t, int, int);
int (*_moj_dsm_real_semtimedop)(int, struct sembuf *, size_t, const struct timespec *);
int (*_moj_dsm_real_semctl)(int, int, int, ...);
int (*_moj_dsm_real_msgget)(key_t, int);
int (*_moj_dsm_real_msgsnd)(int, const void *, size_t, int);
ssize_t (*_moj_dsm_real_msgrcv)(int, void *, size_t, long, int);
int (*_moj_dsm_real_msgctl)(int, int, struct msqid_ds *);

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

struct _moj_cluster _moj_dsm_cluster;
int _moj_dsm_cfg_ok;      /* a cluster file was loaded: distributed keys exist */
int _moj_dsm_cfg_err;
int _moj_dsm_private_local;
int _moj_dsm_self_host = -1;
pid_t _moj_dsm_owner_pid; /* the process whose attachments and sockets these are (not a vfork child) */
pthread_once_t _moj_dsm_init_once = PTHREAD_ONCE_INIT;
long _moj_dsm_spin_us = 0;
/* MOJAVE_DSM_STATS=1: fault counters, printed to stderr at exit */
int _moj_dsm_stats_on;
_Atomic uint64_t _moj_dsm_st_rfault, _moj_dsm_st_wfault, _moj_dsm_st_upgrade, _moj_dsm_st_pages, _moj_dsm_st_batches, _moj_dsm_st_wait_ns;
int _moj_dsm_zcomp; /* MOJAVE_DSM_COMPRESS=1: pages we ship are zstd-compressed when that saves >= 1/8 */ /* spinning lost to sleeping on a loaded 2-core host; see docs/performance.md */


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

void _moj_dsm_init(void) {
  resolve_real();
  _moj_dsm_zcomp = getenv("MOJAVE_DSM_COMPRESS") && atoi(getenv("MOJAVE_DSM_COMPRESS"));
  if (getenv("MOJAVE_DSM_SPIN_US")) _moj_dsm_spin_us = strtol(getenv("MOJAVE_DSM_SPIN_US"), NULL, 10);
  _moj_dsm_stats_on = getenv("MOJAVE_DSM_STATS") && atoi(getenv("MOJAVE_DSM_STATS"));
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
  _moj_dsm_sigsegv_install();
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
