/* tests/unit/test_tcache.c — the per-thread cache of table indices behind the
 * lock-free malloc/free fast paths (runtime/table.c, alloc.c): many threads
 * allocating and freeing at once never share an index, objects freed on
 * another thread than the one that allocated them, indices cached by threads
 * that exit or do not exist after fork() are not lost, and allocation inside
 * speculation still rolls back at abort and defers frees until commit.
 *
 * Run three times by ctest: plainly, and with MOJAVE_MAX_OBJECTS=300 (--exit,
 * --fork), where stranded cached indices would make the table run out. */
#include "moj_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOJ_TEST_BURST 64 /* a whole cache (MOJ_TC_CAP) */

static size_t live(void) { moj_stats_t s; moj_get_stats(&s); return s.live_objects; }

/* Each object holds its owner's tag and its own serial in every word: two
 * threads handed the same index would overwrite each other's words. */
#define WINDOW 48
struct worker { int tag, rounds, bad; };

static void fill(uint64_t *p, size_t words, uint64_t v) {
  for (size_t i = 0; i < words; i++) MOJ_W(uint64_t, p)[i] = v;
}
static int intact(const uint64_t *p, size_t words, uint64_t v) {
  for (size_t i = 0; i < words; i++)
    if (MOJ_R(uint64_t, p)[i] != v) return 0;
  return 1;
}

static void *churn(void *arg) {
  struct worker *w = arg;
  uint64_t *obj[WINDOW] = {0};
  size_t words[WINDOW] = {0};
  uint64_t val[WINDOW] = {0};
  unsigned seed = (unsigned)w->tag * 2654435761u;
  for (int r = 0; r < w->rounds; r++) {
    int k = (int)(rand_r(&seed) % WINDOW);
    if (obj[k]) {
      if (!intact(obj[k], words[k], val[k])) w->bad++;
      moj_free(obj[k]);
    }
    words[k] = 1 + rand_r(&seed) % 40; /* varying sizes: several size classes */
    val[k] = ((uint64_t)w->tag << 40) | (uint64_t)r;
    obj[k] = rand_r(&seed) % 4 ? moj_malloc(words[k] * 8) : moj_calloc(words[k], 8);
    if (!obj[k]) { w->bad++; break; }
    fill(obj[k], words[k], val[k]);
  }
  for (int k = 0; k < WINDOW; k++)
    if (obj[k]) {
      if (!intact(obj[k], words[k], val[k])) w->bad++;
      moj_free(obj[k]);
    }
  return NULL;
}

static void threads_never_share_an_index(void **st) {
  (void)st;
  size_t before = live();
  enum { T = 6 };
  pthread_t t[T];
  struct worker w[T];
  for (int i = 0; i < T; i++) {
    w[i] = (struct worker){i + 1, 60000, 0};
    assert_int_equal(pthread_create(&t[i], NULL, churn, &w[i]), 0);
  }
  for (int i = 0; i < T; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
  for (int i = 0; i < T; i++) assert_int_equal(w[i].bad, 0);
  assert_int_equal(live(), before);
}

/* A ring of handles: producers allocate, consumers on other threads check
 * and free, so most frees land in a cache other than the allocator's. */
#define RING 256
static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t *slot[RING];
  uint64_t val[RING];
  unsigned head, tail;
  int bad;
} ring = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, {0}, 0, 0, 0};

static void *producer(void *arg) {
  int tag = (int)(intptr_t)arg;
  for (int i = 0; i < 20000; i++) {
    uint64_t v = ((uint64_t)tag << 32) | (uint64_t)i;
    uint64_t *p = moj_malloc(8 * (1 + i % 7));
    fill(p, 1 + (size_t)(i % 7), v);
    pthread_mutex_lock(&ring.mu);
    while (ring.head - ring.tail == RING) pthread_cond_wait(&ring.cv, &ring.mu);
    ring.slot[ring.head % RING] = p;
    ring.val[ring.head % RING] = v;
    ring.head++;
    pthread_cond_broadcast(&ring.cv);
    pthread_mutex_unlock(&ring.mu);
  }
  return NULL;
}
static void *consumer(void *arg) {
  int n = (int)(intptr_t)arg;
  for (int i = 0; i < n; i++) {
    pthread_mutex_lock(&ring.mu);
    while (ring.head == ring.tail) pthread_cond_wait(&ring.cv, &ring.mu);
    uint64_t *p = ring.slot[ring.tail % RING];
    uint64_t v = ring.val[ring.tail % RING];
    ring.tail++;
    pthread_cond_broadcast(&ring.cv);
    pthread_mutex_unlock(&ring.mu);
    if (!intact(p, 1 + (size_t)((uint32_t)v % 7), v)) ring.bad++;
    moj_free(p);
  }
  return NULL;
}

static void freed_on_another_thread(void **st) {
  (void)st;
  size_t before = live();
  pthread_t p[2], c[2];
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&p[i], NULL, producer, (void *)(intptr_t)(i + 1)), 0);
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&c[i], NULL, consumer, (void *)(intptr_t)20000), 0);
  for (int i = 0; i < 2; i++) pthread_join(p[i], NULL);
  for (int i = 0; i < 2; i++) pthread_join(c[i], NULL);
  assert_int_equal(ring.bad, 0);
  assert_int_equal(live(), before);
  /* The consumers' caches went back when they exited: this thread can
   * allocate (and reuse) them, and they are whole objects again. */
  uint64_t *q = moj_malloc(64);
  fill(q, 8, 7);
  assert_true(intact(q, 8, 7));
  moj_free(q);
}

