// The whole pipeline through the driver at -O2: malloc is managed, the loop's
// translations are hoisted, libc gets raw pointers, the module is marked.
// RUN: %mojcc -O2 -S -emit-llvm -o - %s | FileCheck %s
// RUN: %mojcc -O0 -S -emit-llvm -o - %s | FileCheck %s --check-prefix=O0
#include <stdlib.h>
#include <string.h>

// CHECK-LABEL: define {{.*}} @fill(
// CHECK: call preserve_mostcc ptr @__moj_cc_w_soft_pm
// CHECK: store <4 x i32>
// CHECK-NOT: __moj_tbl
// CHECK: br i1 {{.*}} !llvm.loop
void fill(int *a, int n) {
  for (int i = 0; i < n; i++)
    a[i] = i;
}

// CHECK-LABEL: define {{.*}} @make(
// CHECK: call {{.*}}ptr @__moj_malloc(i64 noundef 64)
// O0-LABEL: define {{.*}} @make(
// O0: call {{.*}}ptr @__moj_malloc(i64 noundef 64)
char *make(const char *s) {
  char *p = malloc(64);
  strcpy(p, s);
  return p;
}

// CHECK: !{i32 {{[0-9]+}}, !"mojave.instrumented", i32 1}
// O0: !{i32 {{[0-9]+}}, !"mojave.instrumented", i32 1}
