/* tests/unit/test_image.c — the checkpoint image (migrate/image_*.c): round trip
 * of a rich image, and one case per refusal class of the decoder (header,
 * checksum, zstd frame, section structure, records, cross-references).
 *
 * The test carries its own serializer (tser_*), written from the layout in
 * docs/migration.md rather than from image.c: the rich round trip checks the
 * encoder's bytes against it, and it writes the tampered payloads the encoder
 * would refuse to produce; wrap() gives them a valid header and checksum so
 * the structure validator is what has to catch them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "image_envelope.h" /* wrap/unwrap a raw payload */

#define HDR 64

/* ---------------- the test's own serializer ---------------- */

typedef struct tb { uint8_t *p; size_t n, cap; } tb_t;

static void tb_put(tb_t *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  if (n) memcpy(b->p + b->n, d, n);
  b->n += n;
}
static void tb_u8(tb_t *b, uint8_t v) { tb_put(b, &v, 1); }
static void tb_u32(tb_t *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  tb_put(b, x, 4);
}
static void tb_u64(tb_t *b, uint64_t v) { tb_u32(b, (uint32_t)v); tb_u32(b, (uint32_t)(v >> 32)); }
static void tb_str(tb_t *b, const char *s) { tb_u32(b, (uint32_t)strlen(s)); tb_put(b, s, strlen(s)); }
static void tb_fixed(tb_t *b, const char *a, size_t w) {
  size_t n = strnlen(a, w);
  tb_put(b, a, n);
  for (; n < w; n++) tb_u8(b, 0);
}
static void set32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void set64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

/* Offsets the tamper tests patch: section headers (by type), and the first
 * occurrence of a few record fields. */
enum { MK_TABLE_RES = 11, MK_SLOT_RES, MK_RELOC_RES, MK_SYM0, MK_ARCH, MK_HEAP_COUNT, MK_N };
static size_t mk[MK_N];
static void mark(int k, const tb_t *b) { if (!mk[k]) mk[k] = b->n; }

static void tser_body(tb_t *b, uint32_t t, const moj_img_t *m) {
  const moj_img_meta_t *mt = &m->meta;
  switch (t) {
  case MOJ_SEC_META:
    tb_u32(b, mt->mode);
    mark(MK_ARCH, b);
    tb_fixed(b, mt->arch, 16);
    tb_fixed(b, mt->datalayout, 160);
    tb_put(b, &mt->abi, 7);
    tb_put(b, "", 1);
    tb_put(b, mt->exe_hash, 32);
    tb_put(b, mt->bc_hash, 32);
    tb_str(b, mt->exe_path ? mt->exe_path : "");
    tb_str(b, mt->cwd ? mt->cwd : "");
    tb_u32(b, mt->argc);
    for (uint32_t i = 0; i < mt->argc; i++) tb_str(b, mt->argv[i]);
    tb_u32(b, mt->envc);
    for (uint32_t i = 0; i < mt->envc; i++) tb_str(b, mt->envp[i]);
    tb_u32(b, mt->nrlimits);
    for (uint32_t i = 0; i < mt->nrlimits; i++) {
      tb_u32(b, mt->rlimits[i].resource);
      tb_u64(b, mt->rlimits[i].cur);
      tb_u64(b, mt->rlimits[i].max);
    }
    tb_fixed(b, mt->src_host, 32);
    tb_u64(b, mt->src_pid);
    tb_u64(b, mt->time_ns);
    tb_u32(b, mt->hops);
    break;
  case MOJ_SEC_SYMS:
    tb_u32(b, m->nsyms);
    for (uint32_t i = 0; i < m->nsyms; i++) {
      tb_u32(b, (uint32_t)strlen(m->syms[i]));
      mark(MK_SYM0, b);
      tb_put(b, m->syms[i], strlen(m->syms[i]));
    }
    break;
  case MOJ_SEC_TABLE:
    tb_u32(b, m->table_top);
    tb_u32(b, m->nobjs);
    for (uint32_t i = 0; i < m->nobjs; i++) {
      tb_u32(b, m->objs[i].index);
      tb_u32(b, m->objs[i].size);
      tb_u8(b, m->objs[i].align_log2);
      mark(MK_TABLE_RES, b);
      tb_put(b, "\0\0\0", 3);
    }
    break;
  case MOJ_SEC_HEAP:
    mark(MK_HEAP_COUNT, b);
    tb_u32(b, m->nobjs);
    for (uint32_t i = 0; i < m->nobjs; i++) tb_put(b, m->objs[i].data, m->objs[i].size);
    break;
  case MOJ_SEC_GLOBALS:
    tb_u32(b, m->nglobals);
    for (uint32_t i = 0; i < m->nglobals; i++) {
      tb_str(b, m->globals[i].name);
      tb_u64(b, m->globals[i].size);
      tb_put(b, m->globals[i].data, m->globals[i].size);
    }
    break;
  case MOJ_SEC_FRAMES:
    tb_u32(b, m->nframes);
    for (uint32_t i = 0; i < m->nframes; i++) {
      const moj_img_frame_t *f = &m->frames[i];
      tb_str(b, f->func);
      tb_u32(b, f->site);
      tb_u32(b, f->nslots);
      for (uint32_t j = 0; j < f->nslots; j++) {
        tb_u8(b, f->slots[j].type);
        mark(MK_SLOT_RES, b);
        tb_put(b, "\0\0\0", 3);
        tb_u32(b, f->slots[j].size);
        tb_put(b, f->slots[j].data, f->slots[j].size);
      }
      tb_u32(b, f->nallocas);
      for (uint32_t j = 0; j < f->nallocas; j++) {
        tb_u32(b, f->allocas[j].size);
        tb_u32(b, f->allocas[j].align);
        tb_put(b, f->allocas[j].data, f->allocas[j].size);
      }
    }
    break;
  case MOJ_SEC_RELOCS:
    tb_u32(b, m->nrelocs);
    for (uint32_t i = 0; i < m->nrelocs; i++) {
      const moj_img_reloc_t *r = &m->relocs[i];
      tb_u8(b, r->where);
      tb_u8(b, r->target);
      mark(MK_RELOC_RES, b);
      tb_put(b, "\0\0", 2);
      tb_u32(b, r->where_id);
      tb_u32(b, r->where_sub);
      tb_u64(b, r->where_off);
      tb_u32(b, r->tid);
      tb_u32(b, r->tsub);
      tb_u64(b, (uint64_t)r->toff);
    }
    break;
  case MOJ_SEC_FILES:
    tb_u32(b, m->nfiles);
    for (uint32_t i = 0; i < m->nfiles; i++) {
      tb_u32(b, (uint32_t)m->files[i].fd);
      tb_u32(b, m->files[i].kind);
      tb_u32(b, (uint32_t)m->files[i].flags);
      tb_u32(b, (uint32_t)m->files[i].fd_flags);
      tb_u64(b, m->files[i].offset);
      tb_str(b, m->files[i].path);
    }
    break;
  case MOJ_SEC_DSM:
    tb_u32(b, m->nshm);
    for (uint32_t i = 0; i < m->nshm; i++) {
      tb_u32(b, (uint32_t)m->shm[i].shmid);
      tb_u32(b, (uint32_t)m->shm[i].key);
      tb_u32(b, (uint32_t)m->shm[i].shmflg);
      tb_u64(b, m->shm[i].addr);
      tb_u64(b, m->shm[i].size);
    }
    tb_u32(b, m->nsemundo);
    for (uint32_t i = 0; i < m->nsemundo; i++) {
      tb_u32(b, (uint32_t)m->semundo[i].semid);
      tb_u8(b, (uint8_t)m->semundo[i].num);
      tb_u8(b, (uint8_t)(m->semundo[i].num >> 8));
      tb_u8(b, (uint8_t)(uint16_t)m->semundo[i].adj);
      tb_u8(b, (uint8_t)((uint16_t)m->semundo[i].adj >> 8));
    }
    break;
  case MOJ_SEC_STDIO:
    tb_u64(b, m->stdio.stdin_len);
    tb_put(b, m->stdio.stdin_data, m->stdio.stdin_len);
    tb_u64(b, m->stdio.out_len);
    tb_put(b, m->stdio.out_data, m->stdio.out_len);
    tb_u64(b, m->stdio.err_len);
    tb_put(b, m->stdio.err_data, m->stdio.err_len);
    break;
  }
}

