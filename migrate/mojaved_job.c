/* migrate/mojaved_job.c — the programs mojaved restores and supervises: start
 * (fork + exec of the cached executable with MOJAVE_RESTORE_FD and
 * MOJAVE_CTL_FD), the RESTORED/GO/ABORT hand-off, stdout/stderr relay to the
 * attached launcher in order (buffered, bounded, backpressure by not reading
 * the pipes), stdin relay with acknowledgements for exactly-once delivery
 * across hops, signals, exit status and MOVED forwarding, the job table. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mojaved.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct job *jobs;
static int njobs;

struct job *job_find(const char *id) {
  for (struct job *j = jobs; j; j = j->next)
    if (j->state && !strcmp(j->id, id)) return j;
  return NULL;
}

/* Bytes the image says the program had received but not consumed: written
 * into the new stdin pipe before anything from the launcher.  The image
 * library's STDIO section is not decoded here yet, so there are none. */
static size_t pending_stdin(int memfd, const uint8_t **data) {
  (void)memfd;
  *data = NULL;
  return 0;
}

static void xclose(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}
/* Unregister explicitly before closing: a child between fork and exec still
 * holds a copy of the descriptor, which would keep the registration alive. */
static void jclose(int *fd, struct watch *w, int *on) {
  if (*fd >= 0) ep_set(*fd, w, 0, on);
  xclose(fd);
}
static void close_all(struct job *j) {
  jclose(&j->ctl, &j->wctl, &j->ctl_on);
  jclose(&j->out, &j->wout, &j->out_on);
  jclose(&j->err, &j->werr, &j->err_on);
  jclose(&j->in, &j->win, &j->in_on);
  xclose(&j->in_rd);
}

/* Job ids <host>.<n>, n persisted in the state directory so a restarted
 * daemon does not hand out an id a launcher may still hold. */
static unsigned next_job_number(void) {
  char path[700];
  snprintf(path, sizeof path, "%s/next-job", state_dir);
  unsigned n = 1;
  FILE *f = fopen(path, "re");
  if (f) {
    if (fscanf(f, "%u", &n) != 1 || n == 0) n = 1;
    fclose(f);
  }
  f = fopen(path, "we");
  if (f) {
    fprintf(f, "%u\n", n + 1);
    fclose(f);
  }
  return n;
}

static void job_remove(struct job *j) {
  if (!j->state) return;
  j->state = 0; /* freed by job_free_dead after this loop iteration */
  close_all(j);
  if (j->launcher) j->launcher->job = NULL;
  if (j->src) j->src->job = NULL;
  j->launcher = j->src = NULL;
}

void job_free_dead(void) {
  for (struct job **pp = &jobs; *pp;) {
    struct job *j = *pp;
    if (j->state) { pp = &j->next; continue; }
    *pp = j->next;
    njobs--;
    buf_free(&j->outq);
    buf_free(&j->inq);
    free(j);
  }
}

/* Which job fds epoll watches: the output pipes only while the output
 * waiting for the launcher is under OUT_LIMIT (backpressure: a program that
 * prints faster than anyone reads blocks in write()), stdin only with bytes
 * to write. */
static void job_interest(struct job *j) {
  size_t pending = buf_size(&j->outq) + (j->launcher ? buf_size(&j->launcher->tx) : 0);
  uint32_t rd = pending < OUT_LIMIT ? EPOLLIN : 0;
  if (j->out >= 0) ep_set(j->out, &j->wout, rd, &j->out_on);
  if (j->err >= 0) ep_set(j->err, &j->werr, rd, &j->err_on);
  if (j->in >= 0) ep_set(j->in, &j->win, buf_size(&j->inq) ? EPOLLOUT : 0, &j->in_on);
}

