/* migrate/image.c — the checkpoint image: encoder (model -> header + one zstd
 * frame of sections) and the validating decoder (untrusted bytes -> model).
 * Contract: image.h.  Byte layout and validation rules: docs/migration.md,
 * "Image format".
 *
 * Two layers of checks, shared by both directions:
 *   - wire structure (decoder only): header, checksum, zstd frame, section
 *     order, counts against remaining bytes, strings, reserved bytes — every
 *     byte of the payload is accounted for and the encoding is canonical
 *     (decode then encode gives back the same raw payload);
 *   - model semantics (check_model, run by the encoder on its input and by the
 *     decoder on what it built): slot sizes, alignments, table indices,
 *     relocation cross-references, names.  So an image the encoder writes
 *     always decodes, and the decoder never returns what the encoder refuses.
 *
 * Cost on the migration path: the encoder never copies the heap; it walks the
 * model once to size it (headers only), then streams every object's bytes
 * straight from the process into zstd.  The decoder decompresses once into a
 * buffer the model's data pointers point into; only strings are copied (they
 * gain a NUL). */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader: bound the raw size by the input */
#include "image.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "proto.h" /* mj_sha256 */

#define HDR_LEN 64u
#define SEC_HDR_LEN 16u
#define NSEC 10u
#define MAX_RAW (64ull << 30)
#define MAX_SLOT_BYTES (1u << 20)
#define MAX_ALLOCA_ALIGN 4096u
#define MAX_ALIGN_LOG2 12u
#define NRLIMITS 16u /* Linux RLIM_NLIMITS: resources 0..15 */
#define RELOC_LEN 36u

static const char *const sec_names[NSEC + 1] = {
  "?", "META", "SYMS", "TABLE", "HEAP", "GLOBALS", "FRAMES", "RELOCS", "FILES", "DSM", "STDIO",
};
static const char *const slot_names[] = {
  "?", "I1", "I8", "I16", "I32", "I64", "F32", "F64", "F80", "PTR", "BYTES",
};
/* Fixed sizes per slot type; BYTES (0 here) is any size up to MAX_SLOT_BYTES. */
static const uint32_t slot_sizes[] = {0, 1, 1, 2, 4, 8, 4, 8, 16, 8, 0};

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static inline uint32_t ld32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t ld64(const uint8_t *p) { return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32; }
static inline void st32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void st64(uint8_t *p, uint64_t v) { st32(p, (uint32_t)v); st32(p + 4, (uint32_t)(v >> 32)); }

/* ======================================================================
 * Model semantics (both directions)
 * ====================================================================== */

enum { S_NULL_OK = 1, S_NONEMPTY = 2, S_ABS = 4, S_ABS_OR_EMPTY = 8 };

/* One string field; the context is formatted only when there is an error. */
static int chk_str(char *err, size_t errlen, const char *s, int rules, const char *ctx, ...)
  __attribute__((format(printf, 5, 6)));
static int chk_str(char *err, size_t errlen, const char *s, int rules, const char *ctx, ...) {
  const char *why = NULL;
  if (!s) {
    if (!(rules & S_NULL_OK)) why = "is NULL";
  } else {
    size_t n = strlen(s);
    if (n > UINT32_MAX) why = "is longer than 4 GiB";
    else if ((rules & S_NONEMPTY) && n == 0) why = "is empty";
    else if ((rules & S_ABS) && s[0] != '/') why = "is not an absolute path";
    else if ((rules & S_ABS_OR_EMPTY) && n && s[0] != '/') why = "is neither empty nor an absolute path";
  }
  if (!why) return 0;
  char c[160];
  va_list ap;
  va_start(ap, ctx);
  vsnprintf(c, sizeof c, ctx, ap);
  va_end(ap);
  return fail(err, errlen, "%s %s", c, why);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}
static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* Names must be unique (globals are restored by name; a repeated sym is a
 * producer bug).  Sorting a copy of the pointers: O(n log n), n is bounded by
 * the input.  Returns 0, or -1 with the reason. */
