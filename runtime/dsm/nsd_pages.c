/* nsd_pages.c — the page directory of the segments homed here (IVY's
 * centralized manager): per page the owner or the copyset, one transaction
 * at a time with the others queued, fetches from the owner, invalidations,
 * read-ahead and write-ahead batches for scans, zstd-compressed transfers. */
#include "nsd.h"

#include <zstd.h>

/* ---------------- page directory (IVY centralized manager) ---------------- */
int att_slot(struct shm *s, struct conn *c) {
  for (int i = 0; i < MAX_ATT; i++)
    if (s->att[i].count && s->att[i].c.fd == c->fd && s->att[i].c.gen == c->gen) return i;
  return -1;
}
/* has_data = number of consecutive pages carried (pn, pn+1, ...), 0 for none */
static void page_send_n(struct conn *c, uint32_t seq, int32_t st, int id, uint32_t pn, uint32_t acc, const uint8_t *data, uint32_t n) {
  struct _moj_page p = {id, pn, acc, data ? n : 0};
  size_t raw = data ? (size_t)n * MOJ_PAGE : 0;
  if (zcomp && data) {
    /* sent compressed only when it saves at least 1/8: incompressible pages
     * would just cost CPU at both ends */
    static uint8_t zbuf[(64 + 2) * MOJ_PAGE + 1024];
    size_t zl = ZSTD_compress(zbuf, sizeof zbuf, data, raw, 1);
    if (!ZSTD_isError(zl) && zl < raw - raw / 8) {
      p.has_data |= MOJ_PAGE_ZSTD;
      z_pages += n; z_raw += raw; z_sent += zl;
      sendm(c, MOJ_PAGE_REQ | MOJ_REPLY, seq, st, 0, &p, sizeof p, zbuf, zl);
      return;
    }
  }
  sendm(c, MOJ_PAGE_REQ | MOJ_REPLY, seq, st, 0, &p, sizeof p, data, raw);
}
static void page_send(struct conn *c, uint32_t seq, int32_t st, int id, uint32_t pn, uint32_t acc, const uint8_t *data) {
  page_send_n(c, seq, st, id, pn, acc, data, 1);
}
static void fetch_send(struct shm *s, int id, uint32_t pn, int slot, uint32_t newacc, int want) {
  struct conn *o = cget(s->att[slot].c);
  s->pg[pn].waitmask |= 1ull << slot;
  struct _moj_page p = {id, pn, newacc, (uint32_t)want};
  if (debug) logm("PAGE_FETCH -> slot %d (%s) id=0x%x page %u newacc %u want %d", slot, o ? o->host : "gone", id, pn, newacc, want);
  if (o) sendm(o, MOJ_PAGE_FETCH, ++o->fetch_seq, 0, 0, &p, sizeof p, NULL, 0);
}


/* Largest batch for a fault of attachment slot at pn (dir 0 read, 1 write):
 * a scan (pn just past the previous batch; one page of slack for strides a
 * little over a page) doubles the window, anything else starts over. */
static uint32_t ra_window(struct shm *s, int slot, int dir, uint32_t pn) {
  struct ra *r = &s->att[slot].ra[dir];
  if (ra_pages <= 0) return 0;
  if (r->win && pn >= r->next && pn <= r->next + 1) r->win = r->win * 2 > (uint32_t)ra_max ? (uint32_t)ra_max : r->win * 2;
  else r->win = (uint32_t)ra_pages;
  return r->win;
}
/* Record the batch actually sent, so the next fault can be recognised as a scan. */
static void ra_sent(struct shm *s, int slot, int dir, uint32_t pn, uint32_t n) { s->att[slot].ra[dir].next = pn + n; }
/* Write-ahead hands out only pages nobody holds or waits for. */
static int wa_free(struct shm *s, uint32_t pn) {
  struct page *pk = &s->pg[pn];
  return s->own[pn] == -1 && !pk->busy && !pk->q && pk->copyset == 0;
}