void job_pump(struct job *j) {
  if (!j->state) return;
  struct conn *c = j->launcher;
  if (c && !c->dead && buf_size(&j->outq)) {
    if (buf_put(&c->tx, j->outq.p + j->outq.off, buf_size(&j->outq))) { conn_close(c, "out of memory"); return; }
    j->outq.off = j->outq.len = 0;
    conn_flush(c);
    if (!j->state) return;
  }
  if (j->final_sent && j->launcher && !buf_size(&j->outq)) {
    logm("job %s handed to %s: %s", j->id, j->launcher->host, j->moved ? "moved" : "exit");
    job_remove(j);
    return;
  }
  job_interest(j);
}

static void queue(struct job *j, uint16_t type, uint32_t aux, const void *p, size_t n) {
  if (buf_frame(&j->outq, type, 0, aux, p, n)) logm("job %s: out of memory queueing %s", j->id, mg_type_name(type));
}

static void ack_stdin(struct job *j) {
  uint64_t a = j->in_written > j->in_skip ? j->in_written - j->in_skip : 0;
  queue(j, MG_STDIN_ACK, 0, &a, sizeof a);
}

struct job *job_spawn(struct conn *src, const char *exe, int memfd, char *reason, size_t rlen) {
  if (njobs >= MAX_JOBS) { snprintf(reason, rlen, "too many jobs (%d)", MAX_JOBS); return NULL; }
  struct mg_ship sh;
  memcpy(&sh, src->ship, sizeof sh);
  /* strings were validated by ship_check: cwd, argv, env */
  char **argv = calloc(sh.argc + 1, sizeof *argv), **envp = calloc(sh.envc + 5, sizeof *envp);
  char ev[4][700];
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, ctl[2] = {-1, -1};
  struct job *j = calloc(1, sizeof *j);
  if (!argv || !envp || !j) { snprintf(reason, rlen, "out of memory"); goto fail; }
  char *p = src->ship + sizeof sh;
  const char *cwd = p;
  p += strlen(p) + 1;
  for (uint32_t i = 0; i < sh.argc; i++, p += strlen(p) + 1) argv[i] = p;
  uint32_t ne = 0;
  for (uint32_t i = 0; i < sh.envc; i++, p += strlen(p) + 1) envp[ne++] = p;
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) ||
      socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl)) {
    snprintf(reason, rlen, "pipes: %s", strerror(errno));
    goto fail;
  }
  snprintf(ev[0], sizeof ev[0], "MOJAVE_RESTORE_FD=%d", memfd);
  snprintf(ev[1], sizeof ev[1], "MOJAVE_CTL_FD=%d", ctl[1]);
  snprintf(ev[2], sizeof ev[2], "MOJAVE_HOST=%s", self_name);
  snprintf(ev[3], sizeof ev[3], "MOJAVE_CLUSTER=%s", cluster_path);
  for (int i = 0; i < 4; i++) envp[ne++] = ev[i];
  pid_t pid = fork();
  if (pid < 0) { snprintf(reason, rlen, "fork: %s", strerror(errno)); goto fail; }
  if (pid == 0) {
    setpgid(0, 0); /* its own group: signals for the job reach its children too, the daemon's do not */
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    fcntl(ctl[1], F_SETFD, 0);
    fcntl(memfd, F_SETFD, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (chdir(cwd)) {
      dprintf(2, "mojaved: cannot enter the program's directory %s: %s\n", cwd, strerror(errno));
      _exit(127);
    }
    /* an emulated host: EMULATOR... [-0 ARGV0] EXE ARGS (qemu-user would
     * otherwise give the program EXE's cache path as its argv[0]) */
    char **run = argv;
    const char *file = exe;
    if (emulator[0]) {
      char **ev_argv = calloc(16 + 3 + sh.argc, sizeof *ev_argv);
      if (!ev_argv) _exit(127);
      int k = 0;
      while (emulator[k]) ev_argv[k] = emulator[k], k++;
      if (mg_is_qemu(emulator[0])) ev_argv[k++] = "-0", ev_argv[k++] = argv[0];
      ev_argv[k++] = (char *)exe;
      for (uint32_t i = 1; i < sh.argc; i++) ev_argv[k++] = argv[i];
      ev_argv[k] = NULL;
      run = ev_argv;
      file = emulator[0];
    }
    /* ETXTBSY: another child forked while the cache file was still open for
     * writing holds it until its own exec; it is gone in a moment */
    for (int t = 0; t < 50; t++) {
      if (run != argv) execvpe(file, run, envp);
      else execve(exe, argv, envp);
      if (errno != ETXTBSY) break;
      usleep(20000);
    }
    dprintf(2, "mojaved: cannot execute %s: %s\n", file, strerror(errno));
    _exit(127);
  }
  /* only to count what the program never read (FIONREAD); never made
   * O_NONBLOCK: that flag would be shared with the program's stdin */
  j->in_rd = fcntl(in[0], F_DUPFD_CLOEXEC, 0);
  close(in[0]); close(out[1]); close(err[1]); close(ctl[1]);
  j->pid = pid;
  j->in = in[1];
  j->out = out[0];
  j->err = err[0];
  j->ctl = ctl[0];
  fcntl(j->in, F_SETFL, O_NONBLOCK);
  fcntl(j->out, F_SETFL, O_NONBLOCK);
  fcntl(j->err, F_SETFL, O_NONBLOCK);
  j->wctl = (struct watch){W_JOB_CTL, j};
  j->wout = (struct watch){W_JOB_OUT, j};
  j->werr = (struct watch){W_JOB_ERR, j};
  j->win = (struct watch){W_JOB_IN, j};
  snprintf(j->id, sizeof j->id, "%s.%u", self_name, next_job_number());
  const char *base = strrchr(argv[0], '/');
  snprintf(j->prog, sizeof j->prog, "%s", base ? base + 1 : argv[0]);
  snprintf(j->origin, sizeof j->origin, "%s", sh.src_host[0] ? sh.src_host : src->host);
  j->state = JOB_RESTORING;
  j->src = src;
  const uint8_t *pend;
  size_t np = pending_stdin(memfd, &pend);
  if (np) {
    buf_put(&j->inq, pend, np);
    j->in_skip = np;
  }
  ep_set(j->ctl, &j->wctl, EPOLLIN, &j->ctl_on);
  j->next = jobs;
  jobs = j;
  njobs++;
  job_interest(j);
  logm("job %s: restoring %s (pid %d) for %s, image %llu bytes", j->id, j->prog, (int)pid, j->origin,
       (unsigned long long)sh.image_len);
  free(argv);
  free(envp);
  return j;
fail:
  for (int i = 0; i < 2; i++) {
    if (in[i] >= 0) close(in[i]);
    if (out[i] >= 0) close(out[i]);
    if (err[i] >= 0) close(err[i]);
    if (ctl[i] >= 0) close(ctl[i]);
  }
  free(argv);
  free(envp);
  free(j);
  return NULL;
}