static int chk_unique_names(char *err, size_t errlen, const char *sec, const char *what, uint32_t n,
                            const void *base, size_t stride, size_t name_off) {
  if (n < 2) return 0;
  const char **v = malloc((size_t)n * sizeof *v);
  if (!v) return fail(err, errlen, "out of memory checking %s names", what);
  for (uint32_t i = 0; i < n; i++)
    v[i] = *(const char *const *)((const char *)base + (size_t)i * stride + name_off);
  qsort(v, n, sizeof *v, cmp_str);
  int rc = 0;
  for (uint32_t i = 1; i < n && !rc; i++)
    if (strcmp(v[i - 1], v[i]) == 0) {
      char shown[64];
      snprintf(shown, sizeof shown, "%s", v[i]);
      rc = fail(err, errlen, "section %s: %s name \"%s\" appears twice", sec, what, shown);
    }
  free(v);
  return rc;
}

static int chk_fixed(char *err, size_t errlen, const char *a, size_t n, const char *name) {
  if (!memchr(a, 0, n)) return fail(err, errlen, "section META: %s not NUL-terminated within its %zu bytes", name, n);
  return 0;
}

static int cmp_obj_index(const void *key, const void *elem) {
  uint32_t k = *(const uint32_t *)key, i = ((const moj_img_obj_t *)elem)->index;
  return (k > i) - (k < i);
}

static const char *where_name(unsigned w) {
  static const char *const n[] = {"?", "HEAP", "GLOBAL", "ALLOCA", "SLOT"};
  return w <= 4 ? n[w] : "?";
}

/* Size of the object a relocation patches, or -1 with the reason. */
static int reloc_where_size(const moj_img_t *m, uint32_t i, const moj_img_reloc_t *r, uint64_t *size,
                            char *err, size_t errlen) {
  switch (r->where) {
  case MOJ_AT_HEAP: {
    const moj_img_obj_t *o = m->nobjs ? bsearch(&r->where_id, m->objs, m->nobjs, sizeof *o, cmp_obj_index) : NULL;
    if (!o) return fail(err, errlen, "section RELOCS: reloc %u: HEAP object #%u does not exist", i, r->where_id);
    if (r->where_sub) return fail(err, errlen, "section RELOCS: reloc %u: where_sub %u must be 0 for HEAP", i, r->where_sub);
    *size = o->size;
    return 0;
  }
  case MOJ_AT_GLOBAL:
    if (r->where_id >= m->nglobals)
      return fail(err, errlen, "section RELOCS: reloc %u: GLOBAL %u out of range (%u globals)", i, r->where_id, m->nglobals);
    if (r->where_sub) return fail(err, errlen, "section RELOCS: reloc %u: where_sub %u must be 0 for GLOBAL", i, r->where_sub);
    *size = m->globals[r->where_id].size;
    return 0;
  case MOJ_AT_ALLOCA:
  case MOJ_AT_SLOT: {
    if (r->where_id >= m->nframes)
      return fail(err, errlen, "section RELOCS: reloc %u: %s frame %u out of range (%u frames)", i,
                  where_name(r->where), r->where_id, m->nframes);
    const moj_img_frame_t *f = &m->frames[r->where_id];
    uint32_t n = r->where == MOJ_AT_ALLOCA ? f->nallocas : f->nslots;
    if (r->where_sub >= n)
      return fail(err, errlen, "section RELOCS: reloc %u: frame %u %s %u out of range (%u)", i, r->where_id,
                  r->where == MOJ_AT_ALLOCA ? "alloca" : "slot", r->where_sub, n);
    *size = r->where == MOJ_AT_ALLOCA ? f->allocas[r->where_sub].size : f->slots[r->where_sub].size;
    return 0;
  }
  default:
    return fail(err, errlen, "section RELOCS: reloc %u: where %u unknown", i, r->where);
  }
}

