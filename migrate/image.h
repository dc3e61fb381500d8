/* migrate/image.h — the checkpoint image: decoded model, encoder, decoder.
 *
 * CONTRACT between the runtime's capture/restore (runtime/migrate_*.c), the
 * daemon (mojaved), the inspector (mojave-image) and the fuzzer.  The runtime
 * fills a moj_img_t whose data pointers point straight into the live process
 * (no copies) and calls moj_img_encode; the destination calls moj_img_decode
 * on bytes that may be hostile.  Format details (header, sections, record
 * layouts) live in image.c and docs/migration.md.
 *
 * Serialized form (all integers little-endian, fixed width):
 *   header  : magic "MOJIMG\r\n" (8) | u32 version | u32 flags |
 *             u64 payload_raw_len | u64 payload_zstd_len | u8 sha256[32] of
 *             the compressed payload
 *   payload : zstd frame; inside it, sections back to back:
 *             u32 type | u32 flags | u64 len | len bytes
 *   Unknown section types, versions, flags: refused.
 */
#ifndef MOJ_MIGRATE_IMAGE_H
#define MOJ_MIGRATE_IMAGE_H
#include <stddef.h>
#include <stdint.h>

#define MOJ_IMG_MAGIC   "MOJIMG\r\n"
/* 2: META records the writer's ABI facts (moj_img_abi_t) */
#define MOJ_IMG_VERSION 2u

enum moj_img_section {
  MOJ_SEC_META = 1, MOJ_SEC_SYMS, MOJ_SEC_TABLE, MOJ_SEC_HEAP, MOJ_SEC_GLOBALS,
  MOJ_SEC_FRAMES, MOJ_SEC_RELOCS, MOJ_SEC_FILES, MOJ_SEC_DSM, MOJ_SEC_STDIO,
};

enum moj_img_mode { MOJ_IMG_BINARY = 1, MOJ_IMG_IR = 2 };

/* The ABI facts of the runtime that wrote the image (META, version 2): what a
 * restore on another instruction set compares (moj_img_abi_check). */
enum moj_img_ld { MOJ_LD_X87_80 = 1, MOJ_LD_IEEE128, MOJ_LD_IEEE64 };
enum moj_img_va { MOJ_VA_SYSV_X86_64 = 1, MOJ_VA_AAPCS64, MOJ_VA_OTHER };
typedef struct moj_img_abi {
  uint8_t ptr_bytes;        /* 4 or 8                                          */
  uint8_t big_endian;       /* 0 or 1                                          */
  uint8_t char_signed;      /* plain char: 1 signed (x86-64), 0 unsigned (aarch64) */
  uint8_t long_double;      /* moj_img_ld                                      */
  uint8_t va_list;          /* moj_img_va                                      */
  uint8_t heap_align_log2;  /* alignment every heap object gets, 0..12         */
  uint8_t max_align_log2;   /* alignof(max_align_t), 0..12                     */
} moj_img_abi_t;

typedef struct moj_img_rlimit { uint32_t resource; uint64_t cur, max; } moj_img_rlimit_t;

typedef struct moj_img_meta {
  uint32_t    mode;            /* moj_img_mode                                   */
  char        arch[16];        /* "x86_64", "aarch64"                            */
  char        datalayout[160]; /* LLVM data layout string of the writer's target */
  moj_img_abi_t abi;           /* the writer's ABI facts                         */
  uint8_t     exe_hash[32];    /* SHA-256 of the executable file                 */
  uint8_t     bc_hash[32];     /* SHA-256 of its .mojave.bc bytes (0s if none)   */
  const char *exe_path;        /* absolute path at the source                   */
  const char *cwd;
  uint32_t    argc;  const char *const *argv;
  uint32_t    envc;  const char *const *envp;
  uint32_t    nrlimits; const moj_img_rlimit_t *rlimits;
  char        src_host[32];    /* cluster host name ("" when unknown)            */
  uint64_t    src_pid;
  uint64_t    time_ns;         /* CLOCK_REALTIME at capture                      */
  uint32_t    hops;            /* migrations before this one                     */
} moj_img_meta_t;

/* SYMS: names relocations point at (globals, functions, string literals), as
 * the pass's stable names ("sym" for external linkage, "module-id:name" else). */

/* TABLE + HEAP: the pointer table (indices keep their meaning). */
typedef struct moj_img_obj {
  uint32_t       index;        /* table index, 1..top-1, strictly increasing     */
  uint32_t       size;         /* bytes                                          */
  uint8_t        align_log2;   /* 0..12                                          */
  const uint8_t *data;         /* size bytes                                     */
} moj_img_obj_t;

/* GLOBALS: writable globals of instrumented modules, by stable name. */
typedef struct moj_img_global {
  const char    *name;
  uint64_t       size;
  const uint8_t *data;
} moj_img_global_t;

/* FRAMES: outermost (main) first.  Slots are the frame's live SSA values in IR
 * terms (type + bytes); allocas are its stack objects (raw bytes). */
enum moj_img_slot_type {
  MOJ_SLOT_I1 = 1, MOJ_SLOT_I8, MOJ_SLOT_I16, MOJ_SLOT_I32, MOJ_SLOT_I64,
  MOJ_SLOT_F32, MOJ_SLOT_F64, MOJ_SLOT_F80, MOJ_SLOT_PTR, MOJ_SLOT_BYTES,
};
typedef struct moj_img_slot {
  uint8_t        type;         /* moj_img_slot_type                              */
  uint32_t       size;         /* bytes (I1: 1, PTR: 8, BYTES: any <= 1 MiB)     */
  const uint8_t *data;
} moj_img_slot_t;
typedef struct moj_img_alloca {
  uint32_t       size, align;  /* align: power of two <= 4096                    */
  const uint8_t *data;
} moj_img_alloca_t;
typedef struct moj_img_frame {
  const char           *func;  /* stable function name                           */
  uint32_t              site;  /* call-site index inside func                    */
  uint32_t              nslots;   const moj_img_slot_t   *slots;
  uint32_t              nallocas; const moj_img_alloca_t *allocas;
} moj_img_frame_t;

