/* migrate/mojave_image.c — mojave-image, the checkpoint image inspector:
 * `inspect` (text dump, like CRIU's crit) and `verify` (every check the
 * destination's decoder makes).  Hidden commands for tests and tuning:
 * `sample OUT` (a deterministic image with every section and record kind),
 * `corpus DIR` (fuzzing seeds) and `bench [MIB...]` (encode/decode speed). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "image.h"

#ifndef MOJ_VERSION
#define MOJ_VERSION "0.1.0"
#endif

enum { EXIT_INVALID = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
  "NAME\n"
  "    mojave-image - inspect and verify mojave checkpoint images\n"
  "\n"
  "SYNOPSIS\n"
  "    mojave-image inspect [--bytes] FILE\n"
  "    mojave-image verify FILE...\n"
  "    mojave-image --help | --version\n"
  "\n"
  "DESCRIPTION\n"
  "    A checkpoint image is what a migrating process sends to its destination:\n"
  "    a 64-byte header (magic \"MOJIMG\\r\\n\", version, lengths, SHA-256) and one\n"
  "    zstd frame holding the sections META, SYMS, TABLE, HEAP, GLOBALS, FRAMES,\n"
  "    RELOCS, FILES, DSM and STDIO.  The format is described in\n"
  "    docs/migration.md, section \"Image format\".  FILE may be - for standard\n"
  "    input.\n"
  "\n"
  "COMMANDS\n"
  "    inspect FILE\n"
  "        Print the header, then every section, one record a line: the\n"
  "        process metadata, symbol names, heap objects, globals, frames with\n"
  "        their slots and allocas, relocations, open files, System V\n"
  "        attachments and held standard I/O.  Byte contents are summarised\n"
  "        as their size and first 16 bytes in hex.  Strings are quoted, with\n"
  "        control and non-ASCII bytes escaped.\n"
  "\n"
  "    verify FILE...\n"
  "        Decode each FILE with every check the destination makes (header,\n"
  "        checksum, zstd frame, section order and lengths, counts, strings,\n"
  "        slot sizes, alignments, table indices, relocation targets) and\n"
  "        print \"FILE: ok\" with a summary, or \"FILE: invalid: REASON\".\n"
  "\n"
  "OPTIONS\n"
  "    -b, --bytes   with inspect: dump byte contents in full (hex + ASCII)\n"
  "    -h, --help    print this help and exit\n"
  "    -V, --version print the version and the image format version, and exit\n"
  "\n"
  "EXIT STATUS\n"
  "    0  the image (every image, for verify) is valid\n"
  "    1  an image is invalid; the reason is printed\n"
  "    2  bad arguments, or a file could not be read\n"
  "\n"
  "EXAMPLES\n"
  "    mojave-image verify /var/tmp/app.mojimg\n"
  "    mojave-image inspect app.mojimg | grep '^RELOCS'\n"
  "    mojave-image inspect --bytes app.mojimg | less\n"
  "\n"
  "SEE ALSO\n"
  "    mojave-run(1), mojaved(8), docs/migration.md\n";

static void usage_error(const char *fmt, const char *arg) {
  fputs("mojave-image: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\nTry 'mojave-image --help'.\n", stderr);
}

/* Whole file (or standard input) into memory; NULL + message on error. */
static unsigned char *read_all(const char *path, size_t *len) {
  int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
  if (fd < 0) {
    fprintf(stderr, "mojave-image: cannot open %s: %s\n", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    fprintf(stderr, "mojave-image: cannot read %s: %s\n", path, strerror(EISDIR));
    if (fd) close(fd);
    return NULL;
  }
  size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 1 << 16, n = 0;
  unsigned char *buf = malloc(cap);
  for (;;) {
    if (!buf) {
      fprintf(stderr, "mojave-image: %s: out of memory\n", path);
      break;
    }
    if (n == cap) {
      unsigned char *b = realloc(buf, cap * 2);
      if (!b) { free(buf); buf = NULL; continue; }
      buf = b;
      cap *= 2;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      fprintf(stderr, "mojave-image: cannot read %s: %s\n", path, strerror(errno));
      free(buf);
      buf = NULL;
      break;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  if (fd) close(fd);
  *len = n;
  return buf;
}

static int write_all(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
    fprintf(stderr, "mojave-image: cannot write %s: %s\n", path, strerror(errno));
    if (f) fclose(f);
    return -1;
  }
  return 0;
}

static int cmd_inspect(int argc, char **argv) {
  int show = 0;
  const char *file = NULL;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "-b") || !strcmp(argv[i], "--bytes")) show = 1;
    else if (argv[i][0] == '-' && argv[i][1]) { usage_error("inspect: unknown option '%s'", argv[i]); return EXIT_USAGE; }
    else if (file) { usage_error("inspect: one FILE only ('%s' is extra)", argv[i]); return EXIT_USAGE; }
    else file = argv[i];
  }
  if (!file) { usage_error("inspect: missing FILE%s", ""); return EXIT_USAGE; }
  size_t len;
  unsigned char *buf = read_all(file, &len);
  if (!buf) return EXIT_USAGE;
  char err[256];
  uint32_t version;
  uint64_t raw, z;
  moj_img_t *img = NULL;
  if (moj_img_peek(buf, len, &version, &raw, &z, err, sizeof err) ||
      moj_img_decode(buf, len, &img, err, sizeof err)) {
    fprintf(stderr, "mojave-image: %s: invalid image: %s\n", file, err);
    free(buf);
    return EXIT_INVALID;
  }
  printf("IMAGE file=%s version=%u bytes=%zu raw=%llu zstd=%llu ratio=%.2f sha256=", file, version, len,
         (unsigned long long)raw, (unsigned long long)z, (double)raw / (double)z);
  for (int i = 0; i < 32; i++) printf("%02x", buf[32 + i]);
  putchar('\n');
  moj_img_print(img, stdout, show);
  moj_img_free(img);
  free(buf);
  return fflush(stdout) == 0 ? 0 : EXIT_USAGE;
}