static int chk_relocs(const moj_img_t *m, char *err, size_t errlen) {
  if (m->nrelocs && !m->relocs) return fail(err, errlen, "section RELOCS: relocs NULL with count %u", m->nrelocs);
  for (uint32_t i = 0; i < m->nrelocs; i++) {
    const moj_img_reloc_t *r = &m->relocs[i];
    uint64_t wsize = 0;
    if (reloc_where_size(m, i, r, &wsize, err, errlen)) return -1;
    if (wsize < 8 || r->where_off > wsize - 8)
      return fail(err, errlen, "section RELOCS: reloc %u: where_off %llu + 8 exceeds size %llu of the %s word's object",
                  i, (unsigned long long)r->where_off, (unsigned long long)wsize, where_name(r->where));
    switch (r->target) {
    case MOJ_TO_SYM:
      if (r->tid >= m->nsyms)
        return fail(err, errlen, "section RELOCS: reloc %u: SYM %u out of range (%u syms)", i, r->tid, m->nsyms);
      if (r->tsub) return fail(err, errlen, "section RELOCS: reloc %u: tsub %u must be 0 for SYM", i, r->tsub);
      break;
    case MOJ_TO_STACK: {
      if (r->tid >= m->nframes)
        return fail(err, errlen, "section RELOCS: reloc %u: STACK frame %u out of range (%u frames)", i, r->tid, m->nframes);
      const moj_img_frame_t *f = &m->frames[r->tid];
      if (r->tsub >= f->nallocas)
        return fail(err, errlen, "section RELOCS: reloc %u: STACK frame %u alloca %u out of range (%u)", i, r->tid,
                    r->tsub, f->nallocas);
      if (r->toff < 0 || (uint64_t)r->toff > f->allocas[r->tsub].size)
        return fail(err, errlen, "section RELOCS: reloc %u: toff %lld outside STACK frame %u alloca %u (size %u)", i,
                    (long long)r->toff, r->tid, r->tsub, f->allocas[r->tsub].size);
      break;
    }
    case MOJ_TO_HEAP: {
      /* a raw address inside a heap object: the object must travel too */
      uint32_t lo = 0, hi = m->nobjs;
      while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (m->objs[mid].index < r->tid) lo = mid + 1; else hi = mid;
      }
      if (lo == m->nobjs || m->objs[lo].index != r->tid)
        return fail(err, errlen, "section RELOCS: reloc %u: HEAP object #%u not in the image", i, r->tid);
      if (r->tsub) return fail(err, errlen, "section RELOCS: reloc %u: tsub %u must be 0 for HEAP", i, r->tsub);
      if (r->toff < 0 || (uint64_t)r->toff > m->objs[lo].size)
        return fail(err, errlen, "section RELOCS: reloc %u: toff %lld outside HEAP object #%u (size %u)", i,
                    (long long)r->toff, r->tid, m->objs[lo].size);
      break;
    }
    case MOJ_TO_FILE: /* the stdio stream of a FILES record (a FILE is < 4 KiB) */
      if (r->tid >= m->nfiles)
        return fail(err, errlen, "section RELOCS: reloc %u: FILE %u out of range (%u files)", i, r->tid, m->nfiles);
      if (r->tsub) return fail(err, errlen, "section RELOCS: reloc %u: tsub %u must be 0 for FILE", i, r->tsub);
      if (r->toff < 0 || r->toff >= 4096)
        return fail(err, errlen, "section RELOCS: reloc %u: toff %lld outside a stream object", i, (long long)r->toff);
      break;
    default:
      return fail(err, errlen, "section RELOCS: reloc %u: target %u unknown", i, r->target);
    }
  }
  return 0;
}

