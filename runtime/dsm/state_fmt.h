/* state_fmt.h — the framing of mojave-nsd's semaphore and queue state files
 * (docs/dsm.md "State files"), shared by the daemon (nsd_state.c) and the
 * corruption test (tests/dsm/state_fuzz.c), which must be able to forge a
 * correct checksum to reach the parser behind it.  Every field is
 * little-endian and fixed-width (proto.h refuses other byte orders). */
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

/* FNV-1a 64: not cryptographic; it only has to catch torn or damaged files. */
static inline uint64_t moj_state_sum(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
  return h;
}
#endif
