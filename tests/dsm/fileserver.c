/* fileserver.c — the classic System V client/server pattern across hosts
 * (issue 9, item 3): a server reads requests from a well-known queue; each
 * client creates an IPC_PRIVATE reply queue and sends its id inside every
 * request; the server answers on that id.  With every host in its own IPC
 * namespace this works only if private objects are cluster-wide and their
 * ids mean the same object on every host.
 *   fileserver server KEY DIR NCLIENTS   serve files of DIR until NCLIENTS said bye
 *   fileserver client KEY OUTDIR FILE... fetch each FILE into OUTDIR
 * Plain cc under LD_PRELOAD=libmojave_ipc.so. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#define CHUNK 4000
enum { T_REQ = 1, T_BYE = 2, T_DATA = 3, T_END = 4, T_ERR = 5 };
struct req { long type; int reply; char name[256]; };
struct data { long type; char b[CHUNK]; };

static int die(const char *what) { printf("FAIL fileserver: %s: %s\n", what, strerror(errno)); return 1; }

static int server(key_t key, const char *dir, int nclients) {
  int q = msgget(key, IPC_CREAT | 0600);
  if (q < 0) return die("msgget (server)");
  int served = 0;
  while (nclients > 0) {
    struct req r;
    ssize_t n = msgrcv(q, &r, sizeof r - sizeof r.type, 0, 0);
    if (n < 0) { if (errno == EINTR) continue; return die("msgrcv (server)"); }
    if (r.type == T_BYE) { nclients--; continue; }
    r.name[sizeof r.name - 1] = 0;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, r.name);
    int fd = strchr(r.name, '/') ? -1 : open(path, O_RDONLY);
    struct data d;
    if (fd < 0) {
      d.type = T_ERR;
      if (msgsnd(r.reply, &d, 0, 0)) return die("msgsnd error reply");
      continue;
    }
    for (;;) {
      ssize_t k = read(fd, d.b, CHUNK);
      if (k < 0) { close(fd); return die("read"); }
      d.type = k ? T_DATA : T_END;
      if (msgsnd(r.reply, &d, (size_t)k, 0)) { close(fd); return die("msgsnd data (to a client's private queue)"); }
      if (!k) break;
    }
    close(fd);
    served++;
  }
  msgctl(q, IPC_RMID, NULL);
  printf("server: %d files served\n", served);
  return 0;
}

static int client(key_t key, const char *out, int nf, char **files) {
  int q = -1;
  for (int i = 0; i < 3000 && q < 0; i++) { /* the server may not have created it yet */
    q = msgget(key, 0);
    if (q < 0) usleep(10000);
  }
  if (q < 0) return die("msgget (client): no server queue");
  int mine = msgget(IPC_PRIVATE, 0600);
  if (mine < 0) return die("msgget(IPC_PRIVATE)");
  for (int i = 0; i < nf; i++) {
    struct req r = {T_REQ, mine, ""};
    snprintf(r.name, sizeof r.name, "%s", files[i]);
    if (msgsnd(q, &r, sizeof r - sizeof r.type, 0)) return die("msgsnd request");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", out, files[i]);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return die("open output");
    for (;;) {
      struct data d;
      ssize_t k = msgrcv(mine, &d, CHUNK, 0, 0);
      if (k < 0) { if (errno == EINTR) continue; close(fd); return die("msgrcv (private reply queue)"); }
      if (d.type == T_ERR) { close(fd); printf("FAIL fileserver: server cannot open %s\n", files[i]); return 1; }
      if (d.type == T_END) break;
      if (write(fd, d.b, (size_t)k) != k) { close(fd); return die("write"); }
    }
    close(fd);
  }
  struct req bye = {T_BYE, mine, ""};
  if (msgsnd(q, &bye, sizeof bye - sizeof bye.type, 0)) return die("msgsnd bye");
  msgctl(mine, IPC_RMID, NULL);
  printf("client: %d files fetched through private queue id %d\n", nf, mine);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 5 && !strcmp(argv[1], "server")) return server((key_t)strtol(argv[2], NULL, 0), argv[3], atoi(argv[4]));
  if (argc >= 5 && !strcmp(argv[1], "client")) return client((key_t)strtol(argv[2], NULL, 0), argv[3], argc - 4, argv + 4);
  fprintf(stderr, "usage: fileserver server KEY DIR NCLIENTS | fileserver client KEY OUTDIR FILE...\n");
  return 2;
}