static int chk_meta(const moj_img_meta_t *mt, char *err, size_t errlen) {
  if (mt->mode != MOJ_IMG_BINARY && mt->mode != MOJ_IMG_IR)
    return fail(err, errlen, "section META: mode %u unknown (1 binary, 2 IR)", mt->mode);
  if (chk_fixed(err, errlen, mt->arch, sizeof mt->arch, "arch") ||
      chk_fixed(err, errlen, mt->datalayout, sizeof mt->datalayout, "datalayout") ||
      chk_fixed(err, errlen, mt->src_host, sizeof mt->src_host, "src_host"))
    return -1;
  if (chk_str(err, errlen, mt->exe_path, S_NULL_OK | S_ABS_OR_EMPTY, "section META: exe_path") ||
      chk_str(err, errlen, mt->cwd, S_NULL_OK | S_ABS_OR_EMPTY, "section META: cwd"))
    return -1;
  if (mt->argc && !mt->argv) return fail(err, errlen, "section META: argv NULL with argc %u", mt->argc);
  if (mt->envc && !mt->envp) return fail(err, errlen, "section META: envp NULL with envc %u", mt->envc);
  for (uint32_t i = 0; i < mt->argc; i++)
    if (chk_str(err, errlen, mt->argv[i], 0, "section META: argv[%u]", i)) return -1;
  for (uint32_t i = 0; i < mt->envc; i++)
    if (chk_str(err, errlen, mt->envp[i], 0, "section META: envp[%u]", i)) return -1;
  if (mt->nrlimits && !mt->rlimits) return fail(err, errlen, "section META: rlimits NULL with count %u", mt->nrlimits);
  uint32_t seen = 0;
  for (uint32_t i = 0; i < mt->nrlimits; i++) {
    const moj_img_rlimit_t *l = &mt->rlimits[i];
    if (l->resource >= NRLIMITS)
      return fail(err, errlen, "section META: rlimit %u: resource %u unknown (0..%u)", i, l->resource, NRLIMITS - 1);
    if (seen & (1u << l->resource))
      return fail(err, errlen, "section META: rlimit %u: resource %u appears twice", i, l->resource);
    seen |= 1u << l->resource;
    if (l->cur > l->max)
      return fail(err, errlen, "section META: rlimit %u: cur %llu above max %llu", i, (unsigned long long)l->cur,
                  (unsigned long long)l->max);
  }
  return 0;
}

static int chk_frames(const moj_img_t *m, char *err, size_t errlen) {
  if (m->nframes && !m->frames) return fail(err, errlen, "section FRAMES: frames NULL with count %u", m->nframes);
  for (uint32_t i = 0; i < m->nframes; i++) {
    const moj_img_frame_t *f = &m->frames[i];
    if (chk_str(err, errlen, f->func, S_NONEMPTY, "section FRAMES: frame %u: func", i)) return -1;
    if (f->nslots && !f->slots) return fail(err, errlen, "section FRAMES: frame %u: slots NULL with count %u", i, f->nslots);
    if (f->nallocas && !f->allocas)
      return fail(err, errlen, "section FRAMES: frame %u: allocas NULL with count %u", i, f->nallocas);
    for (uint32_t j = 0; j < f->nslots; j++) {
      const moj_img_slot_t *s = &f->slots[j];
      if (s->type < MOJ_SLOT_I1 || s->type > MOJ_SLOT_BYTES)
        return fail(err, errlen, "section FRAMES: frame %u slot %u: type %u unknown", i, j, s->type);
      if (s->type == MOJ_SLOT_BYTES ? s->size > MAX_SLOT_BYTES : s->size != slot_sizes[s->type])
        return fail(err, errlen, "section FRAMES: frame %u slot %u: size %u for %s", i, j, s->size, slot_names[s->type]);
      if (s->size && !s->data) return fail(err, errlen, "section FRAMES: frame %u slot %u: data NULL", i, j);
    }
    for (uint32_t j = 0; j < f->nallocas; j++) {
      const moj_img_alloca_t *a = &f->allocas[j];
      if (a->align == 0 || (a->align & (a->align - 1)) || a->align > MAX_ALLOCA_ALIGN)
        return fail(err, errlen, "section FRAMES: frame %u alloca %u: align %u not a power of two <= %u", i, j,
                    a->align, MAX_ALLOCA_ALIGN);
      if (a->size && !a->data) return fail(err, errlen, "section FRAMES: frame %u alloca %u: data NULL", i, j);
    }
  }
  return 0;
}