/* The program is done: everything it printed has been read (both pipes at
 * EOF) and its status is known.  Queue MOVED or EXIT behind the output. */
static void ctl_read(struct job *j);
static void job_final(struct job *j) {
  if (j->state != JOB_RUNNING || !j->exited || j->out >= 0 || j->err >= 0) return;
  ctl_read(j); /* a MOVED sent just before exit */
  if (j->moved) {
    /* Bytes we wrote into the stdin pipe that the program never read are
     * still in it (the runtime stopped reading at capture): count them back
     * and acknowledge only what it consumed, so the launcher resends the
     * rest to the next host.  Exactly once, whatever the image carries. */
    int unread = 0;
    if (j->in_rd >= 0 && ioctl(j->in_rd, FIONREAD, &unread) < 0) unread = 0;
    uint64_t left = unread > 0 ? (uint64_t)unread : 0;
    j->in_written -= left < j->in_written ? left : j->in_written;
    ack_stdin(j);
    queue(j, MG_MOVED, 0, &j->moved_to, sizeof j->moved_to);
    logm("job %s moved to %s as %s (%llu unread stdin bytes returned)", j->id, j->moved_to.host, j->moved_to.job,
         (unsigned long long)left);
  } else {
    struct mg_exit e = {0, 0};
    if (WIFEXITED(j->status)) e.code = WEXITSTATUS(j->status);
    else e.sig = WTERMSIG(j->status);
    queue(j, MG_EXIT, 0, &e, sizeof e);
    logm("job %s exited: %s %d", j->id, e.sig ? "signal" : "status", e.sig ? e.sig : e.code);
  }
  j->state = JOB_DONE;
  j->final_sent = 1;
  j->t_done = mg_now_ms();
  jclose(&j->in, &j->win, &j->in_on);
  jclose(&j->ctl, &j->wctl, &j->ctl_on);
  xclose(&j->in_rd);
  job_pump(j);
}

