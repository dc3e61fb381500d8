/* runtime/linux_uapi.h — the PAGEMAP_SCAN interface (uapi of Linux 6.7) for
 * large.c and stack_lazy.c: the build machine's kernel headers may be older
 * than the kernel the runtime runs on, which the runtime probes at run time. */
#ifndef MOJ_LINUX_UAPI_H
#define MOJ_LINUX_UAPI_H

#include <linux/fs.h>
#include <stdint.h>
#include <sys/ioctl.h>

#ifndef PAGEMAP_SCAN
struct page_region { uint64_t start, end, categories; };
struct pm_scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN   (1 << 1)
#define PAGE_IS_FILE      (1 << 2)
#define PAGE_IS_PRESENT   (1 << 3)
#define PAGE_IS_SWAPPED   (1 << 4)
#define PM_SCAN_WP_MATCHING   (1 << 0) /* write-protect the pages matched      */
#define PM_SCAN_CHECK_WPASYNC (1 << 1) /* fail on a page not registered WP_ASYNC */
#endif

#endif /* MOJ_LINUX_UAPI_H */