static int chk_table(const moj_img_t *m, char *err, size_t errlen) {
  if (m->table_top < 1) return fail(err, errlen, "section TABLE: table_top 0 (must be >= 1)");
  if (m->nobjs && !m->objs) return fail(err, errlen, "section TABLE: objs NULL with count %u", m->nobjs);
  uint32_t prev = 0;
  for (uint32_t i = 0; i < m->nobjs; i++) {
    const moj_img_obj_t *o = &m->objs[i];
    if (o->index <= prev)
      return fail(err, errlen, "section TABLE: object %u: index %u not above the previous (%u)", i, o->index, prev);
    if (o->index >= m->table_top)
      return fail(err, errlen, "section TABLE: object %u: index %u not below table_top %u", i, o->index, m->table_top);
    if (o->align_log2 > MAX_ALIGN_LOG2)
      return fail(err, errlen, "section TABLE: object %u (#%u): align_log2 %u > %u", i, o->index, o->align_log2, MAX_ALIGN_LOG2);
    if (o->size && !o->data) return fail(err, errlen, "section HEAP: object %u (#%u): data NULL", i, o->index);
    prev = o->index;
  }
  return 0;
}

static int chk_rest(const moj_img_t *m, char *err, size_t errlen) {
  if (m->nglobals && !m->globals) return fail(err, errlen, "section GLOBALS: globals NULL with count %u", m->nglobals);
  for (uint32_t i = 0; i < m->nglobals; i++) {
    if (chk_str(err, errlen, m->globals[i].name, S_NONEMPTY, "section GLOBALS: global %u: name", i)) return -1;
    if (m->globals[i].size && !m->globals[i].data) return fail(err, errlen, "section GLOBALS: global %u: data NULL", i);
  }
  if (chk_unique_names(err, errlen, "GLOBALS", "global", m->nglobals, m->globals, sizeof *m->globals,
                       offsetof(moj_img_global_t, name)))
    return -1;
  if (m->nfiles && !m->files) return fail(err, errlen, "section FILES: files NULL with count %u", m->nfiles);
  for (uint32_t i = 0; i < m->nfiles; i++) {
    const moj_img_file_t *f = &m->files[i];
    if (f->fd < 0) return fail(err, errlen, "section FILES: file %u: fd %d negative", i, f->fd);
    if (f->kind != MOJ_FILE_REGULAR && f->kind != MOJ_FILE_STDIO)
      return fail(err, errlen, "section FILES: file %u: kind %u unknown (1 regular, 2 stdio)", i, f->kind);
    if (chk_str(err, errlen, f->path, f->kind == MOJ_FILE_REGULAR ? S_ABS : 0, "section FILES: file %u: path", i))
      return -1;
  }
  if (m->nfiles > 1) {
    int32_t *fds = malloc((size_t)m->nfiles * sizeof *fds);
    if (!fds) return fail(err, errlen, "out of memory checking file descriptors");
    for (uint32_t i = 0; i < m->nfiles; i++) fds[i] = m->files[i].fd;
    qsort(fds, m->nfiles, sizeof *fds, cmp_i32);
    int32_t dup = -1;
    for (uint32_t i = 1; i < m->nfiles && dup < 0; i++)
      if (fds[i] == fds[i - 1]) dup = fds[i];
    free(fds);
    if (dup >= 0) return fail(err, errlen, "section FILES: fd %d appears twice", dup);
  }
  if (m->nshm && !m->shm) return fail(err, errlen, "section DSM: shm NULL with count %u", m->nshm);
  for (uint32_t i = 0; i < m->nshm; i++) {
    const moj_img_shm_t *s = &m->shm[i];
    if (s->shmid < 0) return fail(err, errlen, "section DSM: shm %u: shmid %d negative", i, s->shmid);
    if (s->size == 0) return fail(err, errlen, "section DSM: shm %u: size 0", i);
    if (s->addr == 0 || s->addr % 4096)
      return fail(err, errlen, "section DSM: shm %u: addr 0x%llx not a non-zero multiple of 4096", i,
                  (unsigned long long)s->addr);
  }
  if (m->nsemundo && !m->semundo) return fail(err, errlen, "section DSM: semundo NULL with count %u", m->nsemundo);
  for (uint32_t i = 0; i < m->nsemundo; i++)
    if (m->semundo[i].semid < 0)
      return fail(err, errlen, "section DSM: semundo %u: semid %d negative", i, m->semundo[i].semid);
  const moj_img_stdio_t *io = &m->stdio;
  if ((io->stdin_len && !io->stdin_data) || (io->out_len && !io->out_data) || (io->err_len && !io->err_data))
    return fail(err, errlen, "section STDIO: data NULL with a non-zero length");
  return 0;
}

