/* nsd_main.c — mojave-nsd's start-up: options, the cluster file, state
 * restored from --state, the listening socket, and the loop's tick (waiter
 * deadlines, recovery deadlines, handshake deadlines).  The rooms are listed
 * in nsd.h. */
#include "nsd.h"

#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

struct moj_ae nsd_loop;
struct _moj_cluster C;
int self_idx;
const char *state_dir; /* --state: home copies + metadata survive a daemon restart */
int debug; /* MOJAVE_NSD_DEBUG=1: trace page traffic */
int zcomp; /* --compress / MOJAVE_NSD_COMPRESS=1: zstd page transfers */
uint64_t z_pages, z_raw, z_sent;
/* Fault batching.  A fault on a page idle at home (nobody else holds a copy)
 * also grants the following idle pages: read copies after a read fault, the
 * writable copy after a write fault.  The batch starts at --readahead pages
 * and doubles, up to --readahead-max, while one attachment's faults keep
 * landing just past its previous batch (a scan); any other fault resets it. */
int ra_pages = 8;      /* --readahead N: first batch (0 = no batching) */
int ra_max = 64;       /* --readahead-max M: largest batch */
int wa_on = 1;         /* --no-write-ahead clears it: write faults fetch one page */

int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}


static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }

/* A batch-size option: an integer in [0, 64], or a clear error. */
static int parse_pages(const char *what, const char *v) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < 0 || n > 64) {
    fprintf(stderr, "mojave-nsd: %s must be an integer from 0 to 64, got '%s'\n", what, v);
    exit(2);
  }
  return (int)n;
}

static void on_listen(struct moj_ae *ae, int fd, void *data, int mask) {
  (void)ae; (void)data; (void)mask;
  conn_accept(fd);
}

/* Timed work before every wait; the loop sleeps at most until the nearest
 * waiter deadline (and never longer than a second, for the other scans). */
static int tick(struct moj_ae *ae, void *data) {
  (void)ae; (void)data;
  int64_t next = expire_waiters();
  int64_t on = order_tick(), dl = delay_tick();
  if (dl && (!on || dl < on)) on = dl;
  if (on && (!next || on < next)) next = on;
  ae->deadline_ns = on; /* the total order's and the injected delay's timers are sub-millisecond */
  check_recovery_deadlines();
  ipc_ghosts_expire();
  conn_expire_handshakes();
  if (!next) return -1;
  int64_t d = (next - now_ns()) / 1000000 + 1;
  return d < 0 ? 0 : d > 1000 ? 1000 : (int)d;
}

/* --spin-us: microseconds, 0..10000. */
static long parse_spin(const char *v) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < 0 || n > 10000) {
    fprintf(stderr, "mojave-nsd: --spin-us must be an integer from 0 to 10000, got '%s'\n", v);
    exit(2);
  }
  return n;
}

