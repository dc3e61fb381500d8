/* migrate/image_encode.c — model -> image: header + one zstd frame of
 * sections.  The encoder never copies the heap: it walks the model once to
 * size it (headers only), then streams every object's bytes straight from
 * the process into zstd (worker threads for large payloads). */
#include "image_int.h"

/* ======================================================================
 * Encoder
 * ====================================================================== */

#define STAGE_LEN (64u << 10)  /* small fields gather here before zstd sees them */
#define DIRECT_LEN (16u << 10) /* data this large goes to zstd straight from the process */

typedef struct wr {
  uint64_t n;          /* raw payload bytes emitted so far */
  ZSTD_CCtx *cc;       /* NULL: only count (sizing pass) */
  uint8_t *stage;
  size_t slen;
  uint8_t *out;        /* whole image: header, then the zstd frame */
  size_t cap;
  ZSTD_outBuffer ob;   /* view of out after the header */
  size_t zerr;         /* first zstd error, 0 if none */
  int oom;
} wr_t;

/* Feeds zstd; grows the output if a (pathological) frame outgrows the bound. */
static void w_feed(wr_t *w, const void *p, size_t n, ZSTD_EndDirective end) {
  ZSTD_inBuffer in = {p, n, 0};
  for (;;) {
    if (w->zerr || w->oom) return;
    if (w->ob.pos == w->ob.size) {
      size_t cap = w->cap + w->cap / 2 + 4096;
      uint8_t *o = realloc(w->out, cap);
      if (!o) { w->oom = 1; return; }
      w->out = o;
      w->cap = cap;
      w->ob.dst = o + HDR_LEN;
      w->ob.size = cap - HDR_LEN;
    }
    size_t r = ZSTD_compressStream2(w->cc, &w->ob, &in, end);
    if (ZSTD_isError(r)) { w->zerr = r; return; }
    if (end == ZSTD_e_continue ? in.pos == in.size : r == 0) return;
  }
}

static void w_flush(wr_t *w) {
  if (w->slen) w_feed(w, w->stage, w->slen, ZSTD_e_continue);
  w->slen = 0;
}

static void emit(wr_t *w, const void *p, size_t n) {
  w->n += n;
  if (!w->cc || n == 0) return;
  if (n >= DIRECT_LEN) {
    w_flush(w);
    w_feed(w, p, n, ZSTD_e_continue);
    return;
  }
  if (w->slen + n > STAGE_LEN) w_flush(w);
  memcpy(w->stage + w->slen, p, n);
  w->slen += n;
}

static void put_u8(wr_t *w, uint8_t v) { emit(w, &v, 1); }
static void put_u32(wr_t *w, uint32_t v) { uint8_t b[4]; st32(b, v); emit(w, b, 4); }
static void put_u64(wr_t *w, uint64_t v) { uint8_t b[8]; st64(b, v); emit(w, b, 8); }
static void put_str(wr_t *w, const char *s) {
  size_t n = s ? strlen(s) : 0; /* check_model bounded it by 4 GiB */
  put_u32(w, (uint32_t)n);
  emit(w, s, n);
}
/* A char array: its string, then zeros to the full width (canonical, and no
 * stale bytes from the process leak into the image). */
static void put_fixed(wr_t *w, const char *a, size_t width) {
  static const uint8_t zeros[160];
  size_t n = strnlen(a, width);
  emit(w, a, n);
  emit(w, zeros, width - n);
}
static void put_zeros(wr_t *w, size_t n) {
  static const uint8_t zeros[8];
  emit(w, zeros, n);
}

static void sec_meta(wr_t *w, const moj_img_t *m) {
  const moj_img_meta_t *mt = &m->meta;
  put_u32(w, mt->mode);
  put_fixed(w, mt->arch, sizeof mt->arch);
  put_fixed(w, mt->datalayout, sizeof mt->datalayout);
  const moj_img_abi_t *a = &mt->abi;
  const uint8_t abi[8] = {a->ptr_bytes, a->big_endian, a->char_signed, a->long_double,
                          a->va_list, a->heap_align_log2, a->max_align_log2, 0};
  emit(w, abi, sizeof abi);
  emit(w, mt->exe_hash, 32);
  emit(w, mt->bc_hash, 32);
  put_str(w, mt->exe_path);
  put_str(w, mt->cwd);
  put_u32(w, mt->argc);
  for (uint32_t i = 0; i < mt->argc; i++) put_str(w, mt->argv[i]);
  put_u32(w, mt->envc);
  for (uint32_t i = 0; i < mt->envc; i++) put_str(w, mt->envp[i]);
  put_u32(w, mt->nrlimits);
  for (uint32_t i = 0; i < mt->nrlimits; i++) {
    put_u32(w, mt->rlimits[i].resource);
    put_u64(w, mt->rlimits[i].cur);
    put_u64(w, mt->rlimits[i].max);
  }
  put_fixed(w, mt->src_host, sizeof mt->src_host);
  put_u64(w, mt->src_pid);
  put_u64(w, mt->time_ns);
  put_u32(w, mt->hops);
}