/* Everything the format promises about a model beyond its wire encoding. */
static int check_model(const moj_img_t *m, char *err, size_t errlen) {
  if (chk_meta(&m->meta, err, errlen)) return -1;
  if (m->nsyms && !m->syms) return fail(err, errlen, "section SYMS: syms NULL with count %u", m->nsyms);
  for (uint32_t i = 0; i < m->nsyms; i++)
    if (chk_str(err, errlen, m->syms[i], S_NONEMPTY, "section SYMS: sym %u", i)) return -1;
  if (chk_unique_names(err, errlen, "SYMS", "sym", m->nsyms, m->syms, sizeof *m->syms, 0)) return -1;
  if (chk_table(m, err, errlen) || chk_frames(m, err, errlen) || chk_rest(m, err, errlen)) return -1;
  return chk_relocs(m, err, errlen);
}

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
  mj_sha256(h + HDR_LEN, zlen, h + 32);
  size_t total = HDR_LEN + zlen;
  if (total < w.cap / 2) { /* give back a mostly unused bound (compressible heaps) */
    uint8_t *o = realloc(w.out, total);
    if (o) w.out = o;
  }
  *out = w.out;
  *outlen = total;
  return 0;
}

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
  mj_sha256(z, (size_t)zlen, sum);
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

/* ======================================================================
 * Text dump
 * ====================================================================== */

/* Quoted, with anything that could drive a terminal escaped: the strings come
 * from an untrusted image. */
static void pstr(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p == '\n') fputs("\\n", f);
    else if (*p == '\t') fputs("\\t", f);
    else if (*p < 0x20 || *p >= 0x7f) fprintf(f, "\\x%02x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

static void pfixed(FILE *f, const char *a, size_t width) {
  char tmp[161];
  size_t n = strnlen(a, width < sizeof tmp - 1 ? width : sizeof tmp - 1);
  memcpy(tmp, a, n);
  tmp[n] = 0;
  pstr(f, tmp);
}

static void phex(FILE *f, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) fprintf(f, "%02x", p[i]);
}

#define SUMMARY_BYTES 16
/* "N bytes [first bytes...]", or with show_bytes a full hex dump on the
 * following lines (offset, 16 bytes, printable ASCII). */
static void pbytes(FILE *f, const uint8_t *p, uint64_t n, int show) {
  fprintf(f, "%llu bytes", (unsigned long long)n);
  if (!n || !p) { fputc('\n', f); return; }
  if (!show) {
    size_t k = n < SUMMARY_BYTES ? (size_t)n : SUMMARY_BYTES;
    fputs(" [", f);
    for (size_t i = 0; i < k; i++) fprintf(f, i ? " %02x" : "%02x", p[i]);
    fputs(n > k ? " ...]\n" : "]\n", f);
    return;
  }
  fputc('\n', f);
  for (uint64_t off = 0; off < n; off += 16) {
    size_t k = n - off < 16 ? (size_t)(n - off) : 16;
    fprintf(f, "    %08llx ", (unsigned long long)off);
    for (size_t i = 0; i < 16; i++) {
      if (i < k) fprintf(f, " %02x", p[off + i]);
      else fputs("   ", f);
    }
    fputs("  |", f);
    for (size_t i = 0; i < k; i++) fputc(p[off + i] >= 0x20 && p[off + i] < 0x7f ? p[off + i] : '.', f);
    fputs("|\n", f);
  }
}

static const char *rlimit_name(uint32_t r) {
  static const char *const n[NRLIMITS] = {"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
                                          "MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"};
  return r < NRLIMITS ? n[r] : "?";
}

