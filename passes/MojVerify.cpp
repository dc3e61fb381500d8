//===- MojVerify.cpp - moj-verify: refuse bitcode that is not mojave's ----===//
//
// IR migration recompiles shipped bitcode at the destination; before it runs
// there, the module must be sound and fully instrumented, or it is refused:
//   * the LLVM verifier accepts it;
//   * it carries the `mojave.instrumented` module flag (set by mojcc's
//     pipeline), and every function it defines lives in the instrumented
//     text section `moj_text` (mojcc places each one there), except the
//     pass-generated constructors and the migration symbol registry's;
//   * it was built for this ABI (references the version-mismatch symbol).
// A failure is a fatal error naming the module and the reason, so clang
// exits non-zero and mojaved reports "IR compile failed at HOST: ...".
// mojaved sets MOJCC_REQUIRE_INSTRUMENTED=1 for its compiles, which makes
// mojcc's pipeline run this pass instead of instrumenting (MojPlugin.cpp).
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/IR/Verifier.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/raw_ostream.h"

#include "mojave/abi.h"

using namespace llvm;

#define MOJ_STR2(x) #x
#define MOJ_STR(x) MOJ_STR2(x)

namespace moj {

static void refuse(const Module &M, const Twine &Why) {
  report_fatal_error(Twine("mojave: refusing bitcode module '") + M.getSourceFileName() +
                         "': " + Why,
                     /*GenCrashDiag=*/false);
}

PreservedAnalyses MojVerifyPass::run(Module &M, ModuleAnalysisManager &) {
  std::string Msg;
  raw_string_ostream OS(Msg);
  if (verifyModule(M, &OS)) {
    OS.flush();
    refuse(M, "it fails the LLVM verifier: " + StringRef(Msg).split('\n').first);
  }
  if (!M.getModuleFlag(InstrumentedFlag))
    refuse(M, "it was not instrumented by mojcc (no mojave.instrumented flag)");
  bool Defines = false;
  for (Function &F : M) {
    if (F.isDeclaration())
      continue;
    Defines = true;
    StringRef N = F.getName();
    if (N.startswith("__moj_") || N == "main") // generated: ctors, dtors, main's wrapper
      continue;
    if (F.getSection() != MOJ_CC_TEXT_SECTION)
      refuse(M, "function '" + N + "' is not in the instrumented text section");
  }
  if (Defines && !M.getFunction(MOJ_STR(MOJ_ABI_VERSION_SYMBOL)))
    refuse(M, "it does not reference " MOJ_STR(MOJ_ABI_VERSION_SYMBOL) " (another ABI version)");
  return PreservedAnalyses::all();
}

} // namespace moj
