; moj-diagnose: pointers rebuilt from integers that lost high bits are
; reported; round trips that keep every bit are not.
; RUN: %opt -passes=moj-diagnose -disable-output %s 2>&1 | FileCheck %s
; CHECK: in function tagged_mask {{.*}}high bits were masked, shifted or truncated away
; CHECK: in function compressed {{.*}}high bits were masked, shifted or truncated away
; CHECK: in function truncated {{.*}}high bits were masked, shifted or truncated away
; CHECK-NOT: in function roundtrip
; CHECK-NOT: in function xored
; CHECK-NOT: in function aligned

define ptr @tagged_mask(ptr %p) {
  %i = ptrtoint ptr %p to i64
  %m = and i64 %i, 281474976710655
  %q = inttoptr i64 %m to ptr
  ret ptr %q
}
define ptr @compressed(ptr %p) {
  %i = ptrtoint ptr %p to i64
  %s = lshr i64 %i, 3
  %b = shl i64 %s, 3
  %q = inttoptr i64 %b to ptr
  ret ptr %q
}
define ptr @truncated(ptr %p) {
  %i = ptrtoint ptr %p to i64
  %t = trunc i64 %i to i32
  %z = zext i32 %t to i64
  %q = inttoptr i64 %z to ptr
  ret ptr %q
}
define ptr @roundtrip(ptr %p) {
  %i = ptrtoint ptr %p to i64
  %a = add i64 %i, 16
  %q = inttoptr i64 %a to ptr
  ret ptr %q
}
define ptr @xored(ptr %p, i64 %k) {
  %i = ptrtoint ptr %p to i64
  %x = xor i64 %i, %k
  %y = xor i64 %x, %k
  %q = inttoptr i64 %y to ptr
  ret ptr %q
}
define ptr @aligned(ptr %p) {
  %i = ptrtoint ptr %p to i64
  %a = and i64 %i, -16
  %q = inttoptr i64 %a to ptr
  ret ptr %q
}

; Negative: a variable base plus bits of a pointer is an index computation
; (mojave's own inline __moj_r/__moj_w in mojave/abi.h look like this).
; CHECK-NOT: in function table_index
@tbl = external global i64
define ptr @table_index(ptr %p) {
  %i = ptrtoint ptr %p to i64
  %ix = lshr i64 %i, 32
  %off = shl i64 %ix, 4
  %t = load i64, ptr @tbl
  %e = add i64 %t, %off
  %q = inttoptr i64 %e to ptr
  ret ptr %q
}
; A re-tagged pointer is still reported.
; CHECK: in function retag {{.*}}high bits were masked
define ptr @retag(ptr %p) {
  %i = ptrtoint ptr %p to i64
  %m = and i64 %i, 281474976710655
  %o = or i64 %m, 1
  %q = inttoptr i64 %o to ptr
  ret ptr %q
}
