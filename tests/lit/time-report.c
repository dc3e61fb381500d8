// clang's -ftime-report times the mojave pipeline like any other pass (it
// crashed while moj-instrument ran its passes through a nested pass manager:
// the timers' callbacks fired for the nested passes and the outer pass's
// timer was gone when it ended).  -ftime-trace keeps one entry per pass.
// RUN: %mojcc -O2 -c %s -o %t.o -ftime-report 2>&1 | FileCheck %s
// RUN: %mojcc -O0 -c %s -o %t.o -ftime-report 2>&1 | FileCheck %s
// RUN: %mojcc -O2 -c %s -o %t.o -ftime-trace=%t.json -ftime-trace-granularity=0
// RUN: FileCheck %s --check-prefix=TRACE < %t.json
// CHECK: Pass execution timing report
// CHECK: moj::MojInstrumentPass
// CHECK-NOT: Stack dump
// TRACE-DAG: "name":"moj::MojTranslatePass"
// TRACE-DAG: "name":"moj::MojMigratePass"
int *g;
int get(int i) { return g[i]; }
