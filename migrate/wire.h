/* migrate/wire.h — the migration transport's wire protocol, shared by the
 * shipping client inside libmojave (ship.c, ctl.c), the per-host daemon
 * mojaved and the launcher mojave-run.  docs/migration.md has the
 * message table and the hand-off state machine.
 *
 * Framing is the DSM's 24-byte header (runtime/dsm/proto.h: magic, version,
 * type, len, seq, status, aux; little-endian, fixed width) under our own magic
 * "MJMG" and version, so the two protocols can never be mistaken for each
 * other, and the cluster-secret handshake (HELLO/AUTH/AUTH_OK) is the DSM's
 * code (_moj_auth_client / _moj_auth_server).  TCP connections carry a stream of
 * such frames; the control socket between a program and its supervisor is a
 * SOCK_SEQPACKET socketpair carrying one frame per packet. */
#ifndef MOJ_MIGRATE_WIRE_H
#define MOJ_MIGRATE_WIRE_H
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#ifndef MOJ_VERSION_STRING /* set by the build from the project version */
#define MOJ_VERSION_STRING "0.1.0"
#endif
#define MG_MAGIC 0x474d4a4du /* "MJMG" on the wire */
#define MG_VERSION 1
/* Largest payload of one frame; images and executables travel as DATA frames
 * of at most MG_CHUNK bytes.  Larger lengths are refused before allocating. */
#define MG_MAX_PAYLOAD (1u << 20)
#define MG_CHUNK (256u << 10)
#define MG_REPLY 0x8000u
/* Largest image / executable a daemon accepts (memory file / cache file). */
#define MG_MAX_IMAGE (4ull << 30)
#define MG_MAX_EXE (1ull << 30)
/* mojaved listens on the port after mojave-nsd's (the cluster file's port + 1). */
#define MG_PORT_OFFSET 1
/* The request signal: rarely used by programs, queued (real-time), handler
 * installed with SA_RESTART by moj_ctl_init and only sets __moj_mig_req. */
#define MOJ_CTL_SIGNAL (SIGRTMIN + 4)
/* The host signal that reaches a program as MOJ_CTL_SIGNAL when `cmd` (the
 * command that runs it) is qemu-user: qemu keeps the host's two lowest
 * real-time signals for itself and hands the guest SIGRTMIN+k as host
 * SIGRTMIN+k+2 (qemu 7.2, checked), so the plain number would reach it as a
 * signal it has no handler for, whose default action kills it. */
static inline int mg_is_qemu(const char *cmd) {
  const char *base = cmd ? cmd : "";
  for (const char *p = base; *p; p++)
    if (*p == '/') base = p + 1;
  return base[0] == 'q' && base[1] == 'e' && base[2] == 'm' && base[3] == 'u' && base[4] == '-';
}
static inline int mg_ctl_signal_for(const char *cmd) { return MOJ_CTL_SIGNAL + (mg_is_qemu(cmd) ? 2 : 0); }

enum mg_type {
  /* handshake: the DSM's types and payloads (proto.h) */
  MG_HELLO = 1, MG_AUTH = 2, MG_AUTH_OK = 3,
  MG_ERROR = 4,       /* fatal: status = errno, payload = reason text; connection closed */
  /* shipping (source -> destination mojaved) */
  MG_HAVE_EXE = 10,   /* hash[32], aux = mode (1 executable, 2 bitcode); reply status 0 cached, ENOENT send it */
  MG_EXE = 11,        /* mg_exe, aux = mode, then DATA frames; reply after the last one (IR: once compiled) */
  MG_DATA = 12,       /* a chunk of the executable or image being received */
  MG_SHIP = 13,       /* mg_ship + strings, then DATA frames with the image */
  MG_RESTORED = 14,   /* d->s: restored, waiting for GO (payload: job id); ctl: program->supervisor */
  MG_GO = 15,         /* s->d: release it (reply: status 0 = released); ctl: supervisor->program */
  MG_ABORT = 16,      /* s->d: kill what was restored; ctl: supervisor->program (_exit(0)) */
  /* launcher <-> mojaved */
  MG_ATTACH = 20,     /* job id; reply status 0/ENOENT/EBUSY */
  MG_OUT = 21,        /* d->l: program output, aux = 1 stdout / 2 stderr */
  MG_STDIN = 22,      /* l->d: bytes for the program's stdin */
  MG_STDIN_EOF = 23,  /* l->d: no more stdin */
  MG_STDIN_ACK = 24,  /* d->l: u64 stdin bytes of this job now consumed (see docs) */
  MG_SIGNAL = 25,     /* l->d: aux = signal number to deliver */
  MG_EXIT = 26,       /* d->l: mg_exit; last frame of a job */
  MG_MOVED = 27,      /* mg_moved: the program went on elsewhere (d->l, and ctl), + signals to redeliver */
  MG_PROGRESS = 28,   /* mg_progress (ctl and d->l) */
  MG_FAILED = 29,     /* a migration failed, the program keeps running: reason text (ctl and d->l) */
  MG_LIST = 30,       /* reply payload: one text line per job */
  MG_MOVE = 31,       /* mg_move: ask a job to migrate; reply status */
  /* control socket only */
  MG_READY = 40,      /* program->supervisor: request handler installed */
  MG_REQUEST = 41,    /* supervisor->program: mg_request (the signal follows) */
};

