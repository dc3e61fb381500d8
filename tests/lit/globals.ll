; moj-globals: large internal globals become managed objects (speculation
; entry no longer copies them): a handle slot, one load of it per function,
; constant expressions over the global turned into instructions, and a
; priority-1 constructor that allocates the object and copies a non-zero
; initializer in.  Small, external, sectioned, TLS and initializer-referenced
; globals stay where they are.
; RUN: %opt -passes=moj-globals -S %s | FileCheck %s
; RUN: %opt -passes=moj-instrument -S %s | FileCheck %s --check-prefix=PIPE

@big = internal global [65536 x i8] zeroinitializer, align 16
@tbl = internal global <{ [3 x i32], [8189 x i32] }> <{ [3 x i32] [i32 1, i32 2, i32 3], [8189 x i32] zeroinitializer }>, align 16
@wide = internal global [4096 x i64] zeroinitializer, align 64
@small = internal global [64 x i8] zeroinitializer
@ext = global [65536 x i8] zeroinitializer
@sect = internal global [65536 x i8] zeroinitializer, section "mine"
@tls = internal thread_local global [65536 x i8] zeroinitializer
@named = internal global [65536 x i8] zeroinitializer
@ref = global ptr getelementptr (i8, ptr @named, i64 8)

; CHECK-DAG: @big.moj = internal global ptr null, align 8
; CHECK-DAG: @tbl.moj = internal global ptr null, align 8
; CHECK-DAG: @tbl.moj.init = private unnamed_addr constant <{ [3 x i32], [8189 x i32] }> <{ [3 x i32] [i32 1, i32 2, i32 3], [8189 x i32] zeroinitializer }>
; CHECK-DAG: @wide.moj = internal global ptr null, align 8
; CHECK-DAG: @small = internal global [64 x i8] zeroinitializer
; CHECK-DAG: @ext = global [65536 x i8] zeroinitializer
; CHECK-DAG: @sect = internal global [65536 x i8] zeroinitializer, section "mine"
; CHECK-DAG: @tls = internal thread_local global
; CHECK-DAG: @named = internal global [65536 x i8] zeroinitializer
; CHECK-DAG: @llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 1, ptr @__moj_globals_ctor, ptr null }]
; CHECK-NOT: @big =
; CHECK-NOT: @tbl =

; CHECK-LABEL: define i32 @use(i64 %i)
; CHECK-NEXT: %wide.h = load ptr, ptr @wide.moj
; CHECK-NEXT: %tbl.h = load ptr, ptr @tbl.moj
; CHECK-NEXT: %big.h = load ptr, ptr @big.moj
; CHECK: getelementptr [65536 x i8], ptr %big.h, i64 0, i64 %i
; a constant expression over @big is now an instruction on the handle
; CHECK: getelementptr inbounds i8, ptr %big.h, i64 100
; CHECK: load i32, ptr %tbl.h
; CHECK: store i64 1, ptr %wide.h
; CHECK: store i8 1, ptr @small
define i32 @use(i64 %i) {
  %p = getelementptr [65536 x i8], ptr @big, i64 0, i64 %i
  store i8 7, ptr %p
  store i8 8, ptr getelementptr inbounds (i8, ptr @big, i64 100)
  %v = load i32, ptr @tbl
  store i64 1, ptr @wide
  store i8 1, ptr @small
  store i8 1, ptr @ext
  ret i32 %v
}

; CHECK-LABEL: define internal void @__moj_globals_ctor()
; CHECK: %[[B:.*]] = call ptr @__moj_calloc(i64 1, i64 65536)
; CHECK: store ptr %[[B]], ptr @big.moj
; CHECK: %[[T:.*]] = call ptr @__moj_calloc(i64 1, i64 32768)
; CHECK: %[[R:.*]] = call ptr @__moj_twn(ptr %[[T]], i64 32768)
; CHECK: call void @llvm.memcpy.p0.p0.i64(ptr align 16 %[[R]], ptr align 16 @tbl.moj.init, i64 32768, i1 false)
; CHECK: store ptr %[[T]], ptr @tbl.moj
; over-aligned: aligned allocation, zeroed by hand (no zero constant copied)
; CHECK: %[[W:.*]] = call ptr @__moj_aligned_alloc(i64 64, i64 32768)
; CHECK: %[[WR:.*]] = call ptr @__moj_twn(ptr %[[W]], i64 32768)
; CHECK: call void @llvm.memset.p0.i64(ptr align 64 %[[WR]], i8 0, i64 32768, i1 false)
; CHECK: store ptr %[[W]], ptr @wide.moj
; CHECK-NOT: @wide.moj.init

; Through the whole pipeline the loaded handle is translated like any root.
; PIPE-LABEL: define i32 @use(
; PIPE: %big.h = load ptr, ptr @big.moj
; PIPE: call ptr @__moj_w_slow
