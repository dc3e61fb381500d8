/* proto.h — mojave DSM wire protocol shared by the nameserver/home daemon
 * (mojave-nsd) and the client runtime (libmojave_ipc.so / mojave_dsm).
 *
 * Every message is a fixed 24-byte header followed by `len` payload bytes.
 * All integers are little-endian fixed-width; payload structs are packed so the
 * layout is the same whatever the compiler.  docs/dsm.md documents each type. */
#ifndef MOJ_DSM_PROTO_H
#define MOJ_DSM_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mojave DSM wire structs are little-endian; add byte swapping for this target"
#endif

#define MJ_MAGIC 0x53444a4du /* "MJDS" on the wire */
#define MJ_VERSION 2 /* 2: write-ahead (MJ_ACC_AHEAD, MJ_PAGE_DIRTY), RESOLVE referrals */
#define MJ_PAGE 4096u
/* Largest payload accepted: one message queue message or a batch of pages.
 * Anything larger is rejected before allocating, so a hostile peer cannot
 * make the daemon allocate unbounded memory. */
#define MJ_MAX_PAYLOAD (1u << 20)
#define MJ_REPLY 0x8000u

struct mj_hdr {
  uint32_t magic;
  uint16_t version;
  uint16_t type;
  uint32_t len;
  uint32_t seq;    /* request id; replies echo it */
  int32_t status;  /* 0 or a positive errno in replies */
  uint32_t aux;    /* type-specific small field */
} __attribute__((packed));
_Static_assert(sizeof(struct mj_hdr) == 24, "header is 24 bytes on the wire");

enum mj_type {
  MJ_HELLO = 1,     /* s->c: server nonce */
  MJ_AUTH = 2,      /* c->s: host name, client nonce, HMAC */
  MJ_AUTH_OK = 3,   /* s->c: server proof */
  MJ_ERROR = 4,     /* s->c: fatal protocol error, text reason */
  MJ_PING = 5,      /* c->s: liveness / round-trip benchmark */
  MJ_RESOLVE = 10,  /* key -> index of the host that is home for it */
  MJ_SHMGET = 11,
  MJ_SHMAT = 12,
  MJ_SHMDT = 13,
  MJ_SHMCTL = 14,
  MJ_PAGE_REQ = 15,   /* c->s: fault; reply carries data and the granted access */
  MJ_PAGE_FETCH = 16, /* s->c: downgrade/invalidate; client replies with data */
  MJ_REATTACH = 17,   /* c->s: re-register an attachment with a restarted home */
  MJ_PAGE_DIRTY = 18, /* c->s, no reply: first store to a write-ahead page (mj_page_req) */
  MJ_SEMGET = 20,
  MJ_SEMOP = 21,
  MJ_SEMCTL = 22,
  MJ_CANCEL = 23, /* c->s: abort a blocked request (aux = its seq) */
  MJ_UNDO_TAKE = 24, /* c->s: a migrating process's SEM_UNDO adjustments on one set leave
                        its connection; reply: mj_undo_e[] (no longer applied at its close) */
  MJ_UNDO_GIVE = 25, /* c->s: mj_undo_q + mj_undo_e[]: add them to this connection's */
  MJ_MSGGET = 30,
  MJ_MSGSND = 31,
  MJ_MSGRCV = 32,
  MJ_MSGCTL = 33,
};

struct mj_hello { uint8_t nonce[16]; uint32_t server_idx; } __attribute__((packed));
struct mj_auth {
  char host[32];
  uint8_t cnonce[16];
  uint8_t mac[32]; /* HMAC(secret, "C" | snonce | cnonce | host) */
  uint32_t pid;
} __attribute__((packed));
struct mj_auth_ok { uint8_t mac[32]; /* HMAC(secret, "S" | cnonce | snonce) */ uint32_t client_id; } __attribute__((packed));

struct mj_cred { uint32_t uid, gid, pid; } __attribute__((packed));
struct mj_undo_q { int32_t id; } __attribute__((packed));          /* the semaphore set */
struct mj_undo_e { uint16_t num; int16_t adj; } __attribute__((packed)); /* one semaphore's adjustment */

