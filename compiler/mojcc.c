/* compiler/mojcc.c — the mojcc driver: a drop-in `cc` that compiles C through
 * clang-16 with the mojave pass plugin, embeds each module's bitcode in the
 * object (needed for IR migration) and links the static runtime libmojave.a.
 *
 * It rewrites clang's command line and execs clang, so clang's diagnostics
 * and exit status reach the caller unchanged.  It never interprets options
 * beyond what it must know: whether anything is compiled (add the plugin),
 * and whether something is linked (add the runtime).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MOJCC_VERSION
#define MOJCC_VERSION "0.1.0"
#endif
#ifndef MOJCC_DEFAULT_CLANG
#define MOJCC_DEFAULT_CLANG "clang-16"
#endif
#ifndef MOJCC_SOURCE_INCLUDE
#define MOJCC_SOURCE_INCLUDE ""
#endif
/* The instruction set of the runtime beside mojcc: a --target naming another
 * one links that instruction set's runtime instead (cross_runtime). */
#if defined(__x86_64__)
#define MOJCC_HOST_ARCH "x86_64"
#elif defined(__aarch64__)
#define MOJCC_HOST_ARCH "aarch64"
#else
#error "mojcc: unknown host instruction set"
#endif

static const char *help_text =
"NAME\n"
"    mojcc - C compiler that makes programs speculative (mojave)\n"
"\n"
"SYNOPSIS\n"
"    mojcc [clang options] file...\n"
"    mojcc --help | --version | -v\n"
"\n"
"DESCRIPTION\n"
"    mojcc is a drop-in replacement for cc.  It runs clang-16 with the mojave\n"
"    pass plugin, which rewrites the program so that heap memory lives behind\n"
"    the mojave pointer table:\n"
"      - malloc, calloc, realloc, free, posix_memalign, aligned_alloc,\n"
"        memalign, malloc_usable_size use the mojave runtime (handles);\n"
"      - loads, stores, atomics and memcpy/memmove/memset through pointers\n"
"        that may be handles are translated, writes through the\n"
"        copy-on-write barrier; stack and global accesses are untouched;\n"
"      - calls to code not compiled by mojcc (libc, other libraries, inline\n"
"        asm) receive raw pointers, variadic arguments included.\n"
"    Programs may then use spec_enter/spec_commit/spec_abort (<mojave.h>)\n"
"    to speculate.  Every object file carries its module's LLVM bitcode\n"
"    (section .mojave.bc, zstd-compressed, in the file but not loaded at\n"
"    run time), and executables are linked with libmojave.a, mimalloc,\n"
"    pthread and dl (zstd and libcrypto are loaded when first needed).\n"
"\n"
"    All options are clang's (see clang-16 --help): -c -S -E -o -O<n> -g\n"
"    -I -D -U -L -l -std= -W... -f... -M..., multiple .c/.o/.a inputs,\n"
"    -shared/-fPIC.  Clang's diagnostics and exit status pass through.\n"
"\n"
"OPTIONS HANDLED BY MOJCC\n"
"    --help       Print this page and exit.\n"
"    --version    Print mojcc's version, then clang's.\n"
"    -v           Print the clang command mojcc runs (to stderr); clang then\n"
"                 prints its own sub-commands as usual.\n"
"    --mojcc-no-instrument\n"
"                 Compile without the pass (plain clang, runtime still\n"
"                 linked); for comparisons.\n"
"\n"
"ENVIRONMENT\n"
"    MOJCC_CLANG    clang to run (default: " MOJCC_DEFAULT_CLANG ").\n"
"    MOJCC_PLUGIN   path of MojavePasses.so.\n"
"    MOJCC_RUNTIME  path of libmojave.a.\n"
"    MOJCC_RUNTIME_<arch>  path of libmojave.a built for <arch> (aarch64,\n"
"                   x86_64), used with --target=<arch>-... when <arch> is\n"
"                   not the host's.\n"
"    MOJCC_INCLUDE  directory holding mojave.h and mojave/.\n"
"    By default these are found relative to the mojcc binary, in the build\n"
"    tree (../passes, ../runtime) or the install tree (../lib/mojave,\n"
"    ../lib, ../include).  Another instruction set's runtime is found in\n"
"    ../<arch>/runtime (the build tree's cross build, see\n"
"    scripts/build-aarch64.sh) or ../lib/mojave/<arch>.\n"
"\n"
"PREDEFINED MACROS\n"
"    __MOJCC__      1 when compiling with mojcc.\n"
"\n"
"SHARED LIBRARIES\n"
"    With -shared the runtime is not linked in: the executable (built by\n"
"    mojcc) carries the only copy and exports its entry points.\n"
"\n"
"LIMITATIONS\n"
"    See docs/mojcc.md: pointers hidden in integers beyond plain casts,\n"
"    pointers stored by libc (setvbuf buffers, strtok state) or inside\n"
"    structures handed to libc (iovec, argv arrays) are not translated;\n"
"    -flto is not supported.\n"
"\n"
"EXIT STATUS\n"
"    clang's exit status; 127 if clang cannot be run; 2 on a mojcc error.\n";

