; moj-lower at -O2 in an x86-64 executable: a translation in a cold block
; (estimated to run less than once in 32 entries of its function) is one call
; of the runtime's out-of-line entry (the -O0 form: preserve_all read,
; preserve_most write), not the ~30-byte inline fast path with its blocks;
; translations in ordinary blocks stay inline.  The entries do the same
; translation and copy-on-write as the inline form (runtime/cc_slow_x86_64.S;
; e2e spec_cold runs such blocks inside speculations).
; RUN: %opt -passes=moj-lower -S %s | FileCheck %s
; RUN: %opt -passes=moj-lower %s | llc -O2 | FileCheck %s --check-prefix=ASM
target triple = "x86_64-pc-linux-gnu"

declare ptr @__moj_xr(ptr)
declare ptr @__moj_xw(ptr)
declare ptr @__moj_xws(ptr)
declare void @report(i32)

; The hot read and write are inline; the reads and writes behind the
; 1:1000 branch are calls.
; CHECK-LABEL: define i32 @f(
; CHECK: moj.handle:
; CHECK: rare:
; CHECK-NEXT: %moj.v{{[0-9]*}} = ptrtoint ptr %q to i64
; CHECK-NEXT: %y = call preserve_allcc ptr @__moj_cc_r_pa(i64 %moj.v
; CHECK: call preserve_mostcc ptr @__moj_cc_w_pm(i64
; CHECK: call preserve_mostcc ptr @__moj_cc_ws_pm(i64
; CHECK: done:
; ASM-LABEL: f:
; ASM: callq __moj_cc_r_pa
; ASM: callq __moj_cc_w_pm
; ASM: callq __moj_cc_ws_pm
define i32 @f(ptr %p, ptr %q, i1 %c) {
entry:
  %x = call ptr @__moj_xr(ptr %p)
  %v = load i32, ptr %x
  br i1 %c, label %rare, label %done, !prof !2
rare:
  %y = call ptr @__moj_xr(ptr %q)
  %w = load i32, ptr %y
  call void @report(i32 %w)
  %z = call ptr @__moj_xw(ptr %q)
  store i32 0, ptr %z
  %s = call ptr @__moj_xws(ptr %q)
  store i32 1, ptr %s
  br label %done
done:
  %r = phi i32 [ %v, %entry ], [ %w, %rare ]
  ret i32 %r
}

; An error path that ends in unreachable is cold too.
; CHECK-LABEL: define void @g(
; CHECK: bad:
; CHECK: call preserve_mostcc ptr @__moj_cc_w_pm(i64
; CHECK: ok:
; CHECK: moj.handle
define void @g(ptr %p, i32 %n) {
entry:
  %c = icmp slt i32 %n, 0
  br i1 %c, label %bad, label %ok
bad:
  %z = call ptr @__moj_xw(ptr %p)
  store i32 -1, ptr %z
  call void @report(i32 %n)
  unreachable
ok:
  %x = call ptr @__moj_xw(ptr %p)
  store i32 %n, ptr %x
  ret void
}

; Shared objects call through the PLT, which may clobber registers the
; preserve_* conventions keep: no outlining there (see lower-shared.ll).

!llvm.module.flags = !{!0, !1}
!0 = !{i32 8, !"PIC Level", i32 2}
!1 = !{i32 7, !"PIE Level", i32 2}
!2 = !{!"branch_weights", i32 1, i32 1000}
