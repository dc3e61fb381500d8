; moj-alloc: C allocation functions become the runtime's handle allocators,
; for direct calls and address-taken uses alike.
; RUN: %opt -passes=moj-alloc -S %s | FileCheck %s

declare ptr @malloc(i64)
declare ptr @calloc(i64, i64)
declare ptr @realloc(ptr, i64)
declare void @free(ptr)
declare i32 @posix_memalign(ptr, i64, i64)
declare ptr @aligned_alloc(i64, i64)
declare ptr @strdup(ptr)

@fp = global ptr @malloc
; CHECK: @fp = global ptr @__moj_malloc

; CHECK-LABEL: define ptr @f(
; CHECK: call ptr @__moj_malloc(i64 16)
; CHECK: call ptr @__moj_calloc(i64 4, i64 8)
; CHECK: call ptr @__moj_realloc(ptr %a, i64 32)
; CHECK: call i32 @__moj_posix_memalign(ptr %slot, i64 64, i64 128)
; CHECK: call ptr @__moj_aligned_alloc(i64 64, i64 128)
; strdup makes a managed copy
; CHECK: call ptr @__moj_strdup(
; CHECK: call void @__moj_free(ptr %b)
; CHECK-NOT: @malloc(
; CHECK-NOT: @free(
define ptr @f(ptr %s) {
  %slot = alloca ptr
  %a = call ptr @malloc(i64 16)
  %b = call ptr @calloc(i64 4, i64 8)
  %c = call ptr @realloc(ptr %a, i64 32)
  %r = call i32 @posix_memalign(ptr %slot, i64 64, i64 128)
  %d = call ptr @aligned_alloc(i64 64, i64 128)
  %e = call ptr @strdup(ptr %s)
  call void @free(ptr %b)
  ret ptr %c
}
