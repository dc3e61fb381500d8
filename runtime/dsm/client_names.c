/* client_names.c — where a key lives: the root nameserver (and zone
 * servers it refers to) answer RESOLVE once, then a cache; which keys and
 * ids are distributed. */
#include "client.h"

/* Home host of a key: ask the root nameserver once, then use the cache. */
struct moj_dsm_kcache _moj_dsm_kcache[256];
int _moj_dsm_nk;
pthread_mutex_t _moj_dsm_kc_lock = PTHREAD_MUTEX_INITIALIZER;
/* Resolution walks the nameserver tree like a DNS resolver: from the most
 * specific cached referral (else the root) follow referrals down to the home;
 * both the referrals and the final answer are cached for the process. */
struct moj_dsm_rcache _moj_dsm_rcache[64];
int _moj_dsm_nr;
int _moj_dsm_key_home(int32_t key) {
  sigset_t om;
  uint32_t k = (uint32_t)key;
  int at = _moj_dsm_cluster.root;
  _moj_dsm_lk(&_moj_dsm_kc_lock, &om);
  for (int i = 0; i < _moj_dsm_nk; i++)
    if (_moj_dsm_kcache[i].key == key) { int h = _moj_dsm_kcache[i].host; _moj_dsm_ulk(&_moj_dsm_kc_lock, &om); return h; }
  uint32_t best = 0xffffffffu;
  for (int i = 0; i < _moj_dsm_nr; i++)
    if (k >= _moj_dsm_rcache[i].lo && k <= _moj_dsm_rcache[i].hi && _moj_dsm_rcache[i].hi - _moj_dsm_rcache[i].lo <= best) { best = _moj_dsm_rcache[i].hi - _moj_dsm_rcache[i].lo; at = _moj_dsm_rcache[i].host; }
  _moj_dsm_ulk(&_moj_dsm_kc_lock, &om);
  for (int hops = 0; hops <= MOJ_MAX_REFERRALS; hops++) {
    struct _moj_resolve q = {key};
    struct _moj_resolve_r r;
    size_t rl = 0;
    int st = _moj_dsm_call(at, MOJ_RESOLVE, &q, sizeof q, NULL, 0, &r, sizeof r, &rl, 0);
    if (st || rl != sizeof r || r.host_idx >= (uint32_t)_moj_dsm_cluster.nhosts) {
      _moj_dsm_warn("cannot resolve key 0x%x at nameserver %s: %s", (unsigned)key, _moj_dsm_cluster.host[at].name,
            st ? strerror(st == EIDRM ? EHOSTUNREACH : st) : "malformed answer");
      return -1;
    }
    _moj_dsm_lk(&_moj_dsm_kc_lock, &om);
    if (!r.referral && _moj_dsm_nk < 256) { _moj_dsm_kcache[_moj_dsm_nk].key = key; _moj_dsm_kcache[_moj_dsm_nk].host = (int)r.host_idx; _moj_dsm_nk++; }
    if (r.referral && _moj_dsm_nr < 64 && r.lo <= k && k <= r.hi) { _moj_dsm_rcache[_moj_dsm_nr].lo = r.lo; _moj_dsm_rcache[_moj_dsm_nr].hi = r.hi; _moj_dsm_rcache[_moj_dsm_nr].host = (int)r.host_idx; _moj_dsm_nr++; }
    _moj_dsm_ulk(&_moj_dsm_kc_lock, &om);
    if (!r.referral) return (int)r.host_idx;
    at = (int)r.host_idx;
  }
  _moj_dsm_warn("cannot resolve key 0x%x: more than %d referrals", (unsigned)key, MOJ_MAX_REFERRALS);
  return -1;
}
int _moj_dsm_is_dist_key(key_t key) {
  _moj_dsm_ensure_init();
  return _moj_dsm_cfg_ok && _moj_cluster_is_distributed(&_moj_dsm_cluster, key);
}
int _moj_dsm_is_dist_id(int id) {
  _moj_dsm_ensure_init();
  return _moj_dsm_cfg_ok && MOJ_ID_IS(id);
}
int _moj_dsm_id_host(int id) {
  int h = MOJ_ID_HOST(id);
  return h < _moj_dsm_cluster.nhosts ? h : -1;
}

