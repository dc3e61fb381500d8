; moj-migrate: migration points and capturable frames.
; RUN: %opt -passes=moj-migrate -S %s | FileCheck %s
; RUN: %opt -passes=moj-migrate -S %s | FileCheck %s --check-prefix=SYMS
; RUN: %opt -passes=moj-migrate,verify -disable-output %s
; RUN: env MOJCC_NO_MIGRATE=1 %opt -passes=moj-migrate -S %s | FileCheck %s --check-prefix=OFF

declare i32 @printf(ptr, ...)
declare i32 @moj_migrate(ptr, i32)
declare void @elsewhere(i32)

@fmt = private constant [4 x i8] c"%d\0A\00"
@counter = global i32 0

; A leaf without loops or calls is never on a migrating stack: untouched.
; CHECK-LABEL: define i32 @leaf(
; CHECK-NOT: __moj_mig
; CHECK: ret i32
define i32 @leaf(i32 %x) {
  %y = add i32 %x, 1
  ret i32 %y
}

; A loop polls on its back-edge; the poll is a site: the frame unwinds after
; it and rewinds into it.  Values live across it travel in the record.
; CHECK-LABEL: define i32 @loop(
; CHECK: load i32, ptr @__moj_mig_state
; CHECK: icmp eq i32 %{{.*}}, 2
; CHECK: load volatile i32, ptr @__moj_mig_req
; CHECK: call void @__moj_mig_poll()
; CHECK: load i32, ptr @__moj_mig_state
; CHECK: call ptr @__moj_mig_push(ptr @mig.desc{{.*}}, i32 0)
; CHECK-NEXT: getelementptr inbounds %mig.rec.loop
; CHECK: call void @__moj_mig_saved(
; CHECK: ret i32 poison
; CHECK: call ptr @__moj_mig_pop(ptr @mig.desc
; CHECK: call void @__moj_mig_entered(
; CHECK: switch i32
; Only the values live where the site resumes are reloaded.
; CHECK: mig.restore:
; CHECK-COUNT-2: load i32, ptr
; OFF-LABEL: define i32 @loop(
; OFF-NOT: __moj_mig
define i32 @loop(i32 %n) {
entry:
  br label %body
body:
  %i = phi i32 [ 0, %entry ], [ %i1, %body ]
  %s = phi i32 [ 0, %entry ], [ %s1, %body ]
  %s1 = add i32 %s, %i
  %i1 = add i32 %i, 1
  %c = icmp slt i32 %i1, %n
  br i1 %c, label %body, label %done
done:
  ret i32 %s1
}

; A caller of a function that may migrate checks the state after the call.
; Its address-taken local travels as a stack object (its address is recorded).
; Calls to the C library are not sites.
; CHECK-LABEL: define i32 @caller(
; CHECK: %buf = alloca [16 x i8]
; CHECK: call i32 @loop(
; CHECK-NEXT: load i32, ptr @__moj_mig_state
; CHECK: call i32 (ptr, ...) @printf(
; CHECK-NOT: load i32, ptr @__moj_mig_state
; CHECK: ret i32
define i32 @caller(i32 %n) {
  %buf = alloca [16 x i8]
  store i8 1, ptr %buf
  %r = call i32 @loop(i32 %n)
  call i32 (ptr, ...) @printf(ptr @fmt, i32 %r)
  %b = load i8, ptr %buf
  %z = zext i8 %b to i32
  %t = add i32 %r, %z
  ret i32 %t
}

; An address into the frame's own stack object is recomputed where it is
; used, not carried in the record: the sites save and restore only the i32s
; (%n and the counter), never a pointer, and no phi merges the address.
; CHECK-LABEL: define void @frame_addr(
; CHECK-NOT: phi ptr
; CHECK: call void @elsewhere(
; CHECK-NOT: phi ptr
; CHECK: getelementptr inbounds [4 x i32], ptr %t, i64 0, i64 2
; CHECK: mig.unwind.site:
; CHECK-NOT: store ptr
; CHECK: mig.unwind:
; CHECK: mig.restore:
; CHECK-NOT: load ptr
; CHECK: br label %mig.resume
define void @frame_addr(i32 %n) {
entry:
  %t = alloca [4 x i32]
  %f = getelementptr inbounds [4 x i32], ptr %t, i64 0, i64 2
  br label %body
body:
  %i = phi i32 [ 0, %entry ], [ %i1, %body ]
  call void @elsewhere(i32 %i)
  store i32 %i, ptr %f
  %i1 = add i32 %i, 1
  %c = icmp slt i32 %i1, %n
  br i1 %c, label %body, label %done
done:
  ret void
}

; Code outside the module may reach a migration point: the call is a site.
; CHECK-LABEL: define void @calls_out(
; CHECK: call void @elsewhere(i32 1)
; CHECK-NEXT: load i32, ptr @__moj_mig_state
define void @calls_out() {
  call void @elsewhere(i32 1)
  ret void
}

; Self recursion polls at entry.
; CHECK-LABEL: define i32 @fib(
; CHECK: call void @__moj_mig_poll()
define i32 @fib(i32 %n) {
  %c = icmp slt i32 %n, 2
  br i1 %c, label %base, label %rec
base:
  ret i32 %n
rec:
  %a = sub i32 %n, 1
  %x = call i32 @fib(i32 %a)
  %b = sub i32 %n, 2
  %y = call i32 @fib(i32 %b)
  %s = add i32 %x, %y
  ret i32 %s
}

; A variable-length array cannot be captured: the function only marks that
; it is on the stack, so no unwind starts while it is.
; CHECK-LABEL: define void @vla(
; CHECK: load i32, ptr @__moj_mig_block
; CHECK: add i32 %{{.*}}, 1
; CHECK-NOT: __moj_mig_push
; CHECK: sub i32 %{{.*}}, 1
; CHECK: ret void
define void @vla(i64 %n) {
  %p = alloca i8, i64 %n
  call void @elsewhere(i32 2)
  ret void
}

; main becomes main.body, wrapped by a main that re-enters it after a failed
; hand-off and hands finished unwinds to the runtime.
; CHECK-LABEL: define internal i32 @main.body(
; CHECK-LABEL: define i32 @main(i32 %0, ptr %1, ptr %2)
; CHECK: call void @__moj_mig_main_start(
; CHECK: call i32 @main.body(
; CHECK: icmp eq i32 %{{.*}}, 1
; CHECK: call void @__moj_mig_unwound()
define i32 @main() {
  %r = call i32 @caller(i32 10)
  %m = call i32 @moj_migrate(ptr @fmt, i32 0)
  ret i32 %r
}

; Every global, literal and function is registered under a stable name.
; SYMS: @__moj_mig_syms = private constant
; SYMS-SAME: ptr @counter, i64 4, i32 1
; SYMS-SAME: ptr @loop, i64 1, i32 2
; SYMS: define internal void @__moj_mig_ctor()
; SYMS: call void @__moj_mig_register(ptr @__moj_mig_syms, i64
