/* proto.h — mojave DSM wire protocol shared by the nameserver/home daemon
 * (mojave-nsd) and the client runtime (libmojave_ipc.so / mojave_dsm).
 *
 * Every message is a fixed 24-byte header followed by `len` payload bytes.
 * All integers are little-endian fixed-width; payload structs are packed so the
 * layout is the same whatever the compiler.  docs/dsm.md documents each type. */
#ifndef MOJ_DSM_PROTO_H
#define MOJ_DSM_PROTO_H

/* The DSM client's own state (connections, attached segments, caches) is not
 * the program's: inside libmojave it lives in the section moj_rt, which a
 * speculation's globals snapshot skips, so an abort cannot roll it back (a
 * restored sequence number, lock or pthread_once would break the client). */
#ifdef MOJ_IN_RUNTIME
#define MOJ_DSM_VAR __attribute__((section("moj_rt")))
#else
#define MOJ_DSM_VAR
#endif

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mojave DSM wire structs are little-endian; add byte swapping for this target"
#endif

#define MOJ_MAGIC 0x53444a4du /* "MJDS" on the wire */
#define MOJ_DSM_PROTO_VERSION 7 /* 2: write-ahead (MOJ_ACC_AHEAD, MOJ_PAGE_DIRTY), RESOLVE referrals;
                                   3: request ids (rid) in semaphore and queue requests;
                                   4: MOJ_PAGE_DIRTY covers a run of aux pages;
                                   5: SEMOP aux MOJ_SEMOP_SPECULATIVE (speculative lock acquisition);
                                   6: ordered messages start with a kind (MOJ_OK_*), up to 12288 bytes;
                                      TO_MSG/TO_QUIET end with the sender's receipt counts (u32 per host); TO_FAIL;
                                   7: ordered segments (MOJ_PAGE_WRITE, MOJ_OK_SHMGET/SHMCTL/PWRITE) */
#define MOJ_PAGE 4096u
/* Largest payload accepted: one message queue message or a batch of pages.
 * Anything larger is rejected before allocating, so a hostile peer cannot
 * make the daemon allocate unbounded memory. */
#define MOJ_MAX_PAYLOAD (1u << 20)
#define MOJ_REPLY 0x8000u

struct _moj_hdr {
  uint32_t magic;
  uint16_t version;
  uint16_t type;
  uint32_t len;
  uint32_t seq;    /* request id; replies echo it */
  int32_t status;  /* 0 or a positive errno in replies */
  uint32_t aux;    /* type-specific small field */
} __attribute__((packed));
_Static_assert(sizeof(struct _moj_hdr) == 24, "header is 24 bytes on the wire");

enum _moj_type {
  MOJ_HELLO = 1,     /* s->c: server nonce */
  MOJ_AUTH = 2,      /* c->s: host name, client nonce, HMAC */
  MOJ_AUTH_OK = 3,   /* s->c: server proof */
  MOJ_ERROR = 4,     /* s->c: fatal protocol error, text reason */
  MOJ_PING = 5,      /* c->s: liveness / round-trip benchmark */
  MOJ_SEALED = 6,    /* either way, after the handshake when the cluster file says `encrypt`:
                        an AEAD-sealed frame (inner header + payload), see _moj_frame_put */
  MOJ_RESOLVE = 10,  /* key -> index of the host that is home for it */
  MOJ_SHMGET = 11,
  MOJ_SHMAT = 12,
  MOJ_SHMDT = 13,
  MOJ_SHMCTL = 14,
  MOJ_PAGE_REQ = 15,   /* c->s: fault; reply carries data and the granted access */
  MOJ_PAGE_FETCH = 16, /* s->c: downgrade/invalidate; client replies with data */
  MOJ_REATTACH = 17,   /* c->s: re-register an attachment with a restarted home */
  MOJ_PAGE_DIRTY = 18, /* c->s, no reply: first store to write-ahead pages (_moj_page_req; aux = run length, 0 = 1) */
  MOJ_PAGE_WRITE = 19, /* c->own daemon: a captured store to an ordered segment (_moj_pwrite + runs + bytes);
                          replied when it committed there, after the invalidations it caused */
  MOJ_SEMGET = 20,
  MOJ_SEMOP = 21,
  MOJ_SEMCTL = 22,
  MOJ_CANCEL = 23, /* c->s: abort a blocked request (aux = its seq) */
  MOJ_UNDO_TAKE = 24, /* c->s: a migrating process's SEM_UNDO adjustments on one set leave
                        its connection; reply: _moj_undo_e[] (no longer applied at its close) */
  MOJ_UNDO_GIVE = 25, /* c->s: _moj_undo_q + _moj_undo_e[]: add them to this connection's */
  MOJ_MSGGET = 30,
  MOJ_MSGSND = 31,
  MOJ_MSGRCV = 32,
  MOJ_MSGCTL = 33,
  MOJ_LIST = 40,   /* c->s, empty: the objects this daemon homes, as _moj_list_e[] (mojave-ipcs) */
  /* total-order layer (docs/speculative-dsm.md); daemon to daemon: */
  MOJ_TO_PEER = 50,   /* u32 host index: this connection carries that daemon's ordered traffic; no reply */
  MOJ_TO_MSG = 51,    /* _moj_to_wire + data; no reply */
  MOJ_TO_QUIET = 52,  /* _moj_to_wire (len 0): the sender will send no smaller id; no reply */
  /* client to its host's daemon: */
  MOJ_TO_SUBMIT = 53, /* data (<= MOJ_TO_MAX_DATA): broadcast in total order; reply _moj_to_wire (its id) */
  MOJ_TO_LOG = 54,    /* u32 first entry: reply _moj_to_log_r + entries from there */
  MOJ_TO_FAIL = 55,   /* daemon to daemon: {u32 suspect, u32 its messages we received}; no reply */
};

