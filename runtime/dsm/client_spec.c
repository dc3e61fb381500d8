/* client_spec.c — speculations over distributed shared memory (issue 12,
 * item 1) for programs linked with libmojave.  The runtime rolls back heap,
 * globals and stack; DSM pages are a raw mapping it does not copy, so this
 * room does it by page: on entering a level every page held writable is
 * mapped read-only; the first store of the level to a page saves a twin of
 * it and maps it writable again; abort copies twins back (newest first),
 * commit hands them to the enclosing level or drops them.
 *
 * Nobody acts on values that may be rolled back: a page with a twin is not
 * given to anyone — a PAGE_FETCH for it (another process wants to read or
 * write it) is answered only once no active level has written it (commit of
 * the outermost such level, or abort).  Other processes therefore wait for
 * our commit instead of reading speculative bytes ("hold speculative writes
 * until commit"); a speculation that waits for a process that needs one of
 * its written pages deadlocks like any lock cycle (docs/speculative-dsm.md).
 *
 * Outside libmojave (LD_PRELOAD) there are no speculations: depth stays 0
 * and none of this runs. */
#include "client.h"

#ifdef MOJ_IN_RUNTIME
#include "../spec_ext.h"
#endif

MOJ_DSM_VAR int _moj_dsm_spec_depth;
struct twin { struct cseg *s; uint32_t pn; int level; struct twin *next; uint8_t data[MOJ_PAGE]; };
static MOJ_DSM_VAR struct twin *twins; /* newest first */
struct held { struct hconn *hc; uint32_t seq; struct _moj_page q; struct held *next; };
static MOJ_DSM_VAR struct held *held;  /* PAGE_FETCHes waiting for a commit or an abort */
static MOJ_DSM_VAR uint64_t st_twins, st_held, st_restored;

/* Application-view protection of a writable page now: read-only while a
 * level is active that has not saved it yet. */
int _moj_dsm_spec_ro(const struct cseg *s, uint32_t pn) {
  return _moj_dsm_spec_depth > 0 && (!s->twlev || s->twlev[pn] != _moj_dsm_spec_depth);
}

/* Store fault on a page we hold writable while speculating: save it for the
 * current level.  Caller holds _moj_dsm_seg_lock.  1 = handled, 0 = not a
 * speculation fault, -1 = out of memory. */
int _moj_dsm_spec_write_fault(struct cseg *s, uint32_t pn) {
  if (_moj_dsm_spec_depth <= 0 || atomic_load(&s->acc[pn]) != MOJ_ACC_WRITE || !_moj_dsm_spec_ro(s, pn)) return 0;
  if (!s->twlev && !(s->twlev = calloc(s->npages, 1))) return -1;
  struct twin *t = malloc(sizeof *t);
  if (!t) return -1;
  t->s = s;
  t->pn = pn;
  t->level = _moj_dsm_spec_depth;
  memcpy(t->data, s->rt + (size_t)pn * MOJ_PAGE, MOJ_PAGE);
  t->next = twins;
  twins = t;
  s->twlev[pn] = (uint8_t)_moj_dsm_spec_depth;
  st_twins++;
  _moj_dsm_set_prot(s, pn, MOJ_ACC_WRITE);
  return 1;
}

/* A store to an ordered page inside a level (client_otx.c): before = the
 * page before it; saved as the level's twin unless the level has one.
 * Caller holds _moj_dsm_seg_lock.  0 or ENOMEM. */
int _moj_dsm_spec_twin(struct cseg *s, uint32_t pn, const uint8_t *before) {
  if (!s->twlev && !(s->twlev = calloc(s->npages, 1))) return ENOMEM;
  if (s->twlev[pn] == _moj_dsm_spec_depth) return 0;
  struct twin *t = malloc(sizeof *t);
  if (!t) return ENOMEM;
  t->s = s;
  t->pn = pn;
  t->level = _moj_dsm_spec_depth;
  memcpy(t->data, before, MOJ_PAGE);
  t->next = twins;
  twins = t;
  s->twlev[pn] = (uint8_t)_moj_dsm_spec_depth;
  st_twins++;
  return 0;
}

/* Caller holds _moj_dsm_seg_lock: keep a fetch of a page some level wrote. */
int _moj_dsm_spec_hold_fetch(struct hconn *hc, uint32_t seq, const struct _moj_page *q, struct cseg *s) {
  if (!s || !s->twlev || q->page >= s->npages || !s->twlev[q->page]) return 0;
  struct held *h = malloc(sizeof *h);
  if (!h) return 0; /* cannot hold it: answered now (the bytes may be speculative) */
  h->hc = hc;
  h->seq = seq;
  h->q = *q;
  h->next = held;
  held = h;
  st_held++;
  return 1;
}

#ifdef MOJ_IN_RUNTIME
/* Protections after the level stack changed: every writable page read-only
 * unless the (new) top level has its twin. */