struct mg_exe { uint8_t hash[32]; uint64_t size; } __attribute__((packed));
/* SHIP payload: this struct, then cwd, argv[0..argc), env[0..envc) as
 * NUL-terminated strings, exactly filling the payload. */
struct mg_ship {
  uint32_t mode;        /* 1 binary, 2 IR */
  uint32_t argc, envc;
  uint32_t flags;       /* 0 */
  uint64_t image_len;
  uint8_t exe_hash[32];
  char src_host[32];
  uint64_t src_pid;
} __attribute__((packed));
struct mg_request { char host[32]; uint32_t mode; } __attribute__((packed));
struct mg_move { char job[64]; char host[32]; uint32_t mode; } __attribute__((packed));
/* sigs: bit N-1 set = signal N arrived at the source after GO (it had them
 * blocked from just before GO): the launcher delivers them to the new job. */
struct mg_moved { char host[32]; char job[64]; uint64_t sigs; } __attribute__((packed));
struct mg_progress { uint64_t sent, total; char host[32]; } __attribute__((packed));
struct mg_exit { int32_t code; int32_t sig; } __attribute__((packed)); /* sig != 0: killed by it */
struct mg_ready { uint32_t pid; } __attribute__((packed));

/* ---- helpers (wire.c) ---- */
void mg_hdr_init(struct _moj_hdr *h, uint16_t type, uint32_t len, int32_t status, uint32_t aux);
/* NULL if the header is acceptable (magic, version, length, known type), else why not. */
const char *mg_hdr_check(const struct _moj_hdr *h);
const char *mg_type_name(unsigned t);
/* 1 if the fixed-size field holds a non-empty NUL-terminated string. */
int mg_str_ok(const char *s, size_t n);
int64_t mg_now_ms(void);
/* Blocking I/O bounded by an absolute mg_now_ms() deadline (-1: none):
 * 0, or -1 with errno (ETIMEDOUT, EPIPE on EOF, ...). */
int mg_write_by(int fd, const void *buf, size_t n, int64_t deadline);
int mg_read_by(int fd, void *buf, size_t n, int64_t deadline);
/* One frame on a TCP connection: send header + payload; receive header
 * (validated) + payload into buf (cap bytes; larger frames are an error). */
int mg_send(int fd, uint16_t type, int32_t status, uint32_t aux, const void *p, size_t n, int64_t deadline);
int mg_recv(int fd, struct _moj_hdr *h, void *buf, size_t cap, int64_t deadline, const char **why);
/* Connect to mojaved on host `name` of the cluster file at `path` and pass
 * the handshake as `self` (NULL: MOJAVE_HOST, else hostname, else the first
 * host).  fd, or -1 with a named reason. */
struct _moj_cluster;
int mg_dial(const struct _moj_cluster *c, const char *name, const char *self, int64_t deadline, char *reason,
            size_t rlen);
/* Control-socket packets: one frame per SOCK_SEQPACKET message. */
int mg_pkt_send(int fd, uint16_t type, int32_t status, uint32_t aux, const void *p, size_t n);
/* 0 on a valid packet (header in h, payload in buf), -1 on error or EOF
 * (errno: EPIPE at EOF, EPROTO for a malformed packet, EAGAIN with nonblock). */
int mg_pkt_recv(int fd, struct _moj_hdr *h, void *buf, size_t cap, int nonblock);

#endif /* MOJ_MIGRATE_WIRE_H */