static char self_dir[PATH_MAX];

static void find_self(void) {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) {
    self_dir[0] = 0;
    return;
  }
  buf[n] = 0;
  char *slash = strrchr(buf, '/');
  if (slash)
    *slash = 0;
  snprintf(self_dir, sizeof self_dir, "%s", buf);
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* Returns the first existing of env, then self_dir-relative candidates. */
static const char *locate(const char *env, const char *const *rel, const char *what) {
  const char *e = getenv(env);
  if (e && *e) {
    if (!exists(e)) {
      fprintf(stderr, "mojcc: error: %s=%s does not exist\n", env, e);
      exit(2);
    }
    return e;
  }
  static char out[8][2 * PATH_MAX];
  static int slot;
  for (int i = 0; rel[i]; i++) {
    char *p = out[slot & 7];
    if (rel[i][0] == '/')
      snprintf(p, 2 * PATH_MAX, "%s", rel[i]);
    else
      snprintf(p, 2 * PATH_MAX, "%s/%s", self_dir, rel[i]);
    if (rel[i][0] && exists(p)) {
      slot++;
      char *r = realpath(p, NULL);
      return r ? r : p;
    }
  }
  fprintf(stderr, "mojcc: error: cannot find %s next to %s (set %s)\n", what,
          self_dir, env);
  exit(2);
}

/* Options whose value is the next argument (so it is not an input file). */
static int takes_value(const char *a) {
  static const char *const opts[] = {
      "-o", "-I", "-D", "-U", "-L", "-l", "-include", "-imacros", "-isystem",
      "-iquote", "-idirafter", "-iprefix", "-iwithprefix", "-isysroot",
      "-x", "-MF", "-MT", "-MQ", "-Xlinker", "-Xassembler", "-Xpreprocessor",
      "-Xclang", "-mllvm", "-target", "-arch", "-z", "-T", "-u", "-e",
      "--sysroot", "-gcc-toolchain", "-working-directory", "-Xopenmp-target",
      "-dependency-file", "-serialize-diagnostics", "-ivfsoverlay", NULL};
  for (int i = 0; opts[i]; i++)
    if (strcmp(a, opts[i]) == 0)
      return 1;
  return 0;
}

/* libmojave.a for the instruction set of `target` (a clang triple), or NULL
 * when that is the host's own: the runtime holds assembly and ABI layouts
 * (runtime/spec_<arch>.S, cc_vararg.c), so a program links its target's. */
static const char *cross_runtime(const char *target) {
  size_t len = strcspn(target, "-");
  char arch[32];
  if (len == 0 || len >= sizeof arch) {
    fprintf(stderr, "mojcc: error: cannot read the instruction set of --target=%s\n", target);
    exit(2);
  }
  memcpy(arch, target, len);
  arch[len] = 0;
  if (strcmp(arch, "arm64") == 0)
    strcpy(arch, "aarch64");
  if (strcmp(arch, MOJCC_HOST_ARCH) == 0)
    return NULL;
  static char env[64], build_rel[64], inst_rel[64];
  snprintf(env, sizeof env, "MOJCC_RUNTIME_%s", arch);
  snprintf(build_rel, sizeof build_rel, "../%s/runtime/libmojave.a", arch);
  snprintf(inst_rel, sizeof inst_rel, "../lib/mojave/%s/libmojave.a", arch);
  const char *rel[] = {build_rel, inst_rel, NULL};
  static char what[64];
  snprintf(what, sizeof what, "libmojave.a for %s", arch);
  return locate(env, rel, what);
}

static int ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && strcmp(s + n - m, suf) == 0;
}

static int is_source_name(const char *a) {
  return ends_with(a, ".c") || ends_with(a, ".i") || ends_with(a, ".bc") ||
         ends_with(a, ".ll") || ends_with(a, ".h");
}

