# migrate/fuzz/fuzz.cmake — the libFuzzer target fuzz_image (fuzz_image.c +
# image_*.c + the SHA-256 of runtime/dsm/proto.c) and its bounded ctest run.
# libFuzzer needs clang and its runtime (clang-16 + libclang-rt-16-dev from
# scripts/deps.sh) while the default build uses whatever CC is (gcc on Debian),
# so clang is invoked directly through a custom command, after a configure-time
# probe that it can link -fsanitize=fuzzer; without it the target is skipped.
find_program(MOJ_FUZZ_CC NAMES clang-${MOJ_LLVM_MAJOR} clang)
set(MOJ_FUZZ_FLAGS -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer -Wall -Wextra -D_GNU_SOURCE)
if(MOJ_FUZZ_CC AND NOT DEFINED MOJ_FUZZ_WORKS)
  set(_probe ${CMAKE_BINARY_DIR}/CMakeFiles/fuzz_probe)
  file(WRITE ${_probe}.c "#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n")
  execute_process(COMMAND ${MOJ_FUZZ_CC} ${MOJ_FUZZ_FLAGS} ${_probe}.c -o ${_probe}
                  RESULT_VARIABLE _probe_rc OUTPUT_QUIET ERROR_QUIET)
  if(_probe_rc EQUAL 0)
    set(MOJ_FUZZ_WORKS ON CACHE INTERNAL "clang links -fsanitize=fuzzer")
  else()
    set(MOJ_FUZZ_WORKS OFF CACHE INTERNAL "clang links -fsanitize=fuzzer")
  endif()
endif()

if(MOJ_FUZZ_WORKS)
  set(_fz_out ${CMAKE_BINARY_DIR}/bin/fuzz_image)
  set(_fz_src ${CMAKE_CURRENT_LIST_DIR}/fuzz_image.c ${MOJ_IMAGE_SOURCES}
      ${PROJECT_SOURCE_DIR}/runtime/dsm/proto.c)
  add_custom_command(OUTPUT ${_fz_out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/bin
    COMMAND ${MOJ_FUZZ_CC} ${MOJ_FUZZ_FLAGS} -I${CMAKE_CURRENT_SOURCE_DIR} -I${PROJECT_SOURCE_DIR}/runtime/dsm
            ${_fz_src} ${ZSTD_LIB} ${CRYPTO_LIB} -o ${_fz_out}
    DEPENDS ${_fz_src} ${CMAKE_CURRENT_SOURCE_DIR}/image.h ${CMAKE_CURRENT_LIST_DIR}/image_envelope.h ${PROJECT_SOURCE_DIR}/runtime/dsm/proto.h
    COMMENT "Building libFuzzer target fuzz_image with ${MOJ_FUZZ_CC}" VERBATIM)
  add_custom_target(fuzz_image ALL DEPENDS ${_fz_out})
  # Bounded by a run count (and a fixed seed), never by time.
  add_test(NAME fuzz_image_short
    COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/fuzz-image.sh --runs 30000
            --fuzzer ${_fz_out} --tool $<TARGET_FILE:mojave-image>)
  set_tests_properties(fuzz_image_short PROPERTIES LABELS "migrate;fuzz" TIMEOUT 300)
else()
  message(STATUS "fuzz_image: no clang that links -fsanitize=fuzzer (clang-16 + libclang-rt-16-dev); target skipped")
endif()