static int cmd_verify(int argc, char **argv) {
  if (argc == 0) { usage_error("verify: missing FILE%s", ""); return EXIT_USAGE; }
  int rc = 0;
  for (int i = 0; i < argc; i++) {
    size_t len;
    unsigned char *buf = read_all(argv[i], &len);
    if (!buf) { rc = EXIT_USAGE; continue; }
    char err[256];
    moj_img_t *img;
    if (moj_img_decode(buf, len, &img, err, sizeof err)) {
      printf("%s: invalid: %s\n", argv[i], err);
      if (!rc) rc = EXIT_INVALID;
    } else {
      uint64_t heap = 0;
      for (uint32_t k = 0; k < img->nobjs; k++) heap += img->objs[k].size;
      printf("%s: ok (version %u, %zu bytes, %u objects / %llu heap bytes, %u globals, %u frames, %u relocs)\n",
             argv[i], MOJ_IMG_VERSION, len, img->nobjs, (unsigned long long)heap, img->nglobals, img->nframes,
             img->nrelocs);
      moj_img_free(img);
    }
    free(buf);
  }
  return rc;
}

/* ---- hidden: sample images and fuzzing seeds ---- */

static uint8_t sample_heap[3][64], sample_glob[2][24], sample_alloca[3][32];
static const char *const sample_argv[] = {"/usr/bin/app", "--size", "42"};
static const char *const sample_envp[] = {"HOME=/home/u", "LANG=C.UTF-8"};
static const char *const sample_syms[] = {"printf", "m1:counter", "m1:.str.1"};
static const moj_img_rlimit_t sample_rl[] = {{3, 8 << 20, ~0ull}, {7, 1024, 4096}};

/* A small image with every section and every record kind: the e2e test and
 * the fuzzing seeds start from it.  full = 0 gives the emptiest valid image. */