struct _moj_to_wire { uint64_t t; uint32_t m; uint32_t len; } __attribute__((packed));
/* TO_MSG and TO_QUIET: _moj_to_wire, len bytes of data, then one u32 per
 * host of the cluster file: how many ordered messages the sender has
 * received from each (its own: sent) — a message commits only when every
 * daemon reported having it (order.h, failures). */
struct _moj_to_fail { uint32_t suspect, count; } __attribute__((packed));
#define MOJ_TO_MAX_DATA 12288u /* an 8192-byte msgsnd and its headers fit */
/* What a daemon committed: counters, a hash chain over the committed
 * sequence (equal on every host iff the sequences are), and per committed
 * message the times the latency model needs (ns, from its reception). */
struct _moj_to_log_r {
  uint32_t mode, nhosts;
  int64_t window_ns, quiet_ns;
  uint64_t committed, chain, sent, received, quiets_sent, quiets_received;
  uint64_t immediate, spec_deliveries, spec_committed, abort_events, undone;
  int64_t te_ns, tc_ns, ta_ns;
  uint32_t first, nent; /* entries [first, first + nent) follow */
  uint64_t recorded;    /* entries kept (the first MOJ_TO_KEEP committed) */
  uint32_t links_up;    /* links to other daemons connected now */
  uint32_t pad;
  uint64_t excluded;    /* bit k: daemon k excluded after a failure (cluster file `order-fail-after`) */
  uint64_t dropped;     /* messages of excluded daemons dropped beyond the agreed cut */
} __attribute__((packed));
struct _moj_to_log_e {
  uint64_t t; uint32_t m; uint32_t hash;
  int64_t stable;  /* U or V: reception -> stable */
  int64_t latency; /* reception -> the delivery that stood (classical: = stable) */
  int64_t first;   /* reception -> first delivery */
  int64_t w;       /* reception -> last smaller message's reception, -1: none (immediate) */
  uint16_t aborts; uint8_t immediate, spec;
  uint32_t pad;
} __attribute__((packed));

/* One object in a LIST reply: fixed width, so the tool can check the length. */
#define MOJ_LIST_OWNERS 4
enum { MOJ_LIST_SHM = 1, MOJ_LIST_SEM = 2, MOJ_LIST_MSG = 3 };
enum { MOJ_LIST_REMOVED = 1, MOJ_LIST_RECOVERING = 2 };
struct _moj_list_e {
  uint8_t kind, flags; uint16_t pad;
  int32_t key, id;
  uint32_t uid, gid, mode, cpid, lpid;
  uint64_t size;   /* shm bytes / sem nsems / msg queue limit in bytes */
  uint64_t count;  /* shm nattch / sem blocked callers / msg messages */
  uint64_t bytes;  /* msg bytes queued */
  uint32_t pages_home, pages_owned, pages_lost, nowners; /* shm: where the valid copy of each page is */
  struct { char host[32]; uint32_t pid, pages; } owner[MOJ_LIST_OWNERS]; /* processes owning the most pages */
} __attribute__((packed));

