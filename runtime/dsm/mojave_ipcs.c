/* mojave_ipcs.c — mojave-ipcs: the cluster's distributed System V objects,
 * like ipcs(1): asks every host's daemon (LIST) for the segments, semaphore
 * sets and queues it homes and prints them with their home host, attach
 * counts and where each segment's pages are.  It joins the cluster like any
 * client (the DSM client library: same handshake, same transport). */
#include "client.h"

#include <getopt.h>
#include <pwd.h>

#ifndef MOJ_VERSION
#define MOJ_VERSION "0.1.0"
#endif

static const char *user(uint32_t uid, char *buf, size_t n) {
  struct passwd *pw = getpwuid(uid);
  if (pw) snprintf(buf, n, "%s", pw->pw_name);
  else snprintf(buf, n, "%u", uid);
  return buf;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: mojave-ipcs [-m] [-s] [-q] [--cluster FILE] [--host NAME]\n"
          "Lists the distributed System V objects of the whole cluster, like ipcs(1):\n"
          "every host's mojave-nsd is asked for the objects it homes.\n"
          "  -m, --shm        shared memory segments: bytes, attach count, and where the\n"
          "                   pages are (home copy / owned by a process / lost) with the\n"
          "                   processes owning the most pages (host:pid(pages))\n"
          "  -s, --sem        semaphore sets: number of semaphores, blocked callers\n"
          "  -q, --msg        message queues: bytes and messages queued\n"
          "                   (default: all three)\n"
          "  --cluster FILE   cluster file (default: $MOJAVE_CLUSTER)\n"
          "  --host NAME      this host's name in it (default: $MOJAVE_HOST, else hostname)\n"
          "  --help, --version\n"
          "Exit status: 0; 1 if some host could not be asked (named on stderr);\n"
          "2 on bad arguments or an unusable cluster file.\n");
}

int main(int argc, char **argv) {
  int want = 0;
  static struct option lo[] = {{"shm", 0, 0, 'm'}, {"sem", 0, 0, 's'}, {"msg", 0, 0, 'q'}, {"cluster", 1, 0, 'c'},
                               {"host", 1, 0, 'H'}, {"help", 0, 0, 'h'}, {"version", 0, 0, 'V'}, {0, 0, 0, 0}};
  int o;
  while ((o = getopt_long(argc, argv, "msqa", lo, NULL)) != -1) {
    if (o == 'm') want |= 1 << MOJ_LIST_SHM;
    else if (o == 's') want |= 1 << MOJ_LIST_SEM;
    else if (o == 'q') want |= 1 << MOJ_LIST_MSG;
    else if (o == 'a') want = ~0;
    else if (o == 'c') setenv("MOJAVE_CLUSTER", optarg, 1);
    else if (o == 'H') setenv("MOJAVE_HOST", optarg, 1);
    else if (o == 'V') { printf("mojave-ipcs %s\n", MOJ_VERSION); return 0; }
    else { usage(o == 'h' ? stdout : stderr); return o == 'h' ? 0 : 2; }
  }
  if (optind < argc) { fprintf(stderr, "mojave-ipcs: unexpected argument '%s'\n", argv[optind]); usage(stderr); return 2; }
  if (!want) want = ~0;
  const char *cf = getenv("MOJAVE_CLUSTER");
  if (!cf || !*cf) { fprintf(stderr, "mojave-ipcs: no cluster file (--cluster FILE or MOJAVE_CLUSTER)\n"); return 2; }
  setenv("MOJAVE_DSM_FALLBACK", "", 1); /* an unusable file must not turn into "nothing listed" */
  _moj_dsm_ensure_init();
  if (!_moj_dsm_cfg_ok) { fprintf(stderr, "mojave-ipcs: cannot use cluster file %s (see the message above)\n", cf); return 2; }

  int nh = _moj_dsm_cluster.nhosts, rc = 0;
  struct _moj_list_e *all[MOJ_MAX_HOSTS] = {0};
  size_t cnt[MOJ_MAX_HOSTS] = {0};
  size_t cap = MOJ_MAX_PAYLOAD;
  for (int h = 0; h < nh; h++) {
    all[h] = malloc(cap);
    if (!all[h]) { fprintf(stderr, "mojave-ipcs: out of memory\n"); return 2; }
    size_t len = 0;
    int st = _moj_dsm_call(h, MOJ_LIST, NULL, 0, NULL, 0, all[h], cap, &len, 0);
    if (st || len % sizeof(struct _moj_list_e)) {
      fprintf(stderr, "mojave-ipcs: host %s (%s:%u): %s\n", _moj_dsm_cluster.host[h].name, _moj_dsm_cluster.host[h].addr,
              _moj_dsm_cluster.host[h].port, st ? strerror(st) : "malformed LIST reply");
      rc = 1;
      continue;
    }
    cnt[h] = len / sizeof(struct _moj_list_e);
  }
  static const char *title[] = {"", "Shared Memory Segments", "Semaphore Arrays", "Message Queues"};
  static const char *head[] = {"",
      "key        shmid      home     owner      perms  bytes        nattch pages home/owned/lost  owners",
      "key        semid      home     owner      perms  nsems  waiting",
      "key        msqid      home     owner      perms  used-bytes   messages"};
  for (int kind = MOJ_LIST_SHM; kind <= MOJ_LIST_MSG; kind++) {
    if (!(want & (1 << kind))) continue;
    printf("\n------ %s (distributed) ------\n%s\n", title[kind], head[kind]);
    for (int h = 0; h < nh; h++)
      for (size_t i = 0; i < cnt[h]; i++) {
        const struct _moj_list_e *e = &all[h][i];
        if (e->kind != kind) continue;
        char ub[33];
        printf("0x%08x 0x%08x %-8s %-10s %-6o ", (unsigned)e->key, (unsigned)e->id, _moj_dsm_cluster.host[h].name,
               user(e->uid, ub, sizeof ub), e->mode & 0777);
        if (kind == MOJ_LIST_SHM) {
          char pages[48];
          snprintf(pages, sizeof pages, "%u/%u/%u", e->pages_home, e->pages_owned, e->pages_lost);
          printf("%-12llu %-6llu %-22s", (unsigned long long)e->size, (unsigned long long)e->count, pages);
          for (uint32_t k = 0; k < e->nowners && k < MOJ_LIST_OWNERS; k++)
            printf("%s%.32s:%u(%u)", k ? " " : "", e->owner[k].host, e->owner[k].pid, e->owner[k].pages);
          if (e->nowners > MOJ_LIST_OWNERS) printf(" +%u more", e->nowners - MOJ_LIST_OWNERS);
          if (e->flags & MOJ_LIST_REMOVED) printf(" [removed]");
          if (e->flags & MOJ_LIST_RECOVERING) printf(" [recovering]");
        } else if (kind == MOJ_LIST_SEM) {
          printf("%-6llu %llu", (unsigned long long)e->size, (unsigned long long)e->count);
        } else {
          printf("%-12llu %llu", (unsigned long long)e->bytes, (unsigned long long)e->count);
        }
        printf("\n");
      }
  }
  for (int h = 0; h < nh; h++) free(all[h]);
  return rc;
}
