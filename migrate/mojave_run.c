/* migrate/mojave_run.c — the launcher.  Runs a mojave program locally with its
 * stdio inherited (a local run is exact), holds the other end of its control
 * socket (migration requests, progress, MOVED), and once the program has
 * moved, follows it from host to host: attaches to the job at the mojaved
 * that runs it, relays its stdout/stderr, forwards stdin exactly once and
 * signals, and exits with the program's status.  Also --attach, --list and
 * --move.  Protocol: wire.h, docs/migration.md. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster.h"
#include "wire.h"

/* Exit statuses of mojave-run's own failures (the program's status otherwise). */
#define EX_USAGE 2
#define EX_FAIL 125
#define EX_NOEXEC 126
#define EX_NOTFOUND 127

static struct _moj_cluster C;
static const char *cluster_file;
static int show_progress;
static int sfd = -1;

static void die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void die(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mojave-run: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(code);
}

static void load_cluster(void) {
  if (!cluster_file || !*cluster_file) cluster_file = getenv("MOJAVE_CLUSTER");
  if (!cluster_file || !*cluster_file)
    die(EX_USAGE, "no cluster file: pass --cluster FILE or set MOJAVE_CLUSTER (docs/cluster.md)");
  char err[600];
  if (_moj_cluster_load(cluster_file, &C, err, sizeof err)) die(EX_USAGE, "%s", err);
}

static void check_host(const char *h) {
  if (_moj_cluster_find_host(&C, h) >= 0) return;
  char list[1024] = "";
  for (int i = 0; i < C.nhosts && strlen(list) < sizeof list - 40; i++)
    snprintf(list + strlen(list), sizeof list - strlen(list), " %s", C.host[i].name);
  die(EX_USAGE, "host '%s' is not in the cluster file %s (hosts:%s)", h, cluster_file, list);
}

/* Shown with --progress / MOJAVE_PROGRESS=1, and on a terminal for images of
 * 16 MiB and more (one line rewritten in place there). */
static void progress(const struct mg_progress *p) {
  int tty = isatty(2);
  if (!p->total || (!show_progress && !(tty && p->total >= (16u << 20)))) return;
  char host[33];
  snprintf(host, sizeof host, "%.32s", p->host);
  fprintf(stderr, "%smojave-run: migrating to %s: %.1f MiB / %.1f MiB%s", tty ? "\r" : "", host,
          (double)p->sent / 1048576.0, (double)p->total / 1048576.0, !tty || p->sent == p->total ? "\n" : "");
}

static void failed(const char *msg, size_t n, const char *where) {
  fprintf(stderr, "mojave-run: %.*s; the program keeps running on %s\n", (int)n, msg, where);
}

