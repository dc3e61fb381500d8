; moj-migrate: a frame that called setjmp is captured; its rewind calls
; setjmp again on the buffer of the call's last run (passes/MojMigrateSetjmp.cpp)
; and routes a later longjmp's nonzero return to the original continuation.
; RUN: %opt -passes=moj-migrate -S %s | FileCheck %s
; RUN: %opt -passes=moj-migrate,verify -disable-output %s

declare i32 @_setjmp(ptr) returns_twice
declare i32 @__sigsetjmp(ptr, i32) returns_twice
declare i32 @vfork() returns_twice
declare void @work(ptr, i32)

; Not bracketed any more: the frame has an unwind and a rewind path.
; CHECK-LABEL: define i32 @protected(
; CHECK-NOT: __moj_mig_block
; The buffer is kept (null until the setjmp runs) ...
; CHECK: mig.body:
; CHECK-NEXT: %r = call i32 @_setjmp(ptr %jb) [[RT:#[0-9]+]]
; CHECK-NEXT: br label %mig.sj.cont
; ... and its result meets the rewind's at the original continuation.
; CHECK: mig.sj.cont:
; CHECK-NEXT: %[[RET:.*]] = phi i32 [ %[[AGAIN:[0-9]+]], %mig.sj.again ], [ %r, %mig.body ]
; CHECK: icmp eq i32 %[[RET]], 0
; The unwind saves the buffer with the live values.
; CHECK: mig.unwind.site:
; CHECK: store ptr %mig.sj.buf
; CHECK: mig.rewind:
; CHECK: call ptr @__moj_mig_pop(
; CHECK: call void @__moj_mig_entered(
; After the values are restored (mig.restore), setjmp again on the buffer
; if it ran: 0 goes on to the site (switch), nonzero to the continuation.
; CHECK: mig.sj.resume:
; CHECK-NEXT: switch i32 %mig.site, label %mig.badsite [
; CHECK-NEXT: i32 0, label %mig.resume
; CHECK: mig.sj.rewind:
; CHECK-NEXT: %[[NN:.*]] = icmp ne ptr %[[BUF:[0-9]+]], null
; CHECK-NEXT: br i1 %[[NN]], label %mig.sj.again, label %mig.sj.resume
; CHECK: mig.sj.again:
; CHECK-NEXT: %[[AGAIN]] = call i32 @_setjmp(ptr %[[BUF]]) [[RT]]
; CHECK-NEXT: %[[NZ:.*]] = icmp ne i32 %[[AGAIN]], 0
; CHECK-NEXT: br i1 %[[NZ]], label %mig.sj.cont, label %mig.sj.resume
; CHECK: mig.restore:
; CHECK: %[[BUF]] = load ptr, ptr
; CHECK: br label %mig.sj.rewind
define i32 @protected(i32 %n) {
entry:
  %jb = alloca [25 x i64], align 16
  %r = call i32 @_setjmp(ptr %jb) returns_twice
  %z = icmp eq i32 %r, 0
  br i1 %z, label %try, label %caught
try:
  call void @work(ptr %jb, i32 %n)
  br label %done
caught:
  %v = add i32 %r, %n
  br label %done
done:
  %p = phi i32 [0, %try], [%v, %caught]
  ret i32 %p
}

; sigsetjmp is called again with the same (constant) savemask.
; CHECK-LABEL: define i32 @masked(
; CHECK-NOT: __moj_mig_block
; CHECK: mig.sj.again:
; CHECK-NEXT: call i32 @__sigsetjmp(ptr %{{.*}}, i32 1)
define i32 @masked(ptr %b) {
entry:
  %r = call i32 @__sigsetjmp(ptr %b, i32 1) returns_twice
  call void @work(ptr %b, i32 %r)
  ret i32 %r
}

; Two setjmps: one that runs on the buffer the other last ran on takes it
; over (the other's slot is cleared), then both are called again in order.
; CHECK-LABEL: define i32 @two(
; CHECK: icmp eq ptr %{{.*}}, %{{.*}}
; CHECK: select i1 %{{.*}}, ptr null, ptr
; CHECK: call i32 @_setjmp(ptr %b
; CHECK: mig.sj.again{{[0-9]*}}:
; CHECK-NEXT: call i32 @_setjmp(
; CHECK: mig.sj.again{{[0-9]*}}:
; CHECK-NEXT: call i32 @_setjmp(
define i32 @two(ptr %a, ptr %b) {
entry:
  %r = call i32 @_setjmp(ptr %a) returns_twice
  %s = call i32 @_setjmp(ptr %b) returns_twice
  %t = add i32 %r, %s
  call void @work(ptr %a, i32 %t)
  ret i32 %t
}

; Still refused (bracketed: the runtime waits while they are on the stack):
; a computed savemask, other returns_twice calls.
; CHECK-LABEL: define i32 @computedmask(
; CHECK: store i32 %{{.*}}, ptr @__moj_mig_block
; CHECK-NOT: __moj_mig_pop
; CHECK: ret i32
define i32 @computedmask(ptr %b, i32 %m) {
entry:
  %r = call i32 @__sigsetjmp(ptr %b, i32 %m) returns_twice
  call void @work(ptr %b, i32 %r)
  ret i32 %r
}
; CHECK-LABEL: define i32 @forked(
; CHECK: store i32 %{{.*}}, ptr @__moj_mig_block
; CHECK-NOT: __moj_mig_pop
; CHECK: ret i32
define i32 @forked(ptr %b) {
entry:
  %r = call i32 @vfork() returns_twice
  call void @work(ptr %b, i32 %r)
  ret i32 %r
}

; CHECK: attributes [[RT]] = { returns_twice }