/* Finish the current transaction: the requester receives the page with the access it asked for. */
static void page_complete(struct shm *s, int id, uint32_t pn) {
  struct page *p = &s->pg[pn];
  struct conn *rc = cget(p->req_c);
  int slot = rc ? att_slot(s, rc) : -1;
  const uint8_t *home = s->home + (size_t)pn * MOJ_PAGE;
  p->busy = 0;
  if (s->own[pn] == -2) {
    if (rc) page_send(rc, p->req_seq, EIO, id, pn, 0, NULL);
  } else if (slot < 0) {
    /* requester vanished meanwhile: the home copy is current, nobody owns it */
    s->own[pn] = -1;
  } else if (p->req_acc == MOJ_ACC_READ) {
    p->copyset |= 1ull << slot;
    page_send(rc, p->req_seq, 0, id, pn, MOJ_ACC_READ, home);
  } else {
    int had = (p->copyset >> slot) & 1;
    s->own[pn] = (int8_t)slot;
    p->copyset = 0;
    uint32_t n = 1;
    if (!had && wa_on) {
      /* write-ahead: following pages nobody holds become ours too (a scan
       * writing a fresh buffer pays one round trip per batch, not per page) */
      uint32_t w = ra_window(s, slot, 1, pn);
      while (n <= w && pn + n < s->npages && wa_free(s, pn + n)) {
        s->own[pn + n] = (int8_t)slot;
        s->pg[pn + n].clean = 1;
        n++;
      }
      ra_sent(s, slot, 1, pn, n);
    }
    p->clean = 0;
    page_send_n(rc, p->req_seq, 0, id, pn, n > 1 ? MOJ_ACC_AHEAD : MOJ_ACC_WRITE, had ? NULL : home, n);
  }
  page_run(s, id, pn);
}

/* Start queued requests on a page until one has to wait for a client. */
void page_run(struct shm *s, int id, uint32_t pn) {
  struct page *p = &s->pg[pn];
  if (s->recovering) return; /* served once the former attachers re-registered */
  while (!p->busy && p->q) {
    struct pq *r = p->q;
    p->q = r->next;
    if (!p->q) p->qt = NULL;
    struct conn *rc = cget(r->c);
    int slot = rc ? att_slot(s, rc) : -1;
    uint32_t acc = r->acc, seq = r->seq;
    free(r);
    if (slot < 0) {
      if (rc) page_send(rc, seq, EINVAL, id, pn, 0, NULL);
      continue;
    }
    if (s->own[pn] == -2) { page_send(rc, seq, EIO, id, pn, 0, NULL); continue; }
    p->req_c = cref_of(rc); p->req_seq = seq; p->req_slot = slot; p->req_acc = acc;
    if (s->own[pn] == slot) { /* already exclusive: spurious or racing fault */
      page_send(rc, seq, 0, id, pn, MOJ_ACC_WRITE, NULL);
      continue;
    }
    if (acc == MOJ_ACC_READ) {
      if (s->own[pn] == -1) {
        p->copyset |= 1ull << slot;
        /* read-ahead: the following pages that sit idle at home go along as
         * read copies in the same reply (home copies are contiguous), so a
         * scan pays one round trip, one wake-up and one mprotect per batch */
        uint32_t n = 1, w = ra_window(s, slot, 0, pn);
        while (n <= w && pn + n < s->npages) {
          struct page *pk = &s->pg[pn + n];
          if (s->own[pn + n] != -1 || pk->busy || pk->q || ((pk->copyset >> slot) & 1)) break;
          pk->copyset |= 1ull << slot;
          n++;
        }
        ra_sent(s, slot, 0, pn, n);
        page_send_n(rc, seq, 0, id, pn, MOJ_ACC_READ, s->home + (size_t)pn * MOJ_PAGE, n);
        continue;
      }
      p->busy = 1; p->fetch_from = s->own[pn]; p->want_data = 1;
      fetch_send(s, id, pn, s->own[pn], MOJ_ACC_READ, 1);
      return;
    }
    if (s->own[pn] >= 0) {
      p->busy = 1; p->fetch_from = s->own[pn]; p->want_data = 1;
      fetch_send(s, id, pn, s->own[pn], MOJ_ACC_NONE, 1);
      return;
    }
    uint64_t others = p->copyset & ~(1ull << slot);
    if (!others) { p->busy = 1; page_complete(s, id, pn); return; }
    p->busy = 1; p->fetch_from = -1; p->want_data = 0; p->waitmask = 0;
    for (int i = 0; i < MAX_ATT; i++)
      if ((others >> i) & 1) {
        if (s->att[i].count && cget(s->att[i].c)) fetch_send(s, id, pn, i, MOJ_ACC_NONE, 0);
        p->copyset &= ~(1ull << i);
      }
    if (p->waitmask == 0) { page_complete(s, id, pn); return; }
    return;
  }
}

/* A client answered a PAGE_FETCH, or never will: it detached (data == NULL, dead == 0:
 * its SHMDT already refreshed the home copy) or crashed (dead == 1). */
