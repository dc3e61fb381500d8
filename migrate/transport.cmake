# migrate/transport.cmake — the migration transport: the shipping client and
# control socket inside libmojave (ship.c, ctl.c, wire.c), the per-host daemon
# mojaved and the launcher mojave-run.  Included by migrate/CMakeLists.txt.
set(MOJ_DSM_DIR ${PROJECT_SOURCE_DIR}/runtime/dsm)
# wire.c needs the DSM's framing/handshake helpers (proto.c, cluster.c),
# which libmojave already carries through the DSM client objects.
list(APPEND MOJ_MIGRATE_RT_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/ship.c
  ${CMAKE_CURRENT_SOURCE_DIR}/ctl.c
  ${CMAKE_CURRENT_SOURCE_DIR}/wire.c)

set(MOJ_TRANSPORT_TOOL_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/wire.c ${MOJ_DSM_DIR}/proto.c ${MOJ_DSM_DIR}/cluster.c)
add_executable(mojaved ${CMAKE_CURRENT_SOURCE_DIR}/mojaved.c ${CMAKE_CURRENT_SOURCE_DIR}/mojaved_cache.c
  ${CMAKE_CURRENT_SOURCE_DIR}/mojaved_job.c
  ${MOJ_TRANSPORT_TOOL_SOURCES})
add_executable(mojave-run ${CMAKE_CURRENT_SOURCE_DIR}/mojave_run.c ${MOJ_TRANSPORT_TOOL_SOURCES})
# mojaved decompresses the zstd bitcode records of IR mode (mojaved_cache.c)
target_link_libraries(mojaved PRIVATE ${ZSTD_LIB})
foreach(t mojaved mojave-run)
  target_compile_definitions(${t} PRIVATE _GNU_SOURCE MOJ_VERSION_STRING="${PROJECT_VERSION}")
  target_include_directories(${t} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${MOJ_DSM_DIR})
  target_link_libraries(${t} PRIVATE ${CRYPTO_LIB})
endforeach()
install(TARGETS mojaved mojave-run RUNTIME DESTINATION bin)
