; moj-translate: one translation serves every access derived from the same
; root until a call that may move objects; a new write translation
; invalidates cached read translations (its slow path may copy the object).
; RUN: %opt -passes=moj-translate-nohoist -S %s | FileCheck %s

declare void @opaque()
declare double @sqrt(double)

; Two fields of one struct: one read translation.
; CHECK-LABEL: define i32 @two_fields(
; CHECK: call ptr @__moj_xr(ptr %p)
; CHECK-NOT: call ptr @__moj_x
; CHECK: ret i32
define i32 @two_fields(ptr %p) {
  %a = getelementptr inbounds i32, ptr %p, i64 1
  %b = getelementptr inbounds i32, ptr %p, i64 2
  %x = load i32, ptr %a
  %y = load i32, ptr %b
  %s = add i32 %x, %y
  ret i32 %s
}

; A call to unknown code in between forces a new translation.
; CHECK-LABEL: define i32 @call_between(
; CHECK: call ptr @__moj_xr(ptr %p)
; CHECK: call void @opaque()
; CHECK: call ptr @__moj_xr(ptr %p)
define i32 @call_between(ptr %p) {
  %x = load i32, ptr %p
  call void @opaque()
  %y = load i32, ptr %p
  %s = add i32 %x, %y
  ret i32 %s
}

; A plain libc function (no callbacks) cannot move objects: reuse.
; CHECK-LABEL: define double @libc_between(
; CHECK: call ptr @__moj_xr(ptr %p)
; CHECK: call double @sqrt(
; CHECK-NOT: call ptr @__moj_x
; CHECK: ret double
define double @libc_between(ptr %p) {
  %x = load double, ptr %p
  %r = call double @sqrt(double %x)
  %q = getelementptr inbounds double, ptr %p, i64 1
  %y = load double, ptr %q
  %s = fadd double %r, %y
  ret double %s
}

; Read of p, write of q (maybe the same object), read of p again: the second
; read must be translated again, after the barrier.
; CHECK-LABEL: define i32 @write_invalidates(
; CHECK: call ptr @__moj_xr(ptr %p)
; CHECK: call ptr @__moj_xw(ptr %q)
; CHECK: call ptr @__moj_xr(ptr %p)
define i32 @write_invalidates(ptr %p, ptr %q) {
  %x = load i32, ptr %p
  store i32 %x, ptr %q
  %y = load i32, ptr %p
  ret i32 %y
}

; A write translation also serves later reads of the same root.
; CHECK-LABEL: define i32 @write_then_read(
; CHECK: call ptr @__moj_xw(ptr %p)
; CHECK-NOT: call ptr @__moj_x
; CHECK: ret i32
define i32 @write_then_read(ptr %p) {
  store i32 1, ptr %p
  %q = getelementptr inbounds i32, ptr %p, i64 4
  %y = load i32, ptr %q
  ret i32 %y
}

; Reuse along a single-predecessor edge of the dominator tree.
; CHECK-LABEL: define i32 @dominated(
; CHECK: entry:
; CHECK: call ptr @__moj_xr(ptr %p)
; CHECK: then:
; CHECK-NOT: call ptr @__moj_x
; CHECK: ret i32
define i32 @dominated(ptr %p) {
entry:
  %x = load i32, ptr %p
  %c = icmp eq i32 %x, 0
  br i1 %c, label %then, label %out
then:
  %q = getelementptr inbounds i32, ptr %p, i64 1
  %y = load i32, ptr %q
  ret i32 %y
out:
  ret i32 %x
}
