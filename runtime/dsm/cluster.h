/* cluster.h — the one cluster file shared by the DSM, the nameservers and (later)
 * the migration tools: hosts, nameserver hierarchy, distributed key ranges and
 * the cluster secret.  Format in docs/cluster.md. */
#ifndef MOJ_DSM_CLUSTER_H
#define MOJ_DSM_CLUSTER_H
#include <stdint.h>
#include <stddef.h>

#define MJ_MAX_HOSTS 64
#define MJ_MAX_RANGES 64

struct mj_range { uint32_t lo, hi; int host; int parent; /* delegations: the delegating server's host index */ };
struct mj_host { char name[32]; char addr[64]; uint16_t port; };

struct mj_cluster {
  char secret[256];
  size_t secret_len;
  int nhosts;
  struct mj_host host[MJ_MAX_HOSTS];
  int root;                 /* host index of the root nameserver */
  int ndeleg;
  struct mj_range deleg[MJ_MAX_RANGES]; /* key ranges delegated to sub-servers (a tree rooted at root) */
  int ndist;
  struct mj_range dist[MJ_MAX_RANGES];  /* keys handled by the DSM */
};

/* Parse `path`; on error returns -1 and writes a "file:line: reason" message to err. */
int mj_cluster_load(const char *path, struct mj_cluster *c, char *err, size_t errlen);
int mj_cluster_find_host(const struct mj_cluster *c, const char *name);
int mj_cluster_is_distributed(const struct mj_cluster *c, int32_t key);
/* One resolution step at nameserver `server`, like a DNS server answering for
 * its zone: returns the host to ask next with *referral = 1 (a sub-server
 * `server` delegated the key's range to), or `server` itself with
 * *referral = 0 when it is the key's home; -1 when the key is outside the
 * server's zone.  lo and hi (may be NULL) get the range the answer covers. */
int mj_cluster_resolve_at(const struct mj_cluster *c, int server, int32_t key, int *referral, uint32_t *lo, uint32_t *hi);
/* The home host for a key: the referral chain followed from the root. */
int mj_cluster_home(const struct mj_cluster *c, int32_t key);
#define MJ_MAX_REFERRALS 8 /* longest delegation chain a client follows */
#endif
