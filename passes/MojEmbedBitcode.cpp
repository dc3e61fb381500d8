//===- MojEmbedBitcode.cpp - moj-embed-bc: the module's IR in the object --===//
//
// IR migration recompiles a program's code on the destination, so every
// object file carries its module's bitcode (as it runs: optimized and
// instrumented) in the section `.mojave.bc`.  The linker concatenates the
// sections of all objects; each record is
//
//   "MOJBC\0\0\1"  (8 bytes: magic, format version 1)
//   u64 size        (little endian, bytes of bitcode that follow)
//   bitcode         (size bytes), zero padding to a multiple of 8
//
// Not `.llvmbc` (clang's -fembed-bitcode): binutils' LLVMgold plugin treats
// objects with that section as IR objects, and an older plugin on the system
// then drops their symbols from `ar` indexes.
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"

using namespace llvm;

namespace moj {

PreservedAnalyses MojEmbedBitcodePass::run(Module &M, ModuleAnalysisManager &) {
  if (M.getNamedGlobal("__moj_embedded_bc"))
    return PreservedAnalyses::all();
  SmallVector<char, 0> BC;
  {
    raw_svector_ostream OS(BC);
    WriteBitcodeToFile(M, OS);
  }
  std::string Rec("MOJBC\0\0\1", 8);
  uint64_t Size = BC.size();
  for (int I = 0; I < 8; ++I)
    Rec.push_back(static_cast<char>((Size >> (8 * I)) & 0xff));
  Rec.append(BC.begin(), BC.end());
  while (Rec.size() % 8)
    Rec.push_back('\0');
  Constant *Data = ConstantDataArray::getString(M.getContext(), Rec, false);
  auto *GV = new GlobalVariable(M, Data->getType(), true,
                                GlobalValue::PrivateLinkage, Data,
                                "__moj_embedded_bc");
  GV->setSection(".mojave.bc");
  GV->setAlignment(Align(8));
  appendToCompilerUsed(M, {GV});
  return PreservedAnalyses::none();
}

} // namespace moj
