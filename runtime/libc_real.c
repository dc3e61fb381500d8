/* runtime/libc_real.c — the bottom layer under the runtime's interposers:
 * libc's own definitions, found with dlsym(RTLD_NEXT) on first use, the
 * runtime's unhooked write and fflush, and its anonymous mappings.  Nothing here calls back into the
 * output or speculation layers, so output.c and output_wrap.c both stand on
 * it without depending on each other's internals. */
#include "internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* Anonymous memory for the runtime's own state (reserved, committed on first
 * touch), never from the application's heap. */
void *_moj_mmap(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void *_moj_real(const char *name) {
  void *f = dlsym(RTLD_NEXT, name);
  if (!f) _moj_fatal("cannot find libc's %s (%s)", name, dlerror());
  return f;
}

ssize_t _moj_sys_write(int fd, const void *b, size_t n) {
  static ssize_t (*real_write)(int, const void *, size_t);
  if (moj_unlikely(!real_write)) real_write = (ssize_t (*)(int, const void *, size_t))_moj_real("write");
  return real_write(fd, b, n);
}

int _moj_sys_fflush(FILE *f) {
  static int (*real_fflush)(FILE *);
  if (moj_unlikely(!real_fflush)) real_fflush = (int (*)(FILE *))_moj_real("fflush");
  return real_fflush(f);
}
