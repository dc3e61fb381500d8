/* client_names.c — where a key lives: the root nameserver (and zone
 * servers it refers to) answer RESOLVE once, then a cache; which keys and
 * ids are distributed. */
#include "client.h"

/* Home host of a key: ask the root nameserver once, then use the cache. */
MOJ_DSM_VAR struct moj_dsm_kcache _moj_dsm_kcache[256];
MOJ_DSM_VAR int _moj_dsm_nk;
MOJ_DSM_VAR pthread_mutex_t _moj_dsm_kc_lock = PTHREAD_MUTEX_INITIALIZER;
/* Resolution walks the nameserver tree like a DNS resolver: from the most
 * specific cached referral (else the root) follow referrals down to the home;
 * both the referrals and the final answer are cached for the process. */
MOJ_DSM_VAR struct moj_dsm_rcache _moj_dsm_rcache[64];
MOJ_DSM_VAR int _moj_dsm_nr;
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
            st ? strerror(st) : "malformed answer");
      return st ? -st : -EPROTO;
    }
    _moj_dsm_lk(&_moj_dsm_kc_lock, &om);
    if (!r.referral && _moj_dsm_nk < 256) { _moj_dsm_kcache[_moj_dsm_nk].key = key; _moj_dsm_kcache[_moj_dsm_nk].host = (int)r.host_idx; _moj_dsm_nk++; }
    if (r.referral && _moj_dsm_nr < 64 && r.lo <= k && k <= r.hi) { _moj_dsm_rcache[_moj_dsm_nr].lo = r.lo; _moj_dsm_rcache[_moj_dsm_nr].hi = r.hi; _moj_dsm_rcache[_moj_dsm_nr].host = (int)r.host_idx; _moj_dsm_nr++; }
    _moj_dsm_ulk(&_moj_dsm_kc_lock, &om);
    if (!r.referral) return (int)r.host_idx;
    at = (int)r.host_idx;
  }
  _moj_dsm_warn("cannot resolve key 0x%x: more than %d referrals", (unsigned)key, MOJ_MAX_REFERRALS);
  return -ELOOP;
}
int _moj_dsm_id_host(int id) {
  int h = MOJ_ID_HOST(id);
  return h < _moj_dsm_cluster.nhosts ? h : -1;
}
int _moj_dsm_is_dist_id(int id) {
  _moj_dsm_ensure_init();
  return _moj_dsm_cfg_ok && MOJ_ID_IS(id);
}

/* Where a call naming KEY goes.  IPC_PRIVATE objects of a distributed
 * process are distributed too, homed at this host's daemon: their ids mean
 * the same object on every host, so a private reply queue or segment can be
 * handed to a process elsewhere (MOJAVE_DSM_PRIVATE=local keeps them in the
 * kernel).  A cluster that was asked for but is unusable refuses every call
 * (fail closed: a typo must not quietly split the program across kernels). */
int _moj_dsm_route_key(key_t key, int *home) {
  _moj_dsm_ensure_init();
  if (_moj_dsm_cfg_err) { errno = _moj_dsm_cfg_err; return -1; }
  if (!_moj_dsm_cfg_ok) return 0;
  if (key == IPC_PRIVATE) {
    if (_moj_dsm_private_local) return 0;
    *home = _moj_dsm_self_host;
    return 1;
  }
  if (!_moj_cluster_is_distributed(&_moj_dsm_cluster, key)) return 0;
  int h = _moj_dsm_key_home(key);
  if (h < 0) { errno = -h; return -1; }
  *home = h;
  return 1;
}
/* semget/msgget/shmget: an ordered key (cluster file `ordered`) has no home and
 * needs no resolution: every daemon has a replica, ask our own. */
int _moj_dsm_route_get(key_t key, int kind, int *home) {
  _moj_dsm_ensure_init();
  if (_moj_dsm_cfg_ok && !_moj_dsm_cfg_err && _moj_cluster_is_ordered_kind(&_moj_dsm_cluster, key, kind)) {
    *home = _moj_dsm_self_host;
    return 1;
  }
  return _moj_dsm_route_key(key, home);
}
int _moj_dsm_route_id(int id, int *home) {
  _moj_dsm_ensure_init();
  if (_moj_dsm_cfg_err) { errno = _moj_dsm_cfg_err; return -1; }
  if (!_moj_dsm_cfg_ok || !MOJ_ID_IS(id)) return 0;
  int h = MOJ_ID_HOST(id);
  if (h == MOJ_ID_ORDERED) h = _moj_dsm_self_host; /* replicated at every daemon: ask our own */
  if (h >= _moj_dsm_cluster.nhosts) { errno = EINVAL; return -1; }
  *home = h;
  return 1;
}


