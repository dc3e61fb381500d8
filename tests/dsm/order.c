/* order.c — client of the daemons' total-order layer (cluster file `order`):
 *   order links          wait (at most 1000 polls, 10 ms apart) until this host's
 *                        daemon has its links to all other daemons up
 *   order submit N       submit N messages through this host's daemon (a
 *                        random 0-2 ms pause between them), print their ids
 *   order wait TOTAL     poll this host's daemon until it committed TOTAL
 *                        messages (at most 600 polls, 0.1 s apart), print its
 *                        counters and the committed sequence's hash chain
 *   order dump FILE      write the per-message records (latency model) to FILE
 *   order intrude        as a client, claim to be another daemon's link and
 *                        send ordered traffic: both must be refused
 * The host is MOJAVE_HOST in MOJAVE_CLUSTER, as for any member. */
#define _GNU_SOURCE
#include "cluster.h"
#include "proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct _moj_cluster C;
static int me;
static int fd = -1;
static struct _moj_chan ch;
static uint8_t scratch[MOJ_MAX_FRAME + 64], buf[MOJ_MAX_FRAME + 64];
static uint32_t seq;

static int join(void) {
  fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(C.host[me].port)};
  inet_pton(AF_INET, C.host[me].addr, &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) return -1;
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return _moj_auth_client_ch(fd, MOJ_MAGIC, MOJ_DSM_PROTO_VERSION, C.secret, C.secret_len, C.host[me].name, C.encrypt, &ch);
}
/* One request, its reply: status, or -1 on a broken connection. */
static int call(uint16_t type, const void *p, size_t l, struct _moj_hdr *h, const uint8_t **pl) {
  if (_moj_chan_send(fd, &ch.tx, scratch, type, ++seq, 0, 0, p, l, NULL, 0)) return -1;
  if (_moj_chan_recv(fd, &ch.rx, h, buf, pl)) return -1;
  if (h->type != (type | MOJ_REPLY) || h->seq != seq) return -1;
  return h->status;
}
static int get_log(uint32_t first, struct _moj_to_log_r *r, const struct _moj_to_log_e **e) {
  struct _moj_hdr h;
  const uint8_t *pl;
  int st = call(MOJ_TO_LOG, &first, sizeof first, &h, &pl);
  if (st) return st;
  if (h.len < sizeof *r) return -1;
  memcpy(r, pl, sizeof *r);
  if (h.len != sizeof *r + (size_t)r->nent * sizeof **e) return -1;
  *e = (const struct _moj_to_log_e *)(pl + sizeof *r);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: see the banner of tests/dsm/order.c\n"); return 2; }
  char err[256];
  const char *cf = getenv("MOJAVE_CLUSTER"), *host = getenv("MOJAVE_HOST");
  if (!cf || !host || _moj_cluster_load(cf, &C, err, sizeof err)) { printf("FAIL order: cluster: %s\n", cf ? err : "MOJAVE_CLUSTER/MOJAVE_HOST unset"); return 1; }
  me = _moj_cluster_find_host(&C, host);
  if (me < 0 || join()) { printf("FAIL order: cannot join the daemon of %s\n", host); return 1; }
  if (!strcmp(argv[1], "links") && argc == 2) {
    /* wait until this daemon's links to all others are up (frames for a
     * link not yet connected wait for it: a run would measure the start-up) */
    for (int i = 0; i < 1000; i++) {
      struct _moj_to_log_r r;
      const struct _moj_to_log_e *e;
      if (get_log(UINT32_MAX, &r, &e)) { printf("FAIL order: TO_LOG refused\n"); return 1; }
      if (r.links_up + 1 >= r.nhosts) return 0;
      struct timespec ts = {0, 10000000};
      nanosleep(&ts, NULL);
    }
    printf("FAIL order: the links of %s never all came up\n", host);
    return 1;
  }
  if (!strcmp(argv[1], "submit") && argc == 3) {
    int n = atoi(argv[2]);
    unsigned s = (unsigned)getpid();
    for (int i = 0; i < n; i++) {
      char msg[64];
      int l = snprintf(msg, sizeof msg, "%s:%d", host, i);
      struct _moj_hdr h;
      const uint8_t *pl;
      int st = call(MOJ_TO_SUBMIT, msg, (size_t)l, &h, &pl);
      if (st || h.len != sizeof(struct _moj_to_wire)) { printf("FAIL order: submit %d: status %d\n", i, st); return 1; }
      struct timespec ts = {0, (long)(rand_r(&s) % 2000) * 1000};
      nanosleep(&ts, NULL);
    }
    printf("%s: submitted %d\n", host, n);
    return 0;
  }
  if (!strcmp(argv[1], "wait") && argc == 3) {
    uint64_t total = strtoull(argv[2], NULL, 10);
    struct _moj_to_log_r r;
    const struct _moj_to_log_e *e;
    for (int i = 0; i < 600; i++) {
      if (get_log(UINT32_MAX, &r, &e)) { printf("FAIL order: TO_LOG refused\n"); return 1; }
      if (r.committed >= total) break;
      struct timespec ts = {0, 100000000};
      nanosleep(&ts, NULL);
    }
    printf("%s: committed %llu chain %016llx spec %llu spec_committed %llu aborts %llu undone %llu quiets %llu immediate %llu window_us %lld"
           " te_ns %lld tc_ns %lld ta_ns %lld excluded 0x%llx dropped %llu\n",
           host, (unsigned long long)r.committed, (unsigned long long)r.chain, (unsigned long long)r.spec_deliveries,
           (unsigned long long)r.spec_committed, (unsigned long long)r.abort_events, (unsigned long long)r.undone,
           (unsigned long long)r.quiets_sent, (unsigned long long)r.immediate, (long long)(r.window_ns / 1000),
           (long long)r.te_ns, (long long)r.tc_ns, (long long)r.ta_ns, (unsigned long long)r.excluded,
           (unsigned long long)r.dropped);
    return r.committed == total ? 0 : 1;
  }
  if (!strcmp(argv[1], "dump") && argc == 3) {
    FILE *f = fopen(argv[2], "w");
    if (!f) { perror(argv[2]); return 1; }
    fprintf(f, "# t m hash stable_ns latency_ns first_ns w_ns aborts immediate spec\n");
    uint32_t at = 0;
    for (;;) {
      struct _moj_to_log_r r;
      const struct _moj_to_log_e *e;
      if (get_log(at, &r, &e)) { printf("FAIL order: TO_LOG refused\n"); return 1; }
      for (uint32_t i = 0; i < r.nent; i++)
        fprintf(f, "%llu %u %08x %lld %lld %lld %lld %u %u %u\n", (unsigned long long)e[i].t, e[i].m, e[i].hash,
                (long long)e[i].stable, (long long)e[i].latency, (long long)e[i].first, (long long)e[i].w, e[i].aborts,
                e[i].immediate, e[i].spec);
      at += r.nent;
      if (!r.nent || at >= r.recorded) break;
    }
    fclose(f);
    return 0;
  }
  if (!strcmp(argv[1], "intrude") && argc == 2) {
    /* a member (the secret is right) that is not the daemon it claims */
    uint32_t other = (uint32_t)(me == 0 ? 1 : 0);
    struct _moj_to_wire w = {1000000, other, 0};
    int bad = _moj_chan_send(fd, &ch.tx, scratch, MOJ_TO_MSG, 0, 0, 0, &w, sizeof w, NULL, 0) ||
              _moj_chan_send(fd, &ch.tx, scratch, MOJ_TO_PEER, 0, 0, 0, &other, sizeof other, NULL, 0);
    struct _moj_hdr h;
    const uint8_t *pl;
    /* the daemon must close the connection: no PING reply */
    int st = bad ? -1 : call(MOJ_PING, "x", 1, &h, &pl);
    if (st == 0) { printf("FAIL order: ordered traffic from a client was accepted\n"); return 1; }
    printf("%s: intruder refused\n", host);
    return 0;
  }
  fprintf(stderr, "usage: see the banner of tests/dsm/order.c\n");
  return 2;
}
