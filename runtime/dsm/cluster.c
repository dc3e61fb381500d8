/* cluster.c — parser for the cluster file (docs/cluster.md).  Strict: unknown
 * directives are errors, so a typo cannot silently make keys local. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *_moj_arch_name(int arch) {
  static const char *const names[MOJ_ARCH_COUNT] = {"?", "x86_64", "aarch64"};
  return arch > 0 && arch < MOJ_ARCH_COUNT ? names[arch] : "?";
}
int _moj_arch_native(void) {
#if defined(__aarch64__)
  return MOJ_ARCH_AARCH64;
#else
  return MOJ_ARCH_X86_64;
#endif
}

static int parse_u32(const char *s, uint32_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *s == 0 || *end || v > 0xffffffffull) return -1;
  *out = (uint32_t)v;
  return 0;
}
static int parse_range(char *s, struct _moj_range *r) {
  char *dash = strchr(s + 1, '-'); /* +1: "-1" is not a range separator */
  if (!dash) {
    if (parse_u32(s, &r->lo)) return -1;
    r->hi = r->lo;
    return 0;
  }
  *dash = 0;
  if (parse_u32(s, &r->lo) || parse_u32(dash + 1, &r->hi) || r->lo > r->hi) return -1;
  return 0;
}

int _moj_cluster_find_host(const struct _moj_cluster *c, const char *name) {
  for (int i = 0; i < c->nhosts; i++)
    if (!strcmp(c->host[i].name, name)) return i;
  return -1;
}

/* The whole file, NUL-terminated (malloc'd), or NULL with errno. */
static char *slurp(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  for (ssize_t r = 1; b && r > 0;) {
    if (n + 1 == cap) {
      char *q = cap < (1u << 20) ? realloc(b, cap * 2) : NULL;
      if (!q) { free(b); b = NULL; errno = EFBIG; break; }
      b = q;
      cap *= 2;
    }
    r = syscall(SYS_read, fd, b + n, cap - 1 - n); /* the DSM client interposes read() */
    if (r < 0 && errno == EINTR) { r = 1; continue; }
    if (r < 0) { free(b); b = NULL; break; }
    n += (size_t)r;
  }
  int e = errno;
  close(fd);
  errno = e;
  if (b) { b[n] = 0; *len = n; }
  return b;
}
/* Like fgets on the text: the next line (with its newline), at most n-1 bytes. */
static int next_line(const char *t, size_t len, size_t *at, char *line, size_t n) {
  if (*at >= len) return 0;
  size_t k = 0;
  while (*at < len && k < n - 1) {
    char ch = t[(*at)++];
    line[k++] = ch;
    if (ch == '\n') break;
  }
  line[k] = 0;
  return 1;
}