static int status_of(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

/* ---- stdin, exactly once across hops ----
 * Bytes read from our stdin are kept from `base`; `acked` is the stream
 * offset the current job has consumed (its mojaved counts bytes written into
 * the program's pipe, and on MOVED takes back what the program never read),
 * `sent` how far we have sent.  A new job gets everything from `acked` again.
 * Bytes just below `acked` are kept (WINDOW) because the final count of a
 * moved job may be lower than the ones before it. */
#define WINDOW (1u << 20)
#define INFLIGHT (256u << 10)
static struct {
  char *p;
  uint64_t base, len; /* p[0..len) holds stream bytes base..base+len */
  uint64_t sent, acked, job_base;
  int eof, eof_sent, open;
} in = {.open = 1};

static void in_trim(void) {
  if (in.acked > in.base + 2 * WINDOW) {
    uint64_t drop = in.acked - WINDOW - in.base;
    memmove(in.p, in.p + drop, in.len - drop);
    in.base += drop;
    in.len -= drop;
  }
}

static int in_send(int fd) {
  while (in.sent < in.base + in.len) {
    uint64_t n = in.base + in.len - in.sent;
    if (n > MG_CHUNK) n = MG_CHUNK;
    if (mg_send(fd, MG_STDIN, 0, 0, in.p + (in.sent - in.base), n, -1) < 0) return -1;
    in.sent += n;
  }
  if (in.eof && !in.eof_sent) {
    if (mg_send(fd, MG_STDIN_EOF, 0, 0, NULL, 0, -1) < 0) return -1;
    in.eof_sent = 1;
  }
  return 0;
}

static void in_read(void) {
  char tmp[65536];
  ssize_t r = read(0, tmp, sizeof tmp);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (r <= 0) { in.eof = 1; in.open = 0; return; }
  char *q = realloc(in.p, in.len + (size_t)r);
  if (!q) die(EX_FAIL, "out of memory buffering stdin");
  in.p = q;
  memcpy(in.p + in.len, tmp, (size_t)r);
  in.len += (uint64_t)r;
}

/* ---- following a job from mojaved to mojaved ---- */
static int attach(const char *host, const char *job) {
  char reason[600];
  for (int attempt = 0;; attempt++) {
    int fd = mg_dial(&C, host, NULL, mg_now_ms() + 10000, reason, sizeof reason);
    if (fd >= 0) {
      struct _moj_hdr h = {0};
      uint64_t acked = 0;
      char rb[600];
      const char *why = NULL;
      if (mg_send(fd, MG_ATTACH, 0, 0, job, strlen(job), mg_now_ms() + 10000) == 0 &&
          mg_recv(fd, &h, rb, sizeof rb - 1, mg_now_ms() + 10000, &why) == 0 && h.type == (MG_ATTACH | MG_REPLY)) {
        if (h.len == sizeof acked) memcpy(&acked, rb, sizeof acked);
        if (h.status == 0) {
          /* resend from what this job has consumed (nothing, for a new job) */
          in.job_base = in.acked;
          in.acked = in.sent = in.job_base + acked;
          in.eof_sent = 0;
          return fd;
        }
        snprintf(reason, sizeof reason, "%s has no job %s%s", host, job,
                 h.status == EBUSY ? " free to attach (another mojave-run is attached)" : "");
        if (h.status != ENOENT || attempt >= 2) {
          close(fd);
          die(EX_FAIL, "%s", reason);
        }
      } else if (h.type == MG_ERROR) {
        snprintf(reason, sizeof reason, "%s refused: %.*s", host, (int)(h.len < 400 ? h.len : 400), rb);
      } else {
        snprintf(reason, sizeof reason, "attach to %s on %s failed: %s", job, host, why ? why : strerror(errno));
      }
      close(fd);
    }
    if (attempt >= 2) die(EX_FAIL, "cannot attach to job %s on %s: %s", job, host, reason);
    sleep(1); /* a daemon being restarted, or the job not yet registered */
  }
}

/* Signals the program received at its previous host after GO. */
static int redeliver(int fd, uint64_t sigs) {
  for (int sig = 1; sig <= 64; sig++)
    if (sigs >> (sig - 1) & 1)
      if (mg_send(fd, MG_SIGNAL, 0, (uint32_t)sig, NULL, 0, mg_now_ms() + 5000) < 0) return -1;
  return 0;
}

static int relay(char *host, char *job, uint64_t sigs) {
  static char buf[MG_MAX_PAYLOAD];
  int fd = attach(host, job);
  if (redeliver(fd, sigs) < 0) goto lost;
  for (;;) {
    struct pollfd p[3] = {{fd, POLLIN, 0}, {sfd, POLLIN, 0}, {0, 0, 0}};
    int np = 2;
    if (in.open && in.sent - in.acked < INFLIGHT) p[np++].events = POLLIN;
    if (poll(p, (nfds_t)np, -1) < 0) continue;
    if (p[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si)
        if (si.ssi_signo != SIGCHLD) mg_send(fd, MG_SIGNAL, 0, si.ssi_signo, NULL, 0, mg_now_ms() + 5000);
    }
    if (np > 2 && p[2].revents) {
      in_read();
      if (in_send(fd) < 0) goto lost;
    }
    if (!p[0].revents) continue;
    struct _moj_hdr h;
    const char *why;
    if (mg_recv(fd, &h, buf, sizeof buf - 1, -1, &why) < 0) goto lost;
    switch (h.type) {
    case MG_OUT: {
      int out = h.aux == 2 ? 2 : 1;
      for (uint32_t off = 0; off < h.len;) {
        ssize_t w = write(out, buf + off, h.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break; /* our own output is gone: keep the program going */
        off += (uint32_t)w;
      }
      break;
    }
    case MG_STDIN_ACK:
      if (h.len == 8) {
        uint64_t a;
        memcpy(&a, buf, 8);
        in.acked = in.job_base + a;
        if (in.acked < in.base) in.acked = in.base; /* never below what we still hold */
        if (in.sent < in.acked) in.sent = in.acked;
        in_trim();
      }
      break;
    case MG_PROGRESS:
      if (h.len == sizeof(struct mg_progress)) progress((struct mg_progress *)buf);
      break;
    case MG_FAILED:
      failed(buf, h.len, host);
      break;
    case MG_MOVED: {
      if (h.len != sizeof(struct mg_moved) || !mg_str_ok(buf, 32) || !mg_str_ok(buf + 32, 64)) goto lost;
      struct mg_moved m;
      memcpy(&m, buf, sizeof m);
      close(fd);
      snprintf(host, 32, "%s", m.host);
      snprintf(job, 64, "%s", m.job);
      fd = attach(host, job);
      if (redeliver(fd, m.sigs) < 0 || in_send(fd) < 0) goto lost;
      break;
    }
    case MG_EXIT: {
      struct mg_exit e = {0, 0};
      if (h.len == sizeof e) memcpy(&e, buf, sizeof e);
      close(fd);
      return e.sig ? 128 + e.sig : e.code;
    }
    case MG_ERROR:
      buf[h.len] = 0;
      die(EX_FAIL, "mojaved on %s: %s", host, buf);
    default:
      break;
    }
  }
lost:
  die(EX_FAIL, "lost connection to mojaved on %s (job %s): %s", host, job, errno ? strerror(errno) : "protocol error");
}

/* ---- local run ---- */
static int run(char **argv, const char *mhost, int mode, double after) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) die(EX_FAIL, "socketpair: %s", strerror(errno));
  sigset_t all;
  sigprocmask(SIG_SETMASK, NULL, &all);
  pid_t pid = fork();
  if (pid < 0) die(EX_FAIL, "fork: %s", strerror(errno));
  if (pid == 0) {
    char v[16];
    snprintf(v, sizeof v, "%d", sp[1]);
    fcntl(sp[1], F_SETFD, 0);
    setenv("MOJAVE_CTL_FD", v, 1);
    if (cluster_file) setenv("MOJAVE_CLUSTER", cluster_file, 1);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execvp(argv[0], argv);
    fprintf(stderr, "mojave-run: cannot run '%s': %s\n", argv[0], strerror(errno));
    _exit(errno == ENOENT ? EX_NOTFOUND : EX_NOEXEC);
  }
  close(sp[1]);
  int ctl = sp[0];
  int ready = 0, asked = 0, moved = 0;
  struct mg_moved to;
  char self[64];
  snprintf(self, sizeof self, "%s", getenv("MOJAVE_HOST") ? getenv("MOJAVE_HOST") : "this host");
  int64_t when = mhost ? mg_now_ms() + (int64_t)(after * 1000) : -1;
  for (;;) {
    if (mhost && !asked && ready && mg_now_ms() >= when) {
      /* the packet first, then the signal: the handler's flag means "read it" */
      struct mg_request r;
      memset(&r, 0, sizeof r);
      snprintf(r.host, sizeof r.host, "%s", mhost);
      r.mode = (uint32_t)mode;
      if (mg_pkt_send(ctl, MG_REQUEST, 0, 0, &r, sizeof r) == 0) kill(pid, mg_ctl_signal_for(argv[0]));
      asked = 1;
    }
    int tmo = -1;
    if (mhost && !asked && ready) {
      int64_t left = when - mg_now_ms();
      tmo = left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
    }
    struct pollfd p[2] = {{sfd, POLLIN, 0}, {ctl, POLLIN, 0}};
    if (poll(p, ctl >= 0 ? 2 : 1, tmo) < 0) continue;
    int child_done = 0, st = 0;
    if (p[0].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) continue;
        /* a terminal's ^C / ^\ already reached the program (same process
         * group); signals sent to us by pid are passed on */
        if (si.ssi_code == SI_KERNEL && (si.ssi_signo == SIGINT || si.ssi_signo == SIGQUIT)) continue;
        kill(pid, (int)si.ssi_signo);
      }
      if (waitpid(pid, &st, WNOHANG) == pid) child_done = 1;
    }
    /* control packets (also the ones sent just before the program exited) */
    while (ctl >= 0 && (p[1].revents || child_done)) {
      struct _moj_hdr h;
      char buf[1024];
      if (mg_pkt_recv(ctl, &h, buf, sizeof buf - 1, 1) < 0) {
        if (errno == EAGAIN) break;
        if (errno == EPROTO) continue;
        close(ctl);
        ctl = -1;
        break;
      }
      if (h.type == MG_READY) ready = 1;
      else if (h.type == MG_PROGRESS && h.len == sizeof(struct mg_progress)) progress((struct mg_progress *)buf);
      else if (h.type == MG_FAILED) failed(buf, h.len, self);
      else if (h.type == MG_MOVED && h.len == sizeof to && mg_str_ok(buf, 32) && mg_str_ok(buf + 32, 64)) {
        memcpy(&to, buf, sizeof to);
        moved = 1;
      }
    }
    if (!child_done) continue;
    if (ctl >= 0) close(ctl);
    if (mhost && !ready)
      fprintf(stderr, "mojave-run: %s never reported ready on its control socket (not linked with libmojave?); "
              "no migration was requested\n", argv[0]);
    if (!moved) return status_of(st);
    if (!C.nhosts) load_cluster(); /* it moved on its own (moj_migrate) */
    return relay(to.host, to.job, to.sigs);
  }
}