int main(int argc, char **argv) {
  long spin_us = getenv("MOJAVE_NSD_SPIN_US") ? parse_spin(getenv("MOJAVE_NSD_SPIN_US")) : 100;
  const char *cluster = getenv("MOJAVE_CLUSTER"), *host = getenv("MOJAVE_HOST");
  static struct option lo[] = {{"cluster", 1, 0, 'c'}, {"host", 1, 0, 'H'}, {"state", 1, 0, 's'}, {"readahead", 1, 0, 'r'}, {"readahead-max", 1, 0, 'm'}, {"no-write-ahead", 0, 0, 'W'}, {"compress", 0, 0, 'z'}, {"spin-us", 1, 0, 'S'}, {"fsync", 0, 0, 'F'}, {"verify-state", 0, 0, 'v'}, {"help", 0, 0, 'h'}, {"version", 0, 0, 'V'}, {0, 0, 0, 0}};
  /* environment first, so the command line wins */
  if (getenv("MOJAVE_NSD_READAHEAD")) ra_pages = parse_pages("MOJAVE_NSD_READAHEAD", getenv("MOJAVE_NSD_READAHEAD"));
  if (getenv("MOJAVE_NSD_WRITEAHEAD") && !strcmp(getenv("MOJAVE_NSD_WRITEAHEAD"), "0")) wa_on = 0;
  int o;
  while ((o = getopt_long(argc, argv, "c:H:s:r:m:Wzh", lo, NULL)) != -1) {
    if (o == 's') state_dir = optarg;
    else if (o == 'F') state_sync = 1;
    else if (o == 'v') state_verify = 1;
    else if (o == 'z') zcomp = 1;
    else if (o == 'S') spin_us = parse_spin(optarg);
    else if (o == 'r') ra_pages = parse_pages("--readahead", optarg);
    else if (o == 'm') ra_max = parse_pages("--readahead-max", optarg);
    else if (o == 'W') wa_on = 0;
    else if (o == 'c') cluster = optarg;
    else if (o == 'H') host = optarg;
    else if (o == 'V') { printf("mojave-nsd %s\n", MOJ_VERSION); return 0; }
    else {
      fprintf(o == 'h' ? stdout : stderr,
              "usage: mojave-nsd --cluster FILE --host NAME [options]\n"
              "Serves the DSM key range of host NAME from the cluster file (and key\n"
              "resolution if NAME is the root nameserver): home copies of shared memory\n"
              "pages, semaphores and message queues.  Logs to stderr.\n"
              "  --cluster FILE        cluster file (docs/cluster.md); also MOJAVE_CLUSTER\n"
              "  --host NAME           this daemon's host entry; also MOJAVE_HOST\n"
              "  --state DIR           keep segments (home copies + metadata), semaphore sets\n"
              "                        and message queues across restarts (docs/dsm.md)\n"
              "  --fsync               also fsync semaphore/queue state before replying, so\n"
              "                        it survives a machine crash (not only a daemon crash);\n"
              "                        also MOJAVE_NSD_FSYNC=1\n"
              "  --verify-state        load --state DIR, report rejected files, exit: 0 if\n"
              "                        every file was accepted, 1 if not\n"
              "  --readahead N         a fault on a page nobody else holds also grants up to N\n"
              "                        following idle pages (read copies after a read fault,\n"
              "                        ownership after a write fault); 0 = one page per fault\n"
              "                        (default 8; also MOJAVE_NSD_READAHEAD)\n"
              "  --readahead-max M     the batch doubles up to M pages while a process scans\n"
              "                        sequentially (default 64, at most 64)\n"
              "  --no-write-ahead      write faults take one page (also MOJAVE_NSD_WRITEAHEAD=0)\n"
              "  --spin-us N           after a request, poll this long before sleeping (default\n"
              "                        100, 0 = never; adaptive: off while it catches nothing;\n"
              "                        also MOJAVE_NSD_SPIN_US)\n"
              "  --compress            send pages zstd-compressed when that saves >= 1/8\n"
              "                        (also MOJAVE_NSD_COMPRESS=1)\n"
              "  --help                this text\n"
              "  --version             print the version and exit\n"
              "Exit status: 0 after SIGTERM/SIGINT, 2 on bad arguments or configuration.\n");
      return o == 'h' ? 0 : 2;
    }
  }
  if (!cluster || !host) { fprintf(stderr, "mojave-nsd: need --cluster FILE and --host NAME (or MOJAVE_CLUSTER/MOJAVE_HOST)\n"); return 2; }
  char err[512];
  if (_moj_cluster_load(cluster, &C, err, sizeof err)) { fprintf(stderr, "mojave-nsd: %s\n", err); return 2; }
  self_idx = _moj_cluster_find_host(&C, host);
  if (self_idx < 0) { fprintf(stderr, "mojave-nsd: host '%s' not in %s\n", host, cluster); return 2; }
  char tag[64];
  snprintf(tag, sizeof tag, "mojave-nsd[%s]", C.host[self_idx].name);
  _moj_log_setup(tag, 2, 1);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_term};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  _moj_net_inject_init();
  debug = getenv("MOJAVE_NSD_DEBUG") != NULL;
  if (getenv("MOJAVE_NSD_COMPRESS") && atoi(getenv("MOJAVE_NSD_COMPRESS"))) zcomp = 1;
  if (ra_max < ra_pages) ra_max = ra_pages;
  if (getenv("MOJAVE_NSD_FSYNC") && atoi(getenv("MOJAVE_NSD_FSYNC"))) state_sync = 1;
  if (state_verify) {
    if (!state_dir) { fprintf(stderr, "mojave-nsd: --verify-state needs --state DIR\n"); return 2; }
    state_load();
    return ipc_state_rejected ? 1 : 0;
  }
  if (state_dir) state_load();
  int lfd = listen_on(C.host[self_idx].addr, C.host[self_idx].port);
  if (_moj_ae_init(&nsd_loop, 65536) || _moj_ae_add(&nsd_loop, lfd, MOJ_AE_READ, on_listen, NULL)) {
    loge("cannot start the event loop: %s", strerror(errno));
    return 2;
  }
  _moj_ae_set_tick(&nsd_loop, tick, NULL);
  order_start();
  nsd_loop.spin_us = spin_us;
  logm("serving on %s:%u%s", C.host[self_idx].addr, C.host[self_idx].port, self_idx == C.root ? " (root nameserver)" : "");
  if (_moj_ae_run(&nsd_loop, &stop)) loge("epoll_wait: %s", strerror(errno));
  if (zcomp) logm("compression: %llu pages sent compressed, %llu -> %llu bytes", (unsigned long long)z_pages,
                  (unsigned long long)z_raw, (unsigned long long)z_sent);
  logm("shutting down");
  return 0;
}