/* Fills as much of the table as it can; returns how many objects fit. */
static size_t fill_table(void **keep, size_t cap) {
  size_t n = 0;
  while (n < cap && (keep[n] = moj_malloc(16))) n++;
  for (size_t i = 0; i < n; i++) moj_free(keep[i]);
  return n;
}

static void *alloc_free_exit(void *arg) {
  (void)arg;
  void *p[MOJ_TEST_BURST];
  for (int i = 0; i < MOJ_TEST_BURST; i++) p[i] = moj_malloc(24);
  for (int i = 0; i < MOJ_TEST_BURST; i++) moj_free(p[i]);
  return NULL; /* its cache is full of indices: the key destructor returns them */
}

static void exited_threads_give_indices_back(void **st) {
  (void)st;
  moj_stats_t s;
  moj_get_stats(&s);
  void **keep = malloc(s.table_capacity * sizeof *keep);
  size_t first = fill_table(keep, s.table_capacity);
  for (int i = 0; i < 20; i++) {
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, alloc_free_exit, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
  }
  /* 20 threads x up to 64 cached indices would exceed a small table. */
  assert_int_equal(fill_table(keep, s.table_capacity), first);
  free(keep);
}

static struct { pthread_mutex_t mu; pthread_cond_t cv; int ready, go; } hold = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
static void *fill_cache_and_wait(void *arg) {
  alloc_free_exit(arg);
  pthread_mutex_lock(&hold.mu);
  hold.ready++;
  pthread_cond_broadcast(&hold.cv);
  while (!hold.go) pthread_cond_wait(&hold.cv, &hold.mu);
  pthread_mutex_unlock(&hold.mu);
  return NULL;
}

static void fork_child_reclaims_other_threads_caches(void **st) {
  (void)st;
  moj_stats_t s;
  moj_get_stats(&s);
  void **keep = malloc(s.table_capacity * sizeof *keep);
  size_t first = fill_table(keep, s.table_capacity);
  pthread_t t[4];
  for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, fill_cache_and_wait, NULL), 0);
  pthread_mutex_lock(&hold.mu); /* all four hold full caches and wait */
  while (hold.ready != 4) pthread_cond_wait(&hold.cv, &hold.mu);
  pthread_mutex_unlock(&hold.mu);
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    /* the four threads do not exist here: their cached indices must be usable */
    char msg[64];
    int n = snprintf(msg, sizeof msg, "%zu", fill_table(keep, s.table_capacity));
    if (write(p[1], msg, (size_t)n) != n) _exit(2);
    _exit(0);
  }
  char buf[64];
  int status = moj_collect_child(pid, p, buf, sizeof buf);
  pthread_mutex_lock(&hold.mu);
  hold.go = 1;
  pthread_cond_broadcast(&hold.cv);
  pthread_mutex_unlock(&hold.mu);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(strtoull(buf, NULL, 10), first);
  free(keep);
}

/* Speculation: allocations of a level are freed at abort (their indices are
 * reusable, none is lost), frees inside a level wait for its commit. */
static void speculation_abort_and_commit(void **st) {
  (void)st;
  size_t before = live();
  uint64_t *old = moj_malloc(32);
  fill(old, 4, 99);
  for (int round = 0; round < 200; round++) {
    int id = spec_enter(); /* the abort below comes back here with -code */
    if (id < 0) { assert_int_equal(id, -7); continue; }
    void *tmp[100];
    for (int i = 0; i < 100; i++) { tmp[i] = moj_malloc(8 + (size_t)i); fill(tmp[i], 1, (uint64_t)i); }
    for (int i = 0; i < 100; i += 2) moj_free(tmp[i]);
    moj_free(old); /* deferred: the pre-state stays until commit */
    /* frees in a level keep their index (and the pre-state) until commit */
    assert_int_equal(live(), before + 1 + 100);
    spec_abort_with(id, 7);
    fail_msg("spec_abort_with returned");
  }
  assert_int_equal(live(), before + 1);
  assert_true(intact(old, 4, 99)); /* the free was undone */
  int id = spec_enter();
  uint64_t *made = moj_malloc(16);
  fill(made, 2, 5);
  moj_free(old);
  assert_int_equal(spec_commit(id), 0);
  assert_int_equal(live(), before + 1); /* old gone at commit, made kept */
  assert_true(intact(made, 2, 5));
  moj_free(made);
  assert_int_equal(live(), before);
}

/* The table-size tests each need a fresh process (indices stranded by one
 * would hide the other's failure): --exit and --fork, run by ctest with
 * MOJAVE_MAX_OBJECTS=300. */
int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  const struct CMUnitTest all[] = {
      cmocka_unit_test(threads_never_share_an_index),
      cmocka_unit_test(freed_on_another_thread),
      cmocka_unit_test_teardown(speculation_abort_and_commit, moj_close_levels),
  };
  const struct CMUnitTest on_exit[] = {cmocka_unit_test(exited_threads_give_indices_back)};
  const struct CMUnitTest on_fork[] = {cmocka_unit_test(fork_child_reclaims_other_threads_caches)};
  if (strcmp(mode, "--exit") == 0) return cmocka_run_group_tests(on_exit, NULL, NULL);
  if (strcmp(mode, "--fork") == 0) return cmocka_run_group_tests(on_fork, NULL, NULL);
  return cmocka_run_group_tests(all, NULL, NULL);
}