static void reprotect(void) {
  for (struct cseg *s = _moj_dsm_segs; s; s = s->next)
    for (uint32_t pn = 0; pn < s->npages; pn++)
      if (atomic_load(&s->acc[pn]) == MOJ_ACC_WRITE) {
        uint32_t n = 1;
        int ro = _moj_dsm_spec_ro(s, pn);
        while (pn + n < s->npages && atomic_load(&s->acc[pn + n]) == MOJ_ACC_WRITE && _moj_dsm_spec_ro(s, pn + n) == ro) n++;
        _moj_dsm_set_prot_n(s, pn, n, MOJ_ACC_WRITE);
        pn += n - 1;
      }
}
/* Answer the held fetches whose pages no level holds any more. */
static void release_held(void) {
  struct held **pp = &held;
  while (*pp) {
    struct held *h = *pp;
    struct cseg *s = _moj_dsm_seg_by_id(h->q.id);
    if (s && s->twlev && h->q.page < s->npages && s->twlev[h->q.page]) { pp = &h->next; continue; }
    *pp = h->next;
    _moj_dsm_fetch_reply(h->hc, h->seq, &h->q, s);
    free(h);
  }
}

static void on_event(int ev, int k) {
  sigset_t om;
  _moj_dsm_lk(&_moj_dsm_seg_lock, &om);
  /* a lock speculation whose level the program ends itself (client_speclock.c) */
  if (ev != MOJ_SPEC_EV_ENTER) _moj_dsm_speclock_level_event(ev, k);
  _moj_dsm_otx_event(ev, k, _moj_dsm_spec_depth); /* ordered segments' stores and reads */
  if (ev == MOJ_SPEC_EV_ENTER) {
    _moj_dsm_spec_depth = k;
  } else if (ev == MOJ_SPEC_EV_ABORT) {
    /* newest first: a page written at several levels ends with its oldest twin */
    struct twin **pp = &twins;
    while (*pp) {
      struct twin *t = *pp;
      if (t->level < k) { pp = &t->next; continue; }
      memcpy(t->s->rt + (size_t)t->pn * MOJ_PAGE, t->data, MOJ_PAGE);
      *pp = t->next;
      t->s->twlev[t->pn] = 0;
      free(t);
      st_restored++;
    }
    _moj_dsm_spec_depth = k - 1;
  } else if (ev == MOJ_SPEC_EV_COMMIT) {
    /* k's twins go to k - 1 where it has none (its pre-state is older);
     * later levels move down by one */
    struct twin **pp = &twins;
    while (*pp) {
      struct twin *t = *pp;
      int drop = 0;
      if (t->level == k) {
        if (k == 1) drop = 1;
        else {
          for (struct twin *u = twins; u; u = u->next)
            if (u != t && u->s == t->s && u->pn == t->pn && u->level == k - 1) drop = 1;
          if (!drop) t->level = k - 1;
        }
      } else if (t->level > k) {
        t->level--;
      }
      if (drop) { *pp = t->next; free(t); }
      else pp = &t->next;
    }
    _moj_dsm_spec_depth--;
  }
  /* twlev: the highest level holding each page's twin */
  for (struct cseg *s = _moj_dsm_segs; s; s = s->next)
    if (s->twlev) memset(s->twlev, 0, s->npages);
  for (struct twin *t = twins; t; t = t->next)
    if (t->s->twlev[t->pn] < t->level) t->s->twlev[t->pn] = (uint8_t)t->level;
  reprotect();
  if (ev != MOJ_SPEC_EV_ENTER) release_held();
  _moj_dsm_ulk(&_moj_dsm_seg_lock, &om);
  /* semops and messages the levels held or must give back (client_specipc.c) */
  if (ev != MOJ_SPEC_EV_ENTER) _moj_dsm_specipc_event(ev, k, ev == MOJ_SPEC_EV_ABORT);
}

#endif

/* A segment goes away (last shmdt): its twins are dropped and fetches held
 * for it forgotten — the detach ships the pages as they are and the home
 * settles waiting requests from that.  Caller holds _moj_dsm_seg_lock. */
void _moj_dsm_spec_forget(struct cseg *s) {
  for (struct twin **pp = &twins; *pp;) {
    struct twin *t = *pp;
    if (t->s == s) { *pp = t->next; free(t); }
    else pp = &t->next;
  }
  for (struct held **pp = &held; *pp;) {
    struct held *h = *pp;
    if (h->q.id == s->id) { *pp = h->next; free(h); }
    else pp = &h->next;
  }
  free(s->twlev);
  s->twlev = NULL;
}

/* Held/restored counts for MOJAVE_DSM_STATS. */
void _moj_dsm_spec_stats(uint64_t *tw, uint64_t *hd, uint64_t *rs) {
  *tw = st_twins;
  *hd = st_held;
  *rs = st_restored;
}

/* Called once the client is up: from then on the runtime reports level changes. */
void _moj_dsm_spec_init(void) {
#ifdef MOJ_IN_RUNTIME
  _moj_spec_ext = on_event;
  _moj_spec_ext_vote = _moj_dsm_otx_vote;
  _moj_dsm_spec_depth = spec_level();
#endif
}
