/* mq_order.c — plain System V message-queue program run on several hosts:
 * senders push N numbered messages each (the 16 KiB queue limit makes them
 * block), the receiver checks per-sender FIFO order, then type selection
 * (negative type, MSG_EXCEPT), E2BIG / MSG_NOERROR, IPC_NOWAIT -> ENOMSG,
 * IPC_STAT and IPC_RMID.
 *   mq_order recv KEY NSENDERS N      mq_order send KEY ID N */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <time.h>
#include <unistd.h>

struct m { long type; int sender, seq; char pad[56]; };

#define CHECK(c, ...) do { if (!(c)) { printf("FAIL mq_order: " __VA_ARGS__); printf(" (errno %s)\n", strerror(errno)); return 1; } } while (0)

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: mq_order recv KEY NSENDERS N | send KEY ID N\n"); return 2; }
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  int a3 = atoi(argv[3]), n = atoi(argv[4]);
  struct m msg;
  if (!strcmp(argv[1], "send")) {
    int q;
    for (int i = 0; i < 3000 && (q = msgget(key, 0600)) < 0 && errno == ENOENT; i++) usleep(10000);
    CHECK(q >= 0, "msgget");
    for (int i = 0; i < n; i++) {
      memset(&msg, 0, sizeof msg);
      msg.type = a3; msg.sender = a3; msg.seq = i;
      CHECK(msgsnd(q, &msg, sizeof msg - sizeof(long), 0) == 0, "msgsnd");
    }
    if (a3 == 1) { /* phase 2 material, sent in this order: 5, 3, 7, then the end marker 99 */
      long types[] = {5, 3, 7, 99};
      for (int i = 0; i < 4; i++) {
        msg.type = types[i]; msg.seq = (int)types[i];
        CHECK(msgsnd(q, &msg, sizeof msg - sizeof(long), 0) == 0, "msgsnd phase 2");
      }
    }
    printf("PASS mq_order sender %d\n", a3);
    return 0;
  }
  int q = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
  CHECK(q >= 0, "msgget create");
  int next[16] = {0};
  for (int i = 0; i < a3 * n; i++) {
    /* only sender types: phase-2 messages (types 3..99) must wait their turn */
    ssize_t r = msgrcv(q, &msg, sizeof msg - sizeof(long), -2, 0);
    CHECK(r == (ssize_t)(sizeof msg - sizeof(long)), "msgrcv size %zd", r);
    CHECK(msg.type == msg.sender && msg.sender >= 1 && msg.sender <= a3, "bad type %ld", msg.type);
    CHECK(msg.seq == next[msg.sender], "sender %d: got seq %d, expected %d (order broken)", msg.sender, msg.seq, next[msg.sender]);
    next[msg.sender]++;
  }
  CHECK(msgrcv(q, &msg, sizeof msg - sizeof(long), 99, 0) > 0 && msg.seq == 99, "end marker");
  CHECK(msgrcv(q, &msg, sizeof msg - sizeof(long), -6, 0) > 0 && msg.type == 3, "negative type: got %ld", msg.type);
  CHECK(msgrcv(q, &msg, sizeof msg - sizeof(long), 7, MSG_EXCEPT) > 0 && msg.type == 5, "MSG_EXCEPT: got %ld", msg.type);
  errno = 0;
  CHECK(msgrcv(q, &msg, 4, 7, 0) == -1 && errno == E2BIG, "E2BIG expected");
  CHECK(msgrcv(q, &msg, 4, 7, MSG_NOERROR) == 4 && msg.type == 7, "MSG_NOERROR truncation");
  errno = 0;
  CHECK(msgrcv(q, &msg, sizeof msg, 0, IPC_NOWAIT) == -1 && errno == ENOMSG, "ENOMSG expected");
  struct msqid_ds ds;
  CHECK(msgctl(q, IPC_STAT, &ds) == 0 && ds.msg_qnum == 0 && ds.msg_qbytes == 16384, "IPC_STAT qnum=%lu qbytes=%lu",
        (unsigned long)ds.msg_qnum, (unsigned long)ds.msg_qbytes);
  CHECK(msgctl(q, IPC_RMID, NULL) == 0, "IPC_RMID");
  errno = 0;
  CHECK(msgsnd(q, &msg, 8, IPC_NOWAIT) == -1 && errno == EINVAL, "send after RMID must be EINVAL");
  printf("PASS mq_order receiver\n");
  return 0;
}
