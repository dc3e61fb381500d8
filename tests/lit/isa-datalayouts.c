// The data layouts moj-isa-report assumes for the instruction sets mojave
// moves between (passes/MojPortable.cpp, Isas[]) and images record
// (runtime/arch.h, MOJ_ARCH_DATALAYOUT) are clang's for those triples: if a
// new clang changes one, this fails and both places must follow.
// RUN: %clang --target=x86_64-linux-gnu -S -emit-llvm -o - %s | FileCheck %s --check-prefix=X86
// RUN: %clang --target=aarch64-linux-gnu -S -emit-llvm -o - %s | FileCheck %s --check-prefix=A64
// RUN: FileCheck %s --check-prefix=SRC < %S/../../passes/MojPortable.cpp
// RUN: FileCheck %s --check-prefix=RT < %S/../../runtime/arch.h
// X86: target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
// A64: target datalayout = "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128"
// SRC: "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
// SRC: "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128"
// RT: #define MOJ_ARCH_DATALAYOUT "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
// RT: #define MOJ_ARCH_DATALAYOUT "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128"
int x;
