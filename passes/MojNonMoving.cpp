//===- MojNonMoving.cpp - moj-nonmoving: functions that never move objects ===//
//
// A cached translation must not survive a call that may copy (copy-on-write),
// move (realloc) or free a managed object.  Most calls can, but many
// non-inlined helpers only read managed memory (comparators, getters,
// recursive walks like `check(tree)`): a call to them leaves every
// translation valid.  This pass marks such functions with the string
// attribute "mojave-nonmoving"; moj-translate then treats calls to them like
// calls to plain libc functions (translations reused, loops still hoisted).
//
// A defined function is non-moving when it contains no write through a
// possibly-managed address (it would get a barrier), no write-translation
// marker (arguments handed to libc for writing), and calls only intrinsics,
// read markers, harmless C library functions and other non-moving functions
// of this module.  Computed as a greatest fixpoint, so read-only recursion
// qualifies.  Runs after moj-extcall and before moj-translate.
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"

using namespace llvm;

namespace moj {

namespace {

bool writesManagedMemory(Instruction &I) {
  auto MayBeHandle = [](Value *P) { return !isProvablyRaw(getRoot(P)); };
  if (auto *S = dyn_cast<StoreInst>(&I))
    return MayBeHandle(S->getPointerOperand());
  if (auto *A = dyn_cast<AtomicRMWInst>(&I))
    return MayBeHandle(A->getPointerOperand());
  if (auto *C = dyn_cast<AtomicCmpXchgInst>(&I))
    return MayBeHandle(C->getPointerOperand());
  if (auto *MI = dyn_cast<AnyMemIntrinsic>(&I))
    return MayBeHandle(MI->getRawDest());
  if (auto *II = dyn_cast<IntrinsicInst>(&I)) {
    switch (II->getIntrinsicID()) {
    case Intrinsic::vastart:
    case Intrinsic::vacopy:
    case Intrinsic::masked_store:
    case Intrinsic::masked_scatter:
    case Intrinsic::masked_compressstore:
      return true;
    default:
      return false;
    }
  }
  return false;
}

} // namespace

PreservedAnalyses MojNonMovingPass::run(Module &M, ModuleAnalysisManager &MAM) {
  auto &FAM = MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();
  SmallPtrSet<Function *, 32> Candidates;
  for (Function &F : M)
    if (!F.isDeclaration() && !F.hasFnAttribute(Attribute::ReturnsTwice))
      Candidates.insert(&F);
  // Greatest fixpoint: drop a candidate as soon as it can move something,
  // assuming the remaining candidates cannot.
  bool Changed = true;
  while (Changed) {
    Changed = false;
    for (Function &F : M) {
      if (!Candidates.count(&F))
        continue;
      const TargetLibraryInfo &TLI = FAM.getResult<TargetLibraryAnalysis>(F);
      bool Moving = false;
      for (Instruction &I : instructions(F)) {
        if (writesManagedMemory(I)) {
          Moving = true;
          break;
        }
        auto *CB = dyn_cast<CallBase>(&I);
        if (!CB || isa<IntrinsicInst>(CB))
          continue;
        Function *Callee = CB->getCalledFunction();
        if (Callee && Candidates.count(Callee))
          continue;
        if (!isHarmlessCall(*CB, TLI)) {
          Moving = true;
          break;
        }
      }
      if (Moving) {
        Candidates.erase(&F);
        Changed = true;
      }
    }
  }
  for (Function *F : Candidates)
    F->addFnAttr("mojave-nonmoving");
  return Candidates.empty() ? PreservedAnalyses::all()
                            : PreservedAnalyses::none();
}

} // namespace moj
