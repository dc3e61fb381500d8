/* bignum_rho.c — Pollard-Brent rho factorization of semiprimes on a small
 * bignum library in the style of the ones C programs carry with them: every
 * number is a malloc'd header plus a malloc'd limb array, every operation
 * returns a fresh number, temporaries are freed at once, results are trimmed
 * with realloc and in-place sums grow with realloc.  So the run is millions of
 * small allocations of varying size (1-8 limbs, headers, division scratch)
 * freed and reallocated in a shifting mix — the pattern of issue 11's
 * continued-fraction factorizer — and a 32 MB zeroed memo table of which it
 * touches a few pages (the sparse calloc behind that program's 84x peak
 * RSS, docs/performance.md).  Arg: number of semiprimes to factor. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct big { int n; uint32_t *d; } big; /* little-endian limbs, n = 0 is zero */

static big *bnew(int cap) {
  big *b = malloc(sizeof *b);
  b->n = 0;
  b->d = malloc((size_t)(cap > 0 ? cap : 1) * sizeof(uint32_t));
  return b;
}
static void bfree(big *b) { free(b->d); free(b); }
static big *btrim(big *b) { /* drop leading zero limbs and give the rest back */
  while (b->n > 0 && b->d[b->n - 1] == 0) b->n--;
  b->d = realloc(b->d, (size_t)(b->n > 0 ? b->n : 1) * sizeof(uint32_t));
  return b;
}
static big *bfrom(uint64_t v) {
  big *b = bnew(2);
  b->d[0] = (uint32_t)v; b->d[1] = (uint32_t)(v >> 32); b->n = 2;
  return btrim(b);
}
static big *bdup(const big *a) {
  big *b = bnew(a->n);
  memcpy(b->d, a->d, (size_t)a->n * sizeof(uint32_t));
  b->n = a->n;
  return b;
}
static int bcompare(const big *a, const big *b) {
  if (a->n != b->n) return a->n < b->n ? -1 : 1;
  for (int i = a->n; i-- > 0;)
    if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
  return 0;
}
static big *bsub(const big *a, const big *b) { /* a >= b */
  big *r = bnew(a->n);
  int64_t borrow = 0;
  for (int i = 0; i < a->n; i++) {
    int64_t t = (int64_t)a->d[i] - (i < b->n ? b->d[i] : 0) - borrow;
    borrow = t < 0;
    r->d[i] = (uint32_t)t;
  }
  r->n = a->n;
  return btrim(r);
}
static void badd_to(big *a, const big *b) { /* a += b, growing a with realloc */
  int n = (a->n > b->n ? a->n : b->n) + 1;
  a->d = realloc(a->d, (size_t)n * sizeof(uint32_t));
  for (int i = a->n; i < n; i++) a->d[i] = 0;
  uint64_t c = 0;
  for (int i = 0; i < n; i++) {
    c += (uint64_t)a->d[i] + (i < b->n ? b->d[i] : 0);
    a->d[i] = (uint32_t)c;
    c >>= 32;
  }
  a->n = n;
  btrim(a);
}
static big *bmul(const big *a, const big *b) {
  big *r = bnew(a->n + b->n);
  memset(r->d, 0, (size_t)(a->n + b->n) * sizeof(uint32_t));
  for (int i = 0; i < a->n; i++) {
    uint64_t c = 0;
    for (int j = 0; j < b->n; j++) {
      c += (uint64_t)a->d[i] * b->d[j] + r->d[i + j];
      r->d[i + j] = (uint32_t)c;
      c >>= 32;
    }
    r->d[i + b->n] = (uint32_t)c;
  }
  r->n = a->n + b->n;
  return btrim(r);
}
/* a mod m, Knuth's algorithm D (Hacker's Delight divmnu) on normalized
 * scratch copies allocated per call. */
