/* runtime/migrate_state.c — the process state an image carries besides the
 * stack: the pointer table and its objects (indices keep their meaning, so
 * handles stored anywhere stay valid), the writable globals of mojcc modules
 * (by stable name), argv/environment/cwd/rlimits, open regular files (path,
 * flags, offset: the hosts share a filesystem) and the bytes the program had
 * read from stdin but not consumed.  Capture points into live memory (no
 * copies); restore runs at the destination before main's frames rewind. */
#include "migrate_int.h"
#include "../migrate/ctl_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const int rlimits[] = {RLIMIT_AS, RLIMIT_CORE, RLIMIT_CPU, RLIMIT_DATA, RLIMIT_FSIZE,
                              RLIMIT_NOFILE, RLIMIT_STACK, RLIMIT_MEMLOCK, RLIMIT_NPROC};
#define NRLIM (sizeof rlimits / sizeof rlimits[0])

/* stdio streams on descriptors that travel (fopen'd files): flushed at
 * capture, re-created with fdopen at the destination, pointers re-pointed */
typedef struct stream { FILE *f; uint32_t file; } stream_t;

typedef struct cap {
  moj_img_obj_t    *objs;
  moj_img_global_t *globals;
  moj_img_file_t   *files;
  char            **paths;
  moj_img_rlimit_t  rl[NRLIM];
  char              cwd[4096];
  const char      **env;
  stream_t         *streams;
  size_t            nstreams;
  FILE            **made;       /* destination: stream per FILES record */
  uint32_t          nmade;
  moj_img_shm_t    *shm;        /* DSM attachments (from runtime/dsm/client.c) */
  moj_img_semundo_t *semundo;
} cap_t;
static cap_t C MOJ_RTVAR;

static int fail(char *reason, size_t rlen, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *reason, size_t rlen, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, rlen, fmt, ap);
  va_end(ap);
  errno = err;
  return -1;
}


/* Descriptors the runtime, the transport or the DSM client (its home
 * connections, memfds, eventfds) own, which do not travel. */
static int own_fd(int fd) {
  moj_rt_t *rt = _moj_rt;
  if (fd <= 2) return 1;
  if (rt && (fd == rt->out_fd[0] || fd == rt->out_fd[1] || fd == rt->saved_fd[0] || fd == rt->saved_fd[1]))
    return 1;
  return fd == moj_ctl_fd() || _moj_large_owns_fd(fd) || (__moj_dsm_owns_fd && __moj_dsm_owns_fd(fd));
}


/* SEM_UNDO adjustments the image carries become this process's again: at
 * the destination once it runs (after GO: a hand-off aborted before that
 * must not leave them with a process that is killed), at the source when the
 * hand-off failed after they were taken. */
void _moj_mig_undo_adopt(const moj_img_t *img) {
  if (!img || !img->nsemundo || !__moj_dsm_mig_undo_give) return;
  char why[300];
  if (__moj_dsm_mig_undo_give(img->semundo, img->nsemundo, why, sizeof why)) {
    char line[400];
    int k = snprintf(line, sizeof line, "mojave: migration: %s\n", why);
    if (k > 0) { ssize_t w = write(2, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1); (void)w; }
  }
}

int _moj_mig_capture_dsm(moj_img_t *img, char *reason, size_t rlen) {
  if (!__moj_dsm_mig_capture) return 0; /* no DSM client in this program */
  int rc = __moj_dsm_mig_capture(&C.shm, &img->nshm, &C.semundo, &img->nsemundo, reason, rlen);
  img->shm = C.shm;
  img->semundo = C.semundo; /* even on failure: taken adjustments are given back at the rewind */
  return rc;
}

/* glibc's list of open streams (its first member is the FILE). */
extern FILE *_IO_list_all;

/* Every stream on a descriptor above 2 is flushed first: output reaches the
 * file, and an input stream drops its read-ahead and moves the descriptor
 * back to what the program has consumed, so the offset recorded next is the
 * stream's position.  (If the hand-off then fails the program reads the
 * same bytes again through the emptied buffer: same result.) */
