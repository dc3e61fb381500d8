// Every object and executable built by mojcc carries its modules' bitcode in
// section .mojave.bc (records of magic + sizes + zstd-compressed bitcode),
// never .llvmbc; the section is not allocatable (no flags: nothing maps it).
// RUN: %mojcc -O2 -c %s -o %t.o
// RUN: llvm-readelf -S %t.o | FileCheck %s --check-prefix=SEC
// RUN: %python %S/Inputs/check_bc_section.py %t.o | FileCheck %s --check-prefix=CHK
// RUN: llvm-objcopy --dump-section=.mojave.bc=%t.sec %t.o %t.copy.o
// RUN: %python %S/Inputs/extract_bc.py %t.sec %t | FileCheck %s --check-prefix=REC
// RUN: llvm-dis %t.0.bc -o - | FileCheck %s --check-prefix=IR
// The pass is idempotent: running it again on the object's IR adds nothing.
// RUN: %opt -passes=moj-embed-bc,moj-embed-bc %t.0.bc -S -o - | FileCheck %s --check-prefix=TWICE
// SEC: {{\] \.mojave\.bc +PROGBITS +0+ [0-9a-f]+ [0-9a-f]+ 00 +0 +0 +8$}}
// SEC-NOT: .llvmbc
// CHK: not loaded, 1 zstd records
// REC: record 0:
// REC-NOT: record 1:
// IR: define {{.*}} @embedded_function(
// IR: !"mojave.instrumented"
// TWICE-COUNT-1: .pushsection .mojave.bc
// TWICE-NOT: .pushsection .mojave.bc
int embedded_function(int *p) { return *p + 1; }
