//===- MojPlugin.cpp - registration of the mojcc passes -------------------===//
//
// Entry point of MojavePasses.so.  Registers
//   * each pass by name for `opt -load-pass-plugin=MojavePasses.so
//     -passes=moj-diagnose|moj-forward-locals|moj-alloc|moj-extcall|moj-nonmoving|moj-translate|moj-translate-nohoist|
//     moj-lower|moj-lower-O0|moj-embed-bc|moj-isa-report|moj-retarget|
//     moj-instrument|moj-instrument-O0`
//   * the whole pipeline at clang's optimizer-last extension point, so it
//     sees the code after all of clang's optimizations (vectorized loops,
//     inlined callees) and nothing re-optimizes around its barriers except
//     the backend.  The pipeline is idempotent (a module flag marks
//     instrumented modules), which matters when bitcode is compiled again.
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/IR/Constants.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Passes/PassPlugin.h"
#include "llvm/Support/TimeProfiler.h"

#include <cstdlib>

using namespace llvm;

namespace moj {

struct MojInstrumentPass : PassInfoMixin<MojInstrumentPass> {
  explicit MojInstrumentPass(bool Hoist, bool Embed = false)
      : Hoist(Hoist), Embed(Embed) {}
  PreservedAnalyses run(Module &M, ModuleAnalysisManager &MAM) {
    // Bitcode shipped for IR migration (mojaved sets this): verify, never
    // instrument — a module that is not mojave's is refused.
    if (const char *R = getenv("MOJCC_REQUIRE_INSTRUMENTED"); R && *R && *R != '0')
      return MojVerifyPass().run(M, MAM);
    if (M.getModuleFlag(InstrumentedFlag))
      return PreservedAnalyses::all();
    // The passes run directly, not through a nested pass manager: a nested
    // one's pass-instrumentation callbacks crash clang's -ftime-report
    // (TimePassesHandler) once this pass ends.  Each keeps its own entry in
    // -ftime-trace.
    auto RunM = [&](auto &&P) {
      TimeTraceScope S(P.name());
      MAM.invalidate(M, P.run(M, MAM));
    };
    auto RunF = [&](auto &&P) {
      TimeTraceScope S(P.name());
      auto &FAM = MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();
      for (Function &F : M)
        if (!F.isDeclaration())
          FAM.invalidate(F, P.run(F, FAM));
    };
    if (!Hoist) // -O0: reloads of a local share one translation
      RunF(MojForwardLocalsPass());
    RunM(MojGlobalsPass());
    RunF(MojDiagnosePass());
    RunM(MojAllocPass());
    RunM(MojExternalCallPass());
    RunM(MojNonMovingPass());
    RunF(MojTranslatePass(Hoist));
    RunM(MojLowerPass(/*OutOfLine=*/!Hoist));
    RunM(MojMigratePass());
    M.addModuleFlag(Module::Warning, InstrumentedFlag, 1);
    if (Embed) {
      RunM(MojIsaReportPass());
      RunM(MojEmbedBitcodePass());
    }
    return PreservedAnalyses::none();
  }
  static bool isRequired() { return true; }
  bool Hoist, Embed;
};

} // namespace moj

using namespace moj;

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo llvmGetPassPluginInfo() {
  return {LLVM_PLUGIN_API_VERSION, "MojavePasses", "0.1", [](PassBuilder &PB) {
            PB.registerPipelineParsingCallback(
                [](StringRef Name, ModulePassManager &MPM,
                   ArrayRef<PassBuilder::PipelineElement>) {
                  if (Name == "moj-alloc")
                    MPM.addPass(MojAllocPass());
                  else if (Name == "moj-globals")
                    MPM.addPass(MojGlobalsPass());
                  else if (Name == "moj-extcall")
                    MPM.addPass(MojExternalCallPass());
                  else if (Name == "moj-lower")
                    MPM.addPass(MojLowerPass());
                  else if (Name == "moj-lower-O0")
                    MPM.addPass(MojLowerPass(/*OutOfLine=*/true));
                  else if (Name == "moj-nonmoving")
                    MPM.addPass(MojNonMovingPass());
                  else if (Name == "moj-verify")
                    MPM.addPass(MojVerifyPass());
                  else if (Name == "moj-migrate")
                    MPM.addPass(MojMigratePass());
                  else if (Name == "moj-isa-report")
                    MPM.addPass(MojIsaReportPass());
                  else if (Name == "moj-retarget")
                    MPM.addPass(MojRetargetPass());
                  else if (Name == "moj-embed-bc")
                    MPM.addPass(MojEmbedBitcodePass());
                  else if (Name == "moj-instrument")
                    MPM.addPass(MojInstrumentPass(true));
                  else if (Name == "moj-instrument-O0")
                    MPM.addPass(MojInstrumentPass(false));
                  else
                    return false;
                  return true;
                });
            PB.registerPipelineParsingCallback(
                [](StringRef Name, FunctionPassManager &FPM,
                   ArrayRef<PassBuilder::PipelineElement>) {
                  if (Name == "moj-translate")
                    FPM.addPass(MojTranslatePass(true));
                  else if (Name == "moj-diagnose")
                    FPM.addPass(MojDiagnosePass());
                  else if (Name == "moj-forward-locals")
                    FPM.addPass(MojForwardLocalsPass());
                  else if (Name == "moj-translate-nohoist")
                    FPM.addPass(MojTranslatePass(false));
                  else
                    return false;
                  return true;
                });
            // Shipped bitcode of another instruction set is converted
            // before clang's optimizer sees the source's target attributes.
            PB.registerPipelineStartEPCallback(
                [](ModulePassManager &MPM, OptimizationLevel) {
                  if (const char *R = getenv("MOJCC_REQUIRE_INSTRUMENTED"); R && *R && *R != '0')
                    MPM.addPass(MojRetargetPass());
                });
            PB.registerOptimizerLastEPCallback(
                [](ModulePassManager &MPM, OptimizationLevel Level) {
                  // Object files from clang carry their bitcode (migration).
                  MPM.addPass(MojInstrumentPass(Level != OptimizationLevel::O0,
                                                /*Embed=*/true));
                });
          }};
}
