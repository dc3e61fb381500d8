; x86-64 variadic functions compiled for aarch64 (passes/MojVarargs.cpp):
; each variadic call lays its arguments out as an x86-64 caller would and
; leaves the area's address in a thread-local word; va_start points the
; System V va_list there; va_copy copies its 24 bytes; va_end goes.
; RUN: %opt -passes=moj-isa-report -S %s -o %t.x86.ll
; RUN: FileCheck %s --check-prefix=REPORT < %t.x86.ll
; REPORT-NOT: .ascii \22aarch64
; RUN: sed -e 's/^target triple = .*/target triple = "aarch64-unknown-linux-gnu"/' \
; RUN:     -e 's/^target datalayout = .*/target datalayout = "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128"/' \
; RUN:     %t.x86.ll | %opt -passes=moj-retarget -S | FileCheck %s
; CHECK: @__moj_sysv_va_area = linkonce_odr hidden thread_local(initialexec) global ptr null
; CHECK-LABEL: define double @callee(ptr %fmt, ...)
; CHECK-NEXT: %moj.va.area = load ptr, ptr @__moj_sysv_va_area
; CHECK: store i32 8, ptr %ap
; CHECK: %[[FPO:.*]] = getelementptr i8, ptr %ap, i32 4
; CHECK: store i32 48, ptr %[[FPO]]
; CHECK: %[[OV:.*]] = getelementptr i8, ptr %moj.va.area, i32 176
; CHECK: store ptr %[[OV]], ptr
; CHECK: store ptr %moj.va.area, ptr
; CHECK-NOT: @llvm.va_start
; CHECK: call void @llvm.memcpy.p0.p0.i64(ptr align 8 %aq, ptr align 8 %ap, i64 24, i1 false)
; CHECK-NOT: @llvm.va_end
; CHECK-LABEL: define double @caller(
; CHECK: %moj.va.area = alloca [176 x i8], align 16
; CHECK: %[[S1:.*]] = getelementptr i8, ptr %moj.va.area, i32 8
; CHECK: store i32 %i, ptr %[[S1]], align 8
; CHECK: %[[S2:.*]] = getelementptr i8, ptr %moj.va.area, i32 48
; CHECK: store double %d, ptr %[[S2]], align 8
; CHECK: %[[S3:.*]] = getelementptr i8, ptr %moj.va.area, i32 16
; CHECK: store ptr %p, ptr %[[S3]], align 8
; CHECK: store ptr %moj.va.area, ptr @__moj_sysv_va_area
; CHECK: notail call double (ptr, ...) @callee(ptr %p, i32 %i, double %d, ptr %p)
; Seven integers: the sixth register slot is the last, the seventh goes to
; the overflow area after the 176 bytes.
; CHECK-LABEL: define void @many(
; CHECK: alloca [184 x i8], align 16
; CHECK: getelementptr i8, ptr %moj.va.area, i32 40
; CHECK: getelementptr i8, ptr %moj.va.area, i32 176
; The same bitcode for aarch64 source is refused instead (AAPCS64 va_list).
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare void @llvm.va_start(ptr)
declare void @llvm.va_copy(ptr, ptr)
declare void @llvm.va_end(ptr)

define double @callee(ptr %fmt, ...) {
  %ap = alloca [1 x { i32, i32, ptr, ptr }], align 16
  %aq = alloca [1 x { i32, i32, ptr, ptr }], align 16
  call void @llvm.va_start(ptr %ap)
  call void @llvm.va_copy(ptr %aq, ptr %ap)
  call void @llvm.va_end(ptr %aq)
  call void @llvm.va_end(ptr %ap)
  ret double 0.0
}

define double @caller(ptr %p, i32 %i, double %d) {
  %r = tail call double (ptr, ...) @callee(ptr %p, i32 %i, double %d, ptr %p)
  ret double %r
}

define void @many(ptr %p) {
  %r = call double (ptr, ...) @callee(ptr %p, i64 1, i64 2, i64 3, i64 4, i64 5, i64 6)
  ret void
}
