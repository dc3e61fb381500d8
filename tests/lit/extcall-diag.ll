; moj-extcall: inline asm taking pointers is diagnosed at compile time.
; RUN: %opt -passes=moj-extcall -disable-output %s 2>&1 | FileCheck %s
; CHECK: warning: {{.*}}inline asm takes pointer operands
define void @asm_ptr(ptr %p) {
  call void asm sideeffect "", "r"(ptr %p)
  ret void
}
