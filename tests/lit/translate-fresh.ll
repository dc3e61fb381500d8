; moj-translate: writes to objects the function allocated itself need no
; copy-on-write barrier while the function cannot change the speculation
; level (every call is harmless, an allocation or a free): the allocation
; made the current level the owner.  Allocations (not realloc) also keep
; cached translations valid: they add a table entry and move nothing.
; RUN: %opt -passes=moj-translate-nohoist -S %s | FileCheck %s

declare ptr @__moj_malloc(i64)
declare ptr @__moj_calloc(i64, i64)
declare ptr @__moj_realloc(ptr, i64)
declare void @__moj_free(ptr)
declare void @opaque()
declare i32 @spec_enter()

; A new node is written through a read translation.
; CHECK-LABEL: define ptr @new_node(
; CHECK: %[[X:.*]] = call ptr @__moj_xr(ptr %n)
; CHECK-NOT: call ptr @__moj_x
; CHECK: store i64 %v, ptr
; CHECK: ret ptr %n
define ptr @new_node(i64 %v, ptr %next) {
  %n = call ptr @__moj_malloc(i64 16)
  store ptr %next, ptr %n
  %f = getelementptr inbounds i8, ptr %n, i64 8
  store i64 %v, ptr %f
  ret ptr %n
}

; A call that may enter or leave a speculation anywhere in the function:
; the owner may differ by the time of the write, the barrier stays.
; CHECK-LABEL: define ptr @new_node_opaque(
; CHECK: call ptr @__moj_xw(ptr %n)
define ptr @new_node_opaque(i64 %v) {
  %n = call ptr @__moj_malloc(i64 16)
  call void @opaque()
  store i64 %v, ptr %n
  ret ptr %n
}

; spec_enter between the allocation and the write: barrier.
; CHECK-LABEL: define i32 @new_then_enter(
; CHECK: call ptr @__moj_xw(ptr %n)
define i32 @new_then_enter() {
  %n = call ptr @__moj_calloc(i64 1, i64 16)
  %id = call i32 @spec_enter()
  store i32 %id, ptr %n
  ret i32 %id
}

; A list built in a loop: the previous node (a phi of allocations and null)
; is fresh too, and the allocation call does not drop the translation of the
; list header, which is written (barrier: it came from the caller) once.
; CHECK-LABEL: define void @build(
; CHECK: loop:
; CHECK: call ptr @__moj_malloc(
; CHECK: call ptr @__moj_xr(ptr %n)
; CHECK: call ptr @__moj_xr(ptr %link)
; CHECK-NOT: call ptr @__moj_xw
; CHECK: exit:
; CHECK: call ptr @__moj_xw(ptr %head)
define void @build(ptr %head, i64 %len) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %prev = phi ptr [ null, %entry ], [ %n, %loop ]
  %n = call ptr @__moj_malloc(i64 16)
  store ptr null, ptr %n
  %first = icmp eq ptr %prev, null
  %link = select i1 %first, ptr %n, ptr %prev
  store ptr %n, ptr %link
  %i.next = add i64 %i, 1
  %done = icmp eq i64 %i.next, %len
  br i1 %done, label %exit, label %loop
exit:
  store ptr %n, ptr %head
  ret void
}

; A merge with an object from the caller is not fresh.
; CHECK-LABEL: define void @mixed(
; CHECK: call ptr @__moj_xw(ptr %p)
define void @mixed(ptr %q, i1 %c) {
  %n = call ptr @__moj_malloc(i64 16)
  %p = select i1 %c, ptr %n, ptr %q
  store i32 1, ptr %p
  ret void
}

; Reads of an old object survive an allocation, not a realloc or free.
; CHECK-LABEL: define i32 @alloc_keeps_cache(
; CHECK: call ptr @__moj_xr(ptr %p)
; CHECK-NEXT: load i32
; CHECK-NEXT: call ptr @__moj_malloc(
; CHECK-NEXT: load i32
; CHECK: call void @__moj_free(
; CHECK-NEXT: call ptr @__moj_xr(ptr %p)
define i32 @alloc_keeps_cache(ptr %p) {
  %a = load i32, ptr %p
  %n = call ptr @__moj_malloc(i64 16)
  %b = load i32, ptr %p
  call void @__moj_free(ptr %n)
  %c = load i32, ptr %p
  %s = add i32 %a, %b
  %t = add i32 %s, %c
  ret i32 %t
}
