/* cluster.h — the one cluster file shared by the DSM, the nameservers and (later)
 * the migration tools: hosts, nameserver hierarchy, distributed key ranges and
 * the cluster secret.  Format in docs/cluster.md. */
#ifndef MOJ_DSM_CLUSTER_H
#define MOJ_DSM_CLUSTER_H
#include <stdint.h>
#include <stddef.h>

#define MOJ_MAX_HOSTS 64
#define MOJ_DSM_MAX_RANGES 64

struct _moj_range { uint32_t lo, hi; int host; int parent; /* delegations: the delegating server's host index */
                   int kinds; /* ordered ranges: MOJ_ORD_* of the objects it orders */ };
/* what an `ordered` range orders (default: all three) */
enum { MOJ_ORD_SEM = 1, MOJ_ORD_MSG = 2, MOJ_ORD_SHM = 4, MOJ_ORD_ALL = 7 };
/* Instruction sets a host may run (`host NAME ADDR:PORT arch A`): a migration
 * between hosts of different ones must ship bitcode (IR mode), never the
 * executable (docs/migration.md "Across instruction sets"). */
enum { MOJ_ARCH_X86_64 = 1, MOJ_ARCH_AARCH64 = 2, MOJ_ARCH_COUNT = 3 };
const char *_moj_arch_name(int arch);  /* "x86_64", "aarch64" ("?" if unknown) */
int _moj_arch_native(void);            /* the instruction set this code was built for */
struct _moj_host { char name[32]; char addr[64]; uint16_t port; int arch; /* MOJ_ARCH_* */ };
/* `encrypt` directive: the AEAD sealing every DSM frame after the handshake
 * (docs/dsm.md "Encryption").  The values travel in the handshake (HELLO and
 * AUTH aux), so they are part of the wire protocol. */
enum { MOJ_AEAD_NONE = 0, MOJ_AEAD_AES256GCM = 1, MOJ_AEAD_CHACHA20POLY1305 = 2, MOJ_AEAD_COUNT = 3 };
const char *_moj_aead_name(int alg); /* "off", "aes-256-gcm", ... ("?" if unknown); in proto.c */

struct _moj_cluster {
  char secret[256];
  size_t secret_len;
  int nhosts;
  struct _moj_host host[MOJ_MAX_HOSTS];
  int root;                 /* host index of the root nameserver */
  int ndeleg;
  struct _moj_range deleg[MOJ_DSM_MAX_RANGES]; /* key ranges delegated to sub-servers (a tree rooted at root) */
  int ndist;
  struct _moj_range dist[MOJ_DSM_MAX_RANGES];  /* keys handled by the DSM */
  int nordered;
  struct _moj_range ordered[MOJ_DSM_MAX_RANGES]; /* keys whose sets, queues, segments are replicated through the total order */
  int encrypt;              /* MOJ_AEAD_*: 0 = frames travel in the clear */
  /* total-order layer among the daemons (docs/speculative-dsm.md) */
  int order;                /* 0 off, 1 classical, 2 speculative (= MOJ_TO_* of order.h) */
  int64_t order_window_us;  /* T; -1 = from the measured round trip */
  int64_t order_quiet_us;   /* T'; -1 = 2 T */
  int64_t link_delay_us, link_jitter_us; /* injected on daemon-to-daemon links (tests, model sweeps) */
  int64_t client_delay_us, client_jitter_us; /* injected on every frame a daemon sends to a process (nsd_delay.c) */
  int spec_locks;           /* `speculative-locks on`: libmojave programs speculate past a semop that may wait (paper §3.2.4) */
  double link_loss;         /* probability a frame is "lost": it and those behind it wait a 200 ms retransmission */
  int64_t order_fail_ms;    /* `order-fail-after MS`: a daemon silent this long is excluded (0 = never) */
};

/* Parse `path`; on error returns -1 and writes a "file:line: reason" message to err. */
int _moj_cluster_load(const char *path, struct _moj_cluster *c, char *err, size_t errlen);
int _moj_cluster_find_host(const struct _moj_cluster *c, const char *name);
int _moj_cluster_is_distributed(const struct _moj_cluster *c, int32_t key);
/* A key whose objects of some kind are replicated through the total order
 * (`ordered RANGE [KINDS]`)... */
int _moj_cluster_is_ordered(const struct _moj_cluster *c, int32_t key);
/* ... and whether its objects of kind (MOJ_ORD_*) are. */
int _moj_cluster_is_ordered_kind(const struct _moj_cluster *c, int32_t key, int kind);
/* One resolution step at nameserver `server`, like a DNS server answering for
 * its zone: returns the host to ask next with *referral = 1 (a sub-server
 * `server` delegated the key's range to), or `server` itself with
 * *referral = 0 when it is the key's home; -1 when the key is outside the
 * server's zone.  lo and hi (may be NULL) get the range the answer covers. */
int _moj_cluster_resolve_at(const struct _moj_cluster *c, int server, int32_t key, int *referral, uint32_t *lo, uint32_t *hi);
/* The home host for a key: the referral chain followed from the root. */
int _moj_cluster_home(const struct _moj_cluster *c, int32_t key);
#define MOJ_MAX_REFERRALS 8 /* longest delegation chain a client follows */
#endif