int _moj_cluster_load(const char *path, struct _moj_cluster *c, char *err, size_t errlen) {
  memset(c, 0, sizeof *c);
  c->order_window_us = c->order_quiet_us = -1;
  c->root = -1;
  /* read with plain system calls, not stdio: the runtime parses this file
   * inside applications (migration), whose stdio state is theirs */
  size_t tlen = 0;
  char *text = slurp(path, &tlen);
  if (!text) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  size_t at = 0;
  char line[512];
  int ln = 0, ordered_line = 0;
  char *pending_root = NULL;
  struct { char host[32], parent[32]; struct _moj_range r; int line; } dl[MOJ_DSM_MAX_RANGES];
  int ndl = 0;
#define FAIL(...) do { int o_ = snprintf(err, errlen, "%s:%d: ", path, ln); \
    snprintf(err + o_, errlen - (size_t)o_, __VA_ARGS__); free(text); free(pending_root); return -1; } while (0)
  while (next_line(text, tlen, &at, line, sizeof line)) {
    ln++;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *tok[8], *save = NULL;
    int nt = 0;
    /* strtok_r: the runtime parses this file inside applications (migration),
     * which may be in the middle of their own strtok */
    for (char *s = strtok_r(line, " \t\r\n", &save); s && nt < 8; s = strtok_r(NULL, " \t\r\n", &save)) tok[nt++] = s;
    if (nt == 0) continue;
    if (!strcmp(tok[0], "secret") && nt == 2) {
      size_t n = strlen(tok[1]);
      if (n < 8 || n >= sizeof c->secret) FAIL("secret must be 8..255 characters");
      memcpy(c->secret, tok[1], n + 1);
      c->secret_len = n;
    } else if (!strcmp(tok[0], "host") && (nt == 3 || (nt == 5 && !strcmp(tok[3], "arch")))) {
      if (c->nhosts == MOJ_MAX_HOSTS) FAIL("more than %d hosts", MOJ_MAX_HOSTS);
      if (strlen(tok[1]) >= 32) FAIL("host name too long");
      if (_moj_cluster_find_host(c, tok[1]) >= 0) FAIL("duplicate host %s", tok[1]);
      char *colon = strrchr(tok[2], ':');
      uint32_t port;
      if (!colon || parse_u32(colon + 1, &port) || port == 0 || port > 65535) FAIL("expected ADDR:PORT, got '%s'", tok[2]);
      *colon = 0;
      if (strlen(tok[2]) >= 64) FAIL("address too long");
      /* without `arch`, the architecture of whoever reads the file: a
       * cluster of one instruction set needs no word about it, a mixed one
       * names every host's (an emulated program reads the same file) */
      int arch = _moj_arch_native();
      if (nt == 5) {
        arch = 0;
        for (int i = 1; i < MOJ_ARCH_COUNT; i++)
          if (!strcmp(tok[4], _moj_arch_name(i))) arch = i;
        if (!arch) FAIL("host %s: unknown architecture '%s' (known: x86_64, aarch64)", tok[1], tok[4]);
      }
      struct _moj_host *h = &c->host[c->nhosts++];
      h->arch = arch;
      strcpy(h->name, tok[1]);
      strcpy(h->addr, tok[2]);
      h->port = (uint16_t)port;
    } else if (!strcmp(tok[0], "nameserver") && nt == 3 && !strcmp(tok[1], "root")) {
      free(pending_root);
      pending_root = strdup(tok[2]);
    } else if (!strcmp(tok[0], "nameserver") && (nt == 4 || (nt == 6 && !strcmp(tok[4], "from"))) && !strcmp(tok[1], "delegate")) {
      if (ndl == MOJ_DSM_MAX_RANGES) FAIL("too many delegations");
      if (strlen(tok[2]) >= 32 || (nt == 6 && strlen(tok[5]) >= 32)) FAIL("host name too long");
      strcpy(dl[ndl].host, tok[2]);
      strcpy(dl[ndl].parent, nt == 6 ? tok[5] : ""); /* "" = the root */
      if (parse_range(tok[3], &dl[ndl].r)) FAIL("bad key range '%s'", tok[3]);
      dl[ndl].line = ln;
      ndl++;
    } else if (!strcmp(tok[0], "encrypt") && nt == 2) {
      int alg = -1;
      for (int i = 0; i < MOJ_AEAD_COUNT; i++)
        if (!strcmp(tok[1], _moj_aead_name(i))) alg = i;
      if (alg < 0) FAIL("unknown cipher '%s' for 'encrypt' (off, aes-256-gcm or chacha20-poly1305)", tok[1]);
      c->encrypt = alg;
    } else if (!strcmp(tok[0], "order") && nt == 2) {
      if (!strcmp(tok[1], "off")) c->order = 0;
      else if (!strcmp(tok[1], "classical")) c->order = 1;
      else if (!strcmp(tok[1], "speculative")) c->order = 2;
      else FAIL("unknown mode '%s' for 'order' (off, classical or speculative)", tok[1]);
    } else if ((!strcmp(tok[0], "order-window") || !strcmp(tok[0], "order-quiet")) && nt == 2) {
      uint32_t us = 0;
      if (strcmp(tok[1], "auto") && (parse_u32(tok[1], &us) || us == 0 || us > 10000000))
        FAIL("'%s' takes 'auto' or microseconds from 1 to 10000000, got '%s'", tok[0], tok[1]);
      *(tok[0][6] == 'w' ? &c->order_window_us : &c->order_quiet_us) = strcmp(tok[1], "auto") ? (int64_t)us : -1;
    } else if (!strcmp(tok[0], "speculative-locks") && nt == 2) {
      if (strcmp(tok[1], "on") && strcmp(tok[1], "off")) FAIL("'speculative-locks' takes on or off, got '%s'", tok[1]);
      c->spec_locks = !strcmp(tok[1], "on");
    } else if (!strcmp(tok[0], "order-link") && nt == 4) {
      uint32_t d, j;
      char *end;
      double loss = strtod(tok[3], &end);
      if (parse_u32(tok[1], &d) || parse_u32(tok[2], &j) || d > 10000000 || j > 10000000 || *end || end == tok[3] ||
          !(loss >= 0 && loss < 1))
        FAIL("'order-link' takes DELAY_US JITTER_US LOSS (0 <= LOSS < 1), got '%s %s %s'", tok[1], tok[2], tok[3]);
      c->link_delay_us = d;
      c->link_jitter_us = j;
      c->link_loss = loss;
    } else if (!strcmp(tok[0], "order-fail-after") && nt == 2) {
      uint32_t ms = 0;
      if (strcmp(tok[1], "off") && (parse_u32(tok[1], &ms) || ms < 100 || ms > 3600000))
        FAIL("'order-fail-after' takes 'off' or milliseconds from 100 to 3600000, got '%s'", tok[1]);
      c->order_fail_ms = ms;
    } else if (!strcmp(tok[0], "client-link") && nt == 3) {
      uint32_t d, j;
      if (parse_u32(tok[1], &d) || parse_u32(tok[2], &j) || d > 10000000 || j > 10000000)
        FAIL("'client-link' takes DELAY_US JITTER_US (0 to 10000000 each), got '%s %s'", tok[1], tok[2]);
      c->client_delay_us = d;
      c->client_jitter_us = j;
    } else if (!strcmp(tok[0], "ordered") && (nt == 2 || nt == 3)) {
      if (c->nordered == MOJ_DSM_MAX_RANGES) FAIL("too many ordered ranges");
      struct _moj_range *r = &c->ordered[c->nordered];
      if (parse_range(tok[1], r)) FAIL("bad key range '%s'", tok[1]);
      r->kinds = nt == 2 ? MOJ_ORD_ALL : 0;
      for (char *k = nt == 3 ? tok[2] : NULL, *sv = NULL, *w = k ? strtok_r(k, ",", &sv) : NULL; w; w = strtok_r(NULL, ",", &sv)) {
        if (!strcmp(w, "sem")) r->kinds |= MOJ_ORD_SEM;
        else if (!strcmp(w, "msg")) r->kinds |= MOJ_ORD_MSG;
        else if (!strcmp(w, "shm")) r->kinds |= MOJ_ORD_SHM;
        else FAIL("'ordered' kinds are a comma-separated list of sem, msg, shm; got '%s'", w);
      }
      if (!r->kinds) FAIL("'ordered %s' names no kind of object", tok[1]);
      c->nordered++;
      ordered_line = ln;
    } else if (!strcmp(tok[0], "distributed") && nt == 2) {
      if (c->ndist == MOJ_DSM_MAX_RANGES) FAIL("too many distributed ranges");
      if (parse_range(tok[1], &c->dist[c->ndist])) FAIL("bad key range '%s'", tok[1]);
      c->ndist++;
    } else {
      FAIL("unknown or malformed directive '%s'", tok[0]);
    }
  }
  ln = ordered_line;
  if (c->nordered && !c->order) FAIL("'ordered' needs the total order: add 'order classical' or 'order speculative'");
  ln = 0;
  if (c->nhosts == 0) FAIL("no 'host' lines");
  if (c->secret_len == 0) FAIL("no 'secret' line");
  if (!pending_root) FAIL("no 'nameserver root HOST' line");
  c->root = _moj_cluster_find_host(c, pending_root);
  if (c->root < 0) FAIL("root nameserver '%s' is not a declared host", pending_root);
  int depth[MOJ_DSM_MAX_RANGES] = {0}; /* referrals from the root to reach delegation i, minus one */
  for (int i = 0; i < ndl; i++) {
    int h = _moj_cluster_find_host(c, dl[i].host);
    ln = dl[i].line;
    if (h < 0) FAIL("delegate host '%s' is not a declared host", dl[i].host);
    int par = dl[i].parent[0] ? _moj_cluster_find_host(c, dl[i].parent) : c->root;
    if (par < 0) FAIL("delegating host '%s' is not a declared host", dl[i].parent);
    if (par == h) FAIL("host '%s' cannot delegate to itself", dl[i].host);
    if (par != c->root) {
      /* a sub-delegation must lie inside a range its parent was delegated
       * earlier in the file, so the tree has no cycles and no orphans */
      int ok = -1;
      for (int j = 0; j < i && ok < 0; j++)
        if (c->deleg[j].host == par && dl[i].r.lo >= c->deleg[j].lo && dl[i].r.hi <= c->deleg[j].hi) ok = j;
      if (ok < 0) FAIL("'%s' delegates 0x%x-0x%x but was not delegated a range containing it earlier in the file",
                       dl[i].parent, dl[i].r.lo, dl[i].r.hi);
      depth[i] = depth[ok] + 1;
      if (depth[i] > MOJ_MAX_REFERRALS) FAIL("delegation chain deeper than %d levels", MOJ_MAX_REFERRALS);
    }
    c->deleg[i] = dl[i].r;
    c->deleg[i].host = h;
    c->deleg[i].parent = par;
  }
  c->ndeleg = ndl;
  free(text);
  free(pending_root);
  return 0;
