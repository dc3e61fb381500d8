; moj-lower-O0 (the pipeline at -O0) in an x86-64 executable: each
; translation is one call of the runtime's out-of-line entry, so the access
; stays in one block and -O0's register allocator spills nothing around it
; (inline, three blocks per access spilled every value live across them).
; Reads call the preserve_all entry, writes the preserve_most ones; a shared
; object (no PIE level: the runtime is in the executable, behind the PLT)
; keeps the inline form.
; RUN: %opt -passes=moj-lower-O0 -S %s | FileCheck %s
; RUN: %opt -passes=moj-lower-O0 %s | llc -O0 | FileCheck %s --check-prefix=ASM
; RUN: sed -e '/PIE Level/d' -e 's/!{!0, !1}/!{!0}/' %s | %opt -passes=moj-lower-O0 -S | FileCheck %s --check-prefix=SHARED
target triple = "x86_64-pc-linux-gnu"

declare ptr @__moj_xr(ptr)
declare ptr @__moj_xw(ptr)
declare ptr @__moj_xws(ptr)

; CHECK-LABEL: define double @rw(
; CHECK-NOT: br
; CHECK: %[[V:.*]] = ptrtoint ptr %p to i64
; CHECK-NEXT: %x = call preserve_allcc ptr @__moj_cc_r_pa(i64 %[[V]])
; CHECK-NEXT: load double, ptr %x
; CHECK: call preserve_mostcc ptr @__moj_cc_w_pm(i64
; CHECK: call preserve_mostcc ptr @__moj_cc_ws_pm(i64
; CHECK-NOT: br
; CHECK: ret double
; ASM-LABEL: rw:
; ASM: callq __moj_cc_r_pa
; ASM: callq __moj_cc_w_pm
; ASM: callq __moj_cc_ws_pm
; SHARED-LABEL: define double @rw(
; SHARED: moj.handle:
; SHARED-NOT: __moj_cc_r_pa
define double @rw(ptr %p, ptr %q, ptr %s) {
  %x = call ptr @__moj_xr(ptr %p)
  %d = load double, ptr %x
  %y = call ptr @__moj_xw(ptr %q)
  store double %d, ptr %y
  %z = call ptr @__moj_xws(ptr %s)
  store i32 1, ptr %z
  ret double %d
}

; CHECK: declare dso_local preserve_allcc ptr @__moj_cc_r_pa(i64)
; CHECK: declare dso_local preserve_mostcc ptr @__moj_cc_w_pm(i64)
!llvm.module.flags = !{!0, !1}
!0 = !{i32 8, !"PIC Level", i32 2}
!1 = !{i32 7, !"PIE Level", i32 2}
