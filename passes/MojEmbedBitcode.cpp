//===- MojEmbedBitcode.cpp - moj-embed-bc: the module's IR in the object --===//
//
// IR migration recompiles a program's code on the destination, so every
// object file carries its module's bitcode (as it runs: optimized and
// instrumented) in the section `.mojave.bc`.  The linker concatenates the
// sections of all objects; each record is (docs/mojcc.md)
//
//   "MOJBC\0\0\2"  (8 bytes: magic, format version 2)
//   u64 size        (little endian, bytes of the zstd frame that follow)
//   u64 raw size    (little endian, bytes of bitcode the frame holds)
//   zstd frame      (size bytes), zero padding to a multiple of 8
//
// The section is not allocatable (no SHF_ALLOC): the linker keeps it in the
// file, after the loaded segments, so no process maps it; only migration
// reads it, from the file's section headers (migrate/ship.c).  LLVM gives a
// global with an explicit section SHF_ALLOC unless the name is one of its
// own (`.llvmbc`, coverage sections), and SHF_EXCLUDE (`!exclude`) would make
// the linker drop it — so the record is emitted as module-level assembly,
// `.section .mojave.bc,""` (no flags), with the bytes as `.ascii`.
//
// Not `.llvmbc` (clang's -fembed-bitcode): binutils' LLVMgold plugin treats
// objects with that section as IR objects, and an older plugin on the system
// then drops their symbols from `ar` indexes.
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/raw_ostream.h"

#include <zstd.h>

using namespace llvm;

namespace moj {

// Marks a module whose record is already in its module asm (the pass is
// idempotent: `opt -passes=moj-embed-bc` on clang's output must not add a
// second record).
static constexpr const char *SectionDirective = ".pushsection .mojave.bc,\"\",%progbits";

// zstd level: the knee of size against time.  On Lua's one-file build
// (4.5 MB of bitcode) level 19 took 1.68 s (~13% of the whole mojcc -O2
// compile) for a 2.12 MB frame, level 9 0.11 s for 2.33 MB (+10%), level 3
// 0.01 s for 2.53 MB; above 9 the time grows much faster than the frame
// shrinks (docs/performance.md, "Compile time").  The section is not loaded,
// so its size costs disk and IR-migration transfer only.
static constexpr int ZstdLevel = 9;

static void putU64(std::string &S, uint64_t V) {
  for (int I = 0; I < 8; ++I)
    S.push_back(static_cast<char>((V >> (8 * I)) & 0xff));
}

PreservedAnalyses MojEmbedBitcodePass::run(Module &M, ModuleAnalysisManager &) {
  if (M.getModuleInlineAsm().find(SectionDirective) != std::string::npos)
    return PreservedAnalyses::all();
  SmallVector<char, 0> BC;
  {
    raw_svector_ostream OS(BC);
    WriteBitcodeToFile(M, OS);
  }
  std::string Z(ZSTD_compressBound(BC.size()), '\0');
  size_t ZLen = ZSTD_compress(Z.data(), Z.size(), BC.data(), BC.size(), ZstdLevel);
  if (ZSTD_isError(ZLen))
    report_fatal_error(Twine("mojave: cannot compress the bitcode of '") +
                           M.getSourceFileName() + "': " + ZSTD_getErrorName(ZLen),
                       /*GenCrashDiag=*/false);
  Z.resize(ZLen);

  std::string Rec("MOJBC\0\0\2", 8);
  putU64(Rec, ZLen);
  putU64(Rec, BC.size());
  Rec += Z;
  while (Rec.size() % 8)
    Rec.push_back('\0');

  // .ascii with octal escapes for everything but plain printable characters
  // (both LLVM's assembler and gas read them; -S output stays valid).
  std::string Asm;
  raw_string_ostream OS(Asm);
  OS << SectionDirective << "\n.p2align 3\n";
  constexpr size_t Line = 96;
  for (size_t At = 0; At < Rec.size(); At += Line) {
    OS << ".ascii \"";
    for (size_t I = At; I < Rec.size() && I < At + Line; ++I) {
      unsigned char C = static_cast<unsigned char>(Rec[I]);
      if (C >= 0x20 && C < 0x7f && C != '"' && C != '\\')
        OS << static_cast<char>(C);
      else
        OS << '\\' << static_cast<char>('0' + (C >> 6)) << static_cast<char>('0' + ((C >> 3) & 7))
           << static_cast<char>('0' + (C & 7));
    }
    OS << "\"\n";
  }
  OS << ".popsection";
  OS.flush();
  M.appendModuleInlineAsm(Asm);
  return PreservedAnalyses::none();
}

} // namespace moj
