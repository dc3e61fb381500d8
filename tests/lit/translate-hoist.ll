; moj-translate: translations of loop-invariant roots are hoisted to the
; preheader of call-free loops; reads are not hoisted over write
; translations that stay inside the loop; loops with calls keep them inside.
; RUN: %opt -passes=moj-translate -S %s | FileCheck %s

declare void @opaque()

; a[i] = b[i] * 2: both hoisted, the write first (hoisted writes use the
; soft slow path).
; CHECK-LABEL: define void @axpy(
; CHECK: entry:
; CHECK-NEXT: %[[W:.*]] = call ptr @__moj_xws(ptr %a)
; CHECK-NEXT: %[[R:.*]] = call ptr @__moj_xr(ptr %b)
; CHECK-NEXT: br label %loop
; CHECK: loop:
; CHECK-NOT: call ptr @__moj_x
; CHECK: getelementptr inbounds i32, ptr %[[R]], i64 %i
; CHECK: getelementptr inbounds i32, ptr %[[W]], i64 %i
; CHECK: exit:
define void @axpy(ptr %a, ptr %b, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %pb = getelementptr inbounds i32, ptr %b, i64 %i
  %v = load i32, ptr %pb
  %v2 = shl i32 %v, 1
  %pa = getelementptr inbounds i32, ptr %a, i64 %i
  store i32 %v2, ptr %pa
  %i.next = add i64 %i, 1
  %c = icmp ult i64 %i.next, %n
  br i1 %c, label %loop, label %exit
exit:
  ret void
}

; Negative: a call in the loop may move objects; translate inside.
; CHECK-LABEL: define i32 @with_call(
; CHECK: loop:
; CHECK: call ptr @__moj_xr(ptr %b)
; CHECK: call void @opaque()
define i32 @with_call(ptr %b, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %s = phi i32 [ 0, %entry ], [ %s2, %loop ]
  %pb = getelementptr inbounds i32, ptr %b, i64 %i
  %v = load i32, ptr %pb
  %s2 = add i32 %s, %v
  call void @opaque()
  %i.next = add i64 %i, 1
  %c = icmp ult i64 %i.next, %n
  br i1 %c, label %loop, label %exit
exit:
  ret i32 %s2
}

; Pointer induction variable: the root is the phi's start value.
; CHECK-LABEL: define i32 @ptr_iv(
; CHECK: entry:
; CHECK: %[[X:.*]] = call ptr @__moj_xr(ptr %p)
; CHECK: loop:
; CHECK-NOT: call ptr @__moj_x
; CHECK: %moj.off = sub i64
; CHECK: getelementptr i8, ptr %[[X]], i64 %moj.off
define i32 @ptr_iv(ptr %p, ptr %end) {
entry:
  br label %loop
loop:
  %q = phi ptr [ %p, %entry ], [ %q.next, %loop ]
  %s = phi i32 [ 0, %entry ], [ %s2, %loop ]
  %v = load i32, ptr %q
  %s2 = add i32 %s, %v
  %q.next = getelementptr inbounds i32, ptr %q, i64 1
  %c = icmp ne ptr %q.next, %end
  br i1 %c, label %loop, label %exit
exit:
  ret i32 %s2
}

; Row pointers: the row (loaded in the outer loop) is translated in the inner
; preheader, the table of rows and the output in the outer preheader.
; CHECK-LABEL: define void @rows(
; CHECK: entry:
; CHECK-NEXT: call ptr @__moj_xws(ptr %out)
; CHECK-NEXT: call ptr @__moj_xr(ptr %m)
; CHECK: inner.ph:
; CHECK-NEXT: call ptr @__moj_xr(ptr %row)
; CHECK: inner:
; CHECK-NOT: call ptr @__moj_x
; CHECK: latch:
define void @rows(ptr %m, ptr %out, i64 %n) {
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i.next, %latch ]
  %rp = getelementptr inbounds ptr, ptr %m, i64 %i
  %row = load ptr, ptr %rp
  br label %inner.ph
inner.ph:
  br label %inner
inner:
  %j = phi i64 [ 0, %inner.ph ], [ %j.next, %inner ]
  %e = getelementptr inbounds i32, ptr %row, i64 %j
  %v = load i32, ptr %e
  %o = getelementptr inbounds i32, ptr %out, i64 %j
  store i32 %v, ptr %o
  %j.next = add i64 %j, 1
  %cj = icmp ult i64 %j.next, %n
  br i1 %cj, label %inner, label %latch
latch:
  %i.next = add i64 %i, 1
  %ci = icmp ult i64 %i.next, %n
  br i1 %ci, label %outer, label %exit
exit:
  ret void
}

; Negative: the write through %dst (loaded inside the inner loop, so its
; translation stays there) may copy any object, so neither the read of %row
; nor that of %m may be hoisted over it.
; CHECK-LABEL: define void @rows_inner_write(
; CHECK: entry:
; CHECK-NEXT: br label %outer
; CHECK: outer:
; CHECK: call ptr @__moj_xr(ptr %m)
; CHECK: inner:
; CHECK: call ptr @__moj_xr(ptr %row)
; CHECK: call ptr @__moj_xw(ptr %dst)
; CHECK: latch:
define void @rows_inner_write(ptr %m, i64 %n) {
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i.next, %latch ]
  %rp = getelementptr inbounds ptr, ptr %m, i64 %i
  %row = load ptr, ptr %rp
  br label %inner.ph
inner.ph:
  br label %inner
inner:
  %j = phi i64 [ 0, %inner.ph ], [ %j.next, %inner ]
  %e = getelementptr inbounds ptr, ptr %row, i64 %j
  %dst = load ptr, ptr %e
  store i32 1, ptr %dst
  %j.next = add i64 %j, 1
  %cj = icmp ult i64 %j.next, %n
  br i1 %cj, label %inner, label %latch
latch:
  %i.next = add i64 %i, 1
  %ci = icmp ult i64 %i.next, %n
  br i1 %ci, label %outer, label %exit
exit:
  ret void
}
