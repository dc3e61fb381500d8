# migrate/image.cmake — the checkpoint image (image_*.c, contract image.h):
# compiled into libmojave through MOJ_MIGRATE_RT_SOURCES, and into the static
# library mojave_image for the tools (it carries its own copy of the SHA-256
# from runtime/dsm/proto.c), the inspector mojave-image and the libFuzzer
# target (fuzz/fuzz.cmake).  Tests: tests/unit/test_image.c, tests/migrate/.
set(MOJ_IMAGE_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/image_check.c ${CMAKE_CURRENT_SOURCE_DIR}/image_encode.c
    ${CMAKE_CURRENT_SOURCE_DIR}/image_decode.c ${CMAKE_CURRENT_SOURCE_DIR}/image_print.c
    ${CMAKE_CURRENT_SOURCE_DIR}/image_abi.c)
list(APPEND MOJ_MIGRATE_RT_SOURCES ${MOJ_IMAGE_SOURCES})

add_library(mojave_image STATIC ${MOJ_IMAGE_SOURCES} ${PROJECT_SOURCE_DIR}/runtime/dsm/proto.c)
target_include_directories(mojave_image PUBLIC ${CMAKE_CURRENT_SOURCE_DIR} PRIVATE ${PROJECT_SOURCE_DIR}/runtime/dsm)
target_compile_definitions(mojave_image PRIVATE _GNU_SOURCE)
target_link_libraries(mojave_image PUBLIC ${ZSTD_LIB} ${CRYPTO_LIB})

add_executable(mojave-image ${CMAKE_CURRENT_SOURCE_DIR}/mojave_image.c)
target_link_libraries(mojave-image PRIVATE mojave_image)
target_compile_definitions(mojave-image PRIVATE _GNU_SOURCE MOJ_VERSION="${PROJECT_VERSION}")
install(TARGETS mojave-image RUNTIME DESTINATION bin)

if(MOJ_BUILD_TESTS)   # the fuzz target is a test (MOJ_BUILD_TESTS=OFF skips it)
  include(${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz.cmake)
endif()