/* HELLO's header aux = the server's `encrypt` setting and AUTH's aux = the
 * client's (MOJ_AEAD_*): files that disagree fail the handshake with a clear
 * reason instead of garbling the first frame. */
struct _moj_hello { uint8_t nonce[16]; uint32_t server_idx; } __attribute__((packed));
struct _moj_auth {
  char host[32];
  uint8_t cnonce[16];
  uint8_t mac[32]; /* HMAC(secret, "C" | snonce | cnonce | host) */
  uint32_t pid;
} __attribute__((packed));
struct _moj_auth_ok { uint8_t mac[32]; /* HMAC(secret, "S" | cnonce | snonce) */ uint32_t client_id; } __attribute__((packed));

struct _moj_cred { uint32_t uid, gid, pid; } __attribute__((packed));
struct _moj_undo_q { int32_t id; } __attribute__((packed));          /* the semaphore set */
struct _moj_undo_e { uint16_t num; int16_t adj; } __attribute__((packed)); /* one semaphore's adjustment */

struct _moj_resolve { int32_t key; } __attribute__((packed));
/* One step of resolution (like a DNS answer): referral = 1 means "ask
 * host_idx, which serves keys lo..hi" (clients cache it), 0 means host_idx is
 * the key's home. */
struct _moj_resolve_r { uint32_t host_idx; uint32_t referral; uint32_t lo, hi; } __attribute__((packed));

struct _moj_shmget { int32_t key; uint64_t size; int32_t flags; struct _moj_cred cred; } __attribute__((packed));
struct _moj_id_r { int32_t id; } __attribute__((packed));
struct _moj_shmat { int32_t id; int32_t flags; struct _moj_cred cred; } __attribute__((packed));
struct _moj_shmat_r { uint64_t size; } __attribute__((packed));
struct _moj_shmdt { int32_t id; struct _moj_cred cred; } __attribute__((packed));
/* Request ids (rid): every semaphore/queue request that changes state carries
 * the caller's rid = incarnation << 32 | counter (0 = none).  The home keeps,
 * per object and per client (host, pid), the last applied rid and its reply,
 * persisted with the object: a request repeated after the home restarted is
 * answered with the original result instead of being applied twice. */
struct _moj_ctl {
  int32_t id; int32_t cmd; int32_t num; int32_t val;
  struct _moj_cred cred;
  uint32_t set_uid, set_gid, set_mode; uint64_t set_qbytes;
  uint32_t nvals; /* followed by nvals uint16 for SETALL */
  uint64_t rid;   /* semctl/msgctl changes: SETVAL, SETALL, IPC_SET, IPC_RMID */
} __attribute__((packed));
/* Reply to *_STAT: the common ipc_perm fields plus per-kind counters. */
struct _moj_stat_r {
  int32_t key; uint32_t uid, gid, cuid, cgid, mode;
  uint64_t size;         /* shm bytes / msg qbytes */
  int64_t atime, dtime, ctime; /* shm: at/dt/c, sem: otime/-/ctime, msg: stime/rtime/ctime */
  uint32_t cpid, lpid;   /* shm: creator/last; msg: lspid/lrpid */
  uint64_t nattch;       /* shm nattch / sem nsems / msg qnum */
  uint64_t cbytes;       /* msg bytes in queue */
  int32_t val;           /* GETVAL/GETPID/GETNCNT/GETZCNT result */
  uint32_t nvals;        /* followed by nvals uint16 for GETALL */
} __attribute__((packed));

/* MOJ_ACC_AHEAD appears only in a PAGE_REQ reply: the faulting page is granted
 * writable and the has_data - 1 pages after it are owned by the requester but
 * still equal to the home copy ("clean"): it maps them read-only and sends
 * MOJ_PAGE_DIRTY before the first store to one, so a crash loses only pages
 * that were really written. */
