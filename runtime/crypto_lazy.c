/* runtime/crypto_lazy.c — libcrypto, loaded on first use.
 *
 * The runtime needs libcrypto only to migrate or to join a cluster (image
 * checksums, the HMAC handshake and the channel encryption of dsm/proto.c),
 * yet linking it into every mojcc program cost every one of them ~1.5 MB of
 * resident memory at start-up (its relocated data and the pages the loader
 * touches): more than the whole peak RSS of a small program under clang
 * (issue 11: peak RSS within 1.5x of clang's).  The definitions below satisfy
 * proto.c's calls inside the executable (hidden: nothing else in the process
 * sees them) and forward to the real ones, dlopen'ed the first time; mojcc
 * links libcrypto --as-needed, so it is not loaded at start-up unless
 * something else in the program uses it.  A libcrypto function proto.c
 * starts to call must get its line here, or libcrypto is linked again: the
 * e2e test rss_floor checks an empty program does not load it. */
#include "internal.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/sha.h>

/* OpenSSL 3 deprecates the low-level SHA256_* calls; proto.c keeps them
 * (EVP's first use loads openssl.cnf, ~1.3 ms of every restore). */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static void *crypto MOJ_RTVAR;

static void crypto_load(void) {
  void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen("libcrypto.so", RTLD_NOW | RTLD_LOCAL);
  if (!h) _moj_fatal("cannot load libcrypto: %s", dlerror());
  __atomic_store_n(&crypto, h, __ATOMIC_RELEASE);
}

/* Each function is resolved on its first call; a racing second resolution
 * stores the same pointer. */
static void *crypto_sym(const char *name) {
  static pthread_once_t once MOJ_RTVAR = PTHREAD_ONCE_INIT;
  pthread_once(&once, crypto_load);
  void *f = dlsym(crypto, name);
  if (!f) _moj_fatal("libcrypto has no %s", name);
  return f;
}
#define LAZY(ret, name, params, args)                                         \
  MOJ_HIDDEN ret name params {                                                \
    static ret(*f) params MOJ_RTVAR;                                          \
    ret(*g) params = __atomic_load_n(&f, __ATOMIC_ACQUIRE);                   \
    if (moj_unlikely(!g)) __atomic_store_n(&f, g = (ret(*) params)crypto_sym(#name), __ATOMIC_RELEASE); \
    return g args;                                                            \
  }
#define LAZY_VOID(name, params, args)                                         \
  MOJ_HIDDEN void name params {                                               \
    static void(*f) params MOJ_RTVAR;                                         \
    void(*g) params = __atomic_load_n(&f, __ATOMIC_ACQUIRE);                  \
    if (moj_unlikely(!g)) __atomic_store_n(&f, g = (void(*) params)crypto_sym(#name), __ATOMIC_RELEASE); \
    g args;                                                                   \
  }

LAZY(int, SHA256_Init, (SHA256_CTX *c), (c))
LAZY(int, SHA256_Update, (SHA256_CTX *c, const void *data, size_t len), (c, data, len))
LAZY(int, SHA256_Final, (unsigned char *md, SHA256_CTX *c), (md, c))
LAZY(const EVP_MD *, EVP_sha256, (void), ())
LAZY(const EVP_CIPHER *, EVP_aes_256_gcm, (void), ())
LAZY(const EVP_CIPHER *, EVP_chacha20_poly1305, (void), ())
LAZY(EVP_PKEY_CTX *, EVP_PKEY_CTX_new_id, (int id, ENGINE *e), (id, e))
LAZY_VOID(EVP_PKEY_CTX_free, (EVP_PKEY_CTX *c), (c))
LAZY(int, EVP_PKEY_derive_init, (EVP_PKEY_CTX *c), (c))
LAZY(int, EVP_PKEY_CTX_set_hkdf_md, (EVP_PKEY_CTX *c, const EVP_MD *md), (c, md))
LAZY(int, EVP_PKEY_CTX_set1_hkdf_salt, (EVP_PKEY_CTX *c, const unsigned char *s, int n), (c, s, n))
LAZY(int, EVP_PKEY_CTX_set1_hkdf_key, (EVP_PKEY_CTX *c, const unsigned char *k, int n), (c, k, n))
LAZY(int, EVP_PKEY_CTX_add1_hkdf_info, (EVP_PKEY_CTX *c, const unsigned char *i, int n), (c, i, n))
LAZY(int, EVP_PKEY_derive, (EVP_PKEY_CTX *c, unsigned char *k, size_t *n), (c, k, n))
LAZY(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_new, (void), ())
LAZY_VOID(EVP_CIPHER_CTX_free, (EVP_CIPHER_CTX *c), (c))
LAZY(int, EVP_CIPHER_CTX_ctrl, (EVP_CIPHER_CTX *c, int t, int a, void *p), (c, t, a, p))
LAZY(int, EVP_CipherInit_ex, (EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *k,
                              const unsigned char *iv, int enc), (c, t, e, k, iv, enc))
LAZY(int, EVP_EncryptInit_ex, (EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *k,
                               const unsigned char *iv), (c, t, e, k, iv))
LAZY(int, EVP_EncryptUpdate, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol, const unsigned char *i, int il),
     (c, o, ol, i, il))
LAZY(int, EVP_EncryptFinal_ex, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol), (c, o, ol))
LAZY(int, EVP_DecryptInit_ex, (EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *k,
                               const unsigned char *iv), (c, t, e, k, iv))
LAZY(int, EVP_DecryptUpdate, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol, const unsigned char *i, int il),
     (c, o, ol, i, il))
LAZY(int, EVP_DecryptFinal_ex, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol), (c, o, ol))
LAZY(unsigned char *, HMAC, (const EVP_MD *md, const void *k, int kl, const unsigned char *d, size_t n,
                             unsigned char *o, unsigned int *ol), (md, k, kl, d, n, o, ol))
LAZY_VOID(OPENSSL_cleanse, (void *p, size_t n), (p, n))
