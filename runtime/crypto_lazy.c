/* runtime/crypto_lazy.c — libcrypto's SHA-256, loaded on first use.
 *
 * The runtime needs SHA-256 only to migrate or to join a cluster (image
 * checksums, the HMAC handshake in dsm/proto.c), yet linking libcrypto into
 * every mojcc program cost every one of them ~1.8 MB of resident memory at
 * start-up (its relocated data and the pages the loader touches): more than
 * the whole peak RSS of a small program under clang (issue 11: peak RSS
 * within 1.5x of clang's).  These three definitions satisfy proto.c's calls
 * inside the executable (hidden: nothing else in the process sees them) and
 * forward to the real ones, dlopen'ed the first time; mojcc links libcrypto
 * --as-needed, so it is not loaded at start-up unless something else in the
 * program uses it. */
#include "internal.h"

#include <dlfcn.h>
#include <openssl/sha.h>

typedef int (*sha_init_fn)(SHA256_CTX *);
typedef int (*sha_update_fn)(SHA256_CTX *, const void *, size_t);
typedef int (*sha_final_fn)(unsigned char *, SHA256_CTX *);
static struct {
  sha_init_fn init;
  sha_update_fn update;
  sha_final_fn final;
} sha MOJ_RTVAR;
static pthread_once_t sha_once MOJ_RTVAR = PTHREAD_ONCE_INIT;

/* OpenSSL 3 deprecates the low-level SHA256_* calls; proto.c keeps them
 * (EVP's first use loads openssl.cnf, ~1.3 ms of every restore). */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static void sha_load(void) {
  void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen("libcrypto.so", RTLD_NOW | RTLD_LOCAL);
  if (!h) _moj_fatal("cannot load libcrypto for SHA-256: %s", dlerror());
  sha.init = (sha_init_fn)dlsym(h, "SHA256_Init");
  sha.update = (sha_update_fn)dlsym(h, "SHA256_Update");
  sha.final = (sha_final_fn)dlsym(h, "SHA256_Final");
  if (!sha.init || !sha.update || !sha.final) _moj_fatal("libcrypto has no SHA256_Init/Update/Final");
}

MOJ_HIDDEN int SHA256_Init(SHA256_CTX *c) {
  pthread_once(&sha_once, sha_load);
  return sha.init(c);
}
MOJ_HIDDEN int SHA256_Update(SHA256_CTX *c, const void *data, size_t len) {
  pthread_once(&sha_once, sha_load);
  return sha.update(c, data, len);
}
MOJ_HIDDEN int SHA256_Final(unsigned char *md, SHA256_CTX *c) {
  pthread_once(&sha_once, sha_load);
  return sha.final(md, c);
}