static big *bmod(const big *a, const big *m) {
  if (bcompare(a, m) < 0) return bdup(a);
  int n = m->n, k = a->n;
  if (n == 1) {
    uint64_t r = 0;
    for (int i = k; i-- > 0;) r = ((r << 32) | a->d[i]) % m->d[0];
    return bfrom(r);
  }
  int s = __builtin_clz(m->d[n - 1]);
  uint32_t *vn = malloc((size_t)n * sizeof *vn), *un = malloc((size_t)(k + 1) * sizeof *un);
  for (int i = n - 1; i > 0; i--)
    vn[i] = (m->d[i] << s) | (s ? (uint32_t)((uint64_t)m->d[i - 1] >> (32 - s)) : 0);
  vn[0] = m->d[0] << s;
  un[k] = s ? (uint32_t)((uint64_t)a->d[k - 1] >> (32 - s)) : 0;
  for (int i = k - 1; i > 0; i--)
    un[i] = (a->d[i] << s) | (s ? (uint32_t)((uint64_t)a->d[i - 1] >> (32 - s)) : 0);
  un[0] = a->d[0] << s;
  const uint64_t b = 1ull << 32;
  for (int j = k - n; j >= 0; j--) {
    uint64_t num = ((uint64_t)un[j + n] << 32) | un[j + n - 1];
    uint64_t qhat = num / vn[n - 1], rhat = num % vn[n - 1];
    while (qhat >= b || qhat * vn[n - 2] > ((rhat << 32) | un[j + n - 2])) {
      qhat--;
      rhat += vn[n - 1];
      if (rhat >= b) break;
    }
    int64_t t = 0, borrow = 0;
    for (int i = 0; i < n; i++) {
      uint64_t p = qhat * vn[i];
      t = (int64_t)un[i + j] - borrow - (int64_t)(p & 0xffffffffu);
      un[i + j] = (uint32_t)t;
      borrow = (int64_t)(p >> 32) - (t >> 32);
    }
    t = (int64_t)un[j + n] - borrow;
    un[j + n] = (uint32_t)t;
    if (t < 0) { /* added back: qhat was one too large */
      uint64_t c = 0;
      for (int i = 0; i < n; i++) {
        c += (uint64_t)un[i + j] + vn[i];
        un[i + j] = (uint32_t)c;
        c >>= 32;
      }
      un[j + n] += (uint32_t)c;
    }
  }
  big *r = bnew(n);
  for (int i = 0; i < n - 1; i++)
    r->d[i] = (un[i] >> s) | (s ? (uint32_t)((uint64_t)un[i + 1] << (32 - s)) : 0);
  r->d[n - 1] = un[n - 1] >> s;
  r->n = n;
  free(vn);
  free(un);
  return btrim(r);
}
static big *bmulmod(const big *a, const big *b, const big *m) {
  big *p = bmul(a, b), *r = bmod(p, m);
  bfree(p);
  return r;
}
static big *bgcd(const big *a, const big *b) {
  big *x = bdup(a), *y = bdup(b);
  while (y->n) {
    big *t = bmod(x, y);
    bfree(x);
    x = y;
    y = t;
  }
  bfree(y);
  return x;
}
static big *babsdiff(const big *a, const big *b) { return bcompare(a, b) >= 0 ? bsub(a, b) : bsub(b, a); }
static uint64_t bto64(const big *a) {
  return (a->n > 0 ? a->d[0] : 0) | (a->n > 1 ? (uint64_t)a->d[1] << 32 : 0);
}