static void print_meta(FILE *f, const moj_img_t *m) {
  const moj_img_meta_t *mt = &m->meta;
  fprintf(f, "META mode=%s arch=", mt->mode == MOJ_IMG_BINARY ? "binary" : mt->mode == MOJ_IMG_IR ? "ir" : "?");
  pfixed(f, mt->arch, sizeof mt->arch);
  fputs(" datalayout=", f);
  pfixed(f, mt->datalayout, sizeof mt->datalayout);
  fputs("\nMETA exe_path=", f);
  pstr(f, mt->exe_path);
  fputs(" cwd=", f);
  pstr(f, mt->cwd);
  fputs("\nMETA exe_hash=", f);
  phex(f, mt->exe_hash, 32);
  fputs(" bc_hash=", f);
  phex(f, mt->bc_hash, 32);
  fputs("\nMETA src_host=", f);
  pfixed(f, mt->src_host, sizeof mt->src_host);
  fprintf(f, " src_pid=%llu time_ns=%llu hops=%u argc=%u envc=%u rlimits=%u\n", (unsigned long long)mt->src_pid,
          (unsigned long long)mt->time_ns, mt->hops, mt->argc, mt->envc, mt->nrlimits);
  for (uint32_t i = 0; i < mt->argc && mt->argv; i++) {
    fprintf(f, "META argv[%u]=", i);
    pstr(f, mt->argv[i]);
    fputc('\n', f);
  }
  for (uint32_t i = 0; i < mt->envc && mt->envp; i++) {
    fprintf(f, "META envp[%u]=", i);
    pstr(f, mt->envp[i]);
    fputc('\n', f);
  }
  for (uint32_t i = 0; i < mt->nrlimits && mt->rlimits; i++)
    fprintf(f, "META rlimit[%u] resource=%u (%s) cur=%llu max=%llu\n", i, mt->rlimits[i].resource,
            rlimit_name(mt->rlimits[i].resource), (unsigned long long)mt->rlimits[i].cur,
            (unsigned long long)mt->rlimits[i].max);
}

static void print_frames(FILE *f, const moj_img_t *m, int show) {
  fprintf(f, "FRAMES count=%u\n", m->nframes);
  for (uint32_t i = 0; i < m->nframes && m->frames; i++) {
    const moj_img_frame_t *fr = &m->frames[i];
    fprintf(f, "FRAMES [%u] func=", i);
    pstr(f, fr->func);
    fprintf(f, " site=%u slots=%u allocas=%u\n", fr->site, fr->nslots, fr->nallocas);
    for (uint32_t j = 0; j < fr->nslots && fr->slots; j++) {
      const moj_img_slot_t *s = &fr->slots[j];
      fprintf(f, "FRAMES [%u] slot[%u] %s data=", i, j, s->type <= MOJ_SLOT_BYTES ? slot_names[s->type] : "?");
      pbytes(f, s->data, s->size, show);
    }
    for (uint32_t j = 0; j < fr->nallocas && fr->allocas; j++) {
      const moj_img_alloca_t *a = &fr->allocas[j];
      fprintf(f, "FRAMES [%u] alloca[%u] align=%u data=", i, j, a->align);
      pbytes(f, a->data, a->size, show);
    }
  }
}

static void print_relocs(FILE *f, const moj_img_t *m) {
  fprintf(f, "RELOCS count=%u\n", m->nrelocs);
  for (uint32_t i = 0; i < m->nrelocs && m->relocs; i++) {
    const moj_img_reloc_t *r = &m->relocs[i];
    fprintf(f, "RELOCS [%u] at %s ", i, where_name(r->where));
    if (r->where == MOJ_AT_HEAP) fprintf(f, "#%u", r->where_id);
    else if (r->where == MOJ_AT_GLOBAL) fprintf(f, "%u", r->where_id);
    else fprintf(f, "frame %u %s %u", r->where_id, r->where == MOJ_AT_SLOT ? "slot" : "alloca", r->where_sub);
    fprintf(f, " +%llu -> ", (unsigned long long)r->where_off);
    if (r->target == MOJ_TO_SYM) {
      fprintf(f, "SYM %u ", r->tid);
      pstr(f, r->tid < m->nsyms && m->syms ? m->syms[r->tid] : "?");
    } else if (r->target == MOJ_TO_STACK) {
      fprintf(f, "STACK frame %u alloca %u", r->tid, r->tsub);
    } else if (r->target == MOJ_TO_HEAP) {
      fprintf(f, "HEAP #%u", r->tid);
    } else if (r->target == MOJ_TO_FILE) {
      fprintf(f, "FILE %u (stream of fd %d)", r->tid, r->tid < m->nfiles && m->files ? m->files[r->tid].fd : -1);
    } else {
      fprintf(f, "target %u (?)", r->target);
    }
    fprintf(f, " %+lld\n", (long long)r->toff);
  }
}

