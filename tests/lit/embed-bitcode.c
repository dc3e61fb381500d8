// Every object and executable built by mojcc carries its modules' bitcode in
// section .mojave.bc (records of magic + size + bitcode), never .llvmbc.
// RUN: %mojcc -O2 -c %s -o %t.o
// RUN: llvm-readelf -S %t.o | FileCheck %s --check-prefix=SEC
// RUN: llvm-objcopy --dump-section=.mojave.bc=%t.sec %t.o %t.copy.o
// RUN: %python %S/Inputs/extract_bc.py %t.sec %t | FileCheck %s --check-prefix=REC
// RUN: llvm-dis %t.0.bc -o - | FileCheck %s --check-prefix=IR
// SEC: .mojave.bc
// SEC-NOT: .llvmbc
// REC: record 0:
// REC-NOT: record 1:
// IR: define {{.*}} @embedded_function(
// IR: !"mojave.instrumented"
int embedded_function(int *p) { return *p + 1; }