int main(int argc, char **argv) {
  find_self();
  int no_link = 0, preprocess_only = 0, want_v = 0, shared = 0;
  int sources = 0, inputs = 0, no_instrument = 0, print_only = 0;
  int deps_only = 0, deps_with_compile = 0, lang_c = 0;
  const char *target = NULL;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0) {
      fputs(help_text, stdout);
      return 0;
    }
    if (strcmp(a, "--version") == 0) {
      printf("mojcc (mojave) %s\n", MOJCC_VERSION);
      fflush(stdout);
    }
    if (takes_value(a)) {
      if (strcmp(a, "-x") == 0 && i + 1 < argc)
        lang_c = strcmp(argv[i + 1], "none") != 0;
      if (strcmp(a, "-target") == 0 && i + 1 < argc)
        target = argv[i + 1];
      i++;
      continue;
    }
    if (a[0] != '-' || strcmp(a, "-") == 0) {
      inputs++;
      if (lang_c || is_source_name(a))
        sources++;
      continue;
    }
    if (strncmp(a, "-x", 2) == 0 && a[2])
      lang_c = strcmp(a + 2, "none") != 0;
    else if (strncmp(a, "--target=", 9) == 0)
      target = a + 9;
    else if (strcmp(a, "-c") == 0 || strcmp(a, "-S") == 0 ||
             strcmp(a, "-fsyntax-only") == 0 || strcmp(a, "-emit-llvm") == 0)
      no_link = 1;
    else if (strcmp(a, "-E") == 0)
      no_link = preprocess_only = 1;
    else if (strcmp(a, "-M") == 0 || strcmp(a, "-MM") == 0)
      deps_only = 1;
    else if (strcmp(a, "-MD") == 0 || strcmp(a, "-MMD") == 0)
      deps_with_compile = 1;
    else if (strcmp(a, "-v") == 0)
      want_v = 1;
    else if (strcmp(a, "-shared") == 0 || strcmp(a, "-r") == 0)
      shared = 1;
    else if (strcmp(a, "--mojcc-no-instrument") == 0)
      no_instrument = 1;
    else if (strncmp(a, "-print-", 7) == 0 || strncmp(a, "--print-", 8) == 0 ||
             strncmp(a, "-dump", 5) == 0 || strcmp(a, "--version") == 0 ||
             strcmp(a, "-###") == 0)
      print_only = strcmp(a, "-###") != 0 ? 1 : print_only;
    else if (strcmp(a, "-flto") == 0 || strncmp(a, "-flto=", 6) == 0) {
      fprintf(stderr, "mojcc: error: %s is not supported (the mojave pass "
                      "must run before code generation of each module)\n", a);
      return 2;
    }
  }
  if (deps_only && !deps_with_compile)
    no_link = preprocess_only = 1;
  (void)print_only;

  int compile = sources > 0 && !preprocess_only;
  int link = inputs > 0 && !no_link && !shared;

  const char *clang = getenv("MOJCC_CLANG");
  if (!clang || !*clang)
    clang = MOJCC_DEFAULT_CLANG;

  static const char *const plugin_rel[] = {"../passes/MojavePasses.so",
                                           "../lib/mojave/MojavePasses.so", NULL};
  static const char *const rt_rel[] = {"../runtime/libmojave.a", "../lib/libmojave.a",
                                       "../lib/mojave/libmojave.a", NULL};
  static const char *const inc_rel[] = {"../include/mojave.h", MOJCC_SOURCE_INCLUDE "/mojave.h",
                                        NULL};

  char **out = calloc((size_t)argc + 24, sizeof *out); /* our 17 arguments + NULL */
  if (!out)
    return 2;
  int n = 0;
  out[n++] = (char *)clang;
  static char plug_arg[PATH_MAX + 32], inc_arg[PATH_MAX];
  if (sources > 0) {
    const char *inc = locate("MOJCC_INCLUDE", inc_rel, "mojave.h");
    snprintf(inc_arg, sizeof inc_arg, "%s", inc);
    if (ends_with(inc_arg, "/mojave.h"))
      inc_arg[strlen(inc_arg) - strlen("/mojave.h")] = 0;
    out[n++] = "-isystem";
    out[n++] = inc_arg;
    out[n++] = "-D__MOJCC__=1";
  }
  if (compile && !no_instrument) {
    const char *plugin = locate("MOJCC_PLUGIN", plugin_rel, "MojavePasses.so");
    snprintf(plug_arg, sizeof plug_arg, "-fpass-plugin=%s", plugin);
    out[n++] = plug_arg; /* the plugin also embeds the bitcode (.mojave.bc) */
  }
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--mojcc-no-instrument") != 0)
      out[n++] = argv[i];
  if (link) {
    /* A -x given by the user would apply to the archive too. */
    out[n++] = "-x";
    out[n++] = "none";
    const char *rt = target ? cross_runtime(target) : NULL;
    out[n++] = (char *)(rt ? rt : locate("MOJCC_RUNTIME", rt_rel, "libmojave.a"));
    out[n++] = "-lmimalloc";
    /* libcrypto (the cluster handshake and channel, image checksums) and
     * libzstd (images, DSM pages) are loaded on first use by the runtime
     * (runtime/lazy.h): each stays linked only if the program itself uses
     * it (~1.5 MB and ~90 KB of resident memory otherwise). */
    out[n++] = "-Wl,--push-state,--as-needed";
    out[n++] = "-lzstd";
    out[n++] = "-lcrypto";
    out[n++] = "-Wl,--pop-state";
    out[n++] = "-lpthread";
    out[n++] = "-ldl";
    /* Shared objects built by mojcc resolve the runtime in the executable. */
    out[n++] = "-Wl,--export-dynamic-symbol=__moj_*,--export-dynamic-symbol=spec_*";
  }
  out[n] = NULL;

  if (want_v) {
    fprintf(stderr, "mojcc %s: running:", MOJCC_VERSION);
    for (int i = 0; i < n; i++)
      fprintf(stderr, " %s", out[i]);
    fputc('\n', stderr);
  }
  execvp(clang, out);
  fprintf(stderr, "mojcc: error: cannot run %s: %s\n", clang, strerror(errno));
  return 127;
}
