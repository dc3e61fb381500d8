/* tests/e2e/icall_mojlib.c — a mojcc-built shared library (icall_moj_lib.c,
 * path in argv[1]) loaded with dlopen: functions reached through dlsym
 * pointers are in a registered moj_text range, so they receive handles and
 * their writes inside a speculation go through the barrier and are rolled
 * back; callbacks from the library into the executable receive handles too.
 * After dlclose the library's range is unregistered. */
#include <dlfcn.h>
#include <mojave.h>
#include <mojave/cc_abi.h>
#include <stdint.h>
#include <string.h>
#include "check.h"

static int cb_got_handle;
static int callback(char *p) {
  cb_got_handle = (intptr_t)p < 0;
  p[0] = 'c';
  return 7;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: icall_mojlib <path of the mojcc-built library>");
  if (argc != 2) DONE();
  void *lib = dlopen(argv[1], RTLD_NOW);
  CHECK(lib, "dlopen: %s", dlerror());
  if (!lib) DONE();
  void (*mfill)(char *, int, int) = (void (*)(char *, int, int))dlsym(lib, "mfill");
  void (*mupcase)(char *) = (void (*)(char *))dlsym(lib, "mupcase");
  int (*mapply)(int (*)(char *), char *) = (int (*)(int (*)(char *), char *))dlsym(lib, "mapply");
  int (*was_handle)(void) = (int (*)(void))dlsym(lib, "mlast_was_handle");
  CHECK(mfill && mupcase && mapply && was_handle, "dlsym: %s", dlerror());
  CHECK(__moj_cc_is_instrumented((void *)mfill), "the library's range is not registered");
  CHECK(__moj_cc_is_instrumented((void *)main), "the executable's range is not known");
  CHECK(!__moj_cc_is_instrumented(dlsym(RTLD_DEFAULT, "strlen")), "strlen counted as instrumented");

  char *buf = malloc(16);
  strcpy(buf, "abcdefgh");
  mfill(buf, 3, 'x');
  CHECK(was_handle() && strcmp(buf, "xxxdefgh") == 0, "mfill: handle %d, '%s'", was_handle(), buf);

  int id = spec_enter();
  if (id > 0) {
    mfill(buf, 8, 'y');
    CHECK(was_handle() && strcmp(buf, "yyyyyyyy") == 0, "inside: handle %d, '%s'", was_handle(), buf);
    mupcase(buf + 8);
    strcpy(buf + 8, "low");
    mupcase(buf + 8);
    CHECK(was_handle() && strcmp(buf + 8, "LOW") == 0, "inside: upcase %d '%s'", was_handle(), buf + 8);
    ABORT_UNLESS_FAILED(id);
  }
  /* Only a write through the barrier can have been undone. */
  CHECK(strcmp(buf, "xxxdefgh") == 0, "after abort: '%s'", buf);

  id = spec_enter();
  if (id > 0) {
    CHECK(mapply(callback, buf) == 7, "mapply");
    CHECK(cb_got_handle && buf[0] == 'c', "callback: handle %d, '%s'", cb_got_handle, buf);
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(strcmp(buf, "xxxdefgh") == 0, "after abort of the callback: '%s'", buf);
  id = spec_enter();
  if (id > 0) {
    mfill(buf, 2, 'z');
    spec_commit(id);
  }
  CHECK(strcmp(buf, "zzxdefgh") == 0, "after commit: '%s'", buf);

  void *addr = (void *)mfill;
  CHECK(dlclose(lib) == 0, "dlclose: %s", dlerror());
  CHECK(!__moj_cc_is_instrumented(addr), "the range is still registered after dlclose");
  /* Loaded again: registered again. */
  lib = dlopen(argv[1], RTLD_NOW);
  CHECK(lib && __moj_cc_is_instrumented(dlsym(lib, "mfill")), "reloaded: %s", dlerror());
  free(buf);
  DONE();
}
