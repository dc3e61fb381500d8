; moj-verify: shipped bitcode must be sound, instrumented by mojcc, for this
; ABI — else it is refused (IR migration's check at the destination).
; Not instrumented: refused.
; RUN: not %opt -passes=moj-verify -disable-output %s 2>&1 | FileCheck %s --check-prefix=RAW
; RAW: refusing bitcode module '{{.*}}verify.ll': it was not instrumented by mojcc
; The same module after mojcc's pipeline: accepted.
; RUN: %opt -passes=moj-instrument %s -o %t.bc
; RUN: %opt -passes=moj-verify -disable-output %t.bc
; With MOJCC_REQUIRE_INSTRUMENTED (set by mojaved) the pipeline verifies
; instead of instrumenting: raw bitcode is refused, mojcc's is accepted.
; RUN: env MOJCC_REQUIRE_INSTRUMENTED=1 not %opt -passes=moj-instrument -disable-output %s 2>&1 | FileCheck %s --check-prefix=RAW
; RUN: env MOJCC_REQUIRE_INSTRUMENTED=1 %opt -passes=moj-instrument -disable-output %t.bc
; A function outside the instrumented section (added after mojcc) is refused.
; RUN: %opt -passes=moj-instrument %s -S -o %t.ll
; RUN: sed -e 's/^define i32 @g(/define i32 @g(/' -e '$a define i32 @added() { ret i32 1 }' %t.ll > %t2.ll
; RUN: not %opt -passes=moj-verify -disable-output %t2.ll 2>&1 | FileCheck %s --check-prefix=ADDED
; ADDED: function 'added' is not in the instrumented text section

declare ptr @malloc(i64)

define i32 @g(i32 %n) {
  %p = call ptr @malloc(i64 16)
  store i32 %n, ptr %p
  %v = load i32, ptr %p
  ret i32 %v
}
