# tests/migrate/capture.cmake — capture and restore inside one host: zdtm-style
# programs built by mojcc at -O0 and -O2 migrate through a checkpoint file
# (migrate_file_*), and a refused hand-off resumes at the source with every
# kind of state intact (migrate_stay_*).
if(NOT TARGET mojcc)   # MOJ_BUILD_COMPILER=OFF: every test here is built by mojcc
  return()
endif()
# zdtm_ld: zdtm_state with an x86-64 long double live across the move — for
# the same-host file tests only (the cross-ISA tests move zdtm_state.O2 to
# aarch64, which refuses long double)
set(MOJ_MIGRATE_PROGRAMS zdtm_state refusals zdtm_ld)
set(zdtm_ld_SOURCE zdtm_state)
set(zdtm_ld_FLAGS -DZDTM_LONG_DOUBLE)
set(_mig_outputs)
foreach(prog ${MOJ_MIGRATE_PROGRAMS})
  if(DEFINED ${prog}_SOURCE)
    set(src ${CMAKE_CURRENT_SOURCE_DIR}/${${prog}_SOURCE}.c)
  else()
    set(src ${CMAKE_CURRENT_SOURCE_DIR}/${prog}.c)
  endif()
  foreach(opt O0 O2)
    set(out ${CMAKE_CURRENT_BINARY_DIR}/${prog}.${opt})
    add_custom_command(
      OUTPUT ${out}
      COMMAND $<TARGET_FILE:mojcc> -${opt} -g -Wall -Wextra -Werror ${${prog}_FLAGS} ${src} -o ${out}
      DEPENDS mojcc MojavePasses mojave ${src}
      COMMENT "mojcc -${opt} ${prog}" VERBATIM)
    list(APPEND _mig_outputs ${out})
  endforeach()
endforeach()
foreach(opt O0 O2)
  add_test(NAME migrate_file_zdtm_state_${opt}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/t_file.sh ${CMAKE_CURRENT_BINARY_DIR}/zdtm_ld.${opt}
                   migrate_file_zdtm_state_${opt})
  set_tests_properties(migrate_file_zdtm_state_${opt} PROPERTIES LABELS migrate TIMEOUT 120
    PASS_REGULAR_EXPRESSION "PASS migrate_file_zdtm_state_${opt}" FAIL_REGULAR_EXPRESSION "FAIL")
  # every situation that cannot be captured is refused with a named errno
  add_test(NAME migrate_refusals_${opt}
           COMMAND bash -c "d=$(mktemp -d) && ${CMAKE_CURRENT_BINARY_DIR}/refusals.${opt} $d; rc=$?; rm -rf $d; exit $rc")
  set_tests_properties(migrate_refusals_${opt} PROPERTIES LABELS migrate TIMEOUT 120
    PASS_REGULAR_EXPRESSION "PASS refusals" FAIL_REGULAR_EXPRESSION "FAIL")
endforeach()
add_custom_target(moj_migrate_programs ALL DEPENDS ${_mig_outputs})

foreach(opt O0 O2)
  add_test(NAME migrate_stay_${opt}
           COMMAND bash -c "d=$(mktemp -d) && ${CMAKE_CURRENT_BINARY_DIR}/zdtm_state.${opt} stay:nowhere $d; rc=$?; rm -rf $d; exit $rc")
  set_tests_properties(migrate_stay_${opt} PROPERTIES LABELS migrate TIMEOUT 120
    PASS_REGULAR_EXPRESSION "after: stayed \\(refused\\)\nPASS zdtm_state" FAIL_REGULAR_EXPRESSION "FAIL")
endforeach()

# The same program under mojave-run across namespace hosts: asked to migrate
# at start, it refuses while its set-up speculation runs, then moves to h2 at
# the bottom of its recursion and finishes there (t_real.sh); in IR mode h2
# recompiles the shipped bitcode and restores into that build.
foreach(opt O0 O2)
  foreach(mode binary ir)
    set(name migrate_real_${opt})
    if(mode STREQUAL "ir")
      set(name migrate_real_${opt}_ir)
    endif()
    add_test(NAME ${name}
             COMMAND ${PROJECT_SOURCE_DIR}/scripts/cluster.sh run 2 ${CMAKE_CURRENT_SOURCE_DIR}/t_real.sh ${opt} ${mode})
    set_tests_properties(${name} PROPERTIES LABELS migrate TIMEOUT 300
      PASS_REGULAR_EXPRESSION "PASS ${name}" FAIL_REGULAR_EXPRESSION "FAIL"
      ENVIRONMENT "MOJAVE_NSD=$<TARGET_FILE:mojave-nsd>;MOJAVED=$<TARGET_FILE:mojaved>;MOJAVE_RUN=$<TARGET_FILE:mojave-run>;CLUSTER=${PROJECT_SOURCE_DIR}/scripts/cluster.sh;MIG_PROGS=${CMAKE_CURRENT_BINARY_DIR};TEST_TIMEOUT=250")
  endforeach()
endforeach()

# Programs nobody here wrote (Debian's lua5.4 and bzip2 sources, built by
# mojcc) moved in the middle of their work; skipped without the sources.
add_test(NAME migrate_programs
         COMMAND ${PROJECT_SOURCE_DIR}/scripts/cluster.sh run 2 ${CMAKE_CURRENT_SOURCE_DIR}/t_programs.sh)