struct mj_resolve { int32_t key; } __attribute__((packed));
/* One step of resolution (like a DNS answer): referral = 1 means "ask
 * host_idx, which serves keys lo..hi" (clients cache it), 0 means host_idx is
 * the key's home. */
struct mj_resolve_r { uint32_t host_idx; uint32_t referral; uint32_t lo, hi; } __attribute__((packed));

struct mj_shmget { int32_t key; uint64_t size; int32_t flags; struct mj_cred cred; } __attribute__((packed));
struct mj_id_r { int32_t id; } __attribute__((packed));
struct mj_shmat { int32_t id; int32_t flags; struct mj_cred cred; } __attribute__((packed));
struct mj_shmat_r { uint64_t size; } __attribute__((packed));
struct mj_shmdt { int32_t id; struct mj_cred cred; } __attribute__((packed));
struct mj_ctl {
  int32_t id; int32_t cmd; int32_t num; int32_t val;
  struct mj_cred cred;
  uint32_t set_uid, set_gid, set_mode; uint64_t set_qbytes;
  uint32_t nvals; /* followed by nvals uint16 for SETALL */
} __attribute__((packed));
/* Reply to *_STAT: the common ipc_perm fields plus per-kind counters. */
struct mj_stat_r {
  int32_t key; uint32_t uid, gid, cuid, cgid, mode;
  uint64_t size;         /* shm bytes / msg qbytes */
  int64_t atime, dtime, ctime; /* shm: at/dt/c, sem: otime/-/ctime, msg: stime/rtime/ctime */
  uint32_t cpid, lpid;   /* shm: creator/last; msg: lspid/lrpid */
  uint64_t nattch;       /* shm nattch / sem nsems / msg qnum */
  uint64_t cbytes;       /* msg bytes in queue */
  int32_t val;           /* GETVAL/GETPID/GETNCNT/GETZCNT result */
  uint32_t nvals;        /* followed by nvals uint16 for GETALL */
} __attribute__((packed));

/* MJ_ACC_AHEAD appears only in a PAGE_REQ reply: the faulting page is granted
 * writable and the has_data - 1 pages after it are owned by the requester but
 * still equal to the home copy ("clean"): it maps them read-only and sends
 * MJ_PAGE_DIRTY before the first store to one, so a crash loses only pages
 * that were really written. */
enum { MJ_ACC_NONE = 0, MJ_ACC_READ = 1, MJ_ACC_WRITE = 2, MJ_ACC_AHEAD = 3 };
struct mj_page_req { int32_t id; uint32_t page; uint32_t access; } __attribute__((packed));
struct mj_reattach { int32_t id; uint32_t count; struct mj_cred cred; } __attribute__((packed)); /* + {u32 page, u32 access, data}* */
/* Reply/fetch payload: header fields then the page bytes.  has_data = number
 * of pages carried; with MJ_PAGE_ZSTD set the bytes are one zstd frame that
 * decompresses to exactly that many pages (optional compression). */
#define MJ_PAGE_ZSTD 0x80000000u
struct mj_page { int32_t id; uint32_t page; uint32_t access; uint32_t has_data; } __attribute__((packed));

struct mj_semget { int32_t key; int32_t nsems; int32_t flags; struct mj_cred cred; } __attribute__((packed));
struct mj_sembuf { uint16_t num; int16_t op; int16_t flg; uint16_t pad; } __attribute__((packed));
struct mj_semop {
  int32_t id; uint32_t nsops; int64_t timeout_ns; /* -1 = none */
  struct mj_cred cred; /* followed by nsops mj_sembuf */
} __attribute__((packed));

struct mj_msgget { int32_t key; int32_t flags; struct mj_cred cred; } __attribute__((packed));
struct mj_msgsnd { int32_t id; int32_t flags; int64_t mtype; uint32_t size; struct mj_cred cred; } __attribute__((packed));
struct mj_msgrcv { int32_t id; int32_t flags; int64_t mtype; uint32_t maxsize; struct mj_cred cred; } __attribute__((packed));
struct mj_msgrcv_r { int64_t mtype; uint32_t size; } __attribute__((packed));