/* ---- --list, --move ---- */
static int list(void) {
  int rc = 0;
  char *buf = malloc(MG_MAX_PAYLOAD + 1);
  if (!buf) die(EX_FAIL, "out of memory");
  printf("%-16s %-8s %-8s %-16s %-8s %s\n", "JOB", "HOST", "PID", "STATE", "ORIGIN", "PROGRAM");
  for (int i = 0; i < C.nhosts; i++) {
    char reason[600];
    const char *why = NULL;
    int64_t dl = mg_now_ms() + 5000;
    int fd = mg_dial(&C, C.host[i].name, NULL, dl, reason, sizeof reason);
    struct _moj_hdr h;
    if (fd >= 0 && (mg_send(fd, MG_LIST, 0, 0, NULL, 0, dl) || mg_recv(fd, &h, buf, MG_MAX_PAYLOAD, dl, &why) ||
                    h.type != (MG_LIST | MG_REPLY))) {
      snprintf(reason, sizeof reason, "no job list: %s", why ? why : strerror(errno));
      close(fd);
      fd = -1;
    }
    if (fd < 0) {
      fprintf(stderr, "mojave-run: %s: %s\n", C.host[i].name, reason);
      rc = 1;
      continue;
    }
    close(fd);
    buf[h.len] = 0;
    char *save = NULL;
    for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
      char id[64], st[80], origin[32], prog[64];
      int pid;
      if (sscanf(l, "%63s %d %79s %31s %63s", id, &pid, st, origin, prog) == 5)
        printf("%-16s %-8s %-8d %-16s %-8s %s\n", id, C.host[i].name, pid, st, origin, prog);
    }
  }
  free(buf);
  return rc;
}

