/* order.h — total-order delivery with speculation (paper §3.2.1, Figure 2),
 * as a pure state machine: no sockets, no clock of its own.  The daemon
 * (nsd_order.c) feeds it what arrives and the time, broadcasts what it says to
 * send, and gives it a consumer; the unit test drives several instances
 * through a simulated network.
 *
 * Messages carry ids (t, m): Lamport time and sender index; (t1,m1) < (t2,m2)
 * iff t1 < t2, or t1 == t2 and m1 < m2.  Links are FIFO (TCP), so once a
 * node has been heard past an id (a message or a QUIET with a larger id) it
 * will never send anything smaller: a message is *stable* when every node
 * but the sender and us has been heard past it, and then every message
 * smaller than it has arrived.
 *
 * Classical mode delivers only stable messages, in id order; each node
 * answers every message with a QUIET at once (the acknowledgement a
 * traditional total order needs).  Speculative mode delivers a message that
 * is not stable after it waited T since its reception, as a speculation
 * (consumer->deliver with spec = 1); a smaller message arriving later undoes
 * it and every later delivery (consumer->undo, newest first) and delivery
 * starts again in the right order; a stable message commits
 * (consumer->commit).  Nodes send a QUIET only after T' without sending, so
 * the network carries no acknowledgements.  Both modes give every node the
 * same committed sequence.
 *
 * Failures (write speculation for faults, paper §3.2): with receipts on,
 * every message and QUIET carries how many messages its sender received
 * from each node, and a message commits only when every other node has
 * reported receiving it.  A node suspected dead (the daemon decides: its
 * links silent too long) is announced with FAIL and our final count of its
 * messages; FAIL is contagious (whoever hears one stops accepting the
 * suspect's messages and sends its own), and once every other node's FAIL
 * is in, the suspect is excluded: its messages up to the smallest count
 * stay (every survivor has them, and none beyond it can have committed
 * anywhere: commit needs every receipt), the rest are dropped — undone if
 * delivered speculatively — and stability stops waiting for it.  Only a
 * majority excludes: fewer survivors stall (a partitioned minority must not
 * go on alone).  One failure at a time; a node never comes back. */
#ifndef MOJ_ORDER_H
#define MOJ_ORDER_H
#include <stdint.h>
#include <stddef.h>

#define MOJ_TO_MAX_NODES 64
enum { MOJ_TO_CLASSICAL = 1, MOJ_TO_SPECULATIVE = 2 };

struct _moj_to_msg {
  uint64_t t;
  uint16_t m;
  uint8_t state;            /* 0 waiting, 1 delivered speculatively, 2 delivered (stable) */
  uint8_t immediate;        /* no smaller message arrived after this one (paper's p) */
  uint32_t aborts;          /* speculative deliveries of it that were undone */
  uint32_t seq;             /* its sender's message count when it was sent (1, 2, ...) */
  int64_t recv_ns;          /* reception (for our own messages: sending) */
  int64_t first_deliver_ns; /* first delivery, speculative or not (0: none yet) */
  int64_t deliver_ns;       /* the delivery that stood */
  int64_t last_smaller_ns;  /* reception of the last smaller message (W), 0: none after us */
  int64_t stable_ns;        /* when it became stable (U or V) */
  struct _moj_to_msg *next;
  uint32_t len;
  uint8_t data[];
};

/* What the owner does with deliveries.  Each callback may be NULL. */
struct _moj_to_consumer {
  void (*deliver)(void *ctx, const struct _moj_to_msg *m, int spec);
  void (*undo)(void *ctx, const struct _moj_to_msg *m);   /* newest first */
  void (*commit)(void *ctx, const struct _moj_to_msg *m); /* in id order; m is freed after */
  int64_t (*clock)(void); /* if set, the consumer's time in deliver/commit/undo goes to te/tc/ta */
  void *ctx;
};

struct _moj_to_stats {
  uint64_t sent, received, quiets_sent, quiets_received;
  uint64_t committed, immediate, spec_deliveries, spec_committed;
  uint64_t abort_events, undone;  /* rollbacks, and deliveries they undid */
  int64_t te_ns, tc_ns, ta_ns;    /* total time in the consumer's deliver(spec)/commit-of-spec/undo */
};