static void flush_streams(void) {
  for (FILE *f = _IO_list_all; f; f = f->_chain)
    if (f != stdin && f != stdout && f != stderr && f->_fileno > 2) fflush(f);
}

static void note_streams(moj_img_t *img) {
  size_t n = 0;
  for (FILE *f = _IO_list_all; f; f = f->_chain) n++;
  C.streams = calloc(n + 1, sizeof *C.streams);
  C.nstreams = 0;
  if (!C.streams) return;
  for (FILE *f = _IO_list_all; f; f = f->_chain) {
    if (f == stdin || f == stdout || f == stderr || f->_fileno <= 2) continue;
    for (uint32_t i = 0; i < img->nfiles; i++)
      if (img->files[i].fd == f->_fileno) {
        C.streams[C.nstreams++] = (stream_t){f, i};
        break;
      }
  }
}

size_t _moj_mig_streams(const void **addr, uint32_t *file, size_t max) {
  size_t k = 0;
  for (; k < C.nstreams && k < max; k++) {
    addr[k] = C.streams[k].f;
    file[k] = C.streams[k].file;
  }
  return C.nstreams;
}

static int capture_files(moj_img_t *img, char *reason, size_t rlen) {
  flush_streams();
  DIR *d = opendir("/proc/self/fd");
  if (!d) return fail(reason, rlen, errno, "cannot list descriptors: %s", strerror(errno));
  int dfd = dirfd(d), n = 0, cap = 0, rc = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd == dfd || own_fd(fd)) continue;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, path, sizeof path - 1);
    if (k < 0) continue;
    path[k] = 0;
    struct stat st;
    if (fstat(fd, &st)) continue;
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISCHR(st.st_mode)) {
      rc = fail(reason, rlen, EBUSY, "descriptor %d (%s) is not a regular file; only regular files migrate",
                fd, path);
      break;
    }
    if (path[0] != '/' || strstr(path, " (deleted)")) {
      rc = fail(reason, rlen, EBUSY, "descriptor %d (%s) cannot be reopened by name", fd, path);
      break;
    }
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      moj_img_file_t *nf = realloc(C.files, (size_t)cap * sizeof *nf);
      char **np = realloc(C.paths, (size_t)cap * sizeof *np);
      if (nf) C.files = nf;
      if (np) C.paths = np;
      if (!nf || !np) { rc = fail(reason, rlen, ENOMEM, "out of memory listing files"); break; }
    }
    C.paths[n] = strdup(path);
    if (!C.paths[n]) { rc = fail(reason, rlen, ENOMEM, "out of memory listing files"); break; }
    off_t off = lseek(fd, 0, SEEK_CUR);
    C.files[n] = (moj_img_file_t){fd, MOJ_FILE_REGULAR, moj_oflags_to_image(fcntl(fd, F_GETFL)), fcntl(fd, F_GETFD),
                                  off < 0 ? 0 : (uint64_t)off, C.paths[n]};
    n++;
  }
  closedir(d);
  img->files = C.files;
  img->nfiles = (uint32_t)n;
  if (!rc) note_streams(img);
  return rc;
}

int _moj_mig_capture_files(moj_img_t *img, char *reason, size_t rlen) {
  memset(&C, 0, sizeof C);
  return capture_files(img, reason, rlen);
}

/* Address of the stream for FILES record i: at the source the program's own
 * stream; at the destination one made with fdopen on the re-opened
 * descriptor (mode from its open flags), once per record. */