/* The raw payload of m as the documentation lays it out (no validation). */
static uint8_t *tser(const moj_img_t *m, size_t *len) {
  tb_t b = {0};
  memset(mk, 0, sizeof mk);
  for (uint32_t t = MOJ_SEC_META; t <= MOJ_SEC_STDIO; t++) {
    mk[t] = b.n;
    tb_u32(&b, t);
    tb_u32(&b, 0);
    tb_u64(&b, 0);
    size_t start = b.n;
    tser_body(&b, t, m);
    set64(b.p + mk[t] + 8, b.n - start);
  }
  *len = b.n;
  return b.p;
}

static uint8_t *wrap(const void *raw, size_t n, size_t *len) {
  uint8_t *b = moj_env_wrap(raw, n, len);
  assert_non_null(b);
  return b;
}
static uint8_t *unwrap(const uint8_t *img, size_t len, size_t *n) {
  uint8_t *p = moj_env_unwrap(img, len, n);
  assert_non_null(p);
  return p;
}
#define reseal moj_env_reseal

/* ---------------- expectations ---------------- */

static void expect_reason(int rc, const char *err, const char *want) {
  if (rc != -1 || !strstr(err, want)) {
    print_error("rc %d, reason \"%s\"; wanted a refusal containing \"%s\"\n", rc, err, want);
    fail();
  }
}

static void decode_expect(const void *img, size_t len, const char *want) {
  char err[256] = "";
  moj_img_t *m = (moj_img_t *)1;
  int rc = moj_img_decode(img, len, &m, err, sizeof err);
  expect_reason(rc, err, want);
  assert_null(m);
}

static void raw_expect(const uint8_t *raw, size_t n, const char *want) {
  size_t len;
  uint8_t *img = wrap(raw, n, &len);
  decode_expect(img, len, want);
  free(img);
}

static uint8_t *encode_ok(const moj_img_t *m, int level, size_t *len) {
  void *out;
  char err[256] = "";
  int rc = moj_img_encode(m, level, &out, len, err, sizeof err);
  if (rc) print_error("encode: %s\n", err);
  assert_int_equal(rc, 0);
  return out;
}

static moj_img_t *decode_ok(const void *img, size_t len) {
  moj_img_t *d;
  char err[256] = "";
  int rc = moj_img_decode(img, len, &d, err, sizeof err);
  if (rc) print_error("decode: %s\n", err);
  assert_int_equal(rc, 0);
  return d;
}

/* ---------------- models ---------------- */

/* A small image with every section and record kind; arrays live inside so a
 * test can break one field and leave the rest valid. */
typedef struct small {
  moj_img_t m;
  const char *argv[2], *envp[1], *syms[3];
  moj_img_rlimit_t rl[2];
  moj_img_obj_t objs[3];
  moj_img_global_t globals[2];
  moj_img_slot_t slots0[10], slots1[1];
  moj_img_alloca_t allocas0[2], allocas1[1];
  moj_img_frame_t frames[2];
  moj_img_reloc_t relocs[6];
  moj_img_file_t files[2];
  moj_img_shm_t shm[1];
  moj_img_semundo_t undo[2];
  uint8_t bytes[256];
} small_t;