void moj_img_print(const moj_img_t *m, void *FILE_out, int show_bytes) {
  FILE *f = FILE_out;
  if (!m || !f) return;
  print_meta(f, m);
  fprintf(f, "SYMS count=%u\n", m->nsyms);
  for (uint32_t i = 0; i < m->nsyms && m->syms; i++) {
    fprintf(f, "SYMS [%u] ", i);
    pstr(f, m->syms[i]);
    fputc('\n', f);
  }
  uint64_t heap = 0;
  for (uint32_t i = 0; i < m->nobjs && m->objs; i++) heap += m->objs[i].size;
  fprintf(f, "TABLE top=%u objects=%u bytes=%llu\n", m->table_top, m->nobjs, (unsigned long long)heap);
  for (uint32_t i = 0; i < m->nobjs && m->objs; i++) {
    const moj_img_obj_t *o = &m->objs[i];
    fprintf(f, "HEAP [#%u] align_log2=%u data=", o->index, o->align_log2);
    pbytes(f, o->data, o->size, show_bytes);
  }
  fprintf(f, "GLOBALS count=%u\n", m->nglobals);
  for (uint32_t i = 0; i < m->nglobals && m->globals; i++) {
    fprintf(f, "GLOBALS [%u] ", i);
    pstr(f, m->globals[i].name);
    fputs(" data=", f);
    pbytes(f, m->globals[i].data, m->globals[i].size, show_bytes);
  }
  print_frames(f, m, show_bytes);
  print_relocs(f, m);
  fprintf(f, "FILES count=%u\n", m->nfiles);
  for (uint32_t i = 0; i < m->nfiles && m->files; i++) {
    const moj_img_file_t *fl = &m->files[i];
    fprintf(f, "FILES [%u] fd=%d kind=%s flags=0x%x fd_flags=0x%x offset=%llu path=", i, fl->fd,
            fl->kind == MOJ_FILE_REGULAR ? "regular" : fl->kind == MOJ_FILE_STDIO ? "stdio" : "?",
            (unsigned)fl->flags, (unsigned)fl->fd_flags, (unsigned long long)fl->offset);
    pstr(f, fl->path);
    fputc('\n', f);
  }
  fprintf(f, "DSM shm=%u semundo=%u\n", m->nshm, m->nsemundo);
  for (uint32_t i = 0; i < m->nshm && m->shm; i++)
    fprintf(f, "DSM shm[%u] shmid=%d key=0x%x shmflg=0%o addr=0x%llx size=%llu\n", i, m->shm[i].shmid,
            (unsigned)m->shm[i].key, (unsigned)m->shm[i].shmflg, (unsigned long long)m->shm[i].addr,
            (unsigned long long)m->shm[i].size);
  for (uint32_t i = 0; i < m->nsemundo && m->semundo; i++)
    fprintf(f, "DSM semundo[%u] semid=%d num=%u adj=%d\n", i, m->semundo[i].semid, m->semundo[i].num,
            m->semundo[i].adj);
  fputs("STDIO stdin=", f);
  pbytes(f, m->stdio.stdin_data, m->stdio.stdin_len, show_bytes);
  fputs("STDIO stdout=", f);
  pbytes(f, m->stdio.out_data, m->stdio.out_len, show_bytes);
  fputs("STDIO stderr=", f);
  pbytes(f, m->stdio.err_data, m->stdio.err_len, show_bytes);
}
