/* tests/unit/moj_test.h — shared helpers for the runtime's cmocka tests. */
#ifndef MOJ_TEST_H
#define MOJ_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mojave.h>

/* Teardown: a failed assertion inside a speculation leaves it open with the
 * failure message held; committing what is left makes the message visible. */
static inline int moj_close_levels(void **st) {
  (void)st;
  while (spec_level()) spec_commit(spec_id_at(1));
  return 0;
}

#endif
