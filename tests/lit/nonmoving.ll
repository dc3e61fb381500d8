; moj-nonmoving: functions that only read managed memory (transitively,
; recursion included) are marked, and moj-translate reuses translations
; across calls to them; anything that writes managed memory or calls
; unknown code is not marked.
; RUN: %opt -passes='moj-nonmoving,function(moj-translate)' -S %s | FileCheck %s

declare void @opaque()
declare i64 @strlen(ptr)

; Read-only recursion: marked.
; CHECK: define i64 @count(ptr %n) #[[NM:[0-9]+]]
define i64 @count(ptr %n) {
  %c = icmp eq ptr %n, null
  br i1 %c, label %leaf, label %rec
leaf:
  ret i64 0
rec:
  %nx = load ptr, ptr %n
  %r = call i64 @count(ptr %nx)
  %s = add i64 %r, 1
  ret i64 %s
}

; Calls a harmless libc function on raw memory: marked.
; CHECK: define i64 @len_of_stack() #[[NM]]
define i64 @len_of_stack() {
  %buf = alloca [8 x i8]
  store i8 0, ptr %buf
  %l = call i64 @strlen(ptr %buf)
  ret i64 %l
}

; Negative: writes managed memory.
; CHECK: define void @writer(ptr %p) {
define void @writer(ptr %p) {
  store i32 1, ptr %p
  ret void
}

; Negative: calls unknown code, or a moving function.
; CHECK: define void @calls_opaque(ptr %p) {
define void @calls_opaque(ptr %p) {
  call void @opaque()
  ret void
}
; CHECK: define void @calls_writer(ptr %p) {
define void @calls_writer(ptr %p) {
  call void @writer(ptr %p)
  ret void
}

; The caller keeps its translation of %p across the call to @count, but not
; across the call to @writer.
; CHECK-LABEL: define i32 @user(
; CHECK: call ptr @__moj_xr(ptr %p)
; CHECK: call i64 @count(
; CHECK-NOT: call ptr @__moj_xr
; CHECK: call void @writer(
; CHECK: call ptr @__moj_xr(ptr %p)
define i32 @user(ptr %p, ptr %list) {
  %a = load i32, ptr %p
  %n = call i64 @count(ptr %list)
  %q = getelementptr inbounds i32, ptr %p, i64 1
  %b = load i32, ptr %q
  call void @writer(ptr %list)
  %c = load i32, ptr %p
  %s1 = add i32 %a, %b
  %s2 = add i32 %s1, %c
  ret i32 %s2
}

; CHECK: attributes #[[NM]] = { "mojave-nonmoving" }