static void small_init(small_t *s) {
  static const uint32_t sizes[] = {0, 1, 1, 2, 4, 8, 4, 8, 16, 8, 3};
  memset(s, 0, sizeof *s);
  for (int i = 0; i < 256; i++) s->bytes[i] = (uint8_t)(i * 7 + 1);
  moj_img_t *m = &s->m;
  m->meta.mode = MOJ_IMG_IR;
  strcpy(m->meta.arch, "aarch64");
  strcpy(m->meta.datalayout, "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128");
  m->meta.abi = (moj_img_abi_t){8, 0, 0, MOJ_LD_IEEE128, MOJ_VA_AAPCS64, 4, 4};
  m->meta.bc_hash[31] = 9;
  m->meta.exe_path = "/opt/t/prog";
  m->meta.cwd = "/";
  s->argv[0] = "prog"; s->argv[1] = "-v";
  s->envp[0] = "X=1";
  m->meta.argc = 2; m->meta.argv = s->argv;
  m->meta.envc = 1; m->meta.envp = s->envp;
  s->rl[0] = (moj_img_rlimit_t){7, 256, 1024};
  s->rl[1] = (moj_img_rlimit_t){9, ~0ull, ~0ull};
  m->meta.nrlimits = 2; m->meta.rlimits = s->rl;
  strcpy(m->meta.src_host, "h2");
  m->meta.src_pid = 77; m->meta.time_ns = 123456789; m->meta.hops = 3;
  s->syms[0] = "puts"; s->syms[1] = "mod:g"; s->syms[2] = "mod:.str";
  m->nsyms = 3; m->syms = s->syms;
  for (int i = 0; i < 3; i++)
    s->objs[i] = (moj_img_obj_t){(uint32_t)(2 + 5 * i), (uint32_t)(16 + 8 * i), (uint8_t)i, s->bytes + 10 * i};
  m->table_top = 20; m->nobjs = 3; m->objs = s->objs;
  s->globals[0] = (moj_img_global_t){"mod:g", 16, s->bytes};
  s->globals[1] = (moj_img_global_t){"h", 0, NULL};
  m->nglobals = 2; m->globals = s->globals;
  for (int t = 1; t <= 10; t++) s->slots0[t - 1] = (moj_img_slot_t){(uint8_t)t, sizes[t], s->bytes + t};
  s->slots1[0] = (moj_img_slot_t){MOJ_SLOT_PTR, 8, s->bytes};
  s->allocas0[0] = (moj_img_alloca_t){24, 8, s->bytes + 40};
  s->allocas0[1] = (moj_img_alloca_t){8, 1, s->bytes + 80};
  s->allocas1[0] = (moj_img_alloca_t){64, 64, s->bytes + 100};
  s->frames[0] = (moj_img_frame_t){"main", 4, 10, s->slots0, 2, s->allocas0};
  s->frames[1] = (moj_img_frame_t){"mod:f", 1, 1, s->slots1, 1, s->allocas1};
  m->nframes = 2; m->frames = s->frames;
  s->relocs[0] = (moj_img_reloc_t){MOJ_AT_HEAP, 12, 0, 24, MOJ_TO_SYM, 0, 0, 0};
  s->relocs[1] = (moj_img_reloc_t){MOJ_AT_GLOBAL, 0, 0, 8, MOJ_TO_SYM, 2, 0, -1};
  s->relocs[2] = (moj_img_reloc_t){MOJ_AT_ALLOCA, 0, 0, 16, MOJ_TO_STACK, 1, 0, 64};
  s->relocs[3] = (moj_img_reloc_t){MOJ_AT_SLOT, 1, 0, 0, MOJ_TO_STACK, 0, 1, 0};
  s->relocs[4] = (moj_img_reloc_t){MOJ_AT_SLOT, 0, 8, 0, MOJ_TO_SYM, 1, 0, 4};
  s->relocs[5] = (moj_img_reloc_t){MOJ_AT_HEAP, 2, 0, 0, MOJ_TO_STACK, 0, 0, 8};
  m->nrelocs = 6; m->relocs = s->relocs;
  s->files[0] = (moj_img_file_t){0, MOJ_FILE_STDIO, 0, 0, 0, "/dev/pts/3"};
  s->files[1] = (moj_img_file_t){5, MOJ_FILE_REGULAR, 0101, 1, 99, "/var/tmp/data"};
  m->nfiles = 2; m->files = s->files;
  s->shm[0] = (moj_img_shm_t){3, 0x51, 01666, 0x7ff000000000ull, 4096};
  m->nshm = 1; m->shm = s->shm;
  s->undo[0] = (moj_img_semundo_t){4, 0, 2};
  s->undo[1] = (moj_img_semundo_t){4, 65535, -32768};
  m->nsemundo = 2; m->semundo = s->undo;
  m->stdio = (moj_img_stdio_t){2, s->bytes, 0, NULL, 5, s->bytes + 2};
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

/* Many records in every section and one 8 MB heap object. */
typedef struct rich {
  moj_img_t m;
  char names[3000][24];
  const char *argv[40], *envp[40], *syms[300];
  moj_img_rlimit_t rl[16];
  moj_img_obj_t objs[2001];
  moj_img_global_t globals[100];
  moj_img_slot_t slots[8][30];
  moj_img_alloca_t allocas[8][6];
  moj_img_frame_t frames[8];
  moj_img_reloc_t relocs[1000];
  moj_img_file_t files[20];
  moj_img_shm_t shm[3];
  moj_img_semundo_t undo[5];
  uint8_t *pool, *big;
} rich_t;

#define BIG_LEN (8u << 20)

static void rich_init(rich_t *r) {
  static const uint32_t sizes[] = {0, 1, 1, 2, 4, 8, 4, 8, 16, 8, 0};
  memset(r, 0, sizeof *r);
  moj_img_t *m = &r->m;
  r->pool = malloc(1 << 20);
  r->big = malloc(BIG_LEN);
  assert_non_null(r->pool);
  assert_non_null(r->big);
  for (size_t i = 0; i < (1 << 20); i++) r->pool[i] = (uint8_t)rnd(256);
  for (size_t i = 0; i < BIG_LEN; i++) r->big[i] = (i & 4096) ? 0 : (uint8_t)(i * 31 + (i >> 12));
  for (int i = 0; i < 3000; i++) snprintf(r->names[i], sizeof r->names[i], "m%d:n%d", i % 7, i);
  m->meta.mode = MOJ_IMG_BINARY;
  strcpy(m->meta.arch, "x86_64_and_more");       /* 15 chars: the array's limit */
  memset(m->meta.datalayout, 'd', 159);
  m->meta.abi = (moj_img_abi_t){8, 1, 1, MOJ_LD_IEEE64, MOJ_VA_OTHER, 12, 12}; /* every field at its limit */
  for (int i = 0; i < 32; i++) { m->meta.exe_hash[i] = (uint8_t)i; m->meta.bc_hash[i] = (uint8_t)~i; }
  m->meta.exe_path = "/usr/local/bin/rich";
  m->meta.cwd = "/srv/work dir/\"quoted\"";
  for (int i = 0; i < 40; i++) { r->argv[i] = r->names[i]; r->envp[i] = r->names[100 + i]; }
  m->meta.argc = 40; m->meta.argv = r->argv;
  m->meta.envc = 40; m->meta.envp = r->envp;
  for (uint32_t i = 0; i < 16; i++) r->rl[i] = (moj_img_rlimit_t){15 - i, i, (uint64_t)i << 40};
  m->meta.nrlimits = 16; m->meta.rlimits = r->rl;
  memset(m->meta.src_host, 'h', 31);
  m->meta.src_pid = ~0ull; m->meta.time_ns = 1ull << 62; m->meta.hops = 0xffffffffu;
  for (int i = 0; i < 300; i++) r->syms[i] = r->names[1000 + i];
  m->nsyms = 300; m->syms = r->syms;
  uint32_t idx = 0;
  for (int i = 0; i < 2000; i++) {
    idx += 1 + rnd(3);
    uint32_t sz = rnd(5) == 0 ? 0 : 8 + rnd(300);
    r->objs[i] = (moj_img_obj_t){idx, sz, (uint8_t)rnd(13), r->pool + rnd(1 << 19)};
  }
  r->objs[2000] = (moj_img_obj_t){idx + 10, BIG_LEN, 12, r->big};
  m->table_top = idx + 11; m->nobjs = 2001; m->objs = r->objs;
  for (int i = 0; i < 100; i++)
    r->globals[i] = (moj_img_global_t){r->names[2000 + i], 8 + rnd(1000), r->pool + rnd(1 << 19)};
  m->nglobals = 100; m->globals = r->globals;
  for (int f = 0; f < 8; f++) {
    for (int j = 0; j < 30; j++) {
      uint8_t t = (uint8_t)(1 + j % 10);
      r->slots[f][j] = (moj_img_slot_t){t, t == MOJ_SLOT_BYTES ? rnd(5000) : sizes[t], r->pool + rnd(1 << 19)};
    }
    r->slots[f][29] = (moj_img_slot_t){MOJ_SLOT_BYTES, 1u << 20, r->pool}; /* the largest allowed */
    for (int j = 0; j < 6; j++)
      r->allocas[f][j] = (moj_img_alloca_t){8 + rnd(4000), 1u << rnd(13), r->pool + rnd(1 << 19)};
    r->frames[f] = (moj_img_frame_t){r->names[2500 + f], rnd(100), 30, r->slots[f], 6, r->allocas[f]};
  }
  m->nframes = 8; m->frames = r->frames;
  for (int i = 0; i < 1000; i++) {
    moj_img_reloc_t *x = &r->relocs[i];
    uint64_t size;
    x->where = (uint8_t)(1 + rnd(4));
    switch (x->where) {
    case MOJ_AT_HEAP: { const moj_img_obj_t *o; do o = &r->objs[rnd(2001)]; while (o->size < 8);
                        x->where_id = o->index; size = o->size; break; }
    case MOJ_AT_GLOBAL: x->where_id = rnd(100); size = r->globals[x->where_id].size; break;
    case MOJ_AT_ALLOCA: x->where_id = rnd(8); x->where_sub = rnd(6); size = r->allocas[x->where_id][x->where_sub].size; break;
    default: x->where_id = rnd(8); x->where_sub = 8 + 10 * rnd(2); size = 8; break; /* PTR slots */
    }
    x->where_off = rnd((uint32_t)(size - 7));
    if (rnd(2)) { x->target = MOJ_TO_SYM; x->tid = rnd(300); x->toff = (int64_t)rnd(100) - 50; }
    else { x->target = MOJ_TO_STACK; x->tid = rnd(8); x->tsub = rnd(6); x->toff = rnd(r->allocas[x->tid][x->tsub].size + 1); }
  }
  m->nrelocs = 1000; m->relocs = r->relocs;
  for (int i = 0; i < 20; i++)
    r->files[i] = (moj_img_file_t){i * 2, i < 3 ? MOJ_FILE_STDIO : MOJ_FILE_REGULAR, i, i & 1, (uint64_t)i << 33,
                                   i < 3 ? "" : "/tmp/some file"};
  m->nfiles = 20; m->files = r->files;
  for (int i = 0; i < 3; i++) r->shm[i] = (moj_img_shm_t){i, -i, 0600, 0x100000ull << i, 4096u << i};
  m->nshm = 3; m->shm = r->shm;
  for (int i = 0; i < 5; i++) r->undo[i] = (moj_img_semundo_t){i, (uint16_t)i, (int16_t)(i - 2)};
  m->nsemundo = 5; m->semundo = r->undo;
  m->stdio = (moj_img_stdio_t){1000, r->pool, 70000, r->pool + 1000, 3, r->pool + 99};
}

static void bytes_equal(const uint8_t *a, const uint8_t *b, uint64_t n) {
  if (n) assert_memory_equal(a, b, n);
}

/* Every field of the decoded model against the original. */
static void models_equal(const moj_img_t *a, const moj_img_t *b) {
  const moj_img_meta_t *x = &a->meta, *y = &b->meta;
  assert_int_equal(x->mode, y->mode);
  assert_memory_equal(x->arch, y->arch, 16);
  assert_memory_equal(x->datalayout, y->datalayout, 160);
  assert_memory_equal(&x->abi, &y->abi, sizeof x->abi);
  assert_memory_equal(x->exe_hash, y->exe_hash, 32);
  assert_memory_equal(x->bc_hash, y->bc_hash, 32);
  assert_string_equal(x->exe_path ? x->exe_path : "", y->exe_path);
  assert_string_equal(x->cwd ? x->cwd : "", y->cwd);
  assert_int_equal(x->argc, y->argc);
  for (uint32_t i = 0; i < x->argc; i++) assert_string_equal(x->argv[i], y->argv[i]);
  assert_int_equal(x->envc, y->envc);
  for (uint32_t i = 0; i < x->envc; i++) assert_string_equal(x->envp[i], y->envp[i]);
  assert_int_equal(x->nrlimits, y->nrlimits);
  if (x->nrlimits) assert_memory_equal(x->rlimits, y->rlimits, x->nrlimits * sizeof *x->rlimits);
  assert_memory_equal(x->src_host, y->src_host, 32);
  assert_int_equal(x->src_pid, y->src_pid);
  assert_int_equal(x->time_ns, y->time_ns);
  assert_int_equal(x->hops, y->hops);
  assert_int_equal(a->nsyms, b->nsyms);
  for (uint32_t i = 0; i < a->nsyms; i++) assert_string_equal(a->syms[i], b->syms[i]);
  assert_int_equal(a->table_top, b->table_top);
  assert_int_equal(a->nobjs, b->nobjs);
  for (uint32_t i = 0; i < a->nobjs; i++) {
    assert_int_equal(a->objs[i].index, b->objs[i].index);
    assert_int_equal(a->objs[i].size, b->objs[i].size);
    assert_int_equal(a->objs[i].align_log2, b->objs[i].align_log2);
    bytes_equal(a->objs[i].data, b->objs[i].data, a->objs[i].size);
  }
  assert_int_equal(a->nglobals, b->nglobals);
  for (uint32_t i = 0; i < a->nglobals; i++) {
    assert_string_equal(a->globals[i].name, b->globals[i].name);
    assert_int_equal(a->globals[i].size, b->globals[i].size);
    bytes_equal(a->globals[i].data, b->globals[i].data, a->globals[i].size);
  }
  assert_int_equal(a->nframes, b->nframes);
  for (uint32_t i = 0; i < a->nframes; i++) {
    const moj_img_frame_t *f = &a->frames[i], *g = &b->frames[i];
    assert_string_equal(f->func, g->func);
    assert_int_equal(f->site, g->site);
    assert_int_equal(f->nslots, g->nslots);
    for (uint32_t j = 0; j < f->nslots; j++) {
      assert_int_equal(f->slots[j].type, g->slots[j].type);
      assert_int_equal(f->slots[j].size, g->slots[j].size);
      bytes_equal(f->slots[j].data, g->slots[j].data, f->slots[j].size);
    }
    assert_int_equal(f->nallocas, g->nallocas);
    for (uint32_t j = 0; j < f->nallocas; j++) {
      assert_int_equal(f->allocas[j].size, g->allocas[j].size);
      assert_int_equal(f->allocas[j].align, g->allocas[j].align);
      bytes_equal(f->allocas[j].data, g->allocas[j].data, f->allocas[j].size);
    }
  }
  assert_int_equal(a->nrelocs, b->nrelocs);
  for (uint32_t i = 0; i < a->nrelocs; i++) {
    const moj_img_reloc_t *r = &a->relocs[i], *s = &b->relocs[i];
    assert_int_equal(r->where, s->where);
    assert_int_equal(r->where_id, s->where_id);
    assert_int_equal(r->where_sub, s->where_sub);
    assert_int_equal(r->where_off, s->where_off);
    assert_int_equal(r->target, s->target);
    assert_int_equal(r->tid, s->tid);
    assert_int_equal(r->tsub, s->tsub);
    assert_int_equal(r->toff, s->toff);
  }
  assert_int_equal(a->nfiles, b->nfiles);
  for (uint32_t i = 0; i < a->nfiles; i++) {
    const moj_img_file_t *f = &a->files[i], *g = &b->files[i];
    assert_int_equal(f->fd, g->fd);
    assert_int_equal(f->kind, g->kind);
    assert_int_equal(f->flags, g->flags);
    assert_int_equal(f->fd_flags, g->fd_flags);
    assert_int_equal(f->offset, g->offset);
    assert_string_equal(f->path, g->path);
  }
  assert_int_equal(a->nshm, b->nshm);
  for (uint32_t i = 0; i < a->nshm; i++) {
    assert_int_equal(a->shm[i].shmid, b->shm[i].shmid);
    assert_int_equal(a->shm[i].key, b->shm[i].key);
    assert_int_equal(a->shm[i].shmflg, b->shm[i].shmflg);
    assert_int_equal(a->shm[i].addr, b->shm[i].addr);
    assert_int_equal(a->shm[i].size, b->shm[i].size);
  }
  assert_int_equal(a->nsemundo, b->nsemundo);
  for (uint32_t i = 0; i < a->nsemundo; i++) {
    assert_int_equal(a->semundo[i].semid, b->semundo[i].semid);
    assert_int_equal(a->semundo[i].num, b->semundo[i].num);
    assert_int_equal(a->semundo[i].adj, b->semundo[i].adj);
  }
  assert_int_equal(a->stdio.stdin_len, b->stdio.stdin_len);
  bytes_equal(a->stdio.stdin_data, b->stdio.stdin_data, a->stdio.stdin_len);
  assert_int_equal(a->stdio.out_len, b->stdio.out_len);
  bytes_equal(a->stdio.out_data, b->stdio.out_data, a->stdio.out_len);
  assert_int_equal(a->stdio.err_len, b->stdio.err_len);
  bytes_equal(a->stdio.err_data, b->stdio.err_data, a->stdio.err_len);
}

/* ---------------- round trips ---------------- */

static void rich_round_trip(void **st) {
  (void)st;
  rich_t *r = malloc(sizeof *r);
  assert_non_null(r);
  rich_init(r);
  /* level 0 (= 1), a negative (fast) level, and single- and multi-threaded */
  static const struct { int level; const char *threads; } runs[] = {{0, "0"}, {-3, "2"}, {3, NULL}};
  uint8_t *first_raw = NULL;
  size_t first_n = 0;
  for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
    if (runs[k].threads) setenv("MOJAVE_IMAGE_THREADS", runs[k].threads, 1);
    else unsetenv("MOJAVE_IMAGE_THREADS");
    size_t len, n;
    uint8_t *img = encode_ok(&r->m, runs[k].level, &len);
    uint32_t v;
    uint64_t raw, z;
    char err[256];
    assert_int_equal(moj_img_peek(img, len, &v, &raw, &z, err, sizeof err), 0);
    assert_int_equal(v, MOJ_IMG_VERSION);
    assert_int_equal(z, len - HDR);
    assert_true(raw > BIG_LEN);
    moj_img_t *d = decode_ok(img, len);
    models_equal(&r->m, d);
    uint8_t *dec_raw = unwrap(img, len, &n);
    assert_int_equal(n, raw);
    if (!first_raw) {
      /* the encoder's bytes are the documented layout, byte for byte */
      size_t tn;
      uint8_t *t = tser(&r->m, &tn);
      assert_int_equal(tn, n);
      assert_memory_equal(t, dec_raw, n);
      free(t);
      first_raw = dec_raw;
      first_n = n;
    } else {
      assert_int_equal(n, first_n); /* level and threads change the frame, not the payload */
      assert_memory_equal(first_raw, dec_raw, n);
      free(dec_raw);
    }
    /* decode -> encode gives the same payload again */
    size_t len2, n2;
    uint8_t *img2 = encode_ok(d, 1, &len2);
    uint8_t *raw2 = unwrap(img2, len2, &n2);
    assert_int_equal(n2, first_n);
    assert_memory_equal(raw2, first_raw, n2);
    free(raw2);
    free(img2);
    moj_img_free(d);
    free(img);
  }
  unsetenv("MOJAVE_IMAGE_THREADS");
  free(first_raw);
  free(r->pool);
  free(r->big);
  free(r);
}