/* Keep the last bytes of stderr (a rolling window), for the reason of a
 * failed restore. */
static void tail(struct job *j, const char *p, size_t n) {
  size_t cap = sizeof j->errtail - 1, have = strlen(j->errtail);
  if (n >= cap) {
    memcpy(j->errtail, p + n - cap, cap);
    j->errtail[cap] = 0;
    return;
  }
  size_t keep = have + n > cap ? cap - n : have;
  memmove(j->errtail, j->errtail + have - keep, keep);
  memcpy(j->errtail + keep, p, n);
  j->errtail[keep + n] = 0;
}

/* The reason out of that window: its last line, and the line before when
 * the last is an emulator's own ("qemu: uncaught target signal" says
 * nothing about why the program aborted). */
static void tail_reason(const struct job *j, char *out, size_t n) {
  char b[sizeof j->errtail];
  snprintf(b, sizeof b, "%s", j->errtail);
  size_t k = strlen(b);
  while (k && (b[k - 1] == '\n' || b[k - 1] == '\r')) b[--k] = 0;
  char *last = strrchr(b, '\n');
  if (!last) { snprintf(out, n, "%s", b); return; }
  *last++ = 0;
  char *prev = strrchr(b, '\n');
  prev = prev ? prev + 1 : b;
  if (strncmp(last, "qemu", 4) == 0 && *prev) snprintf(out, n, "%s; %s", prev, last);
  else snprintf(out, n, "%s", last);
}

static void restore_failed(struct job *j) {
  char msg[512];
  const char *abbrev = WIFSIGNALED(j->status) ? sigabbrev_np(WTERMSIG(j->status)) : NULL;
  if (abbrev) snprintf(msg, sizeof msg, "restore crashed at %s: SIG%s", self_name, abbrev);
  else if (WIFSIGNALED(j->status)) snprintf(msg, sizeof msg, "restore crashed at %s: signal %d", self_name, WTERMSIG(j->status));
  else snprintf(msg, sizeof msg, "restore failed at %s: exit status %d", self_name, WEXITSTATUS(j->status));
  char why[sizeof j->errtail];
  tail_reason(j, why, sizeof why);
  if (why[0]) {
    size_t n = strlen(msg);
    snprintf(msg + n, sizeof msg - n, " (%s)", why);
  }
  logm("job %s: %s", j->id, msg);
  if (j->src) {
    conn_send(j->src, MG_ERROR, ECHILD, 0, msg, strlen(msg));
    j->src->job = NULL;
    j->src = NULL;
  }
  job_remove(j);
}

static void pipe_read(struct job *j, int *fd, struct watch *w, int *on, uint32_t stream) {
  char tmp[65536];
  for (int rounds = 0; rounds < 4 && *fd >= 0; rounds++) {
    ssize_t r = read(*fd, tmp, sizeof tmp);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) break;
    if (r <= 0) {
      jclose(fd, w, on);
      break;
    }
    if (stream == 2) tail(j, tmp, (size_t)r);
    queue(j, MG_OUT, stream, tmp, (size_t)r);
    if (buf_size(&j->outq) >= OUT_LIMIT) break;
  }
}

