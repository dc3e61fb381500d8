; moj-extcall: indirect calls test whether the target is instrumented code
; (this object's moj_text range inline, others out of line) and translate the
; arguments only on the foreign path; every instrumented function is placed
; in moj_text; each module gets one registering constructor/destructor.
; RUN: %opt -passes=moj-extcall -S %s | FileCheck %s
; RUN: %opt -passes=moj-extcall -disable-output %s 2>&1 | FileCheck %s --check-prefix=DIAG
; RUN: %opt -passes=moj-extcall -S %S/Inputs/no-functions.ll | FileCheck %s --check-prefix=EMPTY

declare void @ext(ptr)
declare i32 @vfmt(ptr, ptr, ...)
declare void @__moj_free(ptr)
declare ptr @__moj_malloc(i64)

@fpv = global ptr @vfmt
@fpfree = global ptr @__moj_free
@fpmalloc = global ptr @__moj_malloc

; The address of a variadic foreign function stays (no wrapper, no warning):
; calls through it take the foreign path at run time.
; CHECK: @fpv = global ptr @vfmt
; The runtime's handle-taking functions get a wrapper inside moj_text, so
; calls through the pointer stay on the inline path and pass handles; one
; without pointer parameters needs none.
; CHECK: @fpfree = global ptr @__moj_wrap.__moj_free
; CHECK: @fpmalloc = global ptr @__moj_malloc
; DIAG-NOT: variadic
; The section bounds are hidden: each linked object tests its own range.
; CHECK-DAG: @__start_moj_text = external hidden constant i8
; CHECK-DAG: @__stop_moj_text = external hidden constant i8
; One constructor and one destructor, each keyed on its own comdat.
; CHECK: @llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 100, ptr @__moj_text.ctor, ptr @__moj_text.ctor }]
; CHECK: @llvm.global_dtors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 100, ptr @__moj_text.dtor, ptr @__moj_text.dtor }]