struct _moj_to {
  int me, n, mode;
  int64_t window_ns;   /* T: wait this long for stability before speculating */
  int64_t quiet_ns;    /* T': speculative mode sends a QUIET after this long without sending */
  uint64_t clock;      /* Lamport time */
  uint64_t last_t[MOJ_TO_MAX_NODES];
  uint8_t heard[MOJ_TO_MAX_NODES];
  uint64_t sent_t;     /* largest id time we broadcast (message or QUIET) */
  uint64_t max_recv_t; /* largest id time received from others */
  int64_t last_send_ns;
  int owe;             /* a message arrived since we last broadcast: a QUIET is owed */
  int64_t owe_since;   /* ... since then */
  struct _moj_to_msg *q; /* received, not yet committed, in id order */
  size_t qlen;
  struct _moj_to_consumer c;
  struct _moj_to_stats st;
  /* receipts and failures (see the top) */
  int receipts;                                   /* 1: commit needs every node's receipt report */
  uint32_t rcount[MOJ_TO_MAX_NODES];              /* messages received from each node (ours: sent) */
  uint32_t prc[MOJ_TO_MAX_NODES][MOJ_TO_MAX_NODES]; /* prc[j][k]: j's latest report of messages received from k */
  uint8_t failing[MOJ_TO_MAX_NODES], excluded[MOJ_TO_MAX_NODES];
  uint32_t fail_rc[MOJ_TO_MAX_NODES][MOJ_TO_MAX_NODES]; /* fail_rc[f][j]: j's final count of f's messages */
  uint8_t fail_seen[MOJ_TO_MAX_NODES][MOJ_TO_MAX_NODES];
  int nexcluded;
  uint64_t dropped;                               /* messages of excluded nodes dropped (beyond the cut) */
};

static inline int _moj_to_less(uint64_t t1, unsigned m1, uint64_t t2, unsigned m2) {
  return t1 < t2 || (t1 == t2 && m1 < m2);
}

void _moj_to_init(struct _moj_to *to, int me, int n, int mode, int64_t window_ns, int64_t quiet_ns,
                  const struct _moj_to_consumer *c);
/* Frees what is still queued (without callbacks). */
void _moj_to_free(struct _moj_to *to);
/* Our own message: returns it stamped (to broadcast: t, m, data), already in
 * our queue; NULL when out of memory. */
const struct _moj_to_msg *_moj_to_send(struct _moj_to *to, const void *data, uint32_t len, int64_t now);
/* A message from node m (m != me, in range).  0, or -1: out of memory, or a
 * FIFO violation (an id not larger than m's previous one): the link is broken. */
int _moj_to_recv(struct _moj_to *to, uint64_t t, unsigned m, const void *data, uint32_t len, int64_t now);
/* A QUIET (t, m): m will never send an id smaller than (t, m).  0 or -1 as above. */
int _moj_to_recv_quiet(struct _moj_to *to, uint64_t t, unsigned m, int64_t now);
/* Deliver/commit what time and arrivals allow; call after the above and on timers. */
void _moj_to_progress(struct _moj_to *to, int64_t now);
/* Is a QUIET due now?  Returns its time (nonzero; the caller broadcasts
 * QUIET(t, me)) or 0. */
uint64_t _moj_to_quiet_due(struct _moj_to *to, int64_t now);
/* When progress or a QUIET may next be due without any arrival (0: only
 * arrivals can change anything). */
int64_t _moj_to_next_deadline(const struct _moj_to *to);

/* Receipts: what node `from` reported (rc[0..n-1], carried by its message
 * or QUIET) — call before _moj_to_recv/_moj_to_recv_quiet of that frame. */
void _moj_to_receipts(struct _moj_to *to, unsigned from, const uint32_t *rc);
/* We suspect node f (or heard another node's FAIL about it): from now on
 * its messages are ignored.  Returns our final count of f's messages, to
 * broadcast as FAIL(f, count); the same number if called again. */
uint32_t _moj_to_suspect(struct _moj_to *to, unsigned f, int64_t now);
/* FAIL(f, count) from node `from` (the caller suspects f first if it did
 * not yet).  Returns 1 when this completed f's exclusion, 0 when recorded,
 * -1 when malformed (f or from out of range, from == f, f == us). */
int _moj_to_recv_fail(struct _moj_to *to, unsigned from, unsigned f, uint32_t count, int64_t now);
#endif
