/* runtime/alloc_str.c — strdup/strndup for mojcc programs: the copy is a
 * managed object (a handle), so it is rolled back by speculation and carried
 * by migration like any malloc'd object; the source may be a handle too. */
#include "internal.h"

#include <string.h>

MOJ_EXPORT char *__moj_strdup(const char *s) {
  const char *src = __moj_r(s);
  size_t n = strlen(src) + 1;
  char *h = __moj_malloc(n);
  if (h) memcpy(__moj_w(h), __moj_r(s), n); /* allocation may not move src, but stay exact */
  return h;
}

MOJ_EXPORT char *__moj_strndup(const char *s, size_t max) {
  size_t n = strnlen(__moj_r(s), max);
  char *h = __moj_malloc(n + 1);
  if (h) {
    char *d = __moj_w(h);
    memcpy(d, __moj_r(s), n);
    d[n] = 0;
  }
  return h;
}
