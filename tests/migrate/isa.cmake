# tests/migrate/isa.cmake — a cluster with hosts of two instruction sets
# (issue 13): h2 and h3 are aarch64 hosts whose mojaved runs programs under
# qemu.  Labels migrate and aarch64: they need the aarch64 runtime that
# ctest's aarch64.build cross-builds (fixture).
#   migrate_isa     the cluster itself (t_isa.sh, item 2)
#   migrate_isa_ir  x86-64 -> aarch64 -> x86-64 in IR mode, refusals at the
#                   source and at the destination, an injected compiler
#                   failure (t_isa_ir.sh, items 3-4)
#   migrate_isa_lua Lua 5.4 built for x86-64 run on aarch64 from its shipped
#                   bitcode, output byte-identical (t_isa_lua.sh; no cluster)
#   migrate_isa_lua_move  the same Lua moved mid-run x86-64 -> aarch64 ->
#                   x86-64 (t_isa_lua_move.sh, item 4)
get_property(moj_a64_tree GLOBAL PROPERTY MOJ_AARCH64_TREE)
if(NOT TARGET mojcc OR NOT moj_a64_tree)
  return()
endif()
function(moj_isa_test name script timeout)
  add_test(NAME ${name}
           COMMAND ${PROJECT_SOURCE_DIR}/scripts/cluster.sh run 3 ${CMAKE_CURRENT_SOURCE_DIR}/${script})
  math(EXPR inner "${timeout} - 50")
  set_tests_properties(${name} PROPERTIES LABELS "migrate;aarch64" TIMEOUT ${timeout} SKIP_RETURN_CODE 77
    FIXTURES_REQUIRED moj_aarch64
    PASS_REGULAR_EXPRESSION "PASS ${name}" FAIL_REGULAR_EXPRESSION "FAIL"
    ENVIRONMENT "MOJAVE_CLUSTER_ARCH=h2=aarch64,h3=aarch64;MOJAVE_NSD=$<TARGET_FILE:mojave-nsd>;MOJAVED=$<TARGET_FILE:mojaved>;MOJAVE_RUN=$<TARGET_FILE:mojave-run>;BIN=${CMAKE_CURRENT_BINARY_DIR}/bin;MOJAVE_MOJCC=$<TARGET_FILE:mojcc>;MOJCC=$<TARGET_FILE:mojcc>;CLUSTER=${PROJECT_SOURCE_DIR}/scripts/cluster.sh;MIG_PROGS=${CMAKE_CURRENT_BINARY_DIR};TEST_TIMEOUT=${inner}")
endfunction()
moj_isa_test(migrate_isa t_isa.sh 300)
moj_isa_test(migrate_isa_ir t_isa_ir.sh 600)
add_test(NAME migrate_isa_lua COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/t_isa_lua.sh)
set_tests_properties(migrate_isa_lua PROPERTIES LABELS "migrate;aarch64" TIMEOUT 600 SKIP_RETURN_CODE 77
  FIXTURES_REQUIRED moj_aarch64 PASS_REGULAR_EXPRESSION "PASS migrate_isa_lua" FAIL_REGULAR_EXPRESSION "FAIL"
  ENVIRONMENT "MOJCC=$<TARGET_FILE:mojcc>")
# two IR compiles of Lua (one per instruction set) on a loaded machine
moj_isa_test(migrate_isa_lua_move t_isa_lua_move.sh 1800)
