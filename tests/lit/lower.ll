; moj-lower: markers become the inline fast paths of include/mojave/abi.h.
; RUN: %opt -passes=moj-lower -S %s | FileCheck %s

declare ptr @__moj_xr(ptr)
declare ptr @__moj_xw(ptr)
declare ptr @__moj_xws(ptr)

; The runtime is linked into executables: direct (dso_local) access.
; CHECK: @__moj_tbl = external dso_local global i64
; CHECK: @__moj_cur_owner = external dso_local global i32
; The ABI version symbol is referenced (kept through llvm.used).
; CHECK: @__moj_abi_check = private constant ptr @__moj_version_mismatch_check_v2
; CHECK: @llvm.used = {{.*}}@__moj_abi_check

; Read: tag test, table entry at __moj_tbl + index*16, base + offset.  The
; table address is loaded before the tag test and marked invariant (the
; table never moves): the backend keeps it in a register across translations.
; CHECK-LABEL: define i32 @rd(
; CHECK: %[[V:.*]] = ptrtoint ptr %p to i64
; CHECK-NEXT: %[[H:.*]] = icmp slt i64 %[[V]], 0
; CHECK-NEXT: %[[T:.*]] = load i64, ptr @__moj_tbl, align 8, !invariant.load
; CHECK-NEXT: br i1 %[[H]], label %moj.handle, label %moj.join
; CHECK: moj.handle:
; CHECK-NEXT: %[[I:.*]] = lshr i64 %[[V]], 32
; CHECK-NEXT: %[[S:.*]] = shl i64 %[[I]], 4
; CHECK-NEXT: %[[EA:.*]] = add i64 %[[T]], %[[S]]
; CHECK-NEXT: %[[E:.*]] = inttoptr i64 %[[EA]] to ptr
; CHECK-NEXT: %[[B:.*]] = load ptr, ptr %[[E]], align 8
; CHECK-NEXT: %[[O:.*]] = and i64 %[[V]], 4294967295
; CHECK-NEXT: %[[R:.*]] = getelementptr i8, ptr %[[B]], i64 %[[O]]
; CHECK: moj.join:
; CHECK-NEXT: %[[X:.*]] = phi ptr [ %p, %{{.*}} ], [ %[[R]], %moj.handle ]
; CHECK-NEXT: load i32, ptr %[[X]]
; CHECK-NOT: __moj_w_slow
define i32 @rd(ptr %p) {
  %x = call ptr @__moj_xr(ptr %p)
  %v = load i32, ptr %x
  ret i32 %v
}

; Write: owner compare against __moj_cur_owner, one unlikely branch to the
; slow path; the fast path is the handle block itself (no block of its own).
; CHECK-LABEL: define void @wr(
; CHECK: moj.handle:
; CHECK: %[[OA:.*]] = getelementptr i8, ptr %{{.*}}, i64 12
; CHECK-NEXT: %[[OW:.*]] = load i32, ptr %[[OA]], align 4
; CHECK-NEXT: %[[CU:.*]] = load i32, ptr @__moj_cur_owner
; CHECK-NEXT: %[[NE:.*]] = icmp ne i32 %[[OW]], %[[CU]]
; CHECK-NEXT: %[[RW:.*]] = getelementptr i8, ptr
; CHECK-NEXT: br i1 %[[NE]], label %moj.slow, label %moj.join, !prof ![[W:[0-9]+]]
; CHECK: moj.slow:
; CHECK-NEXT: call ptr @__moj_w_slow(i64
; CHECK: moj.join:
; CHECK-NEXT: phi ptr [ %p, %{{.*}} ], [ %[[RW]], %moj.handle ], [ %{{.*}}, %moj.slow ]
define void @wr(ptr %p) {
  %x = call ptr @__moj_xw(ptr %p)
  store i32 1, ptr %x
  ret void
}

; Soft write: same, with the tolerant slow path.
; CHECK-LABEL: define void @wrsoft(
; CHECK: call ptr @__moj_cc_w_soft(i64
define void @wrsoft(ptr %p) {
  %x = call ptr @__moj_xws(ptr %p)
  store i32 1, ptr %x
  ret void
}

; CHECK: ![[W]] = !{!"branch_weights", i32 1, i32 1048576}
!llvm.module.flags = !{!0}
!0 = !{i32 7, !"PIE Level", i32 2}