static void small_and_empty_round_trip(void **st) {
  (void)st;
  small_t s;
  small_init(&s);
  size_t len;
  uint8_t *img = encode_ok(&s.m, 1, &len);
  moj_img_t *d = decode_ok(img, len);
  models_equal(&s.m, d);
  moj_img_free(d);
  free(img);

  /* the emptiest valid image: every section present with zero records */
  moj_img_t e;
  memset(&e, 0, sizeof e);
  e.meta.mode = MOJ_IMG_BINARY;
  moj_img_abi_here(&e.meta.abi, 4);
  e.table_top = 1;
  img = encode_ok(&e, 1, &len);
  d = decode_ok(img, len);
  models_equal(&e, d);
  assert_string_equal(d->meta.exe_path, ""); /* NULL strings come back empty */
  assert_null(d->objs);
  moj_img_free(d);
  free(img);
  moj_img_free(NULL);
}

/* ---------------- header, checksum, zstd frame ---------------- */

static uint8_t *small_image(size_t *len) {
  small_t s;
  small_init(&s);
  return encode_ok(&s.m, 1, len);
}

static void truncation_at_every_byte(void **st) {
  (void)st;
  size_t len;
  uint8_t *img = small_image(&len);
  char want[96];
  for (size_t n = 0; n < len; n++) {
    uint8_t *cut = malloc(n ? n : 1); /* exactly n bytes: ASan sees any read past them */
    memcpy(cut, img, n);
    if (n < HDR) snprintf(want, sizeof want, "truncated header (%zu of 64 bytes)", n);
    else snprintf(want, sizeof want, "truncated payload (%zu of %zu bytes)", n - HDR, len - HDR);
    decode_expect(cut, n, want);
    free(cut);
  }
  free(img);
}

