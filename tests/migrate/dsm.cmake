# tests/migrate/dsm.cmake — a mojcc program attached to a distributed System V
# segment migrates h1 -> h2 -> h3 while a peer on h3 uses the same segment
# (migrate_dsm; migrate_dsm_ir: one hop in IR mode), and stays at h1 with the segment intact when h2's mojaved is
# down (migrate_dsm_fail).  Driver: t_dsm.sh; program: dsm_mig.c.
if(NOT TARGET mojcc)
  return()
endif()
set(_dsm_prog ${CMAKE_CURRENT_BINARY_DIR}/dsm_mig)
add_custom_command(
  OUTPUT ${_dsm_prog}
  COMMAND $<TARGET_FILE:mojcc> -O2 -g -Wall -Wextra -Werror ${CMAKE_CURRENT_SOURCE_DIR}/dsm_mig.c -o ${_dsm_prog}
  DEPENDS mojcc MojavePasses mojave ${CMAKE_CURRENT_SOURCE_DIR}/dsm_mig.c
  COMMENT "mojcc -O2 dsm_mig" VERBATIM)
add_custom_target(moj_migrate_dsm_prog ALL DEPENDS ${_dsm_prog})
# move: h1 -> h2 -> h3 (h3 is the peer's host); ir: h1 -> h2 in IR mode;
# fail: h2's mojaved down, the program stays at h1
foreach(variant move ir fail)
  set(name migrate_dsm)
  if(NOT variant STREQUAL "move")
    set(name migrate_dsm_${variant})
  endif()
  add_test(NAME ${name}
           COMMAND ${PROJECT_SOURCE_DIR}/scripts/cluster.sh run 3 ${CMAKE_CURRENT_SOURCE_DIR}/t_dsm.sh ${variant})
  set_tests_properties(${name} PROPERTIES LABELS migrate TIMEOUT 300
    PASS_REGULAR_EXPRESSION "PASS ${name}" FAIL_REGULAR_EXPRESSION "FAIL"
    ENVIRONMENT "MOJAVE_NSD=$<TARGET_FILE:mojave-nsd>;MOJAVED=$<TARGET_FILE:mojaved>;MOJAVE_RUN=$<TARGET_FILE:mojave-run>;CLUSTER=${PROJECT_SOURCE_DIR}/scripts/cluster.sh;MIG_PROGS=${CMAKE_CURRENT_BINARY_DIR};TEST_TIMEOUT=200")
endforeach()
