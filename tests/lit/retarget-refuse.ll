; What moj-isa-report lists and moj-retarget refuses (passes/MojPortable.cpp):
; each construct clang lowered for x86-64 that aarch64 reads otherwise.
; RUN: %opt -passes=moj-isa-report -S %s -o %t.x86.ll
; RUN: FileCheck %s --check-prefix=REPORT < %t.x86.ll
; REPORT-DAG: aarch64 {{.*}}: global 'ld' uses long double as x87 80-bit
; REPORT-DAG: aarch64 {{.*}}: function 'va' calls vprintf, which reads a va_list the destination's way (the moved code's is x86-64's)
; REPORT-DAG: aarch64 {{.*}}: function 'vv' uses va_start after a named parameter of another kind than integer, pointer or floating point
; REPORT-DAG: aarch64 {{.*}}: function 'vv' passes a variadic argument of type <4 x float>
; REPORT-DAG: aarch64 {{.*}}: function 'st' calls fstat (the C library's struct stat has another size or layout on aarch64)
; REPORT-DAG: aarch64 {{.*}}: function 'cx' calls cabsf, whose structure or complex argument/result was lowered for x86_64
; REPORT-DAG: aarch64 {{.*}}: function 'asm' contains inline assembly
; REPORT-DAG: aarch64 {{.*}}: function 'intr' calls the target intrinsic llvm.x86.sse2.pause
; REPORT-DAG: aarch64 {{.*}}: global 'w': struct type struct.w is laid out differently
; REPORT-DAG: aarch64 {{.*}}: function 'cc' uses calling convention 78, which aarch64 lacks
; REPORT-DAG: aarch64 {{.*}}: function 'fc' calls fcntl with a command not known at compile time
; REPORT-DAG: aarch64 {{.*}}: function 'pv' passes a structure or vector to the variadic printf (lowered for x86_64)
; RUN: sed -e 's/^target triple = .*/target triple = "aarch64-unknown-linux-gnu"/' \
; RUN:     -e 's/^target datalayout = .*/target datalayout = "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128"/' \
; RUN:     %t.x86.ll | not %opt -passes=moj-retarget -disable-output 2>&1 | FileCheck %s
; CHECK: refusing bitcode module '{{.*}}' for aarch64: global 'ld' uses long double
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

%struct.w = type { i64, i128 }
@ld = global x86_fp80 0xK3FFF8000000000000000
@w = global %struct.w zeroinitializer

declare void @llvm.va_start(ptr)
declare void @llvm.va_end(ptr)
declare i32 @fstat(i32, ptr)
declare float @cabsf(<2 x float>)
declare void @llvm.x86.sse2.pause()

declare i32 @vprintf(ptr, ptr)
define void @va(ptr %f, ...) {
  %ap = alloca [1 x { i32, i32, ptr, ptr }]
  call void @llvm.va_start(ptr %ap)
  %r = call i32 @vprintf(ptr %f, ptr %ap)
  call void @llvm.va_end(ptr %ap)
  ret void
}
define void @vv(<4 x float> %v, ...) {
  %ap = alloca [1 x { i32, i32, ptr, ptr }]
  call void @llvm.va_start(ptr %ap)
  call void (<4 x float>, ...) @vv(<4 x float> %v, <4 x float> %v)
  ret void
}
define i32 @st(ptr %b) {
  %r = call i32 @fstat(i32 0, ptr %b)
  ret i32 %r
}
define float @cx(<2 x float> %z) {
  %r = call float @cabsf(<2 x float> %z)
  ret float %r
}
define void @asm() {
  call void asm sideeffect "pause", ""()
  ret void
}
define void @intr() {
  call void @llvm.x86.sse2.pause()
  ret void
}
declare i32 @printf(ptr, ...)
define void @pv(ptr %f, <2 x float> %v) {
  call i32 (ptr, ...) @printf(ptr %f, <2 x float> %v)
  ret void
}
declare i32 @fcntl(i32, i32, ...)
define i32 @fc(i32 %cmd) {
  %r = call i32 (i32, i32, ...) @fcntl(i32 0, i32 %cmd)
  ret i32 %r
}
define x86_64_sysvcc void @cc() {
  ret void
}