static void sec_syms(wr_t *w, const moj_img_t *m) {
  put_u32(w, m->nsyms);
  for (uint32_t i = 0; i < m->nsyms; i++) put_str(w, m->syms[i]);
}

static void sec_table(wr_t *w, const moj_img_t *m) {
  put_u32(w, m->table_top);
  put_u32(w, m->nobjs);
  for (uint32_t i = 0; i < m->nobjs; i++) {
    put_u32(w, m->objs[i].index);
    put_u32(w, m->objs[i].size);
    put_u8(w, m->objs[i].align_log2);
    put_zeros(w, 3);
  }
}

static void sec_heap(wr_t *w, const moj_img_t *m) {
  put_u32(w, m->nobjs);
  for (uint32_t i = 0; i < m->nobjs; i++) emit(w, m->objs[i].data, m->objs[i].size);
}

static void sec_globals(wr_t *w, const moj_img_t *m) {
  put_u32(w, m->nglobals);
  for (uint32_t i = 0; i < m->nglobals; i++) {
    put_str(w, m->globals[i].name);
    put_u64(w, m->globals[i].size);
    emit(w, m->globals[i].data, m->globals[i].size);
  }
}

static void sec_frames(wr_t *w, const moj_img_t *m) {
  put_u32(w, m->nframes);
  for (uint32_t i = 0; i < m->nframes; i++) {
    const moj_img_frame_t *f = &m->frames[i];
    put_str(w, f->func);
    put_u32(w, f->site);
    put_u32(w, f->nslots);
    for (uint32_t j = 0; j < f->nslots; j++) {
      put_u8(w, f->slots[j].type);
      put_zeros(w, 3);
      put_u32(w, f->slots[j].size);
      emit(w, f->slots[j].data, f->slots[j].size);
    }
    put_u32(w, f->nallocas);
    for (uint32_t j = 0; j < f->nallocas; j++) {
      put_u32(w, f->allocas[j].size);
      put_u32(w, f->allocas[j].align);
      emit(w, f->allocas[j].data, f->allocas[j].size);
    }
  }
}

static void sec_relocs(wr_t *w, const moj_img_t *m) {
  put_u32(w, m->nrelocs);
  for (uint32_t i = 0; i < m->nrelocs; i++) {
    const moj_img_reloc_t *r = &m->relocs[i];
    put_u8(w, r->where);
    put_u8(w, r->target);
    put_zeros(w, 2);
    put_u32(w, r->where_id);
    put_u32(w, r->where_sub);
    put_u64(w, r->where_off);
    put_u32(w, r->tid);
    put_u32(w, r->tsub);
    put_u64(w, (uint64_t)r->toff);
  }
}

static void sec_files(wr_t *w, const moj_img_t *m) {
  put_u32(w, m->nfiles);
  for (uint32_t i = 0; i < m->nfiles; i++) {
    const moj_img_file_t *f = &m->files[i];
    put_u32(w, (uint32_t)f->fd);
    put_u32(w, f->kind);
    put_u32(w, (uint32_t)f->flags);
    put_u32(w, (uint32_t)f->fd_flags);
    put_u64(w, f->offset);
    put_str(w, f->path);
  }
}

static void sec_dsm(wr_t *w, const moj_img_t *m) {
  put_u32(w, m->nshm);
  for (uint32_t i = 0; i < m->nshm; i++) {
    const moj_img_shm_t *s = &m->shm[i];
    put_u32(w, (uint32_t)s->shmid);
    put_u32(w, (uint32_t)s->key);
    put_u32(w, (uint32_t)s->shmflg);
    put_u64(w, s->addr);
    put_u64(w, s->size);
  }
  put_u32(w, m->nsemundo);
  for (uint32_t i = 0; i < m->nsemundo; i++) {
    uint8_t b[8];
    st32(b, (uint32_t)m->semundo[i].semid);
    b[4] = (uint8_t)m->semundo[i].num; b[5] = (uint8_t)(m->semundo[i].num >> 8);
    uint16_t adj = (uint16_t)m->semundo[i].adj;
    b[6] = (uint8_t)adj; b[7] = (uint8_t)(adj >> 8);
    emit(w, b, 8);
  }
}

static void sec_stdio(wr_t *w, const moj_img_t *m) {
  put_u64(w, m->stdio.stdin_len);
  emit(w, m->stdio.stdin_data, m->stdio.stdin_len);
  put_u64(w, m->stdio.out_len);
  emit(w, m->stdio.out_data, m->stdio.out_len);
  put_u64(w, m->stdio.err_len);
  emit(w, m->stdio.err_data, m->stdio.err_len);
}

static void (*const sec_writers[NSEC + 1])(wr_t *, const moj_img_t *) = {
  NULL, sec_meta, sec_syms, sec_table, sec_heap, sec_globals, sec_frames, sec_relocs, sec_files, sec_dsm, sec_stdio,
};

