; moj-lower (negative): in a shared object (PIC, not PIE) the runtime's
; globals live in the executable, so they must not be dso_local.
; RUN: %opt -passes=moj-lower -S %s | FileCheck %s
; CHECK: @__moj_tbl = external global i64
; CHECK-NOT: dso_local
declare ptr @__moj_xr(ptr)
define i32 @rd(ptr %p) {
  %x = call ptr @__moj_xr(ptr %p)
  %v = load i32, ptr %x
  ret i32 %v
}
!llvm.module.flags = !{!0}
!0 = !{i32 8, !"PIC Level", i32 2}