; Indirect call with a possibly-managed pointer: inline range test, then the
; out-of-line test, then the translated call whose result is re-handled.
; CHECK-LABEL: define ptr @icall(ptr %fp, ptr %p, i32 %n) section "moj_text" {
; CHECK: %[[V:.*]] = ptrtoint ptr %fp to i64
; CHECK: %[[OFF:.*]] = sub i64 %[[V]], ptrtoint (ptr @__start_moj_text to i64)
; CHECK: %[[OWN:.*]] = icmp ult i64 %[[OFF]], sub (i64 ptrtoint (ptr @__stop_moj_text to i64), i64 ptrtoint (ptr @__start_moj_text to i64))
; CHECK: br i1 %[[OWN]], label %moj.icall, label %moj.icall.check, !prof ![[W:[0-9]+]]
; CHECK: moj.icall:
; CHECK-NEXT: %r = call ptr %fp(ptr %p, i32 %n)
; CHECK-NEXT: br label %moj.icall.join
; CHECK: moj.icall.check:
; CHECK-NEXT: %[[I:.*]] = call i32 @__moj_cc_is_instrumented(ptr %fp)
; CHECK-NEXT: %[[NZ:.*]] = icmp ne i32 %[[I]], 0
; CHECK-NEXT: br i1 %[[NZ]], label %moj.icall, label %moj.icall.foreign
; CHECK: moj.icall.foreign:
; CHECK-NEXT: %[[X:.*]] = call ptr @__moj_xws(ptr %p)
; CHECK-NEXT: %[[R2:.*]] = call ptr %fp(ptr %[[X]], i32 %n)
; CHECK-NEXT: %[[RH:.*]] = call ptr @__moj_cc_rehandle(ptr %[[R2]], ptr %p)
; CHECK-NEXT: br label %moj.icall.join
; CHECK: moj.icall.join:
; CHECK-NEXT: %[[RET:.*]] = phi ptr [ %r, %moj.icall ], [ %[[RH]], %moj.icall.foreign ]
; CHECK-NEXT: ret ptr %[[RET]]
define ptr @icall(ptr %fp, ptr %p, i32 %n) {
  %r = call ptr %fp(ptr %p, i32 %n)
  ret ptr %r
}

; Variadic pointer arguments are translated on the foreign path too; a
; readonly parameter gets a read translation.
; CHECK-LABEL: define void @icall_varargs(
; CHECK: moj.icall:
; CHECK-NEXT: call i32 (ptr, ptr, ...) %fp(ptr %out, ptr readonly %f, ptr %s, i32 1)
; CHECK: moj.icall.foreign:
; CHECK-NEXT: %[[O:.*]] = call ptr @__moj_xws(ptr %out)
; CHECK-NEXT: %[[S:.*]] = call ptr @__moj_xws(ptr %s)
; CHECK-NEXT: %[[F:.*]] = call ptr @__moj_xr(ptr %f)
; CHECK-NEXT: call i32 (ptr, ptr, ...) %fp(ptr %[[O]], ptr readonly %[[F]], ptr %[[S]], i32 1)
define void @icall_varargs(ptr %fp, ptr %out, ptr %f, ptr %s) {
  %r = call i32 (ptr, ptr, ...) %fp(ptr %out, ptr readonly %f, ptr %s, i32 1)
  ret void
}

; Negative: no possibly-managed pointer argument (only integers, a stack
; slot, a global, null) — both conventions are the same call, no test.
@g = global i32 0
; CHECK-LABEL: define i32 @icall_noptr(
; CHECK-NOT: moj_text to i64
; CHECK-NOT: __moj_cc_is_instrumented
; CHECK: call i32 %fp(i32 %n, ptr %slot, ptr @g, ptr null)
; CHECK-NEXT: ret i32
define i32 @icall_noptr(ptr %fp, i32 %n) {
  %slot = alloca i32
  %r = call i32 %fp(i32 %n, ptr %slot, ptr @g, ptr null)
  ret i32 %r
}

; Negative: direct calls (to this module or declared) get no range test.
; CHECK-LABEL: define void @direct(
; CHECK-NOT: __start_moj_text
; CHECK-NOT: __moj_cc_is_instrumented
; CHECK: ret void
define void @direct(ptr %p) {
  %r = call ptr @icall(ptr @ext, ptr %p, i32 0)
  call void @__moj_free(ptr %p)
  ret void
}

; Negative: a returns_twice indirect call is left as it is.
; CHECK-LABEL: define void @icall_rt(
; CHECK-NOT: __moj_cc_is_instrumented
; CHECK: call void %fp(ptr %p) #[[RT:[0-9]+]]
; CHECK-NEXT: ret void
define void @icall_rt(ptr %fp, ptr %p) {
  call void %fp(ptr %p) returns_twice
  ret void
}

; Negative: inline asm is not an indirect call (translated, with a warning).
; CHECK-LABEL: define void @asm_call(
; CHECK-NOT: __moj_cc_is_instrumented
; CHECK: call void asm sideeffect
define void @asm_call(ptr %p) {
  call void asm sideeffect "", "r"(ptr %p)
  ret void
}

; A musttail indirect call cannot be split: unchanged, with a warning.
; DIAG: warning: {{.*}}icall_musttail{{.*}}musttail indirect call
; CHECK-LABEL: define void @icall_musttail(
; CHECK-NOT: __moj_cc_is_instrumented
; CHECK: musttail call void %p(ptr %fp, ptr %p)
define void @icall_musttail(ptr %fp, ptr %p) {
  musttail call void %p(ptr %fp, ptr %p)
  ret void
}

; Negative: a function with its own section keeps it (it then counts as
; foreign for indirect calls); so does a #pragma clang section one.
; CHECK-LABEL: define void @in_user_section() section "mysec" {
define void @in_user_section() section "mysec" {
  ret void
}
; CHECK-LABEL: define void @in_pragma_section()
; CHECK-SAME: #[[PRAGMA:[0-9]+]] {
define void @in_pragma_section() #0 {
  ret void
}

; Linkonce/comdat functions are placed in moj_text as well.
$inl = comdat any
; CHECK-LABEL: define linkonce_odr void @inl() section "moj_text" comdat {
define linkonce_odr void @inl() comdat {
  ret void
}

; The wrapper of __moj_free: its own comdat, in moj_text, passing the handle.
; CHECK-LABEL: define linkonce_odr void @__moj_wrap.__moj_free(ptr %0) section "moj_text" comdat {
; CHECK-NEXT: entry:
; CHECK-NEXT: call void @__moj_free(ptr %0)

; The registering constructor and destructor: hidden, comdat, in moj_text.
; CHECK-LABEL: define linkonce_odr hidden void @__moj_text.ctor() #{{[0-9]+}} section "moj_text" comdat {
; CHECK-NEXT: entry:
; CHECK-NEXT: call void @__moj_cc_register_text(ptr @__start_moj_text, ptr @__stop_moj_text)
; CHECK-LABEL: define linkonce_odr hidden void @__moj_text.dtor() #{{[0-9]+}} section "moj_text" comdat {
; CHECK-NEXT: entry:
; CHECK-NEXT: call void @__moj_cc_unregister_text(ptr @__start_moj_text, ptr @__stop_moj_text)

; CHECK: attributes #[[PRAGMA]] = { "implicit-section-name"="prag" }
; CHECK: ![[W]] = !{!"branch_weights", i32 1048576, i32 1}

attributes #0 = { "implicit-section-name"="prag" }

; A module without function definitions registers nothing.
; EMPTY-NOT: __moj_text.ctor
; EMPTY-NOT: llvm.global_ctors