static void sample_model(moj_img_t *m, int full) {
  static moj_img_obj_t objs[3];
  static moj_img_global_t globs[2];
  static moj_img_slot_t slots[10];
  static moj_img_alloca_t allocas[3];
  static moj_img_frame_t frames[2];
  static const uint8_t slot_bytes[16] = {1, 0xfe, 0xca, 0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0, 0, 0, 0, 0, 0x3f};
  static moj_img_reloc_t relocs[5];
  static const moj_img_file_t files[2] = {{1, MOJ_FILE_STDIO, 1, 0, 0, ""},
                                          {3, MOJ_FILE_REGULAR, 02, 1, 4096, "/tmp/app.log"}};
  static const moj_img_shm_t shm[1] = {{0x40100001, 0x1234, 0600, 0x7f0000000000ull, 8192}};
  static const moj_img_semundo_t undo[1] = {{0x40100002, 1, -1}};
  memset(m, 0, sizeof *m);
  m->meta.mode = MOJ_IMG_BINARY;
  strcpy(m->meta.arch, "x86_64");
  moj_img_abi_here(&m->meta.abi, 4);
  m->table_top = 1;
  if (!full) return;
  strcpy(m->meta.datalayout, "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128");
  for (int i = 0; i < 32; i++) m->meta.exe_hash[i] = (uint8_t)(0xa0 + i);
  m->meta.exe_path = "/usr/bin/app";
  m->meta.cwd = "/home/u";
  m->meta.argc = 3; m->meta.argv = sample_argv;
  m->meta.envc = 2; m->meta.envp = sample_envp;
  m->meta.nrlimits = 2; m->meta.rlimits = sample_rl;
  strcpy(m->meta.src_host, "host1");
  m->meta.src_pid = 4242;
  m->meta.time_ns = 1764400000000000000ull;
  m->meta.hops = 1;
  m->nsyms = 3; m->syms = sample_syms;
  for (int i = 0; i < 3; i++) {
    for (int k = 0; k < 64; k++) sample_heap[i][k] = (uint8_t)(i * 64 + k);
    objs[i] = (moj_img_obj_t){.index = (uint32_t)(1 + i * 3), .size = 64 - 16 * (uint32_t)i,
                              .align_log2 = (uint8_t)(3 + i), .data = sample_heap[i]};
  }
  m->table_top = 9; m->nobjs = 3; m->objs = objs;
  globs[0] = (moj_img_global_t){"m1:counter", 8, sample_glob[0]};
  globs[1] = (moj_img_global_t){"table", 24, sample_glob[1]};
  m->nglobals = 2; m->globals = globs;
  for (int t = MOJ_SLOT_I1; t <= MOJ_SLOT_BYTES; t++) {
    static const uint32_t sz[] = {0, 1, 1, 2, 4, 8, 4, 8, 16, 8, 5};
    slots[t - 1] = (moj_img_slot_t){(uint8_t)t, sz[t], slot_bytes};
  }
  allocas[0] = (moj_img_alloca_t){32, 16, sample_alloca[0]};
  allocas[1] = (moj_img_alloca_t){8, 8, sample_alloca[1]};
  allocas[2] = (moj_img_alloca_t){16, 4096, sample_alloca[2]};
  frames[0] = (moj_img_frame_t){"main", 2, 10, slots, 2, allocas};
  frames[1] = (moj_img_frame_t){"m1:work", 0, 1, slots + 8, 1, allocas + 2};
  m->nframes = 2; m->frames = frames;
  relocs[0] = (moj_img_reloc_t){MOJ_AT_HEAP, 4, 0, 8, MOJ_TO_SYM, 1, 0, 0};
  relocs[1] = (moj_img_reloc_t){MOJ_AT_GLOBAL, 1, 0, 16, MOJ_TO_SYM, 2, 0, 3};
  relocs[2] = (moj_img_reloc_t){MOJ_AT_ALLOCA, 0, 1, 0, MOJ_TO_STACK, 0, 0, 32};
  relocs[3] = (moj_img_reloc_t){MOJ_AT_SLOT, 0, 8, 0, MOJ_TO_STACK, 1, 0, 8};
  relocs[4] = (moj_img_reloc_t){MOJ_AT_HEAP, 7, 0, 24, MOJ_TO_SYM, 0, 0, -4};
  m->nrelocs = 5; m->relocs = relocs;
  m->nfiles = 2; m->files = files;
  m->nshm = 1; m->shm = shm;
  m->nsemundo = 1; m->semundo = undo;
  m->stdio = (moj_img_stdio_t){6, (const uint8_t *)"input\n", 3, (const uint8_t *)"out", 0, NULL};
}