static void header_fields(void **st) {
  (void)st;
  size_t len;
  uint8_t *img = small_image(&len), *t = malloc(len + 8);
  char err[256];
#define TAMPER(stmt, want) do { memcpy(t, img, len); stmt; decode_expect(t, len, want); } while (0)
  TAMPER(t[0] = 'm', "bad magic");
  TAMPER(t[6] = '\n', "bad magic");
  TAMPER(set32(t + 8, 7), "version 7 unsupported (this is 2)");
  TAMPER(set32(t + 8, 0), "version 0 unsupported (this is 2)");
  TAMPER(set32(t + 12, 4), "header flags 0x4 unknown");
  TAMPER(set64(t + 16, (64ull << 30) + 1), "raw length 68719476737 exceeds the 64 GiB limit");
  TAMPER(set64(t + 16, 159), "raw length 159 too small for 10 section headers");
  TAMPER(set64(t + 24, 0), "zstd length 0");
  TAMPER(set64(t + 24, len - HDR + 1), "truncated payload");
  TAMPER(set64(t + 24, ~0ull), "truncated payload");
  TAMPER(set64(t + 24, len - HDR - 1), "1 trailing bytes after the payload");
  TAMPER(t[len - 1] ^= 1, "checksum mismatch");
  TAMPER(t[40] ^= 0x80, "checksum mismatch");
  /* header lengths that disagree with a correctly checksummed frame */
  TAMPER((set64(t + 16, 5000), reseal(t, len)), "zstd frame content size");
  TAMPER((memset(t + HDR, 0x41, 8), reseal(t, len)), "payload is not a zstd frame");
  /* trailing bytes inside the checksummed payload, behind the frame */
  memcpy(t, img, len);
  memcpy(t + len, "\x28\xb5\x2f\xfd\0\0\0\0", 8);
  set64(t + 24, len - HDR + 8);
  reseal(t, len + 8);
  decode_expect(t, len + 8, "8 bytes after the zstd frame");
  assert_int_equal(moj_img_peek(img, len, NULL, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(moj_img_peek(img, 10, NULL, NULL, NULL, err, sizeof err), -1);
  assert_string_equal(err, "truncated header (10 of 64 bytes)");
#undef TAMPER
  free(t);
  free(img);
}

static void zstd_frame_lies(void **st) {
  (void)st;
  size_t rn, len;
  small_t s;
  small_init(&s);
  uint8_t *raw = tser(&s.m, &rn);
  /* a frame without its content size */
  ZSTD_CCtx *cc = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
  uint8_t *img = malloc(HDR + ZSTD_compressBound(rn));
  ZSTD_outBuffer ob = {img + HDR, ZSTD_compressBound(rn), 0};
  ZSTD_inBuffer ib = {raw, rn, 0};
  assert_int_equal(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end), 0);
  ZSTD_freeCCtx(cc);
  memcpy(img, "MOJIMG\r\n\2\0\0\0\0\0\0\0", 16);
  set64(img + 16, rn);
  set64(img + 24, ob.pos);
  reseal(img, HDR + ob.pos);
  decode_expect(img, HDR + ob.pos, "zstd frame does not record its content size");
  free(img);
  /* a forged frame: 1 GiB declared, one RLE block (at most 128 KiB) behind
   * it; refused from the block headers, before anything is allocated */
  uint8_t f[HDR + 20];
  memcpy(f, "MOJIMG\r\n\2\0\0\0\0\0\0\0", 16);
  set64(f + 16, 1ull << 30);
  uint8_t *z = f + HDR;
  set32(z, 0xFD2FB528u);
  z[4] = 0xE0;                 /* single segment, 8-byte content size */
  set64(z + 5, 1ull << 30);
  uint32_t bh = 1u | (1u << 1) | ((128u << 10) << 3); /* last, RLE, 128 KiB */
  z[13] = (uint8_t)bh; z[14] = (uint8_t)(bh >> 8); z[15] = (uint8_t)(bh >> 16);
  z[16] = 0;
  set64(f + 24, 17);
  reseal(f, HDR + 17);
  decode_expect(f, HDR + 17, "raw length 1073741824 exceeds what 17 zstd bytes can hold (131072)");
  (void)len;
  free(raw);
}

/* ---------------- section structure ---------------- */

static uint8_t *small_raw(size_t *n) {
  small_t s;
  small_init(&s);
  return tser(&s.m, n); /* mk[] now holds this payload's offsets */
}

static void sections(void **st) {
  (void)st;
  size_t n;
  uint8_t *raw = small_raw(&n), *t = malloc(n + 64);
  char want[128];
  raw_expect(raw, mk[MOJ_SEC_GLOBALS], "section GLOBALS missing (payload ends after HEAP)");
  raw_expect(raw, mk[MOJ_SEC_GLOBALS] + 7, "truncated section header (7 of 16 bytes) where section GLOBALS belongs");
#define TAMPER(stmt, len, want) do { memcpy(t, raw, n); stmt; raw_expect(t, len, want); } while (0)
  TAMPER(set32(t + mk[MOJ_SEC_TABLE], 77), n, "unknown section type 77 at payload offset");
  TAMPER(set32(t + mk[MOJ_SEC_TABLE], 0), n, "unknown section type 0");
  TAMPER(set32(t + mk[MOJ_SEC_TABLE], 2), n, "section SYMS repeated or out of order (after SYMS)");
  TAMPER(set32(t + mk[MOJ_SEC_TABLE], 4), n, "section TABLE missing (found HEAP)");
  TAMPER(set32(t + mk[MOJ_SEC_META], 10), n, "section META missing (found STDIO)");
  TAMPER(set32(t + mk[MOJ_SEC_FRAMES] + 4, 1), n, "section FRAMES: flags 0x1 unknown");
  TAMPER(set64(t + mk[MOJ_SEC_STDIO] + 8, 1ull << 40), n, "section STDIO: length 1099511627776 exceeds the");
  TAMPER(set64(t + mk[MOJ_SEC_SYMS] + 8, mk[MOJ_SEC_TABLE] - mk[MOJ_SEC_SYMS] - 16 - 1), n,
         "section SYMS: sym 2: truncated name (needs 8 bytes, 7 left)");
  TAMPER(memcpy(t + n, "\0\0\0\0\0", 5), n + 5, "5 bytes after the last section (STDIO)");
  /* three junk bytes at the end of DSM's records, its length grown to match */
  memcpy(t, raw, mk[MOJ_SEC_STDIO]);
  memcpy(t + mk[MOJ_SEC_STDIO], "abc", 3);
  memcpy(t + mk[MOJ_SEC_STDIO] + 3, raw + mk[MOJ_SEC_STDIO], n - mk[MOJ_SEC_STDIO]);
  set64(t + mk[MOJ_SEC_DSM] + 8, mk[MOJ_SEC_STDIO] - mk[MOJ_SEC_DSM] - 16 + 3);
  raw_expect(t, n + 3, "section DSM: 3 trailing bytes after the records");
  /* FILES and DSM swapped */
  size_t a = mk[MOJ_SEC_FILES], b = mk[MOJ_SEC_DSM], c = mk[MOJ_SEC_STDIO];
  memcpy(t, raw, n);
  memcpy(t + a, raw + b, c - b);
  memcpy(t + a + (c - b), raw + a, b - a);
  raw_expect(t, n, "section FILES missing (found DSM)");
  /* a whole section repeated */
  memcpy(t, raw, c);
  memcpy(t + c, raw + b, c - b);
  raw_expect(t, c + (c - b), "section DSM repeated or out of order (after DSM)");
  snprintf(want, sizeof want, "raw length %zu too small", (size_t)100);
  raw_expect(raw, 100, want);
#undef TAMPER
  free(t);
  free(raw);
}

static void records(void **st) {
  (void)st;
  size_t n;
  uint8_t *raw = small_raw(&n), *t = malloc(n);
#define TAMPER(stmt, want) do { memcpy(t, raw, n); stmt; raw_expect(t, n, want); } while (0)
  TAMPER(set32(t + mk[MOJ_SEC_SYMS] + 16, 0xffffffffu),
         "section SYMS: sym count 4294967295 cannot fit in the");
  TAMPER(set32(t + mk[MOJ_SEC_RELOCS] + 16, 7), "section RELOCS: reloc count 7 cannot fit in the 216 bytes left (36 bytes each at least)");
  TAMPER(t[mk[MK_TABLE_RES] + 1] = 1, "section TABLE: object 0: reserved bytes not zero");
  TAMPER(t[mk[MK_SLOT_RES]] = 1, "section FRAMES: frame 0 slot 0: reserved bytes not zero");
  TAMPER(t[mk[MK_RELOC_RES] + 1] = 0x80, "section RELOCS: reloc 0: reserved bytes not zero");
  TAMPER(t[mk[MK_SYM0] + 1] = 0, "section SYMS: sym 0: name contains a NUL byte");
  TAMPER(t[mk[MK_ARCH] + 15] = 'x', "section META: arch has non-zero bytes after its NUL");
  TAMPER(memset(t + mk[MK_ARCH], 'a', 16), "section META: arch not NUL-terminated within its 16 bytes");
  TAMPER(set32(t + mk[MK_HEAP_COUNT], 4), "section HEAP: object count 4 differs from TABLE's 3");
  /* the first object's size grown by one: HEAP runs one byte short */
  TAMPER(set32(t + mk[MOJ_SEC_TABLE] + 16 + 8 + 4, 17), "section HEAP: object 2: truncated data (needs 32 bytes, 31 left)");
#undef TAMPER
  free(t);
  free(raw);
}

/* Flip every bit pattern at every payload byte: each result is refused with
 * a reason or, if accepted, re-encodes to the very same payload. */
static void flipped_bytes(void **st) {
  (void)st;
  size_t n, refused = 0, accepted = 0;
  uint8_t *raw = small_raw(&n), *t = malloc(n);
  static const uint8_t xors[] = {0x01, 0x80, 0xff};
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < sizeof xors; k++) {
      memcpy(t, raw, n);
      t[i] ^= xors[k];
      size_t len;
      uint8_t *img = wrap(t, n, &len);
      char err[256] = "";
      moj_img_t *d;
      if (moj_img_decode(img, len, &d, err, sizeof err)) {
        assert_true(err[0] != 0);
        refused++;
      } else {
        size_t len2, n2;
        uint8_t *img2 = encode_ok(d, 1, &len2), *raw2 = unwrap(img2, len2, &n2);
        assert_int_equal(n2, n);
        assert_memory_equal(raw2, t, n);
        free(raw2);
        free(img2);
        moj_img_free(d);
        accepted++;
      }
      free(img);
    }
  /* length, count and type bytes must be caught; data bytes are free */
  assert_true(refused > n / 2);
  assert_true(accepted > 0);
  free(t);
  free(raw);
}