#undef FAIL
}

int _moj_cluster_is_ordered_kind(const struct _moj_cluster *c, int32_t key, int kind) {
  uint32_t k = (uint32_t)key;
  if (key == 0) return 0;
  for (int i = 0; i < c->nordered; i++)
    if (k >= c->ordered[i].lo && k <= c->ordered[i].hi && (c->ordered[i].kinds & kind)) return 1;
  return 0;
}
int _moj_cluster_is_ordered(const struct _moj_cluster *c, int32_t key) { return _moj_cluster_is_ordered_kind(c, key, MOJ_ORD_ALL); }
int _moj_cluster_is_distributed(const struct _moj_cluster *c, int32_t key) {
  uint32_t k = (uint32_t)key;
  if (key == 0) return 0; /* IPC_PRIVATE stays with the kernel */
  for (int i = 0; i < c->ndist; i++)
    if (k >= c->dist[i].lo && k <= c->dist[i].hi) return 1;
  return _moj_cluster_is_ordered(c, key); /* an ordered key is distributed too */
}
int _moj_cluster_resolve_at(const struct _moj_cluster *c, int server, int32_t key, int *referral, uint32_t *lo, uint32_t *hi) {
  uint32_t k = (uint32_t)key;
  int in_zone = server == c->root;
  for (int i = 0; i < c->ndeleg && !in_zone; i++) /* within a range this server was given */
    in_zone = c->deleg[i].host == server && k >= c->deleg[i].lo && k <= c->deleg[i].hi;
  if (!in_zone) return -1;
  for (int i = 0; i < c->ndeleg; i++)
    if (c->deleg[i].parent == server && k >= c->deleg[i].lo && k <= c->deleg[i].hi) {
      *referral = 1;
      if (lo) *lo = c->deleg[i].lo;
      if (hi) *hi = c->deleg[i].hi;
      return c->deleg[i].host;
    }
  *referral = 0;
  if (lo) *lo = k; /* a home answer covers the key itself */
  if (hi) *hi = k;
  return server;
}
int _moj_cluster_home(const struct _moj_cluster *c, int32_t key) {
  int at = c->root, referral = 1;
  for (int hops = 0; hops <= MOJ_MAX_REFERRALS && referral; hops++) {
    int next = _moj_cluster_resolve_at(c, at, key, &referral, NULL, NULL);
    if (next < 0) return -1;
    at = next;
  }
  return referral ? -1 : at;
}
