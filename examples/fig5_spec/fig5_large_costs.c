/* examples/fig5_spec/fig5_large_costs.c — where the commit and abort time of
 * a large object goes (issue 10, item 8), measured on the kernel primitives
 * themselves rather than through the runtime, so each part can be set against
 * memcpy of the bytes changed:
 *
 *  - the design in runtime/large.c: a MAP_PRIVATE view of a memory file; the
 *    level's writes take kernel copy-on-write faults; commit = PAGEMAP_SCAN of
 *    the view + copy of the written pages back + MADV_DONTNEED of them; abort =
 *    PAGEMAP_SCAN + MADV_DONTNEED;
 *  - an undo log by page (writes go to the object itself after the original
 *    page is saved; commit drops the saved pages, abort copies them back): the
 *    save needs a fault per page the runtime sees, either a synchronous
 *    userfaultfd write-protect fault served by a thread, or SIGSEGV on an
 *    mprotect'ed page; and the pages must be protected again for the next level.
 *
 *   fig5_large_costs [--max-mb N] [--reps N]
 *
 * Prints Markdown tables of medians in microseconds. */
#include "linux_uapi.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "timing.h"

#define PAGE 4096ul

static int pagemap;

/* Anonymous (written) pages of a private file view, as runtime/large.c asks. */
static long written_runs(char *v, size_t len, struct page_region *r, int nr) {
  struct pm_scan_arg a = {
    .size = sizeof a, .start = (uintptr_t)v, .end = (uintptr_t)v + len,
    .vec = (uintptr_t)r, .vec_len = (uint64_t)nr,
    .category_inverted = PAGE_IS_FILE, .category_mask = PAGE_IS_FILE,
    .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
    .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
  };
  return ioctl(pagemap, PAGEMAP_SCAN, &a);
}

static void mutate(char *p, size_t m) {
  if (m == 1) p[7] = 1;
  else memset(p + 7, 1, m);
}

static size_t span_of(size_t m) { return (m + 7 + PAGE - 1) & ~(PAGE - 1); }

/* --- undo-log capture: synchronous userfaultfd write-protect ------------- */
static int uffd = -1;
static char *saved_page;
static void *serve_faults(void *arg) {
  (void)arg;
  for (;;) {
    struct pollfd p = {uffd, POLLIN, 0};
    if (poll(&p, 1, -1) < 0) continue;
    struct uffd_msg msg;
    if (read(uffd, &msg, sizeof msg) != (ssize_t)sizeof msg) continue;
    uintptr_t a = msg.arg.pagefault.address & ~(PAGE - 1);
    memcpy(saved_page, (void *)a, PAGE);                 /* the undo log's copy */
    struct uffdio_writeprotect wp = {.range = {a, PAGE}, .mode = 0};  /* wakes the writer */
    ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
  }
  return NULL;
}

/* --- undo-log capture: SIGSEGV on an mprotect'ed page ---------------------- */
static void on_segv(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)uc;
  uintptr_t a = (uintptr_t)si->si_addr & ~(PAGE - 1);
  memcpy(saved_page, (void *)a, PAGE);
  mprotect((void *)a, PAGE, PROT_READ | PROT_WRITE);
}