/* ---------------- cross-references and semantic rules ---------------- */

static uint8_t big_slot[(1u << 20) + 1];

/* Breaks one rule in a valid small model; returns the reason the encoder and
 * the decoder must both give, or NULL past the last case. */
static const char *semantic_case(int k, small_t *s) {
  moj_img_t *m = &s->m;
  moj_img_frame_t *f0 = &s->frames[0];
  static char want[128];
  if (k >= 100 && k < 109) { /* every fixed-size slot type, one byte too large */
    int t = k - 99;
    s->slots0[t - 1].size++;
    static const char *const names[] = {"", "I1", "I8", "I16", "I32", "I64", "F32", "F64", "F80", "PTR"};
    snprintf(want, sizeof want, "section FRAMES: frame 0 slot %d: size %u for %s", t - 1, s->slots0[t - 1].size, names[t]);
    return want;
  }
  switch (k) {
  case 0: m->meta.mode = 3; return "section META: mode 3 unknown";
  case 1: m->meta.mode = 0; return "section META: mode 0 unknown";
  case 2: memset(m->meta.datalayout, 'x', 160); return "section META: datalayout not NUL-terminated within its 160 bytes";
  case 3: memset(m->meta.src_host, 'x', 32); return "section META: src_host not NUL-terminated";
  case 4: m->meta.exe_path = "bin/prog"; return "section META: exe_path is neither empty nor an absolute path";
  case 5: s->rl[1].resource = 16; return "section META: rlimit 1: resource 16 unknown";
  case 6: s->rl[1].resource = 7; return "section META: rlimit 1: resource 7 appears twice";
  case 7: s->rl[0].cur = 2000; return "section META: rlimit 0: cur 2000 above max 1024";
  case 8: s->syms[1] = ""; return "section SYMS: sym 1 is empty";
  case 9: s->syms[2] = "puts"; return "section SYMS: sym name \"puts\" appears twice";
  case 10: m->table_top = 0; return "section TABLE: table_top 0";
  case 11: s->objs[0].index = 0; return "section TABLE: object 0: index 0 not above the previous (0)";
  case 12: s->objs[2].index = 7; return "section TABLE: object 2: index 7 not above the previous (7)";
  case 13: s->objs[1].index = 1; return "section TABLE: object 1: index 1 not above the previous (2)";
  case 14: m->table_top = 12; return "section TABLE: object 2: index 12 not below table_top 12";
  case 15: s->objs[1].align_log2 = 13; return "section TABLE: object 1 (#7): align_log2 13 > 12";
  case 16: s->globals[1].name = ""; return "section GLOBALS: global 1: name is empty";
  case 17: s->globals[1].name = "mod:g"; return "section GLOBALS: global name \"mod:g\" appears twice";
  case 18: f0->func = ""; return "section FRAMES: frame 0: func is empty";
  case 19: s->slots0[3].type = 11; return "section FRAMES: frame 0 slot 3: type 11 unknown";
  case 20: s->slots0[3].type = 0; return "section FRAMES: frame 0 slot 3: type 0 unknown";
  case 21: s->slots0[9] = (moj_img_slot_t){MOJ_SLOT_BYTES, (1u << 20) + 1, big_slot};
           return "section FRAMES: frame 0 slot 9: size 1048577 for BYTES";
  case 22: s->slots0[2].type = MOJ_SLOT_PTR; return "section FRAMES: frame 0 slot 2: size 2 for PTR";
  case 23: s->allocas1[0].align = 24; return "section FRAMES: frame 1 alloca 0: align 24 not a power of two <= 4096";
  case 24: s->allocas1[0].align = 8192; return "section FRAMES: frame 1 alloca 0: align 8192 not a power";
  case 25: s->allocas1[0].align = 0; return "section FRAMES: frame 1 alloca 0: align 0 not a power";
  case 26: s->relocs[0].where = 5; return "section RELOCS: reloc 0: where 5 unknown";
  case 27: s->relocs[0].where_id = 3; return "section RELOCS: reloc 0: HEAP object #3 does not exist";
  case 28: s->relocs[0].where_sub = 1; return "section RELOCS: reloc 0: where_sub 1 must be 0 for HEAP";
  case 29: s->relocs[0].where_off = 25; return "section RELOCS: reloc 0: where_off 25 + 8 exceeds size 32";
  case 30: s->relocs[0].where_off = ~0ull; return "section RELOCS: reloc 0: where_off 18446744073709551615 + 8 exceeds";
  case 31: s->relocs[1].where_id = 2; return "section RELOCS: reloc 1: GLOBAL 2 out of range (2 globals)";
  case 32: s->relocs[1].where_sub = 9; return "section RELOCS: reloc 1: where_sub 9 must be 0 for GLOBAL";
  case 33: s->relocs[1].where_id = 1; return "section RELOCS: reloc 1: where_off 8 + 8 exceeds size 0";
  case 34: s->relocs[2].where_id = 2; return "section RELOCS: reloc 2: ALLOCA frame 2 out of range (2 frames)";
  case 35: s->relocs[2].where_sub = 2; return "section RELOCS: reloc 2: frame 0 alloca 2 out of range (2)";
  case 36: s->relocs[2].where_off = 17; return "section RELOCS: reloc 2: where_off 17 + 8 exceeds size 24";
  case 37: s->relocs[3].where_id = 9; return "section RELOCS: reloc 3: SLOT frame 9 out of range (2 frames)";
  case 38: s->relocs[3].where_sub = 1; return "section RELOCS: reloc 3: frame 1 slot 1 out of range (1)";
  case 39: s->relocs[4].where_sub = 3; return "section RELOCS: reloc 4: where_off 0 + 8 exceeds size 4";
  case 40: s->relocs[4].target = 5; return "section RELOCS: reloc 4: target 5 unknown";
  case 41: s->relocs[4].tid = 3; return "section RELOCS: reloc 4: SYM 3 out of range (3 syms)";
  case 42: s->relocs[4].tsub = 1; return "section RELOCS: reloc 4: tsub 1 must be 0 for SYM";
  case 43: s->relocs[5].tid = 2; return "section RELOCS: reloc 5: STACK frame 2 out of range (2 frames)";
  case 44: s->relocs[5].tsub = 2; return "section RELOCS: reloc 5: STACK frame 0 alloca 2 out of range (2)";
  case 45: s->relocs[5].toff = 25; return "section RELOCS: reloc 5: toff 25 outside STACK frame 0 alloca 0 (size 24)";
  case 46: s->relocs[5].toff = -1; return "section RELOCS: reloc 5: toff -1 outside";
  case 47: s->files[1].kind = 3; return "section FILES: file 1: kind 3 unknown";
  case 48: s->files[1].fd = -2; return "section FILES: file 1: fd -2 negative";
  case 49: s->files[1].fd = 0; return "section FILES: fd 0 appears twice";
  case 50: s->files[1].path = "rel/path"; return "section FILES: file 1: path is not an absolute path";
  case 51: s->shm[0].size = 0; return "section DSM: shm 0: size 0";
  case 52: s->shm[0].addr = 0x1001; return "section DSM: shm 0: addr 0x1001 not a non-zero multiple of 4096";
  case 53: s->shm[0].shmid = -1; return "section DSM: shm 0: shmid -1 negative";
  case 54: s->undo[1].semid = -5; return "section DSM: semundo 1: semid -5 negative";
  case 55: m->meta.cwd = "."; return "section META: cwd is neither empty nor an absolute path";
  default: return k < 109 ? "" : NULL;
  }
}

