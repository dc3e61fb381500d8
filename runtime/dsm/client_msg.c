/* client_msg.c — msgget/msgsnd/msgrcv/msgctl for distributed keys. */
#include "client.h"

#define MOJ_MSGMAX 8192
EXPORT int msgget(key_t key, int flg) {
  int home, route = _moj_dsm_route_get(key, MOJ_ORD_MSG, &home);
  if (route <= 0) return route < 0 ? -1 : _moj_dsm_real_msgget(key, flg);
  struct _moj_msgget q = {key, flg, _moj_dsm_cred(), (flg & IPC_CREAT) || key == IPC_PRIVATE ? _moj_dsm_rid() : 0};
  struct _moj_id_r r;
  int st = _moj_dsm_call(home, MOJ_MSGGET, &q, sizeof q, NULL, 0, &r, sizeof r, NULL, 0);
  return st ? _moj_dsm_fail(st) : r.id;
}
EXPORT int msgsnd(int id, const void *msgp, size_t sz, int flg) {
  int host, route = _moj_dsm_route_id(id, &host);
  if (route <= 0) return route < 0 ? -1 : _moj_dsm_real_msgsnd(id, msgp, sz, flg);
  if (sz > MOJ_MSGMAX) return _moj_dsm_fail(EINVAL);
  long mtype;
  memcpy(&mtype, msgp, sizeof mtype);
  if (mtype < 1) return _moj_dsm_fail(EINVAL);
  /* copied here, where a fault on a DSM buffer is an ordinary fault: the
   * send itself runs under the connection lock */
  char text[MOJ_MSGMAX];
  memcpy(text, (const char *)msgp + sizeof(long), sz);
  _moj_dsm_speclock_settle();
  if (_moj_dsm_specipc_active()) return _moj_dsm_specipc_msgsnd(host, id, mtype, text, sz, flg); /* held until commit */
  struct _moj_msgsnd q = {id, flg, mtype, (uint32_t)sz, _moj_dsm_cred(), _moj_dsm_rid()};
  int st = _moj_dsm_call(host, MOJ_MSGSND, &q, sizeof q, text, sz, NULL, 0, NULL, 1);
  return st ? _moj_dsm_fail(st) : 0;
}
EXPORT ssize_t msgrcv(int id, void *msgp, size_t sz, long typ, int flg) {
  int host, route = _moj_dsm_route_id(id, &host);
  if (route <= 0) return route < 0 ? -1 : _moj_dsm_real_msgrcv(id, msgp, sz, typ, flg);
  if ((ssize_t)sz < 0) return _moj_dsm_fail(EINVAL);
  struct _moj_msgrcv q = {id, flg, typ, (uint32_t)(sz > MOJ_MSGMAX ? MOJ_MSGMAX : sz), _moj_dsm_cred(), _moj_dsm_rid()};
  struct { struct _moj_msgrcv_r r; uint8_t d[MOJ_MSGMAX]; } rb;
  size_t rl = 0;
  int st = _moj_dsm_call(host, MOJ_MSGRCV, &q, sizeof q, NULL, 0, &rb, sizeof rb, &rl, 1);
  if (st) return _moj_dsm_fail(st);
  if (rl < sizeof rb.r || rb.r.size > rl - sizeof rb.r) return _moj_dsm_fail(EIO);
  long mt = (long)rb.r.mtype;
  if (_moj_dsm_specipc_active()) _moj_dsm_specipc_msgrcv_done(host, id, mt, rb.d, rb.r.size); /* given back on abort */
  memcpy(msgp, &mt, sizeof mt);
  memcpy((char *)msgp + sizeof(long), rb.d, rb.r.size);
  return rb.r.size;
}
EXPORT int msgctl(int id, int cmd, struct msqid_ds *buf) {
  int host, route = _moj_dsm_route_id(id, &host);
  if (route <= 0) return route < 0 ? -1 : _moj_dsm_real_msgctl(id, cmd, buf);
  if (cmd != IPC_STAT && cmd != IPC_SET && cmd != IPC_RMID) return _moj_dsm_fail(EINVAL);
  if ((cmd == IPC_STAT || cmd == IPC_SET) && !buf) return _moj_dsm_fail(EFAULT);
  struct _moj_ctl q;
  memset(&q, 0, sizeof q);
  q.id = id; q.cmd = cmd; q.cred = _moj_dsm_cred();
  if (cmd == IPC_SET || cmd == IPC_RMID) q.rid = _moj_dsm_rid();
  if (cmd == IPC_SET) {
    q.set_uid = buf->msg_perm.uid; q.set_gid = buf->msg_perm.gid; q.set_mode = buf->msg_perm.mode;
    q.set_qbytes = buf->msg_qbytes;
  }
  if (cmd != IPC_STAT && _moj_dsm_specipc_active())
    return _moj_dsm_specipc_ctl(host, MOJ_MSGCTL, &q, NULL, 0); /* held until the commit (client_specipc.c) */
  struct _moj_stat_r r;
  int st = _moj_dsm_call(host, MOJ_MSGCTL, &q, sizeof q, NULL, 0, &r, sizeof r, NULL, 0);
  /* removed before the restart, the reply lost: the queue is gone either way */
  if (cmd == IPC_RMID && st == EINVAL && _moj_dsm_tl_retried) st = 0;
  if (st) return _moj_dsm_fail(st);
  if (cmd == IPC_STAT) {
    memset(buf, 0, sizeof *buf);
    buf->msg_perm.__key = r.key; buf->msg_perm.uid = r.uid; buf->msg_perm.gid = r.gid;
    buf->msg_perm.cuid = r.cuid; buf->msg_perm.cgid = r.cgid; buf->msg_perm.mode = (unsigned short)r.mode;
    buf->msg_qbytes = r.size; buf->msg_stime = r.atime; buf->msg_rtime = r.dtime; buf->msg_ctime = r.ctime;
    buf->msg_lspid = (pid_t)r.cpid; buf->msg_lrpid = (pid_t)r.lpid; buf->msg_qnum = r.nattch;
    buf->__msg_cbytes = r.cbytes;
  }
  return 0;
}