/* RELOCS: 8-byte words whose value is a machine address that must be
 * re-pointed at the destination.  The word's bytes in the image keep the
 * source's value; the destination writes the new address there. */
enum moj_img_where  { MOJ_AT_HEAP = 1, MOJ_AT_GLOBAL, MOJ_AT_ALLOCA, MOJ_AT_SLOT };
enum moj_img_target { MOJ_TO_SYM = 1, MOJ_TO_STACK, MOJ_TO_HEAP, MOJ_TO_FILE };
typedef struct moj_img_reloc {
  uint8_t  where;    /* HEAP: id = table index; GLOBAL: id = global record #;
                        ALLOCA: id = frame #, sub = alloca #; SLOT: id = frame #, sub = slot # */
  uint32_t where_id, where_sub;
  uint64_t where_off; /* byte offset of the word inside that object (multiple of 1, word fits) */
  uint8_t  target;    /* SYM: tid = SYMS index; STACK: tid = frame #, tsub = alloca #;
                         HEAP: tid = table index (a raw address inside a heap object);
                         FILE: tid = FILES record # (the stdio stream on that descriptor) */
  uint32_t tid, tsub;
  int64_t  toff;      /* byte offset from the target's start (may be one past the end) */
} moj_img_reloc_t;

/* FILES: descriptors re-opened at the destination (hosts share a filesystem). */
enum moj_img_file_kind { MOJ_FILE_REGULAR = 1, MOJ_FILE_STDIO = 2 };
typedef struct moj_img_file {
  int32_t     fd;
  uint32_t    kind;
  int32_t     flags;         /* open(2) flags as fcntl(F_GETFL) gave them     */
  int32_t     fd_flags;      /* FD_CLOEXEC                                    */
  uint64_t    offset;
  const char *path;          /* absolute                                      */
} moj_img_file_t;

/* DSM: System V attachments and SEM_UNDO adjustments. */
typedef struct moj_img_shm { int32_t shmid, key, shmflg; uint64_t addr, size; } moj_img_shm_t;
typedef struct moj_img_semundo { int32_t semid; uint16_t num; int16_t adj; } moj_img_semundo_t;

/* STDIO: bytes the program had not consumed from stdin yet (stdio buffer +
 * pipe), delivered first at the destination; output held by the runtime. */
typedef struct moj_img_stdio {
  uint64_t stdin_len;  const uint8_t *stdin_data;
  uint64_t out_len;    const uint8_t *out_data;   /* held stdout bytes */
  uint64_t err_len;    const uint8_t *err_data;   /* held stderr bytes */
} moj_img_stdio_t;

typedef struct moj_img {
  moj_img_meta_t          meta;
  uint32_t nsyms;         const char *const       *syms;
  uint32_t table_top;     /* next never-used table index at the source (>= 1) */
  uint32_t nobjs;         const moj_img_obj_t     *objs;
  uint32_t nglobals;      const moj_img_global_t  *globals;
  uint32_t nframes;       const moj_img_frame_t   *frames;
  uint32_t nrelocs;       const moj_img_reloc_t   *relocs;
  uint32_t nfiles;        const moj_img_file_t    *files;
  uint32_t nshm;          const moj_img_shm_t     *shm;
  uint32_t nsemundo;      const moj_img_semundo_t *semundo;
  moj_img_stdio_t         stdio;
} moj_img_t;

/* Serialize: compressed with zstd at `level` (0 = default 1), checksummed.
 * *out is malloc'd (the caller frees).  0, or -1 with a reason in err. */
int moj_img_encode(const moj_img_t *img, int level, void **out, size_t *outlen,
                   char *err, size_t errlen);

/* Parse and validate untrusted bytes: header, checksum, every count, length,
 * string and cross-reference (reloc ids, strictly increasing table indices
 * below table_top, ...).  On success *out points to one allocation holding the
 * model and all its data (free with moj_img_free).  -1 with a named reason
 * ("truncated header", "bad magic", "version 7 unsupported (this is 2)",
 * "checksum mismatch", "section FRAMES: frame 3 slot 2: size 9 for PTR", ...). */
int  moj_img_decode(const void *buf, size_t len, moj_img_t **out, char *err, size_t errlen);
void moj_img_free(moj_img_t *img);

/* Peek at the header only (cheap): version, lengths.  0 or -1 + reason. */
int moj_img_peek(const void *buf, size_t len, uint32_t *version, uint64_t *raw_len,
                 uint64_t *zstd_len, char *err, size_t errlen);

/* The facts of the code this is compiled into; heap_align_log2 is the
 * caller's (the runtime's allocator). */
void moj_img_abi_here(moj_img_abi_t *a, unsigned heap_align_log2);

/* May a process on instruction set `arch` with ABI facts `here` restore an
 * image with META `m`?  0, or -1 with every difference that matters named
 * in why ("the image was taken on aarch64 in binary mode; ...").  The
 * rules are in image_abi.c and docs/migration.md. */
int moj_img_abi_check(const moj_img_meta_t *m, const char *arch, const moj_img_abi_t *here, char *why,
                      size_t whylen);

/* Text dump (mojave-image inspect): every section, one record a line. */
void moj_img_print(const moj_img_t *img, void *FILE_out, int show_bytes);

#endif /* MOJ_MIGRATE_IMAGE_H */
