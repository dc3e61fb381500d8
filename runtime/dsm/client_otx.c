/* client_otx.c — speculations over ordered segments (docs/speculative-dsm.md
 * §5.3): inside a level, stores to ordered pages are kept here instead of
 * being ordered one by one, and every ordered page the speculation touches
 * is remembered with the version it was read at.  The outermost commit
 * sends both as one PAGE_WRITE; every replica applies the stores at that
 * message's place in the total order only if each page read is still at
 * its version — the paper's speculative read (§3.2.3): go on as if no write
 * were pending, commit when none came first — and otherwise the origin
 * answers MOJ_ECONFLICT and the level aborts (spec_enter returns
 * -SPEC_ABORT_CONFLICT).  The same decision on every replica (same order,
 * same versions), so no other round is needed.
 *
 * Entering the outermost level drops this process's copies of ordered pages
 * (so each page the level touches faults once and is recorded); abort
 * restores the level's pages from their twins (client_spec.c keeps them,
 * and holds the invalidations of pages it has twins of until the level
 * ends) and, for the outermost level, drops the pages again so the next
 * access fetches them as they are now.
 *
 * Not isolated: a page read but not written can be invalidated and fetched
 * again inside the level (a newer version): the level may see a mix, but it
 * cannot commit (its first version no longer matches). */
#include "client.h"

#include "../spec_ext.h"

#define SPEC_ABORT_CONFLICT 0x7ffffffe /* include/mojave/spec.h (not on this library's include path) */

struct oread { struct cseg *s; uint32_t pn, ver; struct oread *next; };
struct orun { struct cseg *s; uint32_t pn; uint16_t off, len; int level; struct orun *next; uint8_t data[]; };
static MOJ_DSM_VAR struct oread *reads;
static MOJ_DSM_VAR struct orun *runs, **runs_t = &runs; /* in store order: later runs overwrite earlier ones */
/* the level must not commit: a read could not be recorded, or a page it
 * read was invalidated (written by someone else since) — set by the reader
 * thread too, hence atomic */
static MOJ_DSM_VAR _Atomic int doomed;
static MOJ_DSM_VAR uint64_t st_commits, st_conflicts, st_doomed;

/* Page pn of ordered segment s was fetched inside a speculation: its
 * version (from the grant) is what the commit must find.  The first fetch
 * counts: a later one after an invalidation must not hide the change. */
void _moj_dsm_otx_read(struct cseg *s, uint32_t pn) {
  if (_moj_dsm_spec_depth <= 0 || !s->over) return;
  for (struct oread *r = reads; r; r = r->next)
    if (r->s == s && r->pn == pn) return;
  struct oread *r = malloc(sizeof *r);
  if (!r) { atomic_store(&doomed, 1); return; }
  *r = (struct oread){s, pn, s->over[pn], reads};
  reads = r;
}

/* An invalidation of page pn of ordered segment s arrived (a write by
 * another process was ordered after the version we hold): a level that
 * read the page can no longer commit — §3.2.3's "abort when an earlier
 * write is delivered", decided here and carried out at the commit, which
 * then costs no ordered message.  Caller holds _moj_dsm_seg_lock. */
void _moj_dsm_otx_invalidated(struct cseg *s, uint32_t pn) {
  if (_moj_dsm_spec_depth <= 0) return;
  for (struct oread *r = reads; r; r = r->next)
    if (r->s == s && r->pn == pn) { if (!atomic_exchange(&doomed, 1)) st_doomed++; return; }
}

/* A captured store inside a speculation: kept for the commit; the page's
 * content before it saved for the level (once per page and level). */
int _moj_dsm_otx_store(struct cseg *s, uint32_t pn, const uint8_t *before, uint32_t off, uint32_t len, const uint8_t *bytes) {
  sigset_t om;
  _moj_dsm_lk(&_moj_dsm_seg_lock, &om);
  int e = _moj_dsm_spec_twin(s, pn, before);
  _moj_dsm_ulk(&_moj_dsm_seg_lock, &om);
  if (e) return e;
  struct orun *r = malloc(sizeof *r + len);
  if (!r) return ENOMEM;
  *r = (struct orun){s, pn, (uint16_t)off, (uint16_t)len, _moj_dsm_spec_depth, NULL};
  memcpy(r->data, bytes, len);
  *runs_t = r;
  runs_t = &r->next;
  return 0;
}