static void ctl_read(struct job *j) {
  struct _moj_hdr h;
  char buf[1024];
  while (j->ctl >= 0) {
    if (mg_pkt_recv(j->ctl, &h, buf, sizeof buf, 1) < 0) {
      if (errno == EAGAIN) return;
      if (errno == EPROTO) { logm_rl("job %s: malformed control packet ignored", j->id); continue; }
      jclose(&j->ctl, &j->wctl, &j->ctl_on);
      return;
    }
    switch (h.type) {
    case MG_READY:
      j->ready = 1;
      if (j->req_pending) job_request(j, j->req.host, j->req.mode);
      break;
    case MG_RESTORED:
      if (j->state != JOB_RESTORING) break;
      j->state = JOB_RESTORED;
      logm("job %s restored, waiting for GO from %s", j->id, j->origin);
      if (j->src) conn_send(j->src, MG_RESTORED, 0, 0, j->id, strlen(j->id));
      break;
    case MG_MOVED:
      if (h.len == sizeof j->moved_to && mg_str_ok(buf, 32) && mg_str_ok(buf + 32, 64)) {
        memcpy(&j->moved_to, buf, sizeof j->moved_to);
        j->moved = 1;
      }
      break;
    case MG_PROGRESS:
    case MG_FAILED:
      if (j->state == JOB_RUNNING) queue(j, h.type, 0, buf, h.len);
      break;
    default:
      logm_rl("job %s: unexpected %s on the control socket", j->id, mg_type_name(h.type));
    }
  }
}

void job_event(struct watch *w, uint32_t events) {
  struct job *j = w->obj;
  if (!j->state) return;
  switch (w->kind) {
  case W_JOB_CTL: ctl_read(j); break;
  case W_JOB_OUT: pipe_read(j, &j->out, &j->wout, &j->out_on, 1); break;
  case W_JOB_ERR: pipe_read(j, &j->err, &j->werr, &j->err_on, 2); break;
  case W_JOB_IN:
    if (events & EPOLLERR) { /* nobody reads stdin any more */
      j->inq.off = j->inq.len = 0;
      jclose(&j->in, &j->win, &j->in_on);
      break;
    }
    while (j->in >= 0 && buf_size(&j->inq)) {
      ssize_t r = write(j->in, j->inq.p + j->inq.off, buf_size(&j->inq));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) break;
      j->inq.off += (size_t)r;
      j->in_written += (uint64_t)r;
      ack_stdin(j);
    }
    if (!buf_size(&j->inq) && j->in_eof) jclose(&j->in, &j->win, &j->in_on);
    break;
  }
  if (!j->state) return;
  if (j->state == JOB_RUNNING) job_final(j);
  job_pump(j);
}

int job_reaped(pid_t pid, int status) {
  for (struct job *j = jobs; j; j = j->next) {
    if (!j->state || j->pid != pid || j->exited) continue;
    j->exited = 1;
    j->status = status;
    if (j->state == JOB_RESTORING || j->state == JOB_RESTORED) {
      if (j->err >= 0) pipe_read(j, &j->err, &j->werr, &j->err_on, 2); /* its last words, for the reason */
      restore_failed(j);
    } else if (j->state == JOB_ABORTED) {
      job_remove(j);
    } else {
      job_final(j);
    }
    return 1;
  }
  return 0;
}

void job_src_gone(struct job *j) {
  if (j->state == JOB_RESTORING || j->state == JOB_RESTORED) {
    logm("job %s: hand-off aborted by %s; killing what was restored", j->id, j->origin);
    if (j->ctl >= 0) mg_pkt_send(j->ctl, MG_ABORT, 0, 0, NULL, 0);
    if (kill(-j->pid, SIGKILL)) kill(j->pid, SIGKILL);
    j->state = JOB_ABORTED;
    close_all(j);
  }
  if (j->src) j->src->job = NULL;
  j->src = NULL;
}