/* The whole raw payload: each section's length comes from a counting pass over
 * that section alone (headers only: data is counted, not read). */
static void write_payload(wr_t *w, const moj_img_t *m) {
  for (uint32_t t = 1; t <= NSEC; t++) {
    wr_t c = {0};
    sec_writers[t](&c, m);
    put_u32(w, t);
    put_u32(w, 0);
    put_u64(w, c.n);
    sec_writers[t](w, m);
  }
}

/* Compresses the payload (raw_len bytes, known) behind a header-sized gap.
 * 0, or -1 with w->zerr / w->oom set. */
static int compress_payload(wr_t *w, const moj_img_t *m, int level, uint64_t raw_len, int workers) {
  w->cc = ZSTD_createCCtx();
  if (!w->cc) { w->oom = 1; return -1; }
  size_t r = ZSTD_CCtx_setParameter(w->cc, ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(w->cc, ZSTD_c_contentSizeFlag, 1);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setPledgedSrcSize(w->cc, raw_len);
  if (!ZSTD_isError(r) && workers > 0) r = ZSTD_CCtx_setParameter(w->cc, ZSTD_c_nbWorkers, workers);
  if (ZSTD_isError(r)) { w->zerr = r; return -1; }
  w->n = 0;
  w->slen = 0;
  w->ob.dst = w->out + HDR_LEN;
  w->ob.size = w->cap - HDR_LEN;
  w->ob.pos = 0;
  write_payload(w, m);
  w_flush(w);
  w_feed(w, NULL, 0, ZSTD_e_end);
  return w->zerr || w->oom ? -1 : 0;
}

/* zstd's worker threads pay off only on large payloads; MOJAVE_IMAGE_THREADS
 * overrides (0 = compress on the calling thread). */
static int encode_workers(uint64_t raw_len) {
  const char *e = getenv("MOJAVE_IMAGE_THREADS");
  if (e && *e) {
    long v = strtol(e, NULL, 10);
    return v < 0 ? 0 : v > 64 ? 64 : (int)v;
  }
  if (raw_len < (8u << 20)) return 0;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 2 ? 0 : n > 4 ? 4 : (int)n;
}

int moj_img_encode(const moj_img_t *img, int level, void **out, size_t *outlen, char *err, size_t errlen) {
  if (out) *out = NULL;
  if (outlen) *outlen = 0;
  if (!img || !out || !outlen) return fail(err, errlen, "NULL argument");
  if (level == 0) level = 1;
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
    return fail(err, errlen, "zstd level %d out of range (%d..%d)", level, ZSTD_minCLevel(), ZSTD_maxCLevel());
  if (check_model(img, err, errlen)) return -1;
  wr_t count = {0};
  write_payload(&count, img);
  uint64_t raw_len = count.n;
  if (raw_len > MAX_RAW)
    return fail(err, errlen, "image of %llu raw bytes exceeds the 64 GiB limit", (unsigned long long)raw_len);

  wr_t w = {0};
  w.cap = ZSTD_compressBound((size_t)raw_len) + HDR_LEN;
  w.out = malloc(w.cap);
  w.stage = malloc(STAGE_LEN);
  int workers = encode_workers(raw_len), rc = -1;
  if (w.out && w.stage) {
    rc = compress_payload(&w, img, level, raw_len, workers);
    if (rc && workers > 0 && !w.oom) {
      /* Threads may be refused (e.g. inside a speculation): compress on this one. */
      ZSTD_freeCCtx(w.cc);
      w.cc = NULL;
      w.zerr = 0;
      rc = compress_payload(&w, img, level, raw_len, 0);
    }
  }
  ZSTD_freeCCtx(w.cc);
  free(w.stage);
  if (rc || !w.out) {
    free(w.out);
    if (w.zerr) return fail(err, errlen, "zstd: %s", ZSTD_getErrorName(w.zerr));
    return fail(err, errlen, "out of memory (image of %llu raw bytes)", (unsigned long long)raw_len);
  }
  if (w.n != raw_len) { /* the process changed the model while we read it */
    free(w.out);
    return fail(err, errlen, "model changed during encoding (%llu then %llu raw bytes)",
                (unsigned long long)raw_len, (unsigned long long)w.n);
  }
  size_t zlen = w.ob.pos;
  uint8_t *h = w.out;
  memcpy(h, MOJ_IMG_MAGIC, 8);
  st32(h + 8, MOJ_IMG_VERSION);
  st32(h + 12, 0);
  st64(h + 16, raw_len);
  st64(h + 24, zlen);
  _moj_sha256(h + HDR_LEN, zlen, h + 32);
  size_t total = HDR_LEN + zlen;
  if (total < w.cap / 2) { /* give back a mostly unused bound (compressible heaps) */
    uint8_t *o = realloc(w.out, total);
    if (o) w.out = o;
  }
  *out = w.out;
  *outlen = total;
  return 0;
}
