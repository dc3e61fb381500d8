/* tests/e2e/icall_moj_lib.c — a shared library built with mojcc -shared
 * -fPIC, loaded by icall_mojlib with dlopen: its functions are in its own
 * moj_text range, registered by its constructor, so calls through dlsym
 * pointers pass handles; it calls back into the executable and through its
 * own function pointers. */
#include <stdint.h>

static int last_was_handle;
int mlast_was_handle(void) { return last_was_handle; }

void mfill(char *p, int n, int c) {
  last_was_handle = (intptr_t)p < 0;
  for (int i = 0; i < n; i++) p[i] = (char)c;
}

/* Through a pointer inside the library: its own range, the inline path. */
static void upcase(char *p) {
  last_was_handle = (intptr_t)p < 0;
  for (; *p; p++)
    if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
}
static void (*volatile op)(char *) = upcase;
void mupcase(char *p) { op(p); }

/* A callback into the executable: outside this library's range. */
int mapply(int (*cb)(char *), char *p) { return cb(p); }
