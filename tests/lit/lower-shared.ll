; moj-lower (negative): in a shared object (PIC, not PIE) the runtime's
; globals live in the executable, so they must not be dso_local, and the
; barrier calls the C slow path (a lazy PLT binding may clobber registers
; preserve_most would keep).
; RUN: %opt -passes=moj-lower -S %s | FileCheck %s
; CHECK: @__moj_tbl = external global i64
; CHECK-NOT: dso_local
; CHECK-NOT: preserve_most
; CHECK: call ptr @__moj_w_slow(i64
target triple = "x86_64-pc-linux-gnu"
declare ptr @__moj_xr(ptr)
declare ptr @__moj_xw(ptr)
define i32 @rd(ptr %p) {
  %x = call ptr @__moj_xr(ptr %p)
  %v = load i32, ptr %x
  ret i32 %v
}
define void @wr(ptr %p) {
  %x = call ptr @__moj_xw(ptr %p)
  store i32 1, ptr %x
  ret void
}
!llvm.module.flags = !{!0}
!0 = !{i32 8, !"PIC Level", i32 2}