static int encode_or_say(const moj_img_t *m, void **out, size_t *len) {
  char err[256];
  if (moj_img_encode(m, 1, out, len, err, sizeof err)) {
    fprintf(stderr, "mojave-image: encode: %s\n", err);
    return -1;
  }
  return 0;
}

static int cmd_sample(int argc, char **argv) {
  if (argc != 1) { usage_error("sample: usage: sample OUT%s", ""); return EXIT_USAGE; }
  moj_img_t m;
  void *buf;
  size_t len;
  sample_model(&m, 1);
  if (encode_or_say(&m, &buf, &len)) return EXIT_INVALID;
  int rc = write_all(argv[0], buf, len) ? EXIT_USAGE : 0;
  free(buf);
  return rc;
}

/* Seeds for migrate/fuzz/fuzz_image.c, whose first byte picks the mode:
 * 'M' (an image as is), 0x00 (a raw payload the harness wraps), 0x01 (an
 * image whose checksum the harness recomputes). */
static int write_seed(const char *dir, const char *name, uint8_t prefix, const void *p, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  unsigned char *b = malloc(n + 1);
  if (!b) return -1;
  size_t off = prefix == 'M' ? 0 : 1;
  b[0] = prefix;
  memcpy(b + off, p, n);
  int rc = write_all(path, b, n + off);
  free(b);
  return rc;
}

/* Seed variants: the empty and the full sample, and the full one cut down
 * to a few sections, so that small seeds put mutations where each part of
 * the validator looks (a byte of a 1.5 KB payload is rarely picked). */
enum { SEED_EMPTY, SEED_FULL, SEED_META, SEED_REFS, SEED_IO, SEED_N };
static const char *const seed_names[SEED_N] = {"empty", "full", "meta", "refs", "io"};

static void seed_model(moj_img_t *m, int v) {
  sample_model(m, v != SEED_EMPTY);
  if (v == SEED_META || v == SEED_IO) { /* no cross-references left to break */
    m->nsyms = m->nobjs = m->nglobals = m->nframes = m->nrelocs = 0;
    m->table_top = 1;
  }
  if (v == SEED_META) {
    m->nfiles = m->nshm = m->nsemundo = 0;
    m->stdio = (moj_img_stdio_t){0, NULL, 0, NULL, 0, NULL};
  }
  if (v == SEED_REFS || v == SEED_IO) {
    m->meta.datalayout[0] = 0;
    m->meta.exe_path = m->meta.cwd = NULL;
    m->meta.argc = m->meta.envc = m->meta.nrlimits = 0;
  }
  if (v == SEED_REFS) {
    m->nfiles = m->nshm = m->nsemundo = 0;
    m->stdio = (moj_img_stdio_t){0, NULL, 0, NULL, 0, NULL};
  }
}

static int cmd_corpus(int argc, char **argv) {
  if (argc != 1) { usage_error("corpus: usage: corpus DIR%s", ""); return EXIT_USAGE; }
  if (mkdir(argv[0], 0777) && errno != EEXIST) {
    fprintf(stderr, "mojave-image: cannot create %s: %s\n", argv[0], strerror(errno));
    return EXIT_USAGE;
  }
  for (int v = 0; v < SEED_N; v++) {
    moj_img_t m;
    void *buf;
    size_t len;
    seed_model(&m, v);
    if (encode_or_say(&m, &buf, &len)) return EXIT_INVALID;
    unsigned long long raw_len = ZSTD_getFrameContentSize((char *)buf + 64, len - 64);
    void *raw = malloc(raw_len);
    int rc = !raw || ZSTD_decompress(raw, raw_len, (char *)buf + 64, len - 64) != raw_len;
    char name[32];
    snprintf(name, sizeof name, "raw-%s", seed_names[v]);
    rc = rc || write_seed(argv[0], name, 0, raw, raw_len);
    if (v <= SEED_FULL) { /* the envelope modes need no more than two */
      snprintf(name, sizeof name, "image-%s", seed_names[v]);
      rc = rc || write_seed(argv[0], name, 'M', buf, len);
      snprintf(name, sizeof name, "fixsum-%s", seed_names[v]);
      rc = rc || write_seed(argv[0], name, 1, buf, len);
    }
    free(raw);
    free(buf);
    if (rc) return EXIT_USAGE;
  }
  return 0;
}