void job_go(struct job *j) {
  if (j->ctl >= 0) mg_pkt_send(j->ctl, MG_GO, 0, 0, NULL, 0);
  j->state = JOB_RUNNING;
  if (j->src) j->src->job = NULL;
  j->src = NULL;
  logm("job %s released (GO)", j->id);
  if (j->exited) job_final(j);
}

void job_attach(struct job *j, struct conn *c, uint64_t *acked) {
  j->launcher = c;
  *acked = j->in_written > j->in_skip ? j->in_written - j->in_skip : 0;
  logm("job %s: launcher attached from %s", j->id, c->host);
  conn_send(c, MG_ATTACH | MG_REPLY, 0, 0, acked, sizeof *acked);
  job_pump(j);
}

void job_detach(struct job *j) {
  logm("job %s: launcher detached", j->id);
  j->launcher = NULL;
  job_interest(j);
}

void job_stdin(struct job *j, const void *p, size_t n) {
  if (j->in < 0 || j->in_eof) return; /* program closed stdin: bytes are dropped, never acknowledged */
  if (buf_put(&j->inq, p, n)) return;
  job_event(&j->win, EPOLLOUT);
}

void job_stdin_eof(struct job *j) {
  j->in_eof = 1;
  job_event(&j->win, EPOLLOUT);
}

int job_signal(struct job *j, int sig) {
  switch (sig) {
  case SIGINT: case SIGTERM: case SIGHUP: case SIGQUIT: case SIGKILL: case SIGUSR1: case SIGUSR2:
  case SIGCONT: case SIGTSTP: case SIGWINCH: break;
  default: return -1;
  }
  if (j->exited) return 0;
  logm("job %s: delivering signal %d", j->id, sig);
  if (kill(-j->pid, sig)) kill(j->pid, sig);
  return 0;
}

int job_request(struct job *j, const char *host, uint32_t mode) {
  memset(&j->req, 0, sizeof j->req);
  snprintf(j->req.host, sizeof j->req.host, "%s", host);
  j->req.mode = mode;
  if (!j->ready || j->ctl < 0) { /* sent once the program says it can take it */
    j->req_pending = 1;
    return j->ctl < 0 ? -1 : 0;
  }
  j->req_pending = 0;
  if (mg_pkt_send(j->ctl, MG_REQUEST, 0, 0, &j->req, sizeof j->req) < 0) return -1;
  return kill(j->pid, mg_ctl_signal_for(emulator[0]));
}

size_t job_list(char *out, size_t cap) {
  size_t n = 0;
  static const char *const names[] = {"?", "restoring", "restored", "running", "done", "aborted"};
  for (struct job *j = jobs; j && n + 300 < cap; j = j->next) /* a line is < 300 bytes */ {
    if (!j->state) continue;
    char st[80];
    if (j->state == JOB_DONE && j->moved) snprintf(st, sizeof st, "moved:%s", j->moved_to.job);
    else if (j->state == JOB_DONE && WIFEXITED(j->status)) snprintf(st, sizeof st, "exited:%d", WEXITSTATUS(j->status));
    else if (j->state == JOB_DONE) snprintf(st, sizeof st, "killed:%d", WTERMSIG(j->status));
    else snprintf(st, sizeof st, "%s", names[j->state]);
    n += (size_t)snprintf(out + n, cap - n, "%s %d %s %s %s%s\n", j->id, (int)j->pid, st, j->origin, j->prog,
                          j->launcher ? " attached" : "");
  }
  return n;
}

void job_tick(int64_t now) {
  for (struct job *j = jobs; j; j = j->next) {
    if (j->state == JOB_DONE && !j->launcher && now - j->t_done > JOB_LINGER_MS) {
      logm("job %s: nobody attached for %d s, forgotten", j->id, JOB_LINGER_MS / 1000);
      job_remove(j);
    }
  }
}

void job_shutdown(void) {
  for (struct job *j = jobs; j; j = j->next) {
    if (!j->state) continue;
    if (!j->exited && kill(-j->pid, SIGKILL)) kill(j->pid, SIGKILL);
    job_remove(j);
  }
  job_free_dead();
}