/* f(x) = x^2 + c mod n, Brent's cycle search with products batched per gcd. */
static big *rho(const big *n, uint64_t c0) {
  big *c = bfrom(c0), *y = bfrom(2), *x = NULL, *ys = NULL, *q = bfrom(1), *g = bfrom(1);
  big *one = bfrom(1);
  for (long r = 1; bcompare(g, one) == 0; r *= 2) {
    if (x) bfree(x);
    x = bdup(y);
    for (long i = 0; i < r; i++) { big *t = bmulmod(y, y, n); badd_to(t, c); bfree(y); y = bmod(t, n); bfree(t); }
    for (long k = 0; k < r && bcompare(g, one) == 0; k += 64) {
      if (ys) bfree(ys);
      ys = bdup(y);
      for (long i = 0; i < 64 && i < r - k; i++) {
        big *t = bmulmod(y, y, n); badd_to(t, c); bfree(y); y = bmod(t, n); bfree(t);
        big *d = babsdiff(x, y), *nq = bmulmod(q, d, n);
        bfree(d); bfree(q); q = nq;
      }
      bfree(g);
      g = bgcd(q, n);
    }
  }
  if (bcompare(g, n) == 0) { /* the batch overshot: step one at a time from ys */
    do {
      big *t = bmulmod(ys, ys, n); badd_to(t, c); bfree(ys); ys = bmod(t, n); bfree(t);
      big *d = babsdiff(x, ys);
      bfree(g);
      g = bgcd(d, n);
      bfree(d);
    } while (bcompare(g, one) == 0);
  }
  bfree(c); bfree(y); bfree(x); bfree(q); bfree(one);
  if (ys) bfree(ys);
  return g;
}

static int is_prime(uint64_t p) {
  if (p < 2) return 0;
  for (uint64_t d = 2; d * d <= p; d++) if (p % d == 0) return 0;
  return 1;
}
static uint64_t next_prime(uint64_t p) { while (!is_prime(p)) p++; return p; }

/* Factors found, by N: an open-addressing table sized for far more numbers
 * than one run factors, allocated zeroed and touched in a few places (as
 * factorizers keep sieves and memo tables): its untouched pages must cost
 * no memory. */
#define MEMO_SLOTS (1u << 21)
static uint64_t *memo_slot(uint64_t *memo, uint64_t n) {
  uint64_t h = (n * 0x9e3779b97f4a7c15ull) >> 43;
  while (memo[2 * h] && memo[2 * h] != n) h = (h + 1) % MEMO_SLOTS;
  return &memo[2 * h];
}

int main(int argc, char **argv) {
  int count = argc > 1 ? atoi(argv[1]) : 40;
  uint64_t *memo = calloc(MEMO_SLOTS, 2 * sizeof *memo);
  uint64_t sum = 0;
  long hits = 0;
  for (int pass = 0; pass < 2; pass++) { /* the second pass finds every N in the memo */
    uint64_t seed = 88172645463325252ull;
    for (int i = 0; i < count; i++) {
      /* factors of 14..31 bits: N spans 1-2 limbs, products up to 4 */
      seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
      int bits = 14 + i % 18;
      uint64_t p = next_prime((seed & ((1ull << bits) - 1)) | (1ull << (bits - 1)));
      uint64_t q = next_prime(((seed >> 32) & ((1ull << bits) - 1)) | (1ull << (bits - 1)) | 1);
      uint64_t *slot = memo_slot(memo, p * q);
      if (slot[0]) { hits++; sum += slot[1]; continue; }
      big *pb = bfrom(p), *qb = bfrom(q), *n = bmul(pb, qb);
      big *f = NULL;
      for (uint64_t c = 1; !f; c++) {
        f = rho(n, c);
        if (bcompare(f, n) == 0) { bfree(f); f = NULL; }
      }
      uint64_t fv = bto64(f), other = (p * q) / fv;
      if (fv * other != p * q || fv == 1) { printf("wrong factor %llu of %llu\n", (unsigned long long)fv, (unsigned long long)(p * q)); return 1; }
      slot[0] = p * q;
      slot[1] = fv < other ? fv : other;
      sum += slot[1];
      bfree(pb); bfree(qb); bfree(n); bfree(f);
    }
  }
  printf("factored %d semiprimes (%ld memo hits), sum of small factors %llu\n", count, hits, (unsigned long long)sum);
  free(memo);
  return 0;
}
