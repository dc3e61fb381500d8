; moj-forward-locals (the -O0 pipeline, before moj-translate): a reload of a
; pointer local whose address never escapes takes the value the slot holds —
; the last store or load on the same path — so moj-translate translates the
; reloads once.  Slots whose address escapes, volatile slots, joins and, with
; debug info, reloads on another source line keep their loads.
; RUN: %opt -passes=moj-forward-locals -S %s | FileCheck %s
; RUN: %opt -passes='moj-forward-locals,moj-translate-nohoist' -S %s | FileCheck %s --check-prefix=XLATE
target triple = "x86_64-pc-linux-gnu"

declare void @g(ptr)

; p->a = p->b at -O0: the second reload of %p.addr is the stored argument.
; CHECK-LABEL: define void @copy(
; CHECK: store ptr %p, ptr %p.addr
; CHECK-NOT: load ptr, ptr %p.addr
; CHECK: getelementptr inbounds i32, ptr %p, i64 1
; CHECK: store i32 %b, ptr %p
; XLATE-LABEL: define void @copy(
; XLATE: call ptr @__moj_xw(ptr %p)
; XLATE-NOT: @__moj_x
; XLATE: ret void
define void @copy(ptr %p) {
  %p.addr = alloca ptr
  store ptr %p, ptr %p.addr
  %1 = load ptr, ptr %p.addr
  %bp = getelementptr inbounds i32, ptr %1, i64 1
  %b = load i32, ptr %bp
  %2 = load ptr, ptr %p.addr
  store i32 %b, ptr %2
  ret void
}

; Down a single-predecessor edge the value holds; at a join it does not.
; CHECK-LABEL: define i32 @paths(
; CHECK: then:
; CHECK-NEXT: load i32, ptr %x
; CHECK: join:
; CHECK-NEXT: %r = load ptr, ptr %q.addr
define i32 @paths(ptr %q, i1 %c) {
  %q.addr = alloca ptr
  %x = load ptr, ptr %q.addr
  br i1 %c, label %then, label %join
then:
  %y = load ptr, ptr %q.addr
  %v = load i32, ptr %y
  br label %join
join:
  %r = load ptr, ptr %q.addr
  %w = load i32, ptr %r
  ret i32 %w
}

; The address escapes (a call may write the slot): loads stay.
; CHECK-LABEL: define i32 @escapes(
; CHECK: call void @g(ptr %s.addr)
; CHECK-NEXT: %a = load ptr, ptr %s.addr
define i32 @escapes(ptr %s) {
  %s.addr = alloca ptr
  store ptr %s, ptr %s.addr
  call void @g(ptr %s.addr)
  %a = load ptr, ptr %s.addr
  %v = load i32, ptr %a
  ret i32 %v
}

; Volatile slot: loads stay.
; CHECK-LABEL: define i32 @volatile_slot(
; CHECK: %a = load ptr, ptr %v.addr
define i32 @volatile_slot(ptr %v) {
  %v.addr = alloca ptr
  store volatile ptr %v, ptr %v.addr
  %a = load ptr, ptr %v.addr
  %r = load i32, ptr %a
  ret i32 %r
}

; With debug info, only within one source line: line 2 reuses line 2's
; reload, line 3 reloads.
; CHECK-LABEL: define i32 @lines(
; CHECK: %a = load ptr, ptr %d.addr, align 8, !dbg
; CHECK-NOT: %b = load ptr
; CHECK: %c = load ptr, ptr %d.addr, align 8, !dbg
define i32 @lines(ptr %d) !dbg !5 {
  %d.addr = alloca ptr
  store ptr %d, ptr %d.addr, !dbg !10
  %a = load ptr, ptr %d.addr, align 8, !dbg !11
  %x = load i32, ptr %a, !dbg !11
  %b = load ptr, ptr %d.addr, align 8, !dbg !11
  store i32 %x, ptr %b, !dbg !11
  %c = load ptr, ptr %d.addr, align 8, !dbg !12
  %y = load i32, ptr %c, !dbg !12
  ret i32 %y, !dbg !12
}

!llvm.dbg.cu = !{!0}
!llvm.module.flags = !{!3, !4}
!0 = distinct !DICompileUnit(language: DW_LANG_C11, file: !1, emissionKind: FullDebug)
!1 = !DIFile(filename: "t.c", directory: "/")
!3 = !{i32 2, !"Debug Info Version", i32 3}
!4 = !{i32 7, !"PIE Level", i32 2}
!5 = distinct !DISubprogram(name: "lines", scope: !1, file: !1, line: 1, type: !6, unit: !0, spFlags: DISPFlagDefinition)
!6 = !DISubroutineType(types: !7)
!7 = !{}
!10 = !DILocation(line: 1, scope: !5)
!11 = !DILocation(line: 2, scope: !5)
!12 = !DILocation(line: 3, scope: !5)