static void cross_references(void **st) {
  (void)st;
  int cases = 0;
  for (int k = 0;; k++) {
    small_t s;
    small_init(&s);
    const char *want = semantic_case(k, &s);
    if (!want) break;
    if (!*want) continue;
    cases++;
    void *out = (void *)1;
    size_t len = 1, n;
    char err[256] = "";
    int rc = moj_img_encode(&s.m, 1, &out, &len, err, sizeof err);
    expect_reason(rc, err, want); /* the encoder refuses to write it... */
    assert_null(out);
    assert_int_equal(len, 0);
    uint8_t *raw = tser(&s.m, &n);
    raw_expect(raw, n, want);     /* ...and the decoder to accept it */
    free(raw);
  }
  assert_int_equal(cases, 56 + 9);
}

/* Encoder-only refusals: what a model in memory can get wrong. */
static void encoder_refusals(void **st) {
  (void)st;
  small_t s;
  void *out;
  size_t len;
  char err[256];
#define REFUSE(stmt, level, want) do { small_init(&s); stmt; \
    expect_reason(moj_img_encode(&s.m, level, &out, &len, err, sizeof err), err, want); } while (0)
  REFUSE((void)0, 99, "zstd level 99 out of range");
  REFUSE(s.argv[1] = NULL, 1, "section META: argv[1] is NULL");
  REFUSE(s.m.meta.envp = NULL, 1, "section META: envp NULL with envc 1");
  REFUSE(s.m.syms = NULL, 1, "section SYMS: syms NULL with count 3");
  REFUSE(s.objs[1].data = NULL, 1, "section HEAP: object 1 (#7): data NULL");
  REFUSE(s.frames[1].func = NULL, 1, "section FRAMES: frame 1: func is NULL");
  REFUSE(s.m.relocs = NULL, 1, "section RELOCS: relocs NULL with count 6");
  REFUSE(s.m.stdio.err_data = NULL, 1, "section STDIO: data NULL");
  REFUSE(s.files[0].path = NULL, 1, "section FILES: file 0: path is NULL");
