/* migrate/image_decode.c — untrusted bytes -> model: header, checksum,
 * zstd frame, every section's records validated and accounted for, then the
 * model semantics (image_check.c).  Decompresses once into a buffer the
 * model's data pointers point into; only strings are copied (they gain a NUL). */
#include "image_int.h"

/* ======================================================================
 * Decoder
 * ====================================================================== */

/* The decoded model lives in an arena: a root (moj_img_t + the decompressed
 * payload the data pointers point into) and chunks for arrays and strings,
 * all freed by moj_img_free. */
typedef struct chunk {
  struct chunk *next;
  size_t cap, used;
  max_align_t data[];
} chunk_t;
typedef struct root {
  chunk_t *chunks;
  uint8_t *raw;
  moj_img_t img;
} root_t;

#define CHUNK_MIN (64u << 10)
#define CHUNK_MAX (64u << 20)

/* n bytes, 16-aligned; n is bounded by the payload size (counts are checked
 * against remaining bytes before arrays are allocated). */
static void *ar_alloc(root_t *rt, size_t n) {
  n = (n + 15) & ~(size_t)15;
  chunk_t *c = rt->chunks;
  if (!c || c->cap - c->used < n) {
    size_t cap = c ? (c->cap < CHUNK_MAX ? c->cap * 2 : c->cap) : CHUNK_MIN;
    if (cap < n) cap = n;
    chunk_t *nc = malloc(sizeof *nc + cap);
    if (!nc) return NULL;
    nc->cap = cap;
    nc->used = 0;
    nc->next = c;
    rt->chunks = c = nc;
  }
  void *p = (char *)c->data + c->used;
  c->used += n;
  return p;
}

typedef struct rd {
  const uint8_t *p, *end;
  root_t *rt;
  char *err;
  size_t errlen;
  const char *sec;   /* for messages: section, record, sub-record */
  const char *rec;
  uint64_t ri;
  const char *sub;
  uint64_t si;
} rd_t;