/* ---- hidden: micro-benchmark ---- */

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A heap of 4 KiB objects, each half xorshift noise and half zeros: roughly
 * what a real heap compresses like (ratio about 2). */
static int bench_one(size_t mib, int threads_env) {
  size_t bytes = mib << 20, osz = 4096, n = bytes / osz;
  uint8_t *heap = malloc(bytes);
  moj_img_obj_t *objs = calloc(n, sizeof *objs);
  if (!heap || !objs) { free(heap); free(objs); return -1; }
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < n; i++) {
    uint8_t *o = heap + i * osz;
    for (size_t k = 0; k < osz / 2; k += 8) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      memcpy(o + k, &x, 8);
    }
    memset(o + osz / 2, 0, osz / 2);
    objs[i] = (moj_img_obj_t){(uint32_t)(i + 1), (uint32_t)osz, 4, o};
  }
  moj_img_t m;
  sample_model(&m, 0);
  m.table_top = (uint32_t)n + 1;
  m.nobjs = (uint32_t)n;
  m.objs = objs;
  char threads[16];
  snprintf(threads, sizeof threads, "%d", threads_env);
  if (threads_env >= 0) setenv("MOJAVE_IMAGE_THREADS", threads, 1);
  else unsetenv("MOJAVE_IMAGE_THREADS");
  double enc = 1e9, dec = 1e9;
  size_t len = 0;
  int reps = mib >= 100 ? 2 : 3, rc = 0;
  for (int r = 0; r < reps && !rc; r++) {
    void *buf;
    char err[256];
    moj_img_t *d;
    double t0 = now_s();
    if (moj_img_encode(&m, 1, &buf, &len, err, sizeof err)) { fprintf(stderr, "encode: %s\n", err); rc = -1; break; }
    double t1 = now_s();
    if (moj_img_decode(buf, len, &d, err, sizeof err)) { fprintf(stderr, "decode: %s\n", err); rc = -1; free(buf); break; }
    double t2 = now_s();
    if (d->nobjs != n || memcmp(d->objs[n - 1].data, objs[n - 1].data, osz)) { fprintf(stderr, "decode: content differs\n"); rc = -1; }
    moj_img_free(d);
    free(buf);
    if (t1 - t0 < enc) enc = t1 - t0;
    if (t2 - t1 < dec) dec = t2 - t1;
  }
  if (!rc)
    printf("| %5zu MiB | %7zu | %-7s | %11zu | %5.2f | %8.1f | %7.0f | %8.1f | %7.0f |\n", mib, n,
           threads_env == 0 ? "1" : "default", len, (double)bytes / (double)len, enc * 1e3, (double)mib / enc,
           dec * 1e3, (double)mib / dec);
  free(objs);
  free(heap);
  return rc;
}

static int cmd_bench(int argc, char **argv) {
  static const char *const defaults[] = {"1", "10", "100"};
  if (argc == 0) { argc = 3; argv = (char **)defaults; }
  printf("| heap      | objects | threads | image bytes | ratio | enc (ms) | enc MiB/s | dec (ms) | dec MiB/s |\n");
  printf("|-----------|---------|---------|-------------|-------|----------|-----------|----------|-----------|\n");
  for (int i = 0; i < argc; i++) {
    char *end;
    long mib = strtol(argv[i], &end, 10);
    if (*end || mib < 1 || mib > 65536) { usage_error("bench: bad size '%s' (MiB)", argv[i]); return EXIT_USAGE; }
    if (bench_one((size_t)mib, 0) || bench_one((size_t)mib, -1)) return EXIT_INVALID;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage_error("missing command (inspect or verify)%s", "");
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
    printf("mojave-image %s (image format version %u, zstd %s)\n", MOJ_VERSION, MOJ_IMG_VERSION, ZSTD_versionString());
    return 0;
  }
  static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
    {"inspect", cmd_inspect}, {"verify", cmd_verify},
    {"sample", cmd_sample},   {"corpus", cmd_corpus}, {"bench", cmd_bench}, /* hidden */
  };
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (!strcmp(cmd, cmds[i].name)) return cmds[i].fn(argc - 2, argv + 2);
  usage_error("unknown command '%s'", cmd);
  return EXIT_USAGE;
}
