; moj-isa-report and moj-retarget (passes/MojPortable.cpp): x86-64 bitcode
; compiled for aarch64 at an IR migration's destination.
; The report records the source (named metadata) and, per other instruction
; set, what cannot move; this module can (one line: "checked").
; RUN: %opt -passes=moj-lower-O0,moj-isa-report -S %s -o %t.x86.ll
; RUN: FileCheck %s --check-prefix=REPORT < %t.x86.ll
; REPORT: .pushsection .mojave.isa
; REPORT-NOT: .ascii \22aarch64
; REPORT: .ascii \22checked\\n\22
; REPORT: !mojave.source = !{![[S:[0-9]+]]}
; REPORT: ![[S]] = !{!"x86_64-pc-linux-gnu", !"e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"}
; At the destination (clang has set the triple and data layout): the
; preserve_all/preserve_most entries x86-64 alone has become the inline
; translation, the source's target attributes are gone.
; RUN: sed -e 's/^target triple = .*/target triple = "aarch64-unknown-linux-gnu"/' \
; RUN:     -e 's/^target datalayout = .*/target datalayout = "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128"/' \
; RUN:     %t.x86.ll | %opt -passes=moj-retarget -S | FileCheck %s
; CHECK-LABEL: define double @rw(
; CHECK-NOT: preserve_
; CHECK: moj.handle:
; CHECK: call ptr @__moj_w_slow(
; CHECK: call ptr @__moj_cc_w_soft(
; CHECK-NOT: __moj_cc_r_pa
; CHECK-NOT: "target-features"
; CHECK-NOT: "target-cpu"
; setjmp gets a buffer of room for the destination's jmp_buf in its own
; frame, the program's jmp_buf its address; longjmp follows it.
; CHECK-LABEL: define i32 @jump(
; CHECK: %moj.jmpbuf = alloca [320 x i8], align 16
; CHECK: store ptr %moj.jmpbuf, ptr @env
; CHECK: call i32 @_setjmp(ptr %moj.jmpbuf)
; CHECK: %[[J:.*]] = load ptr, ptr @env
; CHECK: call void @longjmp(ptr %[[J]], i32 1)
; open(2) flags in aarch64's numbering: O_RDONLY|O_DIRECTORY (0200000 on
; x86-64) becomes 040000; fcntl(F_GETFL)'s result goes back to x86-64's, a
; computed F_SETFL value is permuted at run time.
; CHECK-LABEL: define i32 @flags(
; CHECK: call i32 (ptr, i32, ...) @open(ptr %p, i32 16384)
; CHECK: %fl = notail call i32 (i32, i32, ...) @fcntl(i32 %fd, i32 3)
; CHECK: and i32 %fl, -245761
; CHECK: select i1
; CHECK: call i32 (i32, i32, ...) @fcntl(i32 %fd, i32 4, i32 %
; ... and llc can compile it for aarch64.
; RUN: sed -e 's/^target triple = .*/target triple = "aarch64-unknown-linux-gnu"/' \
; RUN:     -e 's/^target datalayout = .*/target datalayout = "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128"/' \
; RUN:     %t.x86.ll | %opt -passes=moj-retarget | llc -o /dev/null
; The same bitcode back on its own instruction set: nothing changes.
; RUN: %opt -passes=moj-retarget -S %t.x86.ll | FileCheck %s --check-prefix=SAME
; SAME: call preserve_allcc ptr @__moj_cc_r_pa(
; SAME: "target-cpu"="x86-64"
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare ptr @__moj_xr(ptr)
declare ptr @__moj_xw(ptr)
declare ptr @__moj_xws(ptr)

define double @rw(ptr %p, ptr %q, ptr %s) #0 {
  %x = call ptr @__moj_xr(ptr %p)
  %d = load double, ptr %x
  %y = call ptr @__moj_xw(ptr %q)
  store double %d, ptr %y
  %z = call ptr @__moj_xws(ptr %s)
  store i32 1, ptr %z
  ret double %d
}

@env = global [1 x { [8 x i64], i32, { [16 x i64] } }] zeroinitializer, align 16
declare i32 @_setjmp(ptr) returns_twice
declare void @longjmp(ptr, i32) noreturn

define i32 @jump() #0 {
  %r = call i32 @_setjmp(ptr @env)
  %z = icmp eq i32 %r, 0
  br i1 %z, label %go, label %back
go:
  call void @longjmp(ptr @env, i32 1)
  unreachable
back:
  ret i32 %r
}

declare i32 @open(ptr, i32, ...)
declare i32 @fcntl(i32, i32, ...)

define i32 @flags(ptr %p, i32 %x) #0 {
  %fd = call i32 (ptr, i32, ...) @open(ptr %p, i32 65536)
  %fl = call i32 (i32, i32, ...) @fcntl(i32 %fd, i32 3)
  %nf = or i32 %fl, %x
  %r = call i32 (i32, i32, ...) @fcntl(i32 %fd, i32 4, i32 %nf)
  ret i32 %r
}

attributes #0 = { "target-cpu"="x86-64" "target-features"="+cx8,+fxsr,+mmx,+sse,+sse2,+x87" }

!llvm.module.flags = !{!0, !1}
!0 = !{i32 8, !"PIC Level", i32 2}
!1 = !{i32 7, !"PIE Level", i32 2}
