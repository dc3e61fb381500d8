; moj-migrate: the frame descriptor lists no slot offsets or sizes (issue 11,
; item 5).  One byte per slot: the type code (migrate/image.h) in the low 4
; bits, log2 of the ABI alignment in the high 4; only aggregate (BYTES) slots
; have a size, one u32 each in slot order.  The runtime derives the offsets
; from the DataLayout's rule and checks them against the record size.  The
; descriptor's references are i32 distances from the field to the target (0:
; none), so it holds no absolute address a PIE would relocate at load time.
; RUN: %opt -passes=moj-migrate -S %s | FileCheck %s
; RUN: %opt -passes=moj-migrate,verify -disable-output %s
; RUN: %opt -passes=moj-migrate %s | llc -relocation-model=pic | FileCheck %s --check-prefix=ASM

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

%trio = type { i8, i8, i8 }

@host = private constant [5 x i8] c"peer\00"

declare i32 @moj_migrate(ptr, i32)
declare void @use(i1, i64, double, ptr, x86_fp80, %trio)
declare void @use_obj(ptr, i32)

; CHECK-NOT: mig.slotoff
; CHECK-NOT: mig.slotsize
; Record of @slots: the arguments, then their reloads (used after the site):
; site 0, pad 4, [0 x ptr] 8, i1 8, i64 16, double 24, ptr 32, x86_fp80 48
; (align 16, 16 bytes), %trio 64 (3 bytes), i1 67, i64 72, double 80, ptr 88,
; x86_fp80 96, %trio 112: ends at 115, 128 bytes aligned to 16.
; Types: I1 = 1, I64 = 5 | 3 << 4, F64 = 7 | 3 << 4, PTR = 9 | 3 << 4,
; F80 = 8 | 4 << 4, BYTES = 10 | 0 << 4.
; CHECK-DAG: @[[TY1:mig.slottype[.0-9]*]] = private unnamed_addr constant [12 x i8] c"\01579H\0A\01579H\0A"
; CHECK-DAG: @[[BS1:mig.bytessize[.0-9]*]] = private unnamed_addr constant [2 x i32] [i32 3, i32 3]
; CHECK-DAG: @[[D1:mig.desc[.0-9]*]] = private constant { i32, i32, i32, i32, i32, i32, i32, i32, i32 } { i32 trunc (i64 sub (i64 ptrtoint (ptr @{{mig.fname[.0-9]*}} to i64), i64 ptrtoint (ptr @[[D1]] to i64)) to i32), i32 12, i32 0, i32 128, i32 8, i32 trunc (i64 sub (i64 ptrtoint (ptr @[[TY1]] to i64), i64 ptrtoint (ptr getelementptr inbounds ({{[^)]*}}, ptr @[[D1]], i32 0, i32 5) to i64)) to i32), i32 trunc (i64 sub (i64 ptrtoint (ptr @[[BS1]] to i64), i64 ptrtoint (ptr getelementptr inbounds ({{[^)]*}}, ptr @[[D1]], i32 0, i32 6) to i64)) to i32), i32 0, i32 0 }
; @objs: one stack object (i32 x 4, align 16), scalar slots only: no size
; array.  Record: [1 x ptr] 8, i64 16, i32 24, 28, 32: ends at 36, 40 bytes.
; I32 = 4 | 2 << 4 ('$').
; CHECK-DAG: @[[TY2:mig.slottype[.0-9]*]] = private unnamed_addr constant [4 x i8] c"5$$$"
; CHECK-DAG: @[[OS2:mig.objsize[.0-9]*]] = private unnamed_addr constant [1 x i32] [i32 16]
; CHECK-DAG: @[[OA2:mig.objalign[.0-9]*]] = private unnamed_addr constant [1 x i32] [i32 16]
; CHECK-DAG: @[[D2:mig.desc[.0-9]*]] = private constant { i32, i32, i32, i32, i32, i32, i32, i32, i32 } { i32 trunc (i64 sub (i64 ptrtoint (ptr @{{mig.fname[.0-9]*}} to i64), i64 ptrtoint (ptr @[[D2]] to i64)) to i32), i32 4, i32 1, i32 40, i32 8, i32 trunc (i64 sub (i64 ptrtoint (ptr @[[TY2]] to i64), i64 ptrtoint (ptr getelementptr inbounds ({{[^)]*}}, ptr @[[D2]], i32 0, i32 5) to i64)) to i32), i32 0, i32 trunc (i64 sub (i64 ptrtoint (ptr @[[OS2]] to i64), i64 ptrtoint (ptr getelementptr inbounds ({{[^)]*}}, ptr @[[D2]], i32 0, i32 7) to i64)) to i32), i32 trunc (i64 sub (i64 ptrtoint (ptr @[[OA2]] to i64), i64 ptrtoint (ptr getelementptr inbounds ({{[^)]*}}, ptr @[[D2]], i32 0, i32 8) to i64)) to i32) }
; CHECK-NOT: mig.slotoff
; CHECK-NOT: mig.slotsize

; CHECK-LABEL: define void @slots(
; CHECK: call ptr @__moj_mig_push(ptr @[[D1]], i32 0)
; In the object: distances, resolved when linking.
; ASM-LABEL: .Lmig.desc:
; ASM-NEXT: .long .Lmig.fname-.Lmig.desc
; ASM-NEXT: .long 12
; ASM-NEXT: .long 0
; ASM-NEXT: .long 128
; ASM-NEXT: .long 8
; ASM-NEXT: .long (.Lmig.slottype-.Lmig.desc)-20
; ASM-NEXT: .long (.Lmig.bytessize-.Lmig.desc)-24
; ASM-NEXT: .long 0
; ASM-NEXT: .long 0
; ASM-NOT: .quad .Lmig.{{desc|fname|slottype|bytessize|objsize|objalign}}
define void @slots(i1 %b, i64 %x, double %d, ptr %p, x86_fp80 %f, %trio %s) {
  %r = call i32 @moj_migrate(ptr @host, i32 0)
  call void @use(i1 %b, i64 %x, double %d, ptr %p, x86_fp80 %f, %trio %s)
  ret void
}

define void @objs(i64 %x, i32 %y) {
  %buf = alloca [4 x i32], align 16
  %r = call i32 @moj_migrate(ptr @host, i32 0)
  call void @use_obj(ptr %buf, i32 %y)
  %z = trunc i64 %x to i32
  call void @use_obj(ptr %buf, i32 %z)
  ret void
}