void *_moj_mig_stream(const moj_img_t *img, uint32_t i, int at_dest) {
  if (!at_dest) {
    for (size_t k = 0; k < C.nstreams; k++)
      if (C.streams[k].file == i) return C.streams[k].f;
    _moj_fatal("migration: no stream for file record %u", i);
  }
  if (!C.made) {
    C.made = calloc(img->nfiles + 1, sizeof *C.made);
    if (!C.made) _moj_fatal("migration: out of memory re-creating streams");
    C.nmade = img->nfiles;
  }
  if (i >= C.nmade) _moj_fatal("migration: stream of file record %u out of range", i);
  if (!C.made[i]) {
    const moj_img_file_t *f = &img->files[i];
    int acc = f->flags & O_ACCMODE, app = (f->flags & O_APPEND) != 0;
    const char *mode = acc == O_RDONLY ? "r" : acc == O_WRONLY ? (app ? "a" : "w") : (app ? "a+" : "r+");
    C.made[i] = fdopen(f->fd, mode);
    if (!C.made[i]) _moj_fatal("migration: cannot re-create the stream of %s: %s", f->path, strerror(errno));
  }
  return C.made[i];
}

/* Bytes stdin's buffer holds that the program has not read yet: they travel
 * in the image and are delivered first at the destination. */
static void capture_stdin(moj_img_t *img) {
  FILE *f = stdin;
  if (f && f->_IO_read_ptr && f->_IO_read_end > f->_IO_read_ptr) {
    img->stdio.stdin_data = (const uint8_t *)f->_IO_read_ptr;
    img->stdio.stdin_len = (uint64_t)(f->_IO_read_end - f->_IO_read_ptr);
  }
}

int _moj_mig_capture_state(moj_img_t *img, mig_relocs_t *r, char *reason, size_t rlen) {
  moj_rt_t *rt = _moj_rt;
  /* metadata */
  moj_img_meta_t *m = &img->meta;
  snprintf(m->arch, sizeof m->arch, "%s", MOJ_ARCH_NAME);
  snprintf(m->datalayout, sizeof m->datalayout, "%s", MOJ_ARCH_DATALAYOUT);
  moj_img_abi_here(&m->abi, MOJ_MIN_ALIGN_LOG2);
  static char exe[4096] MOJ_RTVAR;
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[k > 0 ? k : 0] = 0;
  m->exe_path = exe;
  if (!getcwd(C.cwd, sizeof C.cwd)) return fail(reason, rlen, errno, "cannot read the working directory");
  m->cwd = C.cwd;
  int argc;
  char **argv = _moj_mig_argv(&argc);
  m->argc = (uint32_t)argc;
  m->argv = (const char *const *)argv;
  size_t envc = 0;
  while (environ && environ[envc]) envc++;
  m->envc = (uint32_t)envc;
  m->envp = (const char *const *)environ;
  for (size_t i = 0; i < NRLIM; i++) {
    struct rlimit l;
    getrlimit(rlimits[i], &l);
    C.rl[i] = (moj_img_rlimit_t){(uint32_t)rlimits[i], l.rlim_cur, l.rlim_max};
  }
  m->nrlimits = NRLIM;
  m->rlimits = C.rl;
  const char *h = getenv("MOJAVE_HOST");
  snprintf(m->src_host, sizeof m->src_host, "%s", h ? h : "");
  m->src_pid = (uint64_t)getpid();
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  m->time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
  const char *hops = getenv("MOJAVE_HOPS");
  m->hops = hops ? (uint32_t)atoi(hops) : 0;

  /* heap: every live table entry */
  uint32_t nobj = 0;
  for (uint32_t i = 1; i < rt->top; i++)
    if (rt->table[i].owner != MOJ_OWNER_FREE && rt->table[i].base) nobj++;
  C.objs = malloc((nobj + 1) * sizeof *C.objs);
  if (!C.objs) return fail(reason, rlen, ENOMEM, "out of memory listing %u heap objects", nobj);
  uint32_t j = 0;
  for (uint32_t i = 1; i < rt->top; i++) {
    moj_entry_t *e = &rt->table[i];
    if (e->owner == MOJ_OWNER_FREE || !e->base) continue;
    C.objs[j++] = (moj_img_obj_t){i, e->size, (uint8_t)(rt->meta[i] & MOJ_META_ALIGN_MASK),
                                  (const uint8_t *)e->base};
    _moj_mig_scan(r, MOJ_AT_HEAP, i, 0, (const uint8_t *)e->base, e->size, 0);
  }
  img->table_top = rt->top;
  img->objs = C.objs;
  img->nobjs = nobj;

  /* globals of mojcc modules */
  size_t ng = 0, nsym = _moj_mig_nsyms();
  for (size_t i = 0; i < nsym; i++) ng += (_moj_mig_sym(i)->flags & MOJ_MIG_SYM_WRITABLE) != 0;
  C.globals = malloc((ng + 1) * sizeof *C.globals);
  if (!C.globals) return fail(reason, rlen, ENOMEM, "out of memory listing globals");
  uint32_t g = 0;
  for (size_t i = 0; i < nsym; i++) {
    const moj_mig_sym_t *s = _moj_mig_sym(i);
    if (!(s->flags & MOJ_MIG_SYM_WRITABLE)) continue;
    C.globals[g] = (moj_img_global_t){s->name, s->size, s->addr};
    _moj_mig_scan(r, MOJ_AT_GLOBAL, g, 0, s->addr, s->size, 0);
    g++;
  }
  img->globals = C.globals;
  img->nglobals = g;

  capture_stdin(img);
  return 0;
}