enum { MOJ_ACC_NONE = 0, MOJ_ACC_READ = 1, MOJ_ACC_WRITE = 2, MOJ_ACC_AHEAD = 3 };
struct _moj_page_req { int32_t id; uint32_t page; uint32_t access; } __attribute__((packed));
struct _moj_reattach { int32_t id; uint32_t count; struct _moj_cred cred; } __attribute__((packed)); /* + {u32 page, u32 access, data}* */
/* Reply/fetch payload: header fields then the page bytes.  has_data = number
 * of pages carried; with MOJ_PAGE_ZSTD set the bytes are one zstd frame that
 * decompresses to exactly that many pages (optional compression). */
#define MOJ_PAGE_ZSTD 0x80000000u
struct _moj_page { int32_t id; uint32_t page; uint32_t access; uint32_t has_data; } __attribute__((packed));
/* PAGE_WRITE: bytes written to ordered segments, as one ordered message —
 * one store instruction's (up to two pages, in byte runs), or a committing
 * speculation's stores with the pages it read and the versions it read
 * them at (every replica applies the runs only if each of those pages is
 * still at that version, else the origin answers MOJ_ECONFLICT).  A page
 * grant of an ordered segment carries the page's version in the header's
 * aux. */
#define MOJ_PWRITE_MAX_RUNS 1024u
#define MOJ_PWRITE_MAX_READS 1024u
struct _moj_pwrite { uint32_t nreads, nruns; } __attribute__((packed)); /* + reads + runs + the runs' bytes */
struct _moj_pwrite_read { int32_t id; uint32_t page, version; } __attribute__((packed));
struct _moj_pwrite_run { int32_t id; uint32_t page; uint16_t off, len; } __attribute__((packed));
#define MOJ_ECONFLICT 0x7ffc /* PAGE_WRITE: a page read was written meanwhile, nothing applied */

/* SEMOP header aux flag: the caller speculates past the call (paper §3.2.4):
 * if the operation has to wait, say so at once with status MOJ_EQUEUED (a
 * provisional reply; the request waits as usual and its real reply follows). */
#define MOJ_SEMOP_SPECULATIVE 1u
#define MOJ_EQUEUED 0x7ffd
struct _moj_semget { int32_t key; int32_t nsems; int32_t flags; struct _moj_cred cred; uint64_t rid; } __attribute__((packed));
struct _moj_sembuf { uint16_t num; int16_t op; int16_t flg; uint16_t pad; } __attribute__((packed));
struct _moj_semop {
  int32_t id; uint32_t nsops; int64_t timeout_ns; /* -1 = none */
  struct _moj_cred cred;
  uint64_t rid; /* followed by nsops _moj_sembuf */
} __attribute__((packed));

struct _moj_msgget { int32_t key; int32_t flags; struct _moj_cred cred; uint64_t rid; } __attribute__((packed));
struct _moj_msgsnd { int32_t id; int32_t flags; int64_t mtype; uint32_t size; struct _moj_cred cred; uint64_t rid; } __attribute__((packed));
struct _moj_msgrcv { int32_t id; int32_t flags; int64_t mtype; uint32_t maxsize; struct _moj_cred cred; uint64_t rid; } __attribute__((packed));
struct _moj_msgrcv_r { int64_t mtype; uint32_t size; } __attribute__((packed));

/* Distributed ids handed to applications: bit 30 set, host index in bits 20..29,
 * slot in bits 0..19.  Kernel ids reach bit 30 only after 32768 reuses of one
 * kernel slot, which docs/dsm.md lists as a limit. */
#define MOJ_ID_FLAG 0x40000000
#define MOJ_ID_MAKE(host, slot) (MOJ_ID_FLAG | ((int)(host) << 20) | (int)(slot))
#define MOJ_ID_IS(id) ((id) >= 0 && ((id) & MOJ_ID_FLAG))
#define MOJ_ID_HOST(id) (((id) >> 20) & 0x3ff)
#define MOJ_ID_SLOT(id) ((id) & 0xfffff)
/* Ordered semaphore sets and queues (cluster file `ordered RANGE`,
 * nsd_oreq.c) are replicated at every daemon: their ids carry this host
 * field, and a process sends their operations to its own host's daemon. */
#define MOJ_ID_ORDERED 0x3ff
#define MOJ_ID_IS_ORDERED(id) (MOJ_ID_IS(id) && MOJ_ID_HOST(id) == MOJ_ID_ORDERED)