static int move(const char *job, const char *host, int mode) {
  const char *dot = strrchr(job, '.');
  if (!dot || dot == job || !dot[1]) die(EX_USAGE, "'%s' is not a job id (HOST.N, as --list shows)", job);
  char jh[64];
  snprintf(jh, sizeof jh, "%.*s", (int)(dot - job), job);
  check_host(jh);
  check_host(host);
  char reason[600], buf[1024];
  int64_t dl = mg_now_ms() + 10000;
  int fd = mg_dial(&C, jh, NULL, dl, reason, sizeof reason);
  if (fd < 0) die(EX_FAIL, "%s", reason);
  struct mg_move m;
  memset(&m, 0, sizeof m);
  snprintf(m.job, sizeof m.job, "%s", job);
  snprintf(m.host, sizeof m.host, "%s", host);
  m.mode = (uint32_t)mode;
  struct _moj_hdr h;
  const char *why = NULL;
  if (mg_send(fd, MG_MOVE, 0, 0, &m, sizeof m, dl) || mg_recv(fd, &h, buf, sizeof buf - 1, dl, &why))
    die(EX_FAIL, "asking %s: %s", jh, why ? why : strerror(errno));
  close(fd);
  buf[h.len] = 0;
  if (h.type != (MG_MOVE | MG_REPLY) || h.status) die(EX_FAIL, "%s", h.len ? buf : "refused");
  printf("%s\n", buf);
  return 0;
}

