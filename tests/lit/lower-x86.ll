; moj-lower in an x86-64 executable: the barrier's cold call goes to the
; preserve_most entries of the slow paths (runtime/cc_slow_x86_64.S), so the
; caller keeps its registers across it (no spills in each cold block).
; RUN: %opt -passes=moj-lower -S %s | FileCheck %s
; RUN: %opt -passes=moj-lower %s | llc -O2 | FileCheck %s --check-prefix=ASM
target triple = "x86_64-pc-linux-gnu"

declare ptr @__moj_xw(ptr)
declare ptr @__moj_xws(ptr)

; CHECK-LABEL: define void @wr(
; CHECK: moj.slow:
; CHECK-NEXT: call preserve_mostcc ptr @__moj_cc_w_slow_pm(i64
; ASM-LABEL: wr:
; ASM: callq __moj_cc_w_slow_pm
; ASM-NOT: callq __moj_w_slow
define void @wr(ptr %p) {
  %x = call ptr @__moj_xw(ptr %p)
  store i32 1, ptr %x
  ret void
}

; CHECK-LABEL: define void @wrsoft(
; CHECK: call preserve_mostcc ptr @__moj_cc_w_soft_pm(i64
define void @wrsoft(ptr %p) {
  %x = call ptr @__moj_xws(ptr %p)
  store i32 1, ptr %x
  ret void
}

; CHECK: declare dso_local preserve_mostcc ptr @__moj_cc_w_slow_pm(i64)
!llvm.module.flags = !{!0, !1}
!0 = !{i32 8, !"PIC Level", i32 2}
!1 = !{i32 7, !"PIE Level", i32 2}
