; moj-alloc (negative): a module that defines malloc/free itself keeps them.
; RUN: %opt -passes=moj-alloc -S %s | FileCheck %s

; CHECK-LABEL: define ptr @malloc(
; CHECK-LABEL: define ptr @user(
; CHECK: call ptr @malloc(i64 8)
; CHECK-NOT: __moj_malloc
define ptr @malloc(i64 %n) {
  ret ptr null
}
define ptr @user() {
  %p = call ptr @malloc(i64 8)
  ret ptr %p
}
