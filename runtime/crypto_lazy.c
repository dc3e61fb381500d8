/* runtime/crypto_lazy.c — libcrypto, loaded on first use.
 *
 * The runtime needs libcrypto only to migrate or to join a cluster (image
 * checksums, the HMAC handshake and the channel encryption of dsm/proto.c),
 * yet linking it into every mojcc program cost every one of them ~1.5 MB of
 * resident memory at start-up (runtime/lazy.h).  A libcrypto function
 * proto.c starts to call must get its line here, or libcrypto is linked
 * again: the e2e test rss_floor checks an empty program does not load it. */
#include "lazy.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/sha.h>

/* OpenSSL 3 deprecates the low-level SHA256_* calls; proto.c keeps them
 * (EVP's first use loads openssl.cnf, ~1.3 ms of every restore). */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define CRYPTO_FUNCS(F, V) \
  F(int, SHA256_Init, (SHA256_CTX *c), (c)) \
  F(int, SHA256_Update, (SHA256_CTX *c, const void *data, size_t len), (c, data, len)) \
  F(int, SHA256_Final, (unsigned char *md, SHA256_CTX *c), (md, c)) \
  F(const EVP_MD *, EVP_sha256, (void), ()) \
  F(const EVP_CIPHER *, EVP_aes_256_gcm, (void), ()) \
  F(const EVP_CIPHER *, EVP_chacha20_poly1305, (void), ()) \
  F(EVP_PKEY_CTX *, EVP_PKEY_CTX_new_id, (int id, ENGINE *e), (id, e)) \
  V(EVP_PKEY_CTX_free, (EVP_PKEY_CTX *c), (c)) \
  F(int, EVP_PKEY_derive_init, (EVP_PKEY_CTX *c), (c)) \
  F(int, EVP_PKEY_CTX_set_hkdf_md, (EVP_PKEY_CTX *c, const EVP_MD *md), (c, md)) \
  F(int, EVP_PKEY_CTX_set1_hkdf_salt, (EVP_PKEY_CTX *c, const unsigned char *s, int n), (c, s, n)) \
  F(int, EVP_PKEY_CTX_set1_hkdf_key, (EVP_PKEY_CTX *c, const unsigned char *k, int n), (c, k, n)) \
  F(int, EVP_PKEY_CTX_add1_hkdf_info, (EVP_PKEY_CTX *c, const unsigned char *i, int n), (c, i, n)) \
  F(int, EVP_PKEY_derive, (EVP_PKEY_CTX *c, unsigned char *k, size_t *n), (c, k, n)) \
  F(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_new, (void), ()) \
  V(EVP_CIPHER_CTX_free, (EVP_CIPHER_CTX *c), (c)) \
  F(int, EVP_CIPHER_CTX_ctrl, (EVP_CIPHER_CTX *c, int t, int a, void *p), (c, t, a, p)) \
  F(int, EVP_CipherInit_ex, (EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *k, const unsigned char *iv, int enc), (c, t, e, k, iv, enc)) \
  F(int, EVP_EncryptInit_ex, (EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *k, const unsigned char *iv), (c, t, e, k, iv)) \
  F(int, EVP_EncryptUpdate, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol, const unsigned char *i, int il), (c, o, ol, i, il)) \
  F(int, EVP_EncryptFinal_ex, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol), (c, o, ol)) \
  F(int, EVP_DecryptInit_ex, (EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *k, const unsigned char *iv), (c, t, e, k, iv)) \
  F(int, EVP_DecryptUpdate, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol, const unsigned char *i, int il), (c, o, ol, i, il)) \
  F(int, EVP_DecryptFinal_ex, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol), (c, o, ol)) \
  F(unsigned char *, HMAC, (const EVP_MD *md, const void *k, int kl, const unsigned char *d, size_t n, unsigned char *o, unsigned int *ol), (md, k, kl, d, n, o, ol)) \
  V(OPENSSL_cleanse, (void *p, size_t n), (p, n))

MOJ_LAZY_DEFINE(crypto, "libcrypto", CRYPTO_FUNCS, "libcrypto.so.3", "libcrypto.so")
#define F(ret, name, params, args) MOJ_LAZY_FWD_F(crypto, ret, name, params, args)
#define V(name, params, args) MOJ_LAZY_FWD_V(crypto, name, params, args)
CRYPTO_FUNCS(F, V)
