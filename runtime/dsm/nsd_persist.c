/* nsd_persist.c — what a restarted home daemon finds again: per segment a
 * metadata file and mapped files for the home copies and the owner array
 * in the --state directory. */
#include "nsd.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- persistence: a restarted home must not lose segments still attached.
 * The home copy of every page lives in a MAP_SHARED file, so even data fetched
 * from an owner an instant before a crash is on disk; metadata is rewritten
 * (write + rename) whenever it changes, and the per-page owner array is a
 * mapped file too.  Read copies are not persisted: the attached clients
 * re-register what they hold (REATTACH) after reconnecting. */
struct shm_meta { uint32_t magic; int32_t key; uint32_t uid, gid, cuid, cgid, mode; int32_t removed;
                  uint64_t size; int64_t atime, dtime, ctime; uint32_t cpid, lpid; struct who who[MAX_ATT]; };
#define META_MAGIC 0x4d4a534du
void state_path(char *buf, size_t n, int slot, const char *ext) {
  snprintf(buf, n, "%s/shm-%d.%s", state_dir, slot, ext);
}
void shm_save_meta(int slot) {
  struct shm *s = shms[slot];
  if (!state_dir || !s) return;
  struct shm_meta m = {META_MAGIC, s->perm.key, s->perm.uid, s->perm.gid, s->perm.cuid, s->perm.cgid, s->perm.mode,
                       s->removed, s->size, s->atime, s->dtime, s->ctime, s->cpid, s->lpid, {{{0}, 0}}};
  memcpy(m.who, s->who, sizeof m.who);
  char tmp[700], fin[600];
  state_path(fin, sizeof fin, slot, "meta");
  snprintf(tmp, sizeof tmp, "%s.tmp", fin);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, &m, sizeof m) != (ssize_t)sizeof m || close(fd) || rename(tmp, fin))
    loge("cannot save segment metadata %s: %s", fin, strerror(errno));
}
/* Home copy storage: a file in the state dir when persistent, else anonymous memory. */
uint8_t *home_map(int slot, size_t bytes, int keep, const char *ext) {
  if (!state_dir) return keep ? NULL : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char path[600];
  state_path(path, sizeof path, slot, ext);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (keep ? 0 : O_TRUNC), 0600);
  if (fd < 0 || ftruncate(fd, (off_t)bytes)) { loge("cannot create %s: %s", path, strerror(errno)); if (fd >= 0) close(fd); return MAP_FAILED; }
  uint8_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  return p;
}


void state_load(void) {
  if (mkdir(state_dir, 0700) && errno != EEXIST) { loge("cannot create state dir %s: %s", state_dir, strerror(errno)); exit(2); }
  DIR *d = opendir(state_dir);
  if (!d) { loge("cannot open state dir %s: %s", state_dir, strerror(errno)); exit(2); }
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d))) {
    int slot;
    char ext[16];
    if (sscanf(e->d_name, "shm-%d.%15s", &slot, ext) != 2 || strcmp(ext, "meta") || slot <= 0 || slot >= MAX_SLOTS) continue;
    char path[600];
    state_path(path, sizeof path, slot, "meta");
    struct shm_meta m;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r = fd >= 0 ? read(fd, &m, sizeof m) : -1;
    if (fd >= 0) close(fd);
    if (r != (ssize_t)sizeof m || m.magic != META_MAGIC || m.size < 1 || m.size > SHMMAX_DSM) { logw("ignoring bad state file %s", path); continue; }
    struct shm *s = calloc(1, sizeof *s);
    s->used = 1; s->removed = m.removed;
    s->perm = (struct perm){m.key, m.uid, m.gid, m.cuid, m.cgid, m.mode};
    s->size = m.size; s->npages = (uint32_t)((m.size + MOJ_PAGE - 1) / MOJ_PAGE);
    s->atime = m.atime; s->dtime = m.dtime; s->ctime = m.ctime; s->cpid = m.cpid; s->lpid = m.lpid;
    s->home = home_map(slot, (size_t)s->npages * MOJ_PAGE, 1, "pages");
    s->own = (int8_t *)home_map(slot, s->npages, 1, "owners");
    s->pg = calloc(s->npages, sizeof *s->pg);
    if (!s->home || s->home == MAP_FAILED || (uint8_t *)s->own == MAP_FAILED || !s->pg) {
      loge("cannot restore segment slot %d", slot); free(s->pg); free(s); continue;
    }
    memcpy(s->who, m.who, sizeof s->who);
    for (int a = 0; a < MAX_ATT; a++) {
      s->who[a].host[31] = 0;
      if (s->who[a].pid) s->recovering = 1;
    }
    /* the client reconnect budget (MOJAVE_DSM_RECONNECT_MS, 5 s) plus slack */
    s->recover_until = now_ns() + 8000000000LL;
    shms[slot] = s;
    n++;
  }
  closedir(d);
  if (n) logm("restored %d segment(s) from %s; waiting for attached processes to re-register", n, state_dir);
  ipc_state_load(); /* semaphore sets and message queues (nsd_state.c) */
}

