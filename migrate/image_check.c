/* migrate/image_check.c — the image model's semantics, checked in both
 * directions (the encoder on its input, the decoder on what it built): slot
 * sizes, alignments, table indices, relocation cross-references, unique
 * names.  Also the shared names and the error helper (image_int.h). */
#include "image_int.h"

const char *const sec_names[NSEC + 1] = {
  "?", "META", "SYMS", "TABLE", "HEAP", "GLOBALS", "FRAMES", "RELOCS", "FILES", "DSM", "STDIO",
};
const char *const slot_names[11] = {
  "?", "I1", "I8", "I16", "I32", "I64", "F32", "F64", "F80", "PTR", "BYTES",
};
const uint32_t slot_sizes[11] = {0, 1, 1, 2, 4, 8, 4, 8, 16, 8, 0};

int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

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

const char *where_name(unsigned w) {
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
  const moj_img_abi_t *a = &mt->abi;
  if (a->ptr_bytes != 4 && a->ptr_bytes != 8)
    return fail(err, errlen, "section META: abi pointer size %u (4 or 8)", a->ptr_bytes);
  if (a->big_endian > 1 || a->char_signed > 1)
    return fail(err, errlen, "section META: abi byte order %u / char signedness %u not 0 or 1", a->big_endian,
                a->char_signed);
  if (a->long_double < MOJ_LD_X87_80 || a->long_double > MOJ_LD_IEEE64)
    return fail(err, errlen, "section META: abi long double format %u unknown (1..3)", a->long_double);
  if (a->va_list < MOJ_VA_SYSV_X86_64 || a->va_list > MOJ_VA_OTHER)
    return fail(err, errlen, "section META: abi va_list kind %u unknown (1..3)", a->va_list);
  if (a->heap_align_log2 > 12 || a->max_align_log2 > 12)
    return fail(err, errlen, "section META: abi alignment 2^%u / 2^%u above 2^12", a->heap_align_log2,
                a->max_align_log2);
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
int check_model(const moj_img_t *m, char *err, size_t errlen) {
  if (chk_meta(&m->meta, err, errlen)) return -1;
  if (m->nsyms && !m->syms) return fail(err, errlen, "section SYMS: syms NULL with count %u", m->nsyms);
  for (uint32_t i = 0; i < m->nsyms; i++)
    if (chk_str(err, errlen, m->syms[i], S_NONEMPTY, "section SYMS: sym %u", i)) return -1;
  if (chk_unique_names(err, errlen, "SYMS", "sym", m->nsyms, m->syms, sizeof *m->syms, 0)) return -1;
  if (chk_table(m, err, errlen) || chk_frames(m, err, errlen) || chk_rest(m, err, errlen)) return -1;
  return chk_relocs(m, err, errlen);
}