void _moj_mig_capture_free(moj_img_t *img) {
  for (uint32_t i = 0; i < img->nfiles; i++) free(C.paths[i]);
  free(C.paths);
  free(C.files);
  free(C.objs);
  free(C.globals);
  free(C.streams);
  free(C.shm);
  free(C.semundo);
  memset(&C, 0, sizeof C);
  (void)img;
}

uint8_t *_moj_mig_global_addr(const moj_img_t *img, uint32_t id) {
  const moj_mig_sym_t *s = _moj_mig_sym_named(img->globals[id].name);
  if (!s) _moj_fatal("migration: this program has no global '%s'", img->globals[id].name);
  return s->addr;
}

/* ---- destination ------------------------------------------------------------ */

static void restore_heap(const moj_img_t *img) {
  moj_rt_t *rt = _moj_rt;
  if (img->table_top > rt->capacity)
    _moj_fatal("migration: the image needs %u table entries, this process allows %u (MOJAVE_MAX_OBJECTS)",
               img->table_top - 1, rt->capacity - 1);
  /* objects made by constructors before main are superseded by the image's */
  for (uint32_t i = 1; i < rt->top; i++)
    if (rt->table[i].owner != MOJ_OWNER_FREE && rt->table[i].base)
      _moj_block_free(rt->table[i].base, rt->meta[i]);
  uint32_t k = 0;
  rt->live = 0;
  for (uint32_t i = 1; i < img->table_top; i++) {
    moj_entry_t *e = &rt->table[i];
    if (k < img->nobjs && img->objs[k].index == i) {
      const moj_img_obj_t *o = &img->objs[k++];
      void *b = _moj_block_alloc(NULL, o->size ? o->size : 1, o->align_log2);
      if (!b) _moj_fatal("migration: out of memory restoring heap object %u (%u bytes)", i, o->size);
      memcpy(b, o->data, o->size);
      *e = (moj_entry_t){b, o->size, 0};
      rt->meta[i] = o->align_log2;
      rt->live++;
    } else {
      *e = (moj_entry_t){NULL, 0, MOJ_OWNER_FREE};
      rt->meta[i] = 0;
    }
  }
  rt->top = img->table_top;
  rt->free_head = 0;
  _moj_index_caches_drop(); /* cached indices may be the image's objects now */
  for (uint32_t i = img->table_top; i-- > 1;)
    if (rt->table[i].owner == MOJ_OWNER_FREE) {
      rt->table[i].size = rt->free_head;
      rt->free_head = i;
    }
}

static void restore_globals(const moj_img_t *img) {
  for (uint32_t g = 0; g < img->nglobals; g++) {
    const moj_img_global_t *ig = &img->globals[g];
    const moj_mig_sym_t *s = _moj_mig_sym_named(ig->name);
    if (!s) _moj_fatal("migration: this program has no global '%s'", ig->name);
    if (s->size != ig->size)
      _moj_fatal("migration: global '%s' is %llu bytes in the image, %llu here", ig->name,
                 (unsigned long long)ig->size, (unsigned long long)s->size);
    memcpy(s->addr, ig->data, ig->size);
  }
}

