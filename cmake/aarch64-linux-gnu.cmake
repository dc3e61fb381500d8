# cmake/aarch64-linux-gnu.cmake — toolchain file for the aarch64 runtime build
# (scripts/build-aarch64.sh): clang cross-compiles against Debian's multiarch
# :arm64 packages (scripts/deps.sh), so headers and libraries of the target live
# in the host's own /usr/include/aarch64-linux-gnu and /usr/lib/aarch64-linux-gnu
# and no separate sysroot exists.  The programs run under qemu-aarch64-static.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(MOJ_CROSS_TRIPLE aarch64-linux-gnu)

if(NOT DEFINED MOJ_LLVM_MAJOR)
  set(MOJ_LLVM_MAJOR 16)
endif()
set(CMAKE_C_COMPILER clang-${MOJ_LLVM_MAJOR})
set(CMAKE_CXX_COMPILER clang++-${MOJ_LLVM_MAJOR})
set(CMAKE_ASM_COMPILER clang-${MOJ_LLVM_MAJOR})
set(CMAKE_C_COMPILER_TARGET ${MOJ_CROSS_TRIPLE})
set(CMAKE_CXX_COMPILER_TARGET ${MOJ_CROSS_TRIPLE})
set(CMAKE_ASM_COMPILER_TARGET ${MOJ_CROSS_TRIPLE})

# Only the target's multiarch directories: a host library of the same name
# must never satisfy a find_library.
set(CMAKE_LIBRARY_ARCHITECTURE ${MOJ_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_PREFIX_PATH /usr/lib/${MOJ_CROSS_TRIPLE})
set(CMAKE_LIBRARY_PATH /usr/lib/${MOJ_CROSS_TRIPLE})
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu)

# How ctest and the build run target programs.
find_program(MOJ_QEMU_AARCH64 qemu-aarch64-static)
if(MOJ_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MOJ_QEMU_AARCH64})
endif()
