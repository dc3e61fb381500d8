/* connect4.c — alpha-beta negamax on Connect Four to a fixed depth, every
 * child position a malloc'd copy of the board and every node's move list a
 * malloc'd array (issue 11's game-tree search allocating board copies).
 * Arg: search depth from a few fixed openings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { W = 7, H = 6 };
typedef struct board { signed char cell[W][H]; signed char height[W]; int moves; } board;

static board *play(const board *b, int col) {
  board *c = malloc(sizeof *c);
  memcpy(c, b, sizeof *c);
  c->cell[col][c->height[col]++] = (signed char)(b->moves % 2 ? -1 : 1);
  c->moves++;
  return c;
}
static int wins(const board *b, int col) { /* did the last move, in col, make four? */
  int row = b->height[col] - 1, me = b->cell[col][row];
  static const int dir[4][2] = {{1, 0}, {0, 1}, {1, 1}, {1, -1}};
  for (int d = 0; d < 4; d++) {
    int n = 1;
    for (int s = -1; s <= 1; s += 2)
      for (int k = 1; k < 4; k++) {
        int x = col + s * k * dir[d][0], y = row + s * k * dir[d][1];
        if (x < 0 || x >= W || y < 0 || y >= H || b->cell[x][y] != me) break;
        n++;
      }
    if (n >= 4) return 1;
  }
  return 0;
}
static int eval(const board *b) { /* centre control, from the side to move */
  int s = 0;
  for (int x = 0; x < W; x++)
    for (int y = 0; y < b->height[x]; y++) s += b->cell[x][y] * (3 - abs(x - 3));
  return b->moves % 2 ? -s : s;
}
static long nodes;
static int negamax(const board *b, int depth, int alpha, int beta) {
  nodes++;
  if (b->moves == W * H) return 0;
  if (depth == 0) return eval(b);
  int *order = malloc(W * sizeof *order), n = 0;
  static const int pref[W] = {3, 2, 4, 1, 5, 0, 6};
  for (int i = 0; i < W; i++) if (b->height[pref[i]] < H) order[n++] = pref[i];
  int best = -100000;
  for (int i = 0; i < n; i++) {
    board *c = play(b, order[i]);
    int v = wins(c, order[i]) ? 10000 + depth : -negamax(c, depth - 1, -beta, -alpha);
    free(c);
    if (v > best) best = v;
    if (v > alpha) alpha = v;
    if (alpha >= beta) break;
  }
  free(order);
  return best;
}

int main(int argc, char **argv) {
  int depth = argc > 1 ? atoi(argv[1]) : 9;
  static const char *openings[] = {"", "3", "33", "32", "334", "2", "3443"};
  long check = 0;
  for (size_t o = 0; o < sizeof openings / sizeof *openings; o++) {
    board *b = calloc(1, sizeof *b);
    for (const char *m = openings[o]; *m; m++) { board *c = play(b, *m - '0'); free(b); b = c; }
    int v = negamax(b, depth, -100000, 100000);
    check += v * (long)(o + 1);
    free(b);
  }
  printf("check %ld, nodes %ld\n", check, nodes);
  return 0;
}