set_tests_properties(migrate_programs PROPERTIES LABELS migrate TIMEOUT 900 SKIP_RETURN_CODE 77
  PASS_REGULAR_EXPRESSION "PASS migrate_programs" FAIL_REGULAR_EXPRESSION "FAIL"
  ENVIRONMENT "MOJAVE_NSD=$<TARGET_FILE:mojave-nsd>;MOJAVED=$<TARGET_FILE:mojaved>;MOJAVE_RUN=$<TARGET_FILE:mojave-run>;MOJCC=$<TARGET_FILE:mojcc>;CLUSTER=${PROJECT_SOURCE_DIR}/scripts/cluster.sh;TEST_TIMEOUT=600")

# A chain of explicit hops h1 -> h2 -> h3 -> h1 (t_chain_real.sh).
add_test(NAME migrate_chain_real
         COMMAND ${PROJECT_SOURCE_DIR}/scripts/cluster.sh run 3 ${CMAKE_CURRENT_SOURCE_DIR}/t_chain_real.sh)
set_tests_properties(migrate_chain_real PROPERTIES LABELS migrate TIMEOUT 300
  PASS_REGULAR_EXPRESSION "PASS migrate_chain_real" FAIL_REGULAR_EXPRESSION "FAIL"
  ENVIRONMENT "MOJAVE_NSD=$<TARGET_FILE:mojave-nsd>;MOJAVED=$<TARGET_FILE:mojaved>;MOJAVE_RUN=$<TARGET_FILE:mojave-run>;CLUSTER=${PROJECT_SOURCE_DIR}/scripts/cluster.sh;MIG_PROGS=${CMAKE_CURRENT_BINARY_DIR};TEST_TIMEOUT=250")

# The destination is down: the real program rewinds and finishes at h1.
add_test(NAME migrate_real_fail
         COMMAND ${PROJECT_SOURCE_DIR}/scripts/cluster.sh run 2 ${CMAKE_CURRENT_SOURCE_DIR}/t_real.sh O2 fail)
set_tests_properties(migrate_real_fail PROPERTIES LABELS migrate TIMEOUT 300
  PASS_REGULAR_EXPRESSION "PASS migrate_real_fail" FAIL_REGULAR_EXPRESSION "FAIL"
  ENVIRONMENT "MOJAVE_NSD=$<TARGET_FILE:mojave-nsd>;MOJAVED=$<TARGET_FILE:mojaved>;MOJAVE_RUN=$<TARGET_FILE:mojave-run>;CLUSTER=${PROJECT_SOURCE_DIR}/scripts/cluster.sh;MIG_PROGS=${CMAKE_CURRENT_BINARY_DIR};TEST_TIMEOUT=250")

# The same on aarch64 (label aarch64; issue 13): built by mojcc
# --target=aarch64-linux-gnu against the cross-built runtime of ctest's
# aarch64.build and run under qemu (tests/e2e/aarch64.sh; @PROG@ is the
# program under qemu).  Capture and restore within the one instruction set.
get_property(moj_a64_tree GLOBAL PROPERTY MOJ_AARCH64_TREE)
if(moj_a64_tree)
  set(_a64 bash ${CMAKE_SOURCE_DIR}/tests/e2e/aarch64.sh $<TARGET_FILE:mojcc>)
  foreach(opt O0 O2)
    set(name aarch64.migrate_file_zdtm_state_${opt})
    add_test(NAME ${name} COMMAND ${_a64} ${opt} ${CMAKE_CURRENT_SOURCE_DIR}/zdtm_state.c
             -- bash ${CMAKE_CURRENT_SOURCE_DIR}/t_file.sh @PROG@ ${name})
    set_tests_properties(${name} PROPERTIES PASS_REGULAR_EXPRESSION "PASS ${name}")
    add_test(NAME aarch64.migrate_stay_${opt} COMMAND ${_a64} ${opt} ${CMAKE_CURRENT_SOURCE_DIR}/zdtm_state.c
             -- bash -c "d=$(mktemp -d) && @PROG@ stay:nowhere $d; rc=$?; rm -rf $d; exit $rc")
    set_tests_properties(aarch64.migrate_stay_${opt} PROPERTIES
      PASS_REGULAR_EXPRESSION "after: stayed \\(refused\\)\nPASS zdtm_state")
    add_test(NAME aarch64.migrate_refusals_${opt} COMMAND ${_a64} ${opt} ${CMAKE_CURRENT_SOURCE_DIR}/refusals.c
             -- bash -c "d=$(mktemp -d) && @PROG@ $d; rc=$?; rm -rf $d; exit $rc")
    set_tests_properties(aarch64.migrate_refusals_${opt} PROPERTIES PASS_REGULAR_EXPRESSION "PASS refusals")
    set_tests_properties(aarch64.migrate_file_zdtm_state_${opt} aarch64.migrate_stay_${opt} aarch64.migrate_refusals_${opt}
      PROPERTIES LABELS aarch64 FIXTURES_REQUIRED moj_aarch64 FAIL_REGULAR_EXPRESSION "FAIL" SKIP_RETURN_CODE 77 TIMEOUT 300)
  endforeach()
endif()
