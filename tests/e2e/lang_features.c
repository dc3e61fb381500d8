/* tests/e2e/lang_features.c — C constructs over managed memory: struct
 * copies (byval and memcpy), unions, bitfields, VLAs, pointer arithmetic that
 * leaves and re-enters an object, pointer/integer round trips, comparisons,
 * atomics, setjmp/longjmp, varargs functions of the program itself. */
#include <mojave.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include "check.h"

struct big { long v[12]; };
union u { double d; uint64_t bits; char c[8]; };
struct bf { unsigned a : 3, b : 7, c : 22; };

static long big_sum(struct big b) {
  long s = 0;
  for (int i = 0; i < 12; i++) s += b.v[i];
  return s;
}
static int vsum(int n, ...) {
  va_list ap;
  va_start(ap, n);
  int s = 0;
  for (int i = 0; i < n; i++) s += *va_arg(ap, int *);
  va_end(ap);
  return s;
}
static jmp_buf jb;
static void jump(int *p) { *p = 9; longjmp(jb, 1); }

int main(void) {
  struct big *b = malloc(sizeof *b);
  for (int i = 0; i < 12; i++) b->v[i] = i;
  CHECK(big_sum(*b) == 66, "byval struct %ld", big_sum(*b));
  struct big copy = *b;
  struct big *b2 = malloc(sizeof *b2);
  *b2 = copy;
  CHECK(b2->v[11] == 11, "struct copy");

  union u *u = malloc(sizeof *u);
  u->d = 1.0;
  CHECK(u->bits == 0x3ff0000000000000ull, "union");

  struct bf *f = calloc(1, sizeof *f);
  f->b = 100; f->c = 12345;
  CHECK(f->a == 0 && f->b == 100 && f->c == 12345, "bitfields");

  int n = 17;
  int vla[n];
  int *h = malloc(n * sizeof *h);
  for (int i = 0; i < n; i++) { vla[i] = i; h[i] = vla[i] * 2; }
  CHECK(h[16] == 32, "vla/heap");

  int *end = h + n, *before = h - 1;
  CHECK(end - h == 17 && before + 1 == h, "pointer arithmetic");
  CHECK(h < end && &h[3] > &h[2], "comparisons");
  uintptr_t bits = (uintptr_t)(h + 5);
  int *back = (int *)(bits - 5 * sizeof(int));
  CHECK(back == h && back[5] == 10, "integer round trip");

  int *ai = malloc(sizeof *ai);
  *ai = 0;
  for (int i = 0; i < 10; i++) __atomic_fetch_add(ai, 2, __ATOMIC_SEQ_CST);
  CHECK(*ai == 20, "atomics %d", (int)*ai);

  int *x = malloc(3 * sizeof *x);
  x[0] = 1; x[1] = 2; x[2] = 3;
  CHECK(vsum(3, &x[0], &x[1], &x[2]) == 6, "own varargs");

  if (setjmp(jb) == 0) jump(&x[1]);
  CHECK(x[1] == 9, "setjmp/longjmp");

  /* posix_memalign storing into a slot that lives in managed memory. */
  struct holder { void *buf; } *hold = malloc(sizeof *hold);
  CHECK(posix_memalign(&hold->buf, 64, 256) == 0 && hold->buf, "posix_memalign into heap slot");
  memset(hold->buf, 7, 256);
  CHECK(((unsigned char *)hold->buf)[255] == 7, "aligned buffer");
  free(hold->buf);
  free(hold);

  /* Inside a speculation: struct copy into the heap is rolled back. */
  int id = spec_enter();
  if (id > 0) {
    struct big zero = {{0}};
    *b = zero;
    memmove(&h[1], &h[0], 10 * sizeof *h);
    CHECK(big_sum(*b) == 0 && h[1] == 0, "inside %ld %d", big_sum(*b), h[1]);
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(big_sum(*b) == 66 && h[1] == 2, "after abort %ld %d", big_sum(*b), h[1]);
  free(b); free(b2); free(u); free(f); free(h); free(ai); free(x);
  DONE();
}