/* Distributed ids handed to applications: bit 30 set, host index in bits 20..29,
 * slot in bits 0..19.  Kernel ids reach bit 30 only after 32768 reuses of one
 * kernel slot, which docs/dsm.md lists as a limit. */
#define MJ_ID_FLAG 0x40000000
#define MJ_ID_MAKE(host, slot) (MJ_ID_FLAG | ((int)(host) << 20) | (int)(slot))
#define MJ_ID_IS(id) ((id) >= 0 && ((id) & MJ_ID_FLAG))
#define MJ_ID_HOST(id) (((id) >> 20) & 0x3ff)
#define MJ_ID_SLOT(id) ((id) & 0xfffff)

/* ---- helpers (proto.c) ---- */
void mj_sha256(const void *data, size_t len, uint8_t out[32]);
/* Incremental SHA-256, for data that arrives in pieces (migration images). */
struct mj_sha { _Alignas(16) unsigned char ctx[128]; }; /* holds libcrypto's SHA256_CTX */
void mj_sha_init(struct mj_sha *s);
void mj_sha_update(struct mj_sha *s, const void *data, size_t len);
void mj_sha_final(struct mj_sha *s, uint8_t out[32]);
void mj_hmac(const void *key, size_t klen, const void *m1, size_t l1, const void *m2, size_t l2,
             const void *m3, size_t l3, const void *m4, size_t l4, uint8_t out[32]);
int mj_ct_equal(const void *a, const void *b, size_t n);
void mj_random(void *buf, size_t n);
/* Full-buffer socket I/O that retries on EINTR; returns 0 or -1 (errno set, EPIPE on EOF). */
int mj_write_full(int fd, const void *buf, size_t n);
int mj_read_full(int fd, void *buf, size_t n);
/* Validate a received header; returns NULL if fine, else a reason string. */
const char *mj_hdr_check(const struct mj_hdr *h);
void mj_hdr_init(struct mj_hdr *h, uint16_t type, uint32_t len, uint32_t seq, int32_t status);
/* The same 24-byte framing under another protocol's magic/version (the
 * migration transport, migrate/wire.h, uses it with its own magic). */
void mj_hdr_init_as(struct mj_hdr *h, uint32_t magic, uint16_t version, uint16_t type, uint32_t len, uint32_t seq,
                    int32_t status);
const char *mj_hdr_check_as(const struct mj_hdr *h, uint32_t magic, uint16_t version, uint32_t max_payload);
/* Cluster-secret handshake (docs/dsm.md "Authentication"): the server sends
 * HELLO(nonce), the client AUTH(host, cnonce, HMAC), the server AUTH_OK(proof).
 * Client side over a blocking socket: 0, or which step failed. */
enum { MJ_AUTH_BAD_GREETING = 1, MJ_AUTH_REFUSED = 2, MJ_AUTH_NO_PROOF = 3 };
int mj_auth_client(int fd, uint32_t magic, uint16_t version, const char *secret, size_t slen, const char *host);
/* Server side: checks the client's MAC over our nonce (0 = good) and fills
 * the proof to send back in AUTH_OK; a->host is NUL-terminated on return. */
int mj_auth_server(const char *secret, size_t slen, const uint8_t snonce[16], struct mj_auth *a, struct mj_auth_ok *ok);
/* Transport fault injection (MOJAVE_NET_DELAY_US, MOJAVE_NET_LOSS): a "lost"
 * segment costs one TCP retransmission timeout, which is what loss means on TCP. */
void mj_net_inject_init(void);
void mj_net_inject(void);
const char *mj_type_name(unsigned t);
/* A peer that vanishes without closing (host down, partition) is detected by
 * TCP keepalive (idle 1 s, 2 probes 1 s apart) and TCP_USER_TIMEOUT (3 s of
 * unacknowledged data), so nobody blocks forever on a dead host. */
void mj_sock_liveness(int fd);

#endif
