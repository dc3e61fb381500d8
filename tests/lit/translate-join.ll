; moj-translate: translations flow through joins and around loops.
;  * At a join, a root every predecessor has translated is reused, through a
;    phi (moj.xm) where the translations differ; a write translation on one
;    side only makes the merge valid for reading.
;  * A read followed in the same block by a write of the same root (no call
;    in between) takes the write translation at once.
;  * A pointer phi of a loop header that the header dereferences gets a phi
;    of translations (moj.xc): the previous iteration's translation of the
;    value it came from (p = p->next style walks over known nodes).
; RUN: %opt -passes=moj-translate -S %s | FileCheck %s

declare void @opaque()

; Diamond without writes: the entry's translation serves the join as is.
; CHECK-LABEL: define i32 @diamond_same(
; CHECK: call ptr @__moj_xr(ptr %p)
; CHECK-NOT: call ptr @__moj_x
; CHECK: ret i32
define i32 @diamond_same(ptr %p, i1 %c) {
entry:
  %a = load i32, ptr %p
  br i1 %c, label %l, label %r
l:
  br label %join
r:
  br label %join
join:
  %q = getelementptr inbounds i32, ptr %p, i64 1
  %b = load i32, ptr %q
  %s = add i32 %a, %b
  ret i32 %s
}

; One side writes p: the join reads through a phi of the two translations.
; CHECK-LABEL: define i32 @diamond_write(
; CHECK: entry:
; CHECK: %[[R:.*]] = call ptr @__moj_xr(ptr %p)
; CHECK: l:
; CHECK: %[[W:.*]] = call ptr @__moj_xw(ptr %p)
; CHECK: join:
; CHECK-NEXT: %[[M:.*]] = phi ptr [ %[[R]], %r ], [ %[[W]], %l ]
; CHECK-NOT: call ptr @__moj_x
; CHECK: getelementptr inbounds i32, ptr %[[M]], i64 1
define i32 @diamond_write(ptr %p, i1 %c) {
entry:
  %a = load i32, ptr %p
  br i1 %c, label %l, label %r
l:
  store i32 0, ptr %p
  br label %join
r:
  br label %join
join:
  %q = getelementptr inbounds i32, ptr %p, i64 1
  %b = load i32, ptr %q
  ret i32 %b
}

; A call on one side: the join translates again.
; CHECK-LABEL: define i32 @diamond_call(
; CHECK: join:
; CHECK-NOT: phi
; CHECK: call ptr @__moj_xr(ptr %p)
define i32 @diamond_call(ptr %p, i1 %c) {
entry:
  %a = load i32, ptr %p
  br i1 %c, label %l, label %r
l:
  call void @opaque()
  br label %join
r:
  br label %join
join:
  %b = load i32, ptr %p
  %s = add i32 %a, %b
  ret i32 %s
}

; Read then write of one root in a block: one write translation, first.
; CHECK-LABEL: define void @incr(
; CHECK-NEXT: %[[W:.*]] = call ptr @__moj_xw(ptr %p)
; CHECK-NEXT: load i32, ptr %[[W]]
; CHECK-NOT: call ptr @__moj_x
; CHECK: ret void
define void @incr(ptr %p) {
  %v = load i32, ptr %p
  %v1 = add i32 %v, 1
  store i32 %v1, ptr %p
  ret void
}

; A call between the read and the write: two translations.
; CHECK-LABEL: define void @incr_call(
; CHECK: call ptr @__moj_xr(ptr %p)
; CHECK: call void @opaque()
; CHECK: call ptr @__moj_xw(ptr %p)
define void @incr_call(ptr %p) {
  %v = load i32, ptr %p
  call void @opaque()
  %v1 = add i32 %v, 1
  store i32 %v1, ptr %p
  ret void
}

; Walking two lists in step, as a tree merge does: `a` reads the field of
; the node `b` pointed to in the previous iteration, whose translation is
; reused (moj.xc); only the new node of each list is translated.
; CHECK-LABEL: define i32 @walk2(
; CHECK: loop:
; CHECK-NEXT: %[[XC:moj.xc.*]] = phi ptr [ %f0.moj, %entry ], [ %fb.moj, %loop ]
; CHECK: load ptr, ptr %[[XC]]
; CHECK: call ptr @__moj_xr(ptr %b)
; CHECK-NOT: call ptr @__moj_x
; CHECK: exit:
define i32 @walk2(ptr %b0) {
entry:
  %f0 = getelementptr inbounds i8, ptr %b0, i64 8
  %v0 = load i32, ptr %b0
  br label %loop
loop:
  %a = phi ptr [ %f0, %entry ], [ %fb, %loop ]
  %s = phi i32 [ %v0, %entry ], [ %s1, %loop ]
  %b = load ptr, ptr %a
  %v = load i32, ptr %b
  %s1 = add i32 %s, %v
  %fb = getelementptr inbounds i8, ptr %b, i64 8
  %done = icmp eq i32 %v, 0
  br i1 %done, label %exit, label %loop
exit:
  ret i32 %s1
}

; The header writes the phi's object first: no loop-carried read translation.
; CHECK-LABEL: define void @walk_write(
; CHECK: loop:
; CHECK-NOT: moj.xc
; CHECK: call ptr @__moj_xw(ptr %a)
define void @walk_write(ptr %b0) {
entry:
  %v0 = load i32, ptr %b0
  br label %loop
loop:
  %a = phi ptr [ %b0, %entry ], [ %n, %loop ]
  store i32 0, ptr %a
  %f = getelementptr inbounds i8, ptr %a, i64 8
  %n = load ptr, ptr %f
  %done = icmp eq ptr %n, null
  br i1 %done, label %exit, label %loop
exit:
  ret void
}

; The same walk entered with an untranslated pointer: the entry block (the
; loop's preheader) translates it, as the header would have on entry.
; CHECK-LABEL: define i32 @walk2_entry(
; CHECK: entry:
; CHECK: %[[E:.*]] = call ptr @__moj_xr(ptr %b0)
; CHECK: loop:
; CHECK-NEXT: %[[XC:moj.xc.*]] = phi ptr [ %{{.*}}, %entry ], [ %fb.moj, %loop ]
; CHECK: load ptr, ptr %[[XC]]
; CHECK: call ptr @__moj_xr(ptr %b)
; CHECK-NOT: call ptr @__moj_x
; CHECK: exit:
define i32 @walk2_entry(ptr %b0) {
entry:
  %f0 = getelementptr inbounds i8, ptr %b0, i64 8
  br label %loop
loop:
  %a = phi ptr [ %f0, %entry ], [ %fb, %loop ]
  %s = phi i32 [ 0, %entry ], [ %s1, %loop ]
  %b = load ptr, ptr %a
  %v = load i32, ptr %b
  %s1 = add i32 %s, %v
  %fb = getelementptr inbounds i8, ptr %b, i64 8
  %done = icmp eq i32 %v, 0
  br i1 %done, label %exit, label %loop
exit:
  ret i32 %s1
}

; p = p->next: nothing in the loop translates the next node before the
; header does, so the translation stays in the header.
; CHECK-LABEL: define i32 @walk_next(
; CHECK: loop:
; CHECK-NOT: moj.xc
; CHECK: call ptr @__moj_xr(ptr %p)
define i32 @walk_next(ptr %p0) {
entry:
  br label %loop
loop:
  %p = phi ptr [ %p0, %entry ], [ %n, %loop ]
  %s = phi i32 [ 0, %entry ], [ %s1, %loop ]
  %v = load i32, ptr %p
  %s1 = add i32 %s, %v
  %f = getelementptr inbounds i8, ptr %p, i64 8
  %n = load ptr, ptr %f
  %done = icmp eq ptr %n, null
  br i1 %done, label %exit, label %loop
exit:
  ret i32 %s1
}
