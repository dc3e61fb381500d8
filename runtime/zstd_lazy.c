/* runtime/zstd_lazy.c — libzstd, loaded on first use.
 *
 * zstd compresses migration images and, when the cluster asks for it, DSM
 * pages: nothing an ordinary run does, yet linking libzstd cost every mojcc
 * program ~90 KB of resident memory at start-up (runtime/lazy.h).  The DSM
 * client installs pages from its SIGSEGV handler, where dlopen is unsafe, so
 * joining a cluster resolves every function ahead (_moj_zstd_preload).  A
 * libzstd function the runtime starts to call must get its line here, or
 * libzstd is linked again: the e2e test rss_floor checks an empty program
 * does not load it. */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader (image_decode.c) */
#define ZSTDLIB_VISIBLE MOJ_HIDDEN /* these definitions are the runtime's own */
#include "lazy.h"

#include <zstd.h>

#define ZSTD_FUNCS(F, V) \
  F(size_t, ZSTD_compress, (void *d, size_t dc, const void *s, size_t n, int l), (d, dc, s, n, l)) \
  F(size_t, ZSTD_decompress, (void *d, size_t dc, const void *s, size_t n), (d, dc, s, n)) \
  F(unsigned long long, ZSTD_getFrameContentSize, (const void *s, size_t n), (s, n)) \
  F(size_t, ZSTD_findFrameCompressedSize, (const void *s, size_t n), (s, n)) \
  F(size_t, ZSTD_getFrameHeader, (ZSTD_frameHeader *h, const void *s, size_t n), (h, s, n)) \
  F(size_t, ZSTD_compressBound, (size_t n), (n)) \
  F(unsigned, ZSTD_isError, (size_t c), (c)) \
  F(const char *, ZSTD_getErrorName, (size_t c), (c)) \
  F(int, ZSTD_minCLevel, (void), ()) \
  F(int, ZSTD_maxCLevel, (void), ()) \
  F(ZSTD_CCtx *, ZSTD_createCCtx, (void), ()) \
  F(size_t, ZSTD_freeCCtx, (ZSTD_CCtx *c), (c)) \
  F(size_t, ZSTD_CCtx_setParameter, (ZSTD_CCtx *c, ZSTD_cParameter p, int v), (c, p, v)) \
  F(size_t, ZSTD_CCtx_setPledgedSrcSize, (ZSTD_CCtx *c, unsigned long long n), (c, n)) \
  F(size_t, ZSTD_compressStream2, (ZSTD_CCtx *c, ZSTD_outBuffer *o, ZSTD_inBuffer *i, ZSTD_EndDirective e), \
    (c, o, i, e))

MOJ_LAZY_DEFINE(zstd, "libzstd", ZSTD_FUNCS, "libzstd.so.1", "libzstd.so")
#define F(ret, name, params, args) MOJ_LAZY_FWD_F(zstd, ret, name, params, args)
#define V(name, params, args) MOJ_LAZY_FWD_V(zstd, name, params, args)
ZSTD_FUNCS(F, V)

void _moj_zstd_preload(void) { _moj_lazy_preload(&zstd); }
