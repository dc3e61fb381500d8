; moj-translate: accesses through possibly-handle pointers get translation
; markers (reads __moj_xr, writes __moj_xw); stack and globals do not.
; RUN: %opt -passes=moj-translate-nohoist -S %s | FileCheck %s

@g = global [4 x i32] zeroinitializer

; CHECK-LABEL: define i32 @load_arg(
; CHECK: %[[X:.*]] = call ptr @__moj_xr(ptr %p)
; CHECK: %[[A:.*]] = getelementptr inbounds i32, ptr %[[X]], i64 3
; CHECK: load i32, ptr %[[A]]
define i32 @load_arg(ptr %p) {
  %a = getelementptr inbounds i32, ptr %p, i64 3
  %v = load i32, ptr %a
  ret i32 %v
}

; CHECK-LABEL: define void @store_arg(
; CHECK: %[[W:.*]] = call ptr @__moj_xw(ptr %p)
; CHECK: store i32 %v, ptr %[[W]]
define void @store_arg(ptr %p, i32 %v) {
  store i32 %v, ptr %p
  ret void
}

; Negative: allocas and globals are raw and stay uninstrumented.
; CHECK-LABEL: define i32 @raw_only(
; CHECK-NOT: __moj_x
; CHECK: ret i32
define i32 @raw_only(i32 %i) {
  %s = alloca [8 x i32]
  %e = getelementptr inbounds [8 x i32], ptr %s, i64 0, i32 %i
  store i32 1, ptr %e
  %ge = getelementptr inbounds [4 x i32], ptr @g, i64 0, i32 %i
  store i32 2, ptr %ge
  %v = load i32, ptr %e
  %w = load i32, ptr %ge
  %r = add i32 %v, %w
  ret i32 %r
}

; Pointers loaded from memory may be handles: the load of the pointer (from a
; stack slot) is raw, the access through it is translated.
; CHECK-LABEL: define i32 @through_loaded(
; CHECK: %q = load ptr, ptr %slot
; CHECK: call ptr @__moj_xr(ptr %q)
define i32 @through_loaded(ptr %unused) {
  %slot = alloca ptr
  %q = load ptr, ptr %slot
  %v = load i32, ptr %q
  ret i32 %v
}

; Atomics are writes.
; CHECK-LABEL: define i32 @atomics(
; CHECK: %[[W2:.*]] = call ptr @__moj_xw(ptr %p)
; CHECK-NEXT: atomicrmw add ptr %[[W2]]
; CHECK-NEXT: cmpxchg ptr %[[W2]]
define i32 @atomics(ptr %p) {
  %o = atomicrmw add ptr %p, i32 1 seq_cst
  %c = cmpxchg ptr %p, i32 0, i32 1 seq_cst seq_cst
  ret i32 %o
}

; Non-inbounds arithmetic may leave the object: translate the address itself.
; CHECK-LABEL: define i8 @not_inbounds(
; CHECK: %a = getelementptr i8, ptr %p, i64 %i
; CHECK: call ptr @__moj_xr(ptr %a)
define i8 @not_inbounds(ptr %p, i64 %i) {
  %a = getelementptr i8, ptr %p, i64 %i
  %v = load i8, ptr %a
  ret i8 %v
}