/* What an ordered message carries (MOJ_TO_MSG data): a kind, then for the
 * ordered System V objects who asked (origin daemon, its connection, the
 * request's seq) and the request itself as the process sent it (_moj_semget,
 * _moj_semop + ops, _moj_ctl + values, _moj_msgget, _moj_msgsnd + text,
 * _moj_msgrcv).  Kind 0: a client's TO_SUBMIT data, for the log only. */
enum { MOJ_OK_LOG = 0, MOJ_OK_SEMGET = 1, MOJ_OK_SEMOP = 2, MOJ_OK_SEMCTL = 3, MOJ_OK_CANCEL = 4, MOJ_OK_GONE = 5,
       MOJ_OK_MSGGET = 6, MOJ_OK_MSGSND = 7, MOJ_OK_MSGRCV = 8, MOJ_OK_MSGCTL = 9,
       MOJ_OK_SHMGET = 10, MOJ_OK_SHMCTL = 11, MOJ_OK_PWRITE = 12 };
struct _moj_ord_w {
  uint32_t kind;
  uint32_t origin;   /* host index of the daemon the process talks to */
  uint32_t fd, gen;  /* its connection there (gen: unique per daemon) */
  uint32_t seq;      /* the request's seq on that connection */
  uint32_t aux;      /* SEMOP: the request's aux; CANCEL: the errno to answer */
} __attribute__((packed));

/* ---- helpers (proto.c) ---- */
void _moj_sha256(const void *data, size_t len, uint8_t out[32]);
/* Incremental SHA-256, for data that arrives in pieces (migration images). */
struct _moj_sha { _Alignas(16) unsigned char ctx[128]; }; /* holds libcrypto's SHA256_CTX */
void _moj_sha_init(struct _moj_sha *s);
void _moj_sha_update(struct _moj_sha *s, const void *data, size_t len);
void _moj_sha_final(struct _moj_sha *s, uint8_t out[32]);
void _moj_hmac(const void *key, size_t klen, const void *m1, size_t l1, const void *m2, size_t l2,
             const void *m3, size_t l3, const void *m4, size_t l4, uint8_t out[32]);
int _moj_ct_equal(const void *a, const void *b, size_t n);
void _moj_random(void *buf, size_t n);
/* Full-buffer socket I/O that retries on EINTR; returns 0 or -1 (errno set, EPIPE on EOF). */
int _moj_write_full(int fd, const void *buf, size_t n);
int _moj_read_full(int fd, void *buf, size_t n);
/* Validate a received header; returns NULL if fine, else a reason string. */
const char *_moj_hdr_check(const struct _moj_hdr *h);
void _moj_hdr_init(struct _moj_hdr *h, uint16_t type, uint32_t len, uint32_t seq, int32_t status);
/* The same 24-byte framing under another protocol's magic/version (the
 * migration transport, migrate/wire.h, uses it with its own magic). */
void _moj_hdr_init_as(struct _moj_hdr *h, uint32_t magic, uint16_t version, uint16_t type, uint32_t len, uint32_t seq,
                    int32_t status);
const char *_moj_hdr_check_as(const struct _moj_hdr *h, uint32_t magic, uint16_t version, uint32_t max_payload);
/* Cluster-secret handshake (docs/dsm.md "Authentication"): the server sends
 * HELLO(nonce), the client AUTH(host, cnonce, HMAC), the server AUTH_OK(proof).
 * Client side over a blocking socket: 0, or which step failed. */
enum { MOJ_AUTH_BAD_GREETING = 1, MOJ_AUTH_REFUSED = 2, MOJ_AUTH_NO_PROOF = 3, MOJ_AUTH_CIPHER = 4, MOJ_AUTH_KEYS = 5 };
int _moj_auth_client(int fd, uint32_t magic, uint16_t version, const char *secret, size_t slen, const char *host);

/* ---- optional encryption (docs/dsm.md "Encryption"): after the handshake
 * every frame in either direction is one MOJ_SEALED frame whose body is
 * AEAD(inner 24-byte header | payload) | 16-byte tag, the outer header being
 * the additional authenticated data.  Keys: HKDF-SHA256 (libcrypto) of the
 * cluster secret, salted with both handshake nonces, one key per direction;
 * nonce: 32 zero bits | a 64-bit frame counter each end keeps (never sent),
 * so a dropped, replayed or reordered frame fails like a tampered one. ---- */
