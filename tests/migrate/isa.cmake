# tests/migrate/isa.cmake — a cluster with hosts of two instruction sets
# (issue 13 item 2; t_isa.sh): h2 and h3 are aarch64 hosts whose mojaved
# runs programs under qemu.  Labels migrate and aarch64: it needs the
# aarch64 runtime that ctest's aarch64.build cross-builds (fixture).
get_property(moj_a64_tree GLOBAL PROPERTY MOJ_AARCH64_TREE)
if(NOT TARGET mojcc OR NOT moj_a64_tree)
  return()
endif()
add_test(NAME migrate_isa
         COMMAND ${PROJECT_SOURCE_DIR}/scripts/cluster.sh run 3 ${CMAKE_CURRENT_SOURCE_DIR}/t_isa.sh)
set_tests_properties(migrate_isa PROPERTIES LABELS "migrate;aarch64" TIMEOUT 300 SKIP_RETURN_CODE 77
  FIXTURES_REQUIRED moj_aarch64
  PASS_REGULAR_EXPRESSION "PASS migrate_isa" FAIL_REGULAR_EXPRESSION "FAIL"
  ENVIRONMENT "MOJAVE_CLUSTER_ARCH=h2=aarch64,h3=aarch64;MOJAVE_NSD=$<TARGET_FILE:mojave-nsd>;MOJAVED=$<TARGET_FILE:mojaved>;MOJAVE_RUN=$<TARGET_FILE:mojave-run>;BIN=${CMAKE_CURRENT_BINARY_DIR}/bin;MOJAVE_MOJCC=$<TARGET_FILE:mojcc>;MOJCC=$<TARGET_FILE:mojcc>;CLUSTER=${PROJECT_SOURCE_DIR}/scripts/cluster.sh;MIG_PROGS=${CMAKE_CURRENT_BINARY_DIR};TEST_TIMEOUT=250")
