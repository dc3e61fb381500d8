/* tests/e2e/spec_signals.c — issue 10 item 1 with the pass's own barriers:
 * aborts from a SIGALRM handler at random points (inside runtime slow paths
 * too) and heap writes from the handler, checked against a reference model
 * (tests/e2e/sig_stress.h).  10,000 rounds by default; argv[1] overrides. */
#include "check.h"
#include "sig_stress.h"

int main(int argc, char **argv) {
  unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 10000;
  long failures = ss_run(rounds, 20261129);
  CHECK(failures == 0, "%ld rounds differ from the model", failures);
  CHECK(ss_m->aborts > 0 && ss_m->commits > 0, "both kinds of round ran");
  DONE();
}