static void usage(FILE *f) {
  fprintf(f,
    "usage: mojave-run [--migrate HOST [--after SECONDS] [--mode MODE]] [--cluster FILE]\n"
    "                  [--progress] PROGRAM [ARGS...]\n"
    "       mojave-run --attach HOST:JOB\n"
    "       mojave-run --list\n"
    "       mojave-run --move JOB HOST [--mode MODE]\n"
    "\n"
    "Runs PROGRAM (a mojave program) here with its stdin/stdout/stderr inherited,\n"
    "and follows it when it migrates: its output keeps arriving here in order,\n"
    "stdin typed here reaches it exactly once, SIGINT/SIGTERM/SIGHUP sent to\n"
    "mojave-run reach it wherever it runs, and mojave-run exits with its status.\n"
    "\n"
    "  --migrate HOST     ask the program to migrate to HOST (a cluster-file host);\n"
    "                     it moves at its next migration point\n"
    "  --after SECONDS    ask only after SECONDS (decimal; default: at once)\n"
    "  --mode MODE        binary: ship the executable; ir: ship the bitcode, compiled\n"
    "                     at the destination; auto (default): binary, or ir when the\n"
    "                     cluster file gives the destination another architecture\n"
    "                     (binary is refused there)\n"
    "  --cluster FILE     cluster file (default: $MOJAVE_CLUSTER; docs/cluster.md)\n"
    "  --progress         print \"migrating to HOST: X MiB / Y MiB\" on stderr while an\n"
    "                     image is sent (also MOJAVE_PROGRESS=1; on a terminal it is\n"
    "                     shown anyway for images of 16 MiB and more)\n"
    "  --attach HOST:JOB  follow a job already running under mojaved on HOST\n"
    "                     (what an unsupervised program execs when it moves)\n"
    "  --list             list the jobs of every host's mojaved: job id, host, pid,\n"
    "                     state, origin host, program\n"
    "  --move JOB HOST    ask the running job JOB (as --list shows it) to migrate to HOST\n"
    "  --help, --version\n"
    "\n"
    "Environment: MOJAVE_CLUSTER, MOJAVE_HOST (this host's name), MOJAVE_PROGRESS,\n"
    "MOJAVE_MIGRATE_TIMEOUT_MS (read by the program: bound of one hand-off).\n"
    "Exit status: the program's (128+N when killed by signal N); 2 bad usage;\n"
    "125 mojave-run failed (lost its daemon, job unknown); 126/127 PROGRAM could\n"
    "not be executed / found.  See docs/migration.md.\n");
}

