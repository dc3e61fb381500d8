; moj-extcall: calls leaving instrumented code get raw pointers.
; RUN: %opt -passes=moj-extcall -S %s | FileCheck %s

declare i64 @strlen(ptr nocapture readonly)
declare ptr @strchr(ptr, i32)
declare i32 @printf(ptr, ...)
declare i32 @__isoc99_scanf(ptr, ...)
declare void @mystery(ptr)
declare i32 @spec_enter()
declare ptr @__moj_malloc(i64)
declare i32 @strcmp(ptr, ptr)

@fmt = private constant [3 x i8] c"%s\00"
@table = global ptr @strcmp
; Address-taken library functions become wrappers that test the marker.
; CHECK: @table = global ptr @__moj_wrap.strcmp
; Definitions get their marker, so other modules pass them handles.
; CHECK: @__moj_def.helper = weak constant i8 0

; Known libc function: translated unconditionally; readonly -> read marker.
; CHECK-LABEL: define i64 @known(
; CHECK: %[[X:.*]] = call ptr @__moj_xr(ptr %p)
; CHECK: call i64 @strlen(ptr %[[X]])
define i64 @known(ptr %p) {
  %n = call i64 @strlen(ptr %p)
  ret i64 %n
}

; Varargs: printf's %s argument is read, the format (a global) is raw.
; CHECK-LABEL: define void @varargs(
; CHECK: %[[V:.*]] = call ptr @__moj_xr(ptr %s)
; CHECK: call i32 (ptr, ...) @printf(ptr @fmt, ptr %[[V]])
; scanf's targets may be written: soft write translation.
; CHECK: %[[T:.*]] = call ptr @__moj_xws(ptr %t)
; CHECK: call i32 (ptr, ...) @__isoc99_scanf(ptr @fmt, ptr %[[T]])
define void @varargs(ptr %s, ptr %t) {
  %r = call i32 (ptr, ...) @printf(ptr @fmt, ptr %s)
  %q = call i32 (ptr, ...) @__isoc99_scanf(ptr @fmt, ptr %t)
  ret void
}

; A returned pointer into an argument's object becomes a handle again.
; CHECK-LABEL: define ptr @interior(
; CHECK: %[[W:.*]] = call ptr @__moj_xws(ptr %s)
; CHECK: %c = call ptr @strchr(ptr %[[W]], i32 47)
; CHECK: %[[H:.*]] = call ptr @__moj_cc_rehandle(ptr %c, ptr %s)
; CHECK: ret ptr %[[H]]
define ptr @interior(ptr %s) {
  %c = call ptr @strchr(ptr %s, i32 47)
  ret ptr %c
}

; Unknown declared function: decided at link time by the weak marker.
; CHECK-LABEL: define void @unknown(
; CHECK: br i1 icmp eq (ptr @__moj_def.mystery, ptr null)
; CHECK: call ptr @__moj_xws(ptr %p)
; CHECK: %[[A:.*]] = phi ptr [ %p, %{{.*}} ], [ %{{.*}}, %{{.*}} ]
; CHECK: call void @mystery(ptr %[[A]])
define void @unknown(ptr %p) {
  call void @mystery(ptr %p)
  ret void
}

; Negative: stack pointers, runtime functions and definitions in this
; module are left alone.
; CHECK-LABEL: define void @negative(
; CHECK-NOT: __moj_x
; CHECK: ret void
define void @negative(ptr %p) {
  %buf = alloca [16 x i8]
  %n = call i64 @strlen(ptr %buf)
  %m = call ptr @__moj_malloc(i64 8)
  call void @helper(ptr %p)
  ret void
}

define void @helper(ptr %p) {
  ret void
}

; spec_enter is returns_twice at every call site.
; CHECK-LABEL: define i32 @spec(
; CHECK: call i32 @spec_enter() #[[RT:[0-9]+]]
define i32 @spec() {
  %id = call i32 @spec_enter()
  ret i32 %id
}

; inline asm with a possibly-managed pointer: translated, with a warning.
; CHECK-LABEL: define void @asm_ptr(
; CHECK: %[[AS:.*]] = call ptr @__moj_xws(ptr %p)
; CHECK: call void asm sideeffect "", "r"(ptr %[[AS]])
define void @asm_ptr(ptr %p) {
  call void asm sideeffect "", "r"(ptr %p)
  ret void
}

; strtol's end pointer (stored by libc into *end) is turned back into a
; handle relative to the string.
declare i64 @strtol(ptr, ptr, i32)
; CHECK-LABEL: define i64 @endptr(
; CHECK: %[[S:.*]] = call ptr @__moj_xws(ptr %s)
; CHECK: %v = call i64 @strtol(ptr %[[S]], ptr %end, i32 10)
; CHECK-NEXT: call void @__moj_cc_rehandle_out(ptr %end, ptr %s)
define i64 @endptr(ptr %s) {
  %end = alloca ptr
  %v = call i64 @strtol(ptr %s, ptr %end, i32 10)
  ret i64 %v
}

; A va_list holding handles goes to a runtime wrapper that translates it.
declare i32 @vsnprintf(ptr, i64, ptr, ptr)
; CHECK-LABEL: define i32 @valist(
; CHECK: call i32 @__moj_cc_vsnprintf(ptr %{{.*}}, i64 8, ptr %{{.*}}, ptr %ap)
; CHECK-NOT: call i32 @vsnprintf
define i32 @valist(ptr %buf, ptr %fmt) {
  %ap = alloca [24 x i8]
  %r = call i32 @vsnprintf(ptr %buf, i64 8, ptr %fmt, ptr %ap)
  ret i32 %r
}

; The runtime writes posix_memalign's result through a raw pointer.
declare i32 @__moj_posix_memalign(ptr, i64, i64)
; CHECK-LABEL: define i32 @pm(
; CHECK: %[[O:.*]] = call ptr @__moj_xws(ptr %slot)
; CHECK: call i32 @__moj_posix_memalign(ptr %[[O]], i64 64, i64 128)
define i32 @pm(ptr %slot) {
  %r = call i32 @__moj_posix_memalign(ptr %slot, i64 64, i64 128)
  ret i32 %r
}

; CHECK-LABEL: define linkonce_odr i32 @__moj_wrap.strcmp(
; CHECK: call ptr @__moj_xws
; CHECK: call i32 @strcmp(

; CHECK: attributes #[[RT]] = { returns_twice }