#undef REFUSE
  assert_int_equal(moj_img_encode(NULL, 1, &out, &len, err, sizeof err), -1);
  assert_string_equal(err, "NULL argument");
  assert_int_equal(moj_img_decode("x", 1, NULL, err, sizeof err), -1);
  /* a reason longer than the caller's buffer is cut, still NUL-terminated */
  small_init(&s);
  s.m.meta.mode = 9;
  char tiny[8];
  assert_int_equal(moj_img_encode(&s.m, 1, &out, &len, tiny, sizeof tiny), -1);
  assert_string_equal(tiny, "section");
  assert_int_equal(moj_img_encode(&s.m, 1, &out, &len, NULL, 0), -1);
}

/* ---------------- text dump ---------------- */

static void print_dump(void **st) {
  (void)st;
  small_t s;
  small_init(&s);
  s.syms[0] = "esc\x1b[31m\"q\"\n";
  size_t len;
  uint8_t *img = encode_ok(&s.m, 1, &len);
  moj_img_t *d = decode_ok(img, len);
  char *text;
  size_t tn;
  FILE *f = open_memstream(&text, &tn);
  moj_img_print(d, f, 0);
  fclose(f);
  static const char *const lines[] = {
    "META mode=ir arch=\"aarch64\"",
    "META argv[1]=\"-v\"\n",
    "META rlimit[0] resource=7 (NOFILE) cur=256 max=1024\n",
    "SYMS [0] \"esc\\x1b[31m\\\"q\\\"\\n\"\n",
    "TABLE top=20 objects=3 bytes=72\n",
    "HEAP [#7] align_log2=1 data=24 bytes [47 4e 55 5c 63 6a 71 78 7f 86 8d 94 9b a2 a9 b0 ...]\n",
    "GLOBALS [1] \"h\" data=0 bytes\n",
    "FRAMES [0] slot[7] F80 data=16 bytes",
    "FRAMES [1] alloca[0] align=64 data=64 bytes",
    "RELOCS [2] at ALLOCA frame 0 alloca 0 +16 -> STACK frame 1 alloca 0 +64\n",
    "RELOCS [4] at SLOT frame 0 slot 8 +0 -> SYM 1 \"mod:g\" +4\n",
    "FILES [1] fd=5 kind=regular flags=0x41 fd_flags=0x1 offset=99 path=\"/var/tmp/data\"\n",
    "DSM semundo[1] semid=4 num=65535 adj=-32768\n",
    "STDIO stderr=5 bytes [0f 16 1d 24 2b]\n",
  };
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
    if (!strstr(text, lines[i])) {
      print_error("missing \"%s\" in:\n%s\n", lines[i], text);
      fail();
    }
  free(text);
  f = open_memstream(&text, &tn);
  moj_img_print(d, f, 1);
  fclose(f);
  assert_non_null(strstr(text, "HEAP [#7] align_log2=1 data=24 bytes\n    00000000  47 4e 55"));
  assert_non_null(strstr(text, "    00000010  b7 be c5 cc d3 da e1 e8                          |........|\n"));
  free(text);
  moj_img_free(d);
  free(img);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(rich_round_trip),
    cmocka_unit_test(small_and_empty_round_trip),
    cmocka_unit_test(truncation_at_every_byte),
    cmocka_unit_test(header_fields),
    cmocka_unit_test(zstd_frame_lies),
    cmocka_unit_test(sections),
    cmocka_unit_test(records),
    cmocka_unit_test(flipped_bytes),
    cmocka_unit_test(cross_references),
    cmocka_unit_test(encoder_refusals),
    cmocka_unit_test(print_dump),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
