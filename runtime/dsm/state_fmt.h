/* state_fmt.h — the framing of mojave-nsd's semaphore and queue state files
 * (docs/dsm.md "State files"), shared by the daemon (nsd_state.c) and the
 * corruption test (tests/dsm/state_fuzz.c), which must be able to forge a
 * correct checksum to reach the parser behind it.  Every field is
 * little-endian and fixed-width (proto.h refuses other byte orders).
 *
 * A file is a 64-byte control block and two slots of `cap` bytes; each slot
 * can hold one image (struct moj_state_hdr + body).  The daemon maps the file
 * MAP_SHARED, writes a new image into the slot not in use and then switches
 * `active` with one aligned 8-byte store: whatever instant a kill -9 hits,
 * the file holds the old image or the new one, and a save costs no system
 * call (a rename per save cost 1.6 ms on this machine's ext4). */
#ifndef MOJ_STATE_FMT_H
#define MOJ_STATE_FMT_H
#include <stddef.h>
#include <stdint.h>

#define MOJ_STATE_MAGIC 0x53494a4du /* "MJIS" */
#define MOJ_STATE_VERSION 1
enum { MOJ_STATE_SEM = 1, MOJ_STATE_MSG = 2 };
struct moj_state_hdr {
  uint32_t magic;
  uint16_t version;
  uint16_t kind;     /* MOJ_STATE_SEM / MOJ_STATE_MSG */
  uint32_t body_len; /* bytes after this header */
  uint32_t reserved; /* 0 */
  uint64_t sum;      /* moj_state_sum(body) */
} __attribute__((packed));
_Static_assert(sizeof(struct moj_state_hdr) == 24, "state header is 24 bytes");

struct moj_state_file {
  uint32_t magic;    /* MOJ_STATE_MAGIC */
  uint16_t version;  /* MOJ_STATE_VERSION */
  uint16_t kind;
  uint32_t cap;      /* bytes per slot */
  uint32_t reserved; /* 0 */
  uint64_t active;   /* saves << 1 | slot of the current image */
  uint8_t pad[40];
} __attribute__((packed));
_Static_assert(sizeof(struct moj_state_file) == 64, "state control block is 64 bytes");
#define MOJ_STATE_MAXCAP (32u << 20)

/* FNV-1a 64: not cryptographic; it only has to catch torn or damaged files. */
static inline uint64_t moj_state_sum(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
  return h;
}

/* The current image of a whole file, or NULL and why not. */
static inline const uint8_t *moj_state_image(const uint8_t *f, size_t len, uint16_t kind, size_t *img_len, const char **why) {
  struct moj_state_file c;
  struct moj_state_hdr h;
  if (len < sizeof c) { *why = "shorter than its control block"; return NULL; }
  __builtin_memcpy(&c, f, sizeof c);
  if (c.magic != MOJ_STATE_MAGIC) { *why = "bad magic"; return NULL; }
  if (c.version != MOJ_STATE_VERSION) { *why = "unknown format version"; return NULL; }
  if (c.kind != kind || c.reserved) { *why = "wrong kind"; return NULL; }
  if (c.cap < sizeof h || c.cap > MOJ_STATE_MAXCAP || len != sizeof c + 2 * (size_t)c.cap) { *why = "size does not match the control block"; return NULL; }
  const uint8_t *img = f + sizeof c + (c.active & 1) * (size_t)c.cap;
  __builtin_memcpy(&h, img, sizeof h);
  if (h.body_len > c.cap - sizeof h) { *why = "image larger than its slot"; return NULL; }
  *img_len = sizeof h + h.body_len;
  return img;
}
#endif