int main(int argc, char **argv) {
  long max_mb = 1024;
  int reps = 15;
  if (fig5_args(argc, argv, &max_mb, &reps, NULL, NULL)) return 2;
  pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  saved_page = malloc(PAGE);
  const size_t sizes[] = {64u << 20, 1024u << 20};
  const size_t muts[] = {1, 64 << 10, 1 << 20};
  double *t[8];
  for (int i = 0; i < 8; i++) t[i] = malloc((size_t)reps * sizeof(double));
  char *dst = malloc(2 << 20);
  memset(dst, 1, 2 << 20);

  printf("| object | mutated | writes (kernel COW faults) | PAGEMAP_SCAN | copy back | MADV_DONTNEED |"
         " commit = scan+copy+drop | abort = scan+drop | memcpy(mutated) |\n"
         "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t s = 0; s < 2; s++) {
    size_t len = sizes[s];
    if (len > (size_t)max_mb << 20) break;
    int fd = memfd_create("fig5-large", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)len) < 0) { perror("memfd"); return 1; }
    char *obj = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *view = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
    if (obj == MAP_FAILED || view == MAP_FAILED) { perror("mmap"); return 1; }
    memset(obj, 3, len);
    for (size_t u = 0; u < 3; u++) {
      size_t m = muts[u];
      for (int r = 0; r < reps; r++) {
        struct page_region reg[64];
        double t0 = now_us();
        mutate(view, m);
        t[0][r] = now_us() - t0;
        t0 = now_us();
        long n = written_runs(view, len, reg, 64);
        t[1][r] = now_us() - t0;
        t0 = now_us();
        for (long i = 0; i < n; i++)
          memcpy(obj + (reg[i].start - (uintptr_t)view), (void *)reg[i].start, reg[i].end - reg[i].start);
        t[2][r] = now_us() - t0;
        t0 = now_us();
        for (long i = 0; i < n; i++) madvise((void *)reg[i].start, reg[i].end - reg[i].start, MADV_DONTNEED);
        t[3][r] = now_us() - t0;
        t[4][r] = t[1][r] + t[2][r] + t[3][r];
        t[5][r] = t[1][r] + t[3][r];
        t0 = now_us();
        memcpy(dst, obj + 7, m);
        t[6][r] = now_us() - t0;
      }
      printf("| %zu MB | %s |", len >> 20, m == 1 ? "1 B" : m == 65536 ? "64 KiB" : "1 MB");
      for (int i = 0; i < 7; i++) printf(" %.2f |", median(t[i], reps));
      printf("\n");
      fflush(stdout);
    }
    munmap(view, len);
    munmap(obj, len);
    close(fd);
  }

  /* The undo log's capture on an anonymous object (its size does not matter
   * here: only the pages written are protected and faulted). */
  size_t len = 64u << 20;
  char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(a, 3, len);
  printf("\n| undo-log capture | mutated | protect the pages again | writes (one capture fault a page) | memcpy(mutated) |\n"
         "|---|---:|---:|---:|---:|\n");
  uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  struct uffdio_api api = {.api = UFFD_API};
  struct uffdio_register rg = {.range = {(uintptr_t)a, len / 2}, .mode = UFFDIO_REGISTER_MODE_WP};
  pthread_t th;
  int have_uffd = uffd >= 0 && ioctl(uffd, UFFDIO_API, &api) == 0 && ioctl(uffd, UFFDIO_REGISTER, &rg) == 0 &&
                  pthread_create(&th, NULL, serve_faults, NULL) == 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  for (int kind = 0; kind < 2; kind++) {
    for (size_t u = 0; u < 3; u++) {
      size_t m = muts[u];
      if (kind == 0 && !have_uffd) {
        printf("| userfaultfd (thread) | %zu | n/a | n/a (no userfaultfd here) | |\n", m);
        continue;
      }
      char *p = kind == 0 ? a : a + len / 2;
      for (int r = 0; r < reps; r++) {
        double t0 = now_us();
        if (kind == 0) {
          struct uffdio_writeprotect wp = {.range = {(uintptr_t)p, span_of(m)}, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
          ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
        } else {
          mprotect(p, span_of(m), PROT_READ);
        }
        t[0][r] = now_us() - t0;
        t0 = now_us();
        mutate(p, m);
        t[1][r] = now_us() - t0;
        t0 = now_us();
        memcpy(dst, p + 7, m);
        t[2][r] = now_us() - t0;
      }
      printf("| %s | %s | %.2f | %.2f | %.2f |\n", kind == 0 ? "userfaultfd write-protect, a thread serves" : "SIGSEGV + mprotect",
             m == 1 ? "1 B" : m == 65536 ? "64 KiB" : "1 MB", median(t[0], reps), median(t[1], reps), median(t[2], reps));
      fflush(stdout);
    }
  }
  printf("\nMedians of %d rounds, microseconds.\n", reps);
  return 0;
}