#define MOJ_SEAL_OVERHEAD (24u + 16u)                       /* inner header + tag */
#define MOJ_MAX_FRAME (MOJ_MAX_PAYLOAD + MOJ_SEAL_OVERHEAD) /* largest body after a header */
struct _moj_aead { void *ctx; uint64_t ctr; int alg; }; /* one direction; alg 0: clear */
struct _moj_chan { struct _moj_aead tx, rx; int peer_alg; };
/* Derive and install both directions' keys (is_server picks which is tx). */
int _moj_chan_keys(struct _moj_chan *ch, int alg, int is_server, const char *secret, size_t slen,
                   const uint8_t snonce[16], const uint8_t cnonce[16], const char host[32]);
void _moj_chan_free(struct _moj_chan *ch); /* back to clear, contexts released */
/* HKDF-SHA256 (RFC 5869) through libcrypto; 0 or -1. */
int _moj_hkdf(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len, const void *info, size_t info_len,
              uint8_t *out, size_t out_len);
/* Bytes a frame of `payload` bytes takes on the wire in this direction. */
static inline size_t _moj_frame_size(const struct _moj_aead *tx, size_t payload) {
  return 24 + payload + (tx->alg ? MOJ_SEAL_OVERHEAD : 0);
}
/* Write one frame (header | p1 | p2, sealed if tx->alg) to out, which holds
 * _moj_frame_size(tx, l1 + l2) bytes; returns that size, or 0 if sealing failed. */
size_t _moj_frame_put(struct _moj_aead *tx, uint8_t *out, uint16_t type, uint32_t seq, int32_t status, uint32_t aux,
                      const void *p1, size_t l1, const void *p2, size_t l2);
/* Receive side: validate a header as read (NULL = fine: then h->len body
 * bytes follow, at most MOJ_MAX_FRAME), then open the body in place:
 * h becomes the inner header and *pl its payload.  Both return a reason on failure. */
const char *_moj_frame_check(const struct _moj_aead *rx, const struct _moj_hdr *h);
const char *_moj_frame_open(struct _moj_aead *rx, struct _moj_hdr *h, uint8_t *body, const uint8_t **pl);
/* The DSM handshake with encryption: as _moj_auth_client, also refusing a
 * server whose `encrypt` differs (MOJ_AUTH_CIPHER, ch->peer_alg tells it) and
 * installing the session keys in ch when alg != 0. */
int _moj_auth_client_ch(int fd, uint32_t magic, uint16_t version, const char *secret, size_t slen, const char *host,
                        int alg, struct _moj_chan *ch);
/* Blocking frame I/O over a channel for simple peers (tests, tools): send
 * seals through `scratch` (_moj_frame_size bytes); recv reads into buf
 * (24 + MOJ_MAX_FRAME bytes) and returns NULL or a reason. */
int _moj_chan_send(int fd, struct _moj_aead *tx, uint8_t *scratch, uint16_t type, uint32_t seq, int32_t status,
                   uint32_t aux, const void *p1, size_t l1, const void *p2, size_t l2);
const char *_moj_chan_recv(int fd, struct _moj_aead *rx, struct _moj_hdr *h, uint8_t *buf, const uint8_t **pl);
/* Server side: checks the client's MAC over our nonce (0 = good) and fills
 * the proof to send back in AUTH_OK; a->host is NUL-terminated on return. */
int _moj_auth_server(const char *secret, size_t slen, const uint8_t snonce[16], struct _moj_auth *a, struct _moj_auth_ok *ok);
/* Transport fault injection (MOJAVE_NET_DELAY_US, MOJAVE_NET_LOSS): a "lost"
 * segment costs one TCP retransmission timeout, which is what loss means on TCP. */
void _moj_net_inject_init(void);
void _moj_net_inject(void);
const char *_moj_type_name(unsigned t);
/* A peer that vanishes without closing (host down, partition) is detected by
 * TCP keepalive (idle 1 s, 2 probes 1 s apart) and TCP_USER_TIMEOUT (3 s of
 * unacknowledged data), so nobody blocks forever on a dead host. */
void _moj_sock_liveness(int fd);

#endif