static int rfail(rd_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rfail(rd_t *r, const char *fmt, ...) {
  char msg[200], ctx[96] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (r->rec) {
    int n = snprintf(ctx, sizeof ctx, "%s %llu", r->rec, (unsigned long long)r->ri);
    if (r->sub && n > 0 && (size_t)n < sizeof ctx)
      snprintf(ctx + n, sizeof ctx - (size_t)n, " %s %llu", r->sub, (unsigned long long)r->si);
  }
  return fail(r->err, r->errlen, "section %s: %s%s%s", r->sec, ctx, *ctx ? ": " : "", msg);
}

static size_t left(const rd_t *r) { return (size_t)(r->end - r->p); }

static int need(rd_t *r, uint64_t n, const char *what) {
  if (left(r) < n)
    return rfail(r, "truncated %s (needs %llu bytes, %zu left)", what, (unsigned long long)n, left(r));
  return 0;
}
static int r_u8(rd_t *r, uint8_t *v, const char *what) {
  if (need(r, 1, what)) return -1;
  *v = *r->p++;
  return 0;
}
static int r_u32(rd_t *r, uint32_t *v, const char *what) {
  if (need(r, 4, what)) return -1;
  *v = ld32(r->p);
  r->p += 4;
  return 0;
}
static int r_i32(rd_t *r, int32_t *v, const char *what) {
  uint32_t u;
  if (r_u32(r, &u, what)) return -1;
  *v = (int32_t)u;
  return 0;
}
static int r_u64(rd_t *r, uint64_t *v, const char *what) {
  if (need(r, 8, what)) return -1;
  *v = ld64(r->p);
  r->p += 8;
  return 0;
}
static int r_bytes(rd_t *r, uint64_t n, const uint8_t **out, const char *what) {
  if (need(r, n, what)) return -1;
  *out = r->p;
  r->p += n;
  return 0;
}
static int r_zero(rd_t *r, size_t n, const char *what) {
  const uint8_t *p;
  if (r_bytes(r, n, &p, what)) return -1;
  for (size_t i = 0; i < n; i++)
    if (p[i]) return rfail(r, "%s not zero", what);
  return 0;
}
/* A char array: NUL-terminated within its width, zeros after (canonical). */
static int r_fixed(rd_t *r, char *dst, size_t width, const char *what) {
  const uint8_t *p;
  if (r_bytes(r, width, &p, what)) return -1;
  const uint8_t *nul = memchr(p, 0, width);
  if (!nul) return rfail(r, "%s not NUL-terminated within its %zu bytes", what, width);
  for (const uint8_t *q = nul; q < p + width; q++)
    if (*q) return rfail(r, "%s has non-zero bytes after its NUL", what);
  memcpy(dst, p, width);
  return 0;
}
/* u32 len | bytes (no NUL inside) -> NUL-terminated copy in the arena. */
static int r_str(rd_t *r, const char **out, const char *what) {
  uint32_t n;
  const uint8_t *p;
  if (r_u32(r, &n, what) || r_bytes(r, n, &p, what)) return -1;
  if (memchr(p, 0, n)) return rfail(r, "%s contains a NUL byte", what);
  char *s = ar_alloc(r->rt, (size_t)n + 1);
  if (!s) return rfail(r, "out of memory for %s", what);
  memcpy(s, p, n);
  s[n] = 0;
  *out = s;
  return 0;
}
/* A count of records, each at least min_len bytes: refused before any
 * allocation if they cannot fit in what is left (division: no overflow). */
static int r_count(rd_t *r, uint32_t *n, size_t min_len, const char *what) {
  if (r_u32(r, n, what)) return -1;
  if (*n > left(r) / min_len)
    return rfail(r, "%s %u cannot fit in the %zu bytes left (%zu bytes each at least)", what, *n, left(r), min_len);
  return 0;
}
static void *r_array(rd_t *r, uint32_t n, size_t elem) {
  if (!n) return NULL;
  void *p = ar_alloc(r->rt, (size_t)n * elem);
  if (!p) rfail(r, "out of memory for %u records", n);
  else memset(p, 0, (size_t)n * elem);
  return p;
}

static int p_meta(rd_t *r, moj_img_t *m) {
  moj_img_meta_t *mt = &m->meta;
  const uint8_t *p;
  if (r_u32(r, &mt->mode, "mode") || r_fixed(r, mt->arch, sizeof mt->arch, "arch") ||
      r_fixed(r, mt->datalayout, sizeof mt->datalayout, "datalayout"))
    return -1;
  if (r_bytes(r, 8, &p, "abi")) return -1;
  moj_img_abi_t *a = &mt->abi;
  a->ptr_bytes = p[0], a->big_endian = p[1], a->char_signed = p[2], a->long_double = p[3];
  a->va_list = p[4], a->heap_align_log2 = p[5], a->max_align_log2 = p[6];
  if (p[7]) return rfail(r, "abi: reserved byte %u is not 0", p[7]);
  if (r_bytes(r, 32, &p, "exe_hash")) return -1;
  memcpy(mt->exe_hash, p, 32);
  if (r_bytes(r, 32, &p, "bc_hash")) return -1;
  memcpy(mt->bc_hash, p, 32);
  if (r_str(r, &mt->exe_path, "exe_path") || r_str(r, &mt->cwd, "cwd")) return -1;
  const char *names[2] = {"argv", "envp"}, *count_names[2] = {"argc", "envc"};
  uint32_t *counts[2] = {&mt->argc, &mt->envc};
  const char *const **vecs[2] = {&mt->argv, &mt->envp};
  for (int k = 0; k < 2; k++) {
    if (r_count(r, counts[k], 4, count_names[k])) return -1;
    const char **v = r_array(r, *counts[k], sizeof *v);
    if (*counts[k] && !v) return -1;
    r->rec = names[k];
    for (uint32_t i = 0; i < *counts[k]; i++) {
      r->ri = i;
      if (r_str(r, &v[i], "string")) return -1;
    }
    r->rec = NULL;
    *vecs[k] = v;
  }
  if (r_count(r, &mt->nrlimits, 20, "rlimit count")) return -1;
  moj_img_rlimit_t *l = r_array(r, mt->nrlimits, sizeof *l);
  if (mt->nrlimits && !l) return -1;
  for (uint32_t i = 0; i < mt->nrlimits; i++)
    if (r_u32(r, &l[i].resource, "rlimit") || r_u64(r, &l[i].cur, "rlimit") || r_u64(r, &l[i].max, "rlimit"))
      return -1;
  mt->rlimits = l;
  return r_fixed(r, mt->src_host, sizeof mt->src_host, "src_host") || r_u64(r, &mt->src_pid, "src_pid") ||
                 r_u64(r, &mt->time_ns, "time_ns") || r_u32(r, &mt->hops, "hops")
           ? -1 : 0;
}

static int p_syms(rd_t *r, moj_img_t *m) {
  if (r_count(r, &m->nsyms, 4, "sym count")) return -1;
  const char **v = r_array(r, m->nsyms, sizeof *v);
  if (m->nsyms && !v) return -1;
  r->rec = "sym";
  for (uint32_t i = 0; i < m->nsyms; i++) {
    r->ri = i;
    if (r_str(r, &v[i], "name")) return -1;
  }
  m->syms = v;
  return 0;
}

static int p_table(rd_t *r, moj_img_t *m) {
  if (r_u32(r, &m->table_top, "table_top") || r_count(r, &m->nobjs, 12, "object count")) return -1;
  moj_img_obj_t *o = r_array(r, m->nobjs, sizeof *o);
  if (m->nobjs && !o) return -1;
  r->rec = "object";
  for (uint32_t i = 0; i < m->nobjs; i++) {
    r->ri = i;
    if (r_u32(r, &o[i].index, "index") || r_u32(r, &o[i].size, "size") || r_u8(r, &o[i].align_log2, "align_log2") ||
        r_zero(r, 3, "reserved bytes"))
      return -1;
  }
  m->objs = o;
  return 0;
}

static int p_heap(rd_t *r, moj_img_t *m) {
  uint32_t n;
  if (r_u32(r, &n, "object count")) return -1;
  if (n != m->nobjs) return rfail(r, "object count %u differs from TABLE's %u", n, m->nobjs);
  moj_img_obj_t *o = (moj_img_obj_t *)m->objs;
  r->rec = "object";
  for (uint32_t i = 0; i < n; i++) {
    r->ri = i;
    if (r_bytes(r, o[i].size, &o[i].data, "data")) return -1;
  }
  return 0;
}

static int p_globals(rd_t *r, moj_img_t *m) {
  if (r_count(r, &m->nglobals, 12, "global count")) return -1;
  moj_img_global_t *g = r_array(r, m->nglobals, sizeof *g);
  if (m->nglobals && !g) return -1;
  r->rec = "global";
  for (uint32_t i = 0; i < m->nglobals; i++) {
    r->ri = i;
    if (r_str(r, &g[i].name, "name") || r_u64(r, &g[i].size, "size") || r_bytes(r, g[i].size, &g[i].data, "data"))
      return -1;
  }
  m->globals = g;
  return 0;
}

static int p_frames(rd_t *r, moj_img_t *m) {
  if (r_count(r, &m->nframes, 16, "frame count")) return -1;
  moj_img_frame_t *f = r_array(r, m->nframes, sizeof *f);
  if (m->nframes && !f) return -1;
  r->rec = "frame";
  for (uint32_t i = 0; i < m->nframes; i++) {
    r->ri = i;
    r->sub = NULL;
    if (r_str(r, &f[i].func, "func") || r_u32(r, &f[i].site, "site") || r_count(r, &f[i].nslots, 8, "slot count"))
      return -1;
    moj_img_slot_t *s = r_array(r, f[i].nslots, sizeof *s);
    if (f[i].nslots && !s) return -1;
    r->sub = "slot";
    for (uint32_t j = 0; j < f[i].nslots; j++) {
      r->si = j;
      if (r_u8(r, &s[j].type, "type") || r_zero(r, 3, "reserved bytes") || r_u32(r, &s[j].size, "size") ||
          r_bytes(r, s[j].size, &s[j].data, "data"))
        return -1;
    }
    f[i].slots = s;
    r->sub = NULL;
    if (r_count(r, &f[i].nallocas, 8, "alloca count")) return -1;
    moj_img_alloca_t *a = r_array(r, f[i].nallocas, sizeof *a);
    if (f[i].nallocas && !a) return -1;
    r->sub = "alloca";
    for (uint32_t j = 0; j < f[i].nallocas; j++) {
      r->si = j;
      if (r_u32(r, &a[j].size, "size") || r_u32(r, &a[j].align, "align") || r_bytes(r, a[j].size, &a[j].data, "data"))
        return -1;
    }
    f[i].allocas = a;
  }
  r->sub = NULL;
  m->frames = f;
  return 0;
}

static int p_relocs(rd_t *r, moj_img_t *m) {
  if (r_count(r, &m->nrelocs, RELOC_LEN, "reloc count")) return -1;
  moj_img_reloc_t *v = r_array(r, m->nrelocs, sizeof *v);
  if (m->nrelocs && !v) return -1;
  r->rec = "reloc";
  for (uint32_t i = 0; i < m->nrelocs; i++) {
    uint64_t toff;
    r->ri = i;
    if (r_u8(r, &v[i].where, "where") || r_u8(r, &v[i].target, "target") || r_zero(r, 2, "reserved bytes") ||
        r_u32(r, &v[i].where_id, "where_id") || r_u32(r, &v[i].where_sub, "where_sub") ||
        r_u64(r, &v[i].where_off, "where_off") || r_u32(r, &v[i].tid, "tid") || r_u32(r, &v[i].tsub, "tsub") ||
        r_u64(r, &toff, "toff"))
      return -1;
    v[i].toff = (int64_t)toff;
  }
  m->relocs = v;
  return 0;
}

static int p_files(rd_t *r, moj_img_t *m) {
  if (r_count(r, &m->nfiles, 28, "file count")) return -1;
  moj_img_file_t *f = r_array(r, m->nfiles, sizeof *f);
  if (m->nfiles && !f) return -1;
  r->rec = "file";
  for (uint32_t i = 0; i < m->nfiles; i++) {
    r->ri = i;
    if (r_i32(r, &f[i].fd, "fd") || r_u32(r, &f[i].kind, "kind") || r_i32(r, &f[i].flags, "flags") ||
        r_i32(r, &f[i].fd_flags, "fd_flags") || r_u64(r, &f[i].offset, "offset") || r_str(r, &f[i].path, "path"))
      return -1;
  }
  m->files = f;
  return 0;
}

static int p_dsm(rd_t *r, moj_img_t *m) {
  if (r_count(r, &m->nshm, 28, "shm count")) return -1;
  moj_img_shm_t *s = r_array(r, m->nshm, sizeof *s);
  if (m->nshm && !s) return -1;
  r->rec = "shm";
  for (uint32_t i = 0; i < m->nshm; i++) {
    r->ri = i;
    if (r_i32(r, &s[i].shmid, "shmid") || r_i32(r, &s[i].key, "key") || r_i32(r, &s[i].shmflg, "shmflg") ||
        r_u64(r, &s[i].addr, "addr") || r_u64(r, &s[i].size, "size"))
      return -1;
  }
  m->shm = s;
  r->rec = NULL;
  if (r_count(r, &m->nsemundo, 8, "semundo count")) return -1;
  moj_img_semundo_t *u = r_array(r, m->nsemundo, sizeof *u);
  if (m->nsemundo && !u) return -1;
  r->rec = "semundo";
  for (uint32_t i = 0; i < m->nsemundo; i++) {
    const uint8_t *p;
    r->ri = i;
    if (r_bytes(r, 8, &p, "record")) return -1;
    u[i].semid = (int32_t)ld32(p);
    u[i].num = (uint16_t)(p[4] | p[5] << 8);
    u[i].adj = (int16_t)(uint16_t)(p[6] | p[7] << 8);
  }
  m->semundo = u;
  return 0;
}

static int p_stdio(rd_t *r, moj_img_t *m) {
  moj_img_stdio_t *io = &m->stdio;
  return r_u64(r, &io->stdin_len, "stdin length") || r_bytes(r, io->stdin_len, &io->stdin_data, "stdin bytes") ||
                 r_u64(r, &io->out_len, "stdout length") || r_bytes(r, io->out_len, &io->out_data, "stdout bytes") ||
                 r_u64(r, &io->err_len, "stderr length") || r_bytes(r, io->err_len, &io->err_data, "stderr bytes")
           ? -1 : 0;
}

static int (*const sec_parsers[NSEC + 1])(rd_t *, moj_img_t *) = {
  NULL, p_meta, p_syms, p_table, p_heap, p_globals, p_frames, p_relocs, p_files, p_dsm, p_stdio,
};

/* Sections in enum order, each exactly once, nothing after the last. */
static int parse_payload(root_t *rt, const uint8_t *raw, size_t len, char *err, size_t errlen) {
  const uint8_t *p = raw, *end = raw + len;
  for (uint32_t t = 1; t <= NSEC; t++) {
    size_t rem = (size_t)(end - p);
    if (rem < SEC_HDR_LEN) {
      if (rem == 0) return fail(err, errlen, "section %s missing (payload ends after %s)", sec_names[t], sec_names[t - 1]);
      return fail(err, errlen, "truncated section header (%zu of %u bytes) where section %s belongs", rem, SEC_HDR_LEN,
                  sec_names[t]);
    }
    uint32_t type = ld32(p), flags = ld32(p + 4);
    uint64_t slen = ld64(p + 8);
    if (type != t) {
      if (type < 1 || type > NSEC)
        return fail(err, errlen, "unknown section type %u at payload offset %zu (expected %s)", type,
                    (size_t)(p - raw), sec_names[t]);
      if (type < t) return fail(err, errlen, "section %s repeated or out of order (after %s)", sec_names[type], sec_names[t - 1]);
      return fail(err, errlen, "section %s missing (found %s)", sec_names[t], sec_names[type]);
    }
    if (flags) return fail(err, errlen, "section %s: flags 0x%x unknown", sec_names[t], flags);
    p += SEC_HDR_LEN;
    if (slen > (uint64_t)(end - p))
      return fail(err, errlen, "section %s: length %llu exceeds the %zu payload bytes left", sec_names[t],
                  (unsigned long long)slen, (size_t)(end - p));
    rd_t r = {.p = p, .end = p + slen, .rt = rt, .err = err, .errlen = errlen, .sec = sec_names[t]};
    if (sec_parsers[t](&r, &rt->img)) return -1;
    r.rec = r.sub = NULL;
    if (r.p != r.end) return rfail(&r, "%zu trailing bytes after the records", left(&r));
    p += slen;
  }
  if (p != end) return fail(err, errlen, "%zu bytes after the last section (STDIO)", (size_t)(end - p));
  return 0;
}

int moj_img_peek(const void *buf, size_t len, uint32_t *version, uint64_t *raw_len, uint64_t *zstd_len, char *err,
                 size_t errlen) {
  const uint8_t *h = buf;
  if (!buf && len) return fail(err, errlen, "NULL buffer");
  if (len < HDR_LEN) return fail(err, errlen, "truncated header (%zu of %u bytes)", len, HDR_LEN);
  if (memcmp(h, MOJ_IMG_MAGIC, 8)) return fail(err, errlen, "bad magic (not a mojave image)");
  uint32_t v = ld32(h + 8), flags = ld32(h + 12);
  uint64_t raw = ld64(h + 16), z = ld64(h + 24);
  if (v != MOJ_IMG_VERSION) return fail(err, errlen, "version %u unsupported (this is %u)", v, MOJ_IMG_VERSION);
  if (flags) return fail(err, errlen, "header flags 0x%x unknown", flags);
  if (raw > MAX_RAW)
    return fail(err, errlen, "raw length %llu exceeds the 64 GiB limit", (unsigned long long)raw);
  if (raw < (uint64_t)NSEC * SEC_HDR_LEN)
    return fail(err, errlen, "raw length %llu too small for %u section headers", (unsigned long long)raw, NSEC);
  if (z == 0) return fail(err, errlen, "zstd length 0");
  if (version) *version = v;
  if (raw_len) *raw_len = raw;
  if (zstd_len) *zstd_len = z;
  return 0;
}

/* What a zstd frame's blocks can expand to at most (blocks x block size
 * limit), from the block headers alone.  ZSTD_decompressBound trusts the
 * content size the frame header declares, which is what a hostile input would
 * forge to make us allocate; this bound refuses a small input that claims a
 * huge raw length before anything that size is allocated.  The caller has
 * checked the frame's extent (ZSTD_findFrameCompressedSize == len). */
static int frame_bound(const uint8_t *z, size_t len, uint64_t *bound) {
  ZSTD_frameHeader fh;
  if (ZSTD_getFrameHeader(&fh, z, len) != 0 || fh.frameType != ZSTD_frame || fh.headerSize > len) return -1;
  size_t off = fh.headerSize;
  uint64_t blocks = 0;
  for (;;) {
    if (len - off < 3) return -1;
    uint32_t bh = (uint32_t)z[off] | (uint32_t)z[off + 1] << 8 | (uint32_t)z[off + 2] << 16;
    uint32_t type = (bh >> 1) & 3, size = bh >> 3;
    size_t csize = type == 1 ? 1 : size; /* RLE blocks store one byte */
    off += 3;
    if (type == 3 || len - off < csize) return -1;
    off += csize;
    blocks++;
    if (bh & 1) break;
  }
  *bound = blocks * (uint64_t)fh.blockSizeMax;
  return 0;
}

void moj_img_free(moj_img_t *img) {
  if (!img) return;
  root_t *rt = (root_t *)((char *)img - offsetof(root_t, img));
  for (chunk_t *c = rt->chunks, *n; c; c = n) {
    n = c->next;
    free(c);
  }
  free(rt->raw);
  free(rt);
}

int moj_img_decode(const void *buf, size_t len, moj_img_t **out, char *err, size_t errlen) {
  uint64_t raw_len, zlen;
  if (!out) return fail(err, errlen, "NULL argument");
  *out = NULL;
  if (moj_img_peek(buf, len, NULL, &raw_len, &zlen, err, errlen)) return -1;
  const uint8_t *z = (const uint8_t *)buf + HDR_LEN;
  size_t have = len - HDR_LEN;
  if (zlen > have)
    return fail(err, errlen, "truncated payload (%zu of %llu bytes)", have, (unsigned long long)zlen);
  if (zlen < have)
    return fail(err, errlen, "%llu trailing bytes after the payload", (unsigned long long)(have - zlen));
  uint8_t sum[32];
  _moj_sha256(z, (size_t)zlen, sum);
  if (memcmp(sum, (const uint8_t *)buf + 32, 32)) return fail(err, errlen, "checksum mismatch");

  unsigned long long csize = ZSTD_getFrameContentSize(z, (size_t)zlen);
  if (csize == ZSTD_CONTENTSIZE_ERROR) return fail(err, errlen, "payload is not a zstd frame");
  if (csize == ZSTD_CONTENTSIZE_UNKNOWN) return fail(err, errlen, "zstd frame does not record its content size");
  if (csize != raw_len)
    return fail(err, errlen, "zstd frame content size %llu differs from header raw length %llu", csize,
                (unsigned long long)raw_len);
  size_t fsize = ZSTD_findFrameCompressedSize(z, (size_t)zlen);
  if (ZSTD_isError(fsize)) return fail(err, errlen, "zstd frame: %s", ZSTD_getErrorName(fsize));
  if (fsize != zlen) return fail(err, errlen, "%llu bytes after the zstd frame", (unsigned long long)(zlen - fsize));
  uint64_t bound;
  if (frame_bound(z, (size_t)zlen, &bound)) return fail(err, errlen, "zstd frame: malformed block headers");
  if (raw_len > bound)
    return fail(err, errlen, "raw length %llu exceeds what %llu zstd bytes can hold (%llu)", (unsigned long long)raw_len,
                (unsigned long long)zlen, (unsigned long long)bound);

  root_t *rt = calloc(1, sizeof *rt);
  if (!rt) return fail(err, errlen, "out of memory");
  rt->raw = malloc((size_t)raw_len);
  if (!rt->raw) {
    free(rt);
    return fail(err, errlen, "out of memory (%llu raw bytes)", (unsigned long long)raw_len);
  }
  size_t got = ZSTD_decompress(rt->raw, (size_t)raw_len, z, (size_t)zlen);
  int rc;
  if (ZSTD_isError(got)) rc = fail(err, errlen, "zstd: %s", ZSTD_getErrorName(got));
  else if (got != raw_len)
    rc = fail(err, errlen, "zstd frame gave %zu bytes, header says %llu", got, (unsigned long long)raw_len);
  else rc = parse_payload(rt, rt->raw, (size_t)raw_len, err, errlen);
  if (!rc) rc = check_model(&rt->img, err, errlen);
  if (rc) {
    moj_img_free(&rt->img);
    return -1;
  }
  *out = &rt->img;
  return 0;
}