void page_fetched(struct shm *s, int id, uint32_t pn, int from_slot, const uint8_t *data, int dead) {
  struct page *p = &s->pg[pn];
  if (!p->busy || !((p->waitmask >> from_slot) & 1)) return;
  p->waitmask &= ~(1ull << from_slot);
  if (p->want_data) {
    if (data) memcpy(s->home + (size_t)pn * MOJ_PAGE, data, MOJ_PAGE);
    else if (dead && !p->clean) s->own[pn] = -2; /* the only up-to-date copy died with its process */
    p->clean = 0;
    if (s->own[pn] != -2) {
      int keep = p->req_acc == MOJ_ACC_READ && data != NULL;
      s->own[pn] = -1;
      p->copyset = keep ? (1ull << from_slot) : 0;
    }
    page_complete(s, id, pn);
  } else if (p->waitmask == 0) {
    page_complete(s, id, pn);
  }
}


void do_page_req(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_page_req);
  struct _moj_page_req q; memcpy(&q, pl, sizeof q);
  if (MOJ_ID_IS_ORDERED(q.id)) { oshm_page_req(c, h, &q); return; }
  int sl;
  struct shm *s = shm_by_id(q.id, &sl);
  if (!s || q.page >= s->npages || (q.access != MOJ_ACC_READ && q.access != MOJ_ACC_WRITE) || att_slot(s, c) < 0) {
    logp(c, MOJ_LOG_WARN, "PAGE_REQ from %s: bad id/page/access (0x%x/%u/%u), rejected", c->peer, q.id, q.page, q.access);
    page_send(c, h->seq, EINVAL, q.id, q.page, 0, NULL);
    return;
  }
  if (debug) logm("PAGE_REQ %s pid %u id=0x%x page %u acc %u (owner %d copyset %llx busy %d recovering %d)", c->host, c->pid,
                  q.id, q.page, q.access, s->own[q.page], (unsigned long long)s->pg[q.page].copyset, s->pg[q.page].busy, s->recovering);
  struct pq *r = malloc(sizeof *r);
  *r = (struct pq){cref_of(c), h->seq, q.access, NULL};
  struct page *p = &s->pg[q.page];
  if (p->qt) p->qt->next = r; else p->q = r;
  p->qt = r;
  page_run(s, q.id, q.page);
}
/* PAGE_DIRTY (no reply): the owner is about to store to write-ahead pages
 * (aux of them from q.page; 0 means 1), so from now on only its copies are
 * current.  Pages of the run it does not own are ignored. */
void do_page_dirty(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  if (h->len < sizeof(struct _moj_page_req)) { logp(c, MOJ_LOG_WARN, "PAGE_DIRTY from %s: payload %u bytes, rejected", c->peer, h->len); return; }
  struct _moj_page_req q; memcpy(&q, pl, sizeof q);
  int sl;
  struct shm *s = shm_by_id(q.id, &sl);
  int a = s && q.page < s->npages ? att_slot(s, c) : -1;
  if (a < 0 || s->own[q.page] != a) {
    logp(c, MOJ_LOG_WARN, "PAGE_DIRTY from %s: id 0x%x page %u is not owned by it, ignored", c->peer, q.id, q.page);
    return;
  }
  uint32_t n = h->aux ? h->aux : 1;
  if (n > s->npages - q.page) n = s->npages - q.page;
  for (uint32_t k = 0; k < n; k++)
    if (s->own[q.page + k] == a) s->pg[q.page + k].clean = 0;
}
void do_fetch_reply(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_page);
  struct _moj_page q; memcpy(&q, pl, sizeof q);
  int sl;
  struct shm *s = shm_by_id(q.id, &sl);
  if (!s || q.page >= s->npages) return; /* segment gone meanwhile: nothing waits */
  int a = att_slot(s, c);
  if (a < 0) return; /* detached before answering: shm_detach already settled it */
  const uint8_t *data = NULL;
  static uint8_t unz[MOJ_PAGE];
  if (q.has_data & MOJ_PAGE_ZSTD) {
    size_t r = ZSTD_decompress(unz, sizeof unz, pl + sizeof q, h->len - sizeof q);
    if (ZSTD_isError(r) || r != MOJ_PAGE) { logp(c, MOJ_LOG_WARN, "PAGE_FETCH reply from %s: bad zstd frame, rejected", c->peer); return; }
    data = unz;
  } else if (q.has_data) {
    if (h->len != sizeof q + MOJ_PAGE) { logp(c, MOJ_LOG_WARN, "PAGE_FETCH reply from %s: wrong length %u, rejected", c->peer, h->len); return; }
    data = pl + sizeof q;
  }
  page_fetched(s, q.id, q.page, a, data, 0);
}