static void restore_files(const moj_img_t *img) {
  for (uint32_t i = 0; i < img->nfiles; i++) {
    const moj_img_file_t *f = &img->files[i];
    int flags = moj_oflags_from_image(f->flags) & ~(O_CREAT | O_EXCL | O_TRUNC);
    int fd = open(f->path, flags);
    if (fd < 0) _moj_fatal("migration: cannot reopen %s (descriptor %d): %s", f->path, f->fd, strerror(errno));
    if (fd != f->fd) {
      if (dup2(fd, f->fd) < 0) _moj_fatal("migration: cannot move %s to descriptor %d: %s", f->path, f->fd, strerror(errno));
      close(fd);
    }
    if (!(f->flags & O_APPEND) && lseek(f->fd, (off_t)f->offset, SEEK_SET) < 0 && errno != ESPIPE)
      _moj_fatal("migration: cannot seek %s to %llu: %s", f->path, (unsigned long long)f->offset, strerror(errno));
    if (f->fd_flags & FD_CLOEXEC) fcntl(f->fd, F_SETFD, FD_CLOEXEC);
  }
}

/* The bytes the program had read into stdin's buffer but not consumed come
 * first: they become the content of a fresh buffer of the destination's
 * stdin stream, which then refills from the pipe as usual (glibc's FILE
 * read pointers; the same fields capture_stdin read at the source). */
static void restore_stdin(const moj_img_t *img) {
  size_t n = (size_t)img->stdio.stdin_len;
  if (!n) return;
  size_t cap = n < BUFSIZ ? BUFSIZ : n;
  char *b = malloc(cap); /* stdin's buffer from now on: never freed */
  if (!b) _moj_fatal("migration: out of memory for %zu bytes of pending input", n);
  memcpy(b, img->stdio.stdin_data, n);
  if (setvbuf(stdin, b, _IOFBF, cap)) _moj_fatal("migration: cannot give stdin its pending input");
  stdin->_IO_read_base = stdin->_IO_read_ptr = b;
  stdin->_IO_read_end = b + n;
}

void _moj_mig_restore_state(const moj_img_t *img) {
  /* another instruction set: only where the ABIs agree (migrate/image_abi.c) */
  moj_img_abi_t here;
  moj_img_abi_here(&here, MOJ_MIN_ALIGN_LOG2);
  char abi_why[512];
  if (moj_img_abi_check(&img->meta, MOJ_ARCH_NAME, &here, abi_why, sizeof abi_why))
    _moj_fatal("migration: the image cannot be restored here: %s", abi_why);
  for (uint32_t i = 0; i < img->meta.nrlimits; i++) {
    struct rlimit l = {img->meta.rlimits[i].cur, img->meta.rlimits[i].max};
    setrlimit((int)img->meta.rlimits[i].resource, &l); /* best effort: a lower hard limit stays */
  }
  if (img->meta.cwd && chdir(img->meta.cwd))
    _moj_fatal("migration: cannot enter the working directory %s: %s", img->meta.cwd, strerror(errno));
  restore_files(img);
  /* Files first: they are dup2'd to their recorded numbers, which must not
   * land on the DSM client's sockets and memfds opened next.  DSM segments
   * before the heap and globals: pointers into them are raw addresses, valid
   * only at the same address, and the heap's allocations must not take that
   * range first.  No records: no DSM contact at all. */
  char why[300];
  if (img->nshm && !__moj_dsm_mig_restore)
    _moj_fatal("migration: the image has distributed shared memory but this program has no DSM client");
  if (img->nshm && __moj_dsm_mig_restore(img->shm, img->nshm, why, sizeof why))
    _moj_fatal("migration: cannot re-attach distributed shared memory: %s", why);
  restore_heap(img);
  restore_globals(img);
  restore_stdin(img);
}
