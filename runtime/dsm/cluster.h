/* cluster.h — the one cluster file shared by the DSM, the nameservers and (later)
 * the migration tools: hosts, nameserver hierarchy, distributed key ranges and
 * the cluster secret.  Format in docs/cluster.md. */
#ifndef MOJ_DSM_CLUSTER_H
#define MOJ_DSM_CLUSTER_H
#include <stdint.h>
#include <stddef.h>

#define MJ_MAX_HOSTS 64
#define MJ_MAX_RANGES 64

struct mj_range { uint32_t lo, hi; int host; };
struct mj_host { char name[32]; char addr[64]; uint16_t port; };

struct mj_cluster {
  char secret[256];
  size_t secret_len;
  int nhosts;
  struct mj_host host[MJ_MAX_HOSTS];
  int root;                 /* host index of the root nameserver */
  int ndeleg;
  struct mj_range deleg[MJ_MAX_RANGES]; /* key ranges delegated to sub-servers */
  int ndist;
  struct mj_range dist[MJ_MAX_RANGES];  /* keys handled by the DSM */
};

/* Parse `path`; on error returns -1 and writes a "file:line: reason" message to err. */
int mj_cluster_load(const char *path, struct mj_cluster *c, char *err, size_t errlen);
int mj_cluster_find_host(const struct mj_cluster *c, const char *name);
int mj_cluster_is_distributed(const struct mj_cluster *c, int32_t key);
/* The home host for a key as the root nameserver decides it (delegation or root). */
int mj_cluster_home(const struct mj_cluster *c, int32_t key);
#endif
