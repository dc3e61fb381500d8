# tests/migrate/transport.cmake — the migration transport end to end: real mojave-nsd +
# mojaved daemons in network namespaces (scripts/cluster.sh), mojave-run, and
# fake_app (linked with libmojave) standing in for a program whose runtime
# captures and restores itself.  Label: migrate.
add_executable(migrate_fake_app fake_app.c)
target_link_libraries(migrate_fake_app PRIVATE mojave)
target_include_directories(migrate_fake_app PRIVATE ${PROJECT_SOURCE_DIR}/migrate ${PROJECT_SOURCE_DIR}/runtime/dsm)
set_target_properties(migrate_fake_app PROPERTIES OUTPUT_NAME fake_app RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/bin)

# the same program built with mojcc, so it carries its bitcode (.mojave.bc)
# for IR-mode migrations, which mojaved recompiles with mojcc.  Without the
# moj-migrate pass (MOJCC_NO_MIGRATE): fake_app restores itself, the
# runtime's own capture/restore is tested with real programs (capture.cmake)
if(TARGET mojcc)
  add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/bin/fake_app_ir
    COMMAND ${CMAKE_COMMAND} -E env MOJCC_NO_MIGRATE=1 $<TARGET_FILE:mojcc> -O2 -Wall -Wextra -I${PROJECT_SOURCE_DIR}/migrate -I${PROJECT_SOURCE_DIR}/runtime/dsm
            -o ${CMAKE_CURRENT_BINARY_DIR}/bin/fake_app_ir ${CMAKE_CURRENT_SOURCE_DIR}/fake_app.c
    DEPENDS mojcc MojavePasses mojave ${CMAKE_CURRENT_SOURCE_DIR}/fake_app.c
    COMMENT "mojcc fake_app_ir")
  add_custom_target(migrate_fake_app_ir ALL DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/bin/fake_app_ir)
endif()

# badpeer speaks the wire protocol itself (hostile and malformed peers)
add_executable(migrate_badpeer badpeer.c ${PROJECT_SOURCE_DIR}/migrate/wire.c
  ${PROJECT_SOURCE_DIR}/runtime/dsm/proto.c ${PROJECT_SOURCE_DIR}/runtime/dsm/cluster.c)
target_compile_definitions(migrate_badpeer PRIVATE _GNU_SOURCE)
target_link_libraries(migrate_badpeer PRIVATE ${CRYPTO_LIB})
target_include_directories(migrate_badpeer PRIVATE ${PROJECT_SOURCE_DIR}/migrate ${PROJECT_SOURCE_DIR}/runtime/dsm)
set_target_properties(migrate_badpeer PROPERTIES OUTPUT_NAME badpeer RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/bin)

# Each test: NAME HOSTS SCRIPT[;ARG] TIMEOUT.  The script runs against a fresh
# cluster of HOSTS hosts (scripts/cluster.sh run) and prints PASS/FAIL NAME.
set(_mj_mojcc_env)   # MOJ_BUILD_COMPILER=OFF: no mojcc to pass
if(TARGET mojcc)
  set(_mj_mojcc_env "MOJAVE_MOJCC=$<TARGET_FILE:mojcc>;")
endif()
set(MOJ_MIG_ENV "${_mj_mojcc_env}MOJAVE_NSD=$<TARGET_FILE:mojave-nsd>;MOJAVED=$<TARGET_FILE:mojaved>;MOJAVE_RUN=$<TARGET_FILE:mojave-run>;BIN=${CMAKE_CURRENT_BINARY_DIR}/bin;CLUSTER=${PROJECT_SOURCE_DIR}/scripts/cluster.sh")
set(MOJ_MIG_TESTS
  "migrate_hop 2 t_hop.sh 120"            "migrate_chain 3 t_chain.sh 180"
  "migrate_stdin 3 t_stdin.sh 180"        "migrate_signal 2 t_signal.sh 120"
  "migrate_move_list 3 t_move_list.sh 180" "migrate_unsupervised 2 t_unsupervised.sh 120"
  "migrate_progress 2 t_progress.sh 120"  "migrate_badpeer 2 t_badpeer.sh 120"
  "migrate_fail_down 2 t_fail.sh:down 120"   "migrate_fail_secret 2 t_fail.sh:secret 120"
  "migrate_fail_image 2 t_fail.sh:image 120" "migrate_fail_crash 2 t_fail.sh:crash 120"
  "migrate_fail_timeout 2 t_fail.sh:timeout 120" "migrate_fail_onward 3 t_fail.sh:onward 120")
if(TARGET mojcc)
  list(APPEND MOJ_MIG_TESTS "migrate_ir 3 t_ir.sh 240")
endif()
foreach(spec IN LISTS MOJ_MIG_TESTS)
  string(REPLACE " " ";" f "${spec}")
  list(GET f 0 name)
  list(GET f 1 hosts)
  list(GET f 2 script)
  list(GET f 3 timeout)
  string(REPLACE ":" ";" script "${script}")
  list(GET script 0 sh)
  list(REMOVE_AT script 0)
  add_test(NAME ${name} COMMAND ${PROJECT_SOURCE_DIR}/scripts/cluster.sh run ${hosts} ${CMAKE_CURRENT_SOURCE_DIR}/${sh} ${script})
  set_tests_properties(${name} PROPERTIES LABELS migrate TIMEOUT ${timeout}
    PASS_REGULAR_EXPRESSION "PASS ${name}" FAIL_REGULAR_EXPRESSION "FAIL" ENVIRONMENT "${MOJ_MIG_ENV}")
endforeach()
# the tools' command lines (no cluster needed)
add_test(NAME migrate_usage COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/t_usage.sh)
set_tests_properties(migrate_usage PROPERTIES LABELS migrate TIMEOUT 60 PASS_REGULAR_EXPRESSION "PASS migrate_usage"
  FAIL_REGULAR_EXPRESSION "FAIL" ENVIRONMENT "${MOJ_MIG_ENV}")