int main(int argc, char **argv) {
  const char *mhost = NULL, *attach_to = NULL, *move_job = NULL;
  int mode = 0, do_list = 0; /* 0 auto: binary, IR across instruction sets */
  double after = 0;
  static struct option lo[] = {{"migrate", 1, 0, 'm'}, {"after", 1, 0, 'a'}, {"mode", 1, 0, 'M'},
                               {"cluster", 1, 0, 'c'}, {"attach", 1, 0, 'A'}, {"list", 0, 0, 'l'},
                               {"move", 1, 0, 'v'}, {"progress", 0, 0, 'p'}, {"help", 0, 0, 'h'},
                               {"version", 0, 0, 'V'}, {0, 0, 0, 0}};
  opterr = 0;
  int o;
  while ((o = getopt_long(argc, argv, "+m:a:M:c:A:lv:phV", lo, NULL)) != -1) {
    char *end;
    switch (o) {
    case 'm': mhost = optarg; break;
    case 'a':
      after = strtod(optarg, &end);
      if (end == optarg || *end || after < 0 || after > 1e6) die(EX_USAGE, "--after wants a number of seconds, got '%s'", optarg);
      break;
    case 'M':
      if (!strcmp(optarg, "binary")) mode = 1;
      else if (!strcmp(optarg, "ir")) mode = 2;
      else if (!strcmp(optarg, "auto")) mode = 0;
      else die(EX_USAGE, "--mode is binary, ir or auto, got '%s'", optarg);
      break;
    case 'c': cluster_file = optarg; break;
    case 'A': attach_to = optarg; break;
    case 'l': do_list = 1; break;
    case 'v': move_job = optarg; break;
    case 'p': show_progress = 1; break;
    case 'h': usage(stdout); return 0;
    case 'V': printf("mojave-run (mojave) %s, wire protocol %d\n", MOJ_VERSION_STRING, MG_VERSION); return 0;
    default:
      if (optopt && strchr("maMcAv", optopt)) die(EX_USAGE, "option '%s' needs an argument (see --help)", argv[optind - 1]);
      die(EX_USAGE, "unknown option '%s' (see --help)", argv[optind - 1]);
    }
  }
  const char *pe = getenv("MOJAVE_PROGRESS");
  if (pe && *pe && strcmp(pe, "0")) show_progress = 1;
  if (!mhost && after > 0) die(EX_USAGE, "--after needs --migrate HOST");
  if ((do_list != 0) + (attach_to != NULL) + (move_job != NULL) > 1) die(EX_USAGE, "--attach, --list and --move exclude each other");
  if ((do_list || attach_to || move_job) && mhost) die(EX_USAGE, "--migrate is for starting a program");

  signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  int sigs[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(&mask, sigs[i]);

  if (do_list) {
    if (optind < argc) die(EX_USAGE, "--list takes no arguments");
    load_cluster();
    return list();
  }
  if (move_job) {
    if (optind + 1 != argc) die(EX_USAGE, "usage: --move JOB HOST");
    load_cluster();
    return move(move_job, argv[optind], mode);
  }
  sigprocmask(SIG_BLOCK, &mask, NULL);
  sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (attach_to) {
    if (optind < argc) die(EX_USAGE, "--attach takes no program");
    const char *colon = strchr(attach_to, ':');
    if (!colon || colon == attach_to || !colon[1] || colon - attach_to >= 32 || strlen(colon + 1) >= 64)
      die(EX_USAGE, "--attach wants HOST:JOB (e.g. h2:h2.17), got '%s'", attach_to);
    char host[32], job[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - attach_to), attach_to);
    snprintf(job, sizeof job, "%s", colon + 1);
    load_cluster();
    check_host(host);
    return relay(host, job, 0);
  }
  if (optind >= argc) die(EX_USAGE, "no program to run (see --help)");
  if (mhost) {
    load_cluster();
    check_host(mhost);
  }
  return run(argv + optind, mhost, mode, after);
}