static void drop_runs(int from_level) {
  for (struct orun **pp = &runs; *pp;) {
    struct orun *r = *pp;
    if (r->level >= from_level) { *pp = r->next; free(r); }
    else pp = &r->next;
  }
  runs_t = &runs;
  while (*runs_t) runs_t = &(*runs_t)->next;
}
static void drop_reads(int refetch) {
  while (reads) {
    struct oread *r = reads;
    reads = r->next;
    if (refetch) _moj_dsm_set_prot(r->s, r->pn, MOJ_ACC_NONE);
    free(r);
  }
  atomic_store(&doomed, 0);
}

/* Before level k commits (runtime vote): the outermost level's stores and
 * reads go to the order.  0 = commit, or an abort code. */
int _moj_dsm_otx_vote(int k) {
  if (k != 1 || (!reads && !runs)) return 0;
  if (atomic_load(&doomed)) { st_conflicts++; return SPEC_ABORT_CONFLICT; }
  static uint8_t msg[MOJ_TO_MAX_DATA];
  struct _moj_pwrite q = {0, 0};
  size_t off = sizeof q, bytes = 0;
  int host = -1;
  for (struct oread *r = reads; r; r = r->next) q.nreads++;
  for (struct orun *r = runs; r; r = r->next)
    if (r->level == 1) { q.nruns++; bytes += r->len; }
  size_t total = sizeof q + q.nreads * sizeof(struct _moj_pwrite_read) + q.nruns * sizeof(struct _moj_pwrite_run) + bytes;
  if (q.nreads > MOJ_PWRITE_MAX_READS || q.nruns > MOJ_PWRITE_MAX_RUNS || total > sizeof msg - sizeof(struct _moj_ord_w)) {
    _moj_dsm_warn("a speculation over ordered segments read %u pages and made %u stores (%zu bytes): more than one ordered message "
                  "holds (%u bytes); it cannot commit: raising SIGBUS", q.nreads, q.nruns, total,
                  (unsigned)(sizeof msg - sizeof(struct _moj_ord_w)));
    raise(SIGBUS);
    return SPEC_ABORT_CONFLICT;
  }
  for (struct oread *r = reads; r; r = r->next) {
    struct _moj_pwrite_read w = {r->s->id, r->pn, r->ver};
    memcpy(msg + off, &w, sizeof w);
    off += sizeof w;
    host = r->s->host;
  }
  size_t doff = off + q.nruns * sizeof(struct _moj_pwrite_run);
  for (struct orun *r = runs; r; r = r->next) {
    if (r->level != 1) continue;
    struct _moj_pwrite_run w = {r->s->id, r->pn, r->off, r->len};
    memcpy(msg + off, &w, sizeof w);
    off += sizeof w;
    memcpy(msg + doff, r->data, r->len);
    doff += r->len;
    host = r->s->host;
  }
  memcpy(msg, &q, sizeof q);
  int st = _moj_dsm_call(host, MOJ_PAGE_WRITE, msg, doff, NULL, 0, NULL, 0, NULL, CALL_FAULT);
  if (st == MOJ_ECONFLICT) { st_conflicts++; return SPEC_ABORT_CONFLICT; }
  if (st) {
    /* the message may or may not have been ordered: neither outcome can be assumed */
    _moj_dsm_warn("committing a speculation over ordered segments failed (%s): its outcome is unknown: raising SIGBUS", strerror(st));
    raise(SIGBUS);
    return SPEC_ABORT_CONFLICT;
  }
  st_commits++;
  /* our stores are in: the pages we wrote moved one version on (no other
   * write came between, or the check would have failed) */
  for (struct oread *r = reads; r; r = r->next)
    for (struct orun *u = runs; u; u = u->next)
      if (u->level == 1 && u->s == r->s && u->pn == r->pn) { r->ver++; break; }
  return 0;
}

/* Level events (client_spec.c, segment lock held). */
void _moj_dsm_otx_event(int ev, int k, int depth_before) {
  if (ev == MOJ_SPEC_EV_ENTER) {
    if (k != 1) return;
    /* every ordered page the level touches must fault once */
    for (struct cseg *s = _moj_dsm_segs; s; s = s->next)
      if (s->ordered) _moj_dsm_set_prot_n(s, 0, s->npages, MOJ_ACC_NONE);
  } else if (ev == MOJ_SPEC_EV_ABORT) {
    drop_runs(k);
    if (k == 1) drop_reads(1);
  } else if (ev == MOJ_SPEC_EV_COMMIT) {
    if (k == 1) drop_runs(1); /* ordered by the vote */
    for (struct orun *r = runs; r; r = r->next)
      if (r->level >= k) r->level--;
    if (k == 1 && depth_before == 1) drop_reads(0);
  }
}

void _moj_dsm_otx_stats(uint64_t *commits, uint64_t *conflicts, uint64_t *doomed_early) {
  *commits = st_commits;
  *conflicts = st_conflicts;
  *doomed_early = st_doomed;
}
