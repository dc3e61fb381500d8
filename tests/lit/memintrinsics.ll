; moj-translate: memory intrinsics and byval arguments.
; RUN: %opt -passes=moj-translate-nohoist -S %s | FileCheck %s

%struct.big = type { [8 x i64] }
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
declare void @llvm.memmove.p0.p0.i64(ptr, ptr, i64, i1)
declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)
declare void @take(ptr byval(%struct.big))

; Destination through the barrier first, then the source (read after the
; barrier, in case both are the same object).
; CHECK-LABEL: define void @copy(
; CHECK: %[[D:.*]] = call ptr @__moj_xw(ptr %d)
; CHECK-NEXT: %[[S:.*]] = call ptr @__moj_xr(ptr %s)
; CHECK-NEXT: call void @llvm.memcpy.p0.p0.i64(ptr %[[D]], ptr %[[S]], i64 %n, i1 false)
; CHECK: call void @llvm.memmove.p0.p0.i64(ptr %[[D]], ptr %[[S]]
; CHECK: call void @llvm.memset.p0.i64(ptr %[[D]], i8 0
define void @copy(ptr %d, ptr %s, i64 %n) {
  call void @llvm.memcpy.p0.p0.i64(ptr %d, ptr %s, i64 %n, i1 false)
  call void @llvm.memmove.p0.p0.i64(ptr %d, ptr %s, i64 %n, i1 false)
  call void @llvm.memset.p0.i64(ptr %d, i8 0, i64 %n, i1 false)
  ret void
}

; The backend copies a byval argument from the pointer itself.
; CHECK-LABEL: define void @byval_arg(
; CHECK: %[[B:.*]] = call ptr @__moj_xr(ptr %p)
; CHECK: call void @take(ptr byval(%struct.big) %[[B]])
define void @byval_arg(ptr %p) {
  call void @take(ptr byval(%struct.big) %p)
  ret void
}

; Negative: the callee's byval parameter is its own stack copy.
; CHECK-LABEL: define i64 @byval_param(
; CHECK-NOT: __moj_x
; CHECK: ret i64
define i64 @byval_param(ptr byval(%struct.big) %b) {
  %v = load i64, ptr %b
  ret i64 %v
}
