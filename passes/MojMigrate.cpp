//===- MojMigrate.cpp - moj-migrate: migration points and portable frames -===//
//
// Makes the stack capturable in IR terms, after Binaryen's Asyncify:
//
//  * Migration points: a poll (`if (__moj_mig_req) __moj_mig_poll()`) on every
//    loop back-edge and at the entry of self-recursive functions, plus calls
//    to moj_migrate().  A function "may migrate" when it polls, calls
//    moj_migrate, calls through a pointer or calls code outside this module
//    that is not a known C library function, or calls a function of this
//    module that may migrate (fixpoint over the call graph).
//  * Unwind: after each call that may migrate ("site"), one load and an
//    unlikely branch: when the runtime is unwinding, the frame saves its live
//    values (typed slots) and the addresses of its stack objects in a record
//    (__moj_mig_push / __moj_mig_saved) and returns.
//  * Rewind: at entry, when the runtime is rewinding, the frame takes its
//    record (__moj_mig_pop), reports where its stack objects now live
//    (__moj_mig_entered, which restores their bytes and re-points addresses),
//    reloads its live values and jumps straight to the site it was in.
//  * main is renamed main.body and wrapped in a `main` that calls it
//    again after an unwind the runtime could not complete (the source carries
//    on) and hands finished unwinds to the runtime (__moj_mig_unwound).
//  * Every module registers its globals, functions and string literals under
//    stable names (__moj_mig_register), so addresses travel as symbols.
//
// Live values are found the simple, robust way: every SSA value used outside
// its block is demoted to a stack slot (sites begin and end blocks, so every
// value live across a site is among them), the rewind/unwind edges are added
// on the slots, and the slots are promoted back to SSA (mem2reg).  The normal
// path keeps its registers; only the rare paths touch memory.
//
// This file: which functions may migrate, the polls, the pass's driver.
// The frames' paths are in MojMigrateFrames.cpp, the module-wide parts in
// MojMigrateModule.cpp (MojMigrate.h).
//===----------------------------------------------------------------------===//
#include "MojMigrate.h"

#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/PostOrderIterator.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Analysis/AssumptionCache.h"
#include "llvm/Analysis/CFG.h"
#include "llvm/Analysis/LoopInfo.h"
#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DataLayout.h"
#include "llvm/IR/CFG.h"
#include "llvm/IR/Dominators.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/Support/xxhash.h"
#include "llvm/Transforms/Utils/BasicBlockUtils.h"
#include "llvm/Transforms/Utils/Local.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"
#include "llvm/Transforms/Utils/PromoteMemToReg.h"

#include <cstdlib>

#include "mojave/migrate_abi.h"

using namespace llvm;

namespace moj {
namespace mig {

bool isMigrateEntry(StringRef N) {
  return N == MOJ_MIG_POLL || N == "moj_migrate";
}

// A call that may lead to a migration point.
bool Migrate::isSiteCallee(const CallBase &CB) const {
  if (CB.isInlineAsm())
    return false;
  Function *F = CB.getCalledFunction();
  if (!F)
    return true; // through a pointer: anything may run
  if (F->isIntrinsic())
    return false;
  StringRef N = F->getName();
  if (isMigrateEntry(N))
    return true;
  if (isRuntimeFunction(N) || isSetjmp(N) || isLongjmp(N))
    return false; // (setjmp returns twice, but never from a migration point)
  if (F->isDeclaration()) {
    auto &TLI = FAM.getResult<TargetLibraryAnalysis>(
        *const_cast<Function *>(CB.getFunction()));
    // libc cannot reach a migration point except through a callback, and a
    // poll in a callback finds libc's frame on the stack and waits.
    return !isKnownLibraryFunction(*F, TLI);
  }
  return MayMigrate.count(F);
}

bool Migrate::supported(Function &F) const {
  for (Instruction &I : instructions(F)) {
    if (auto *AI = dyn_cast<AllocaInst>(&I)) {
      if (!AI->isStaticAlloca())
        return false; // VLAs and alloca(): frame size unknown to the record
      continue;
    }
    if (isa<InvokeInst>(I) || isa<CallBrInst>(I))
      return false;
    if (auto *CB = dyn_cast<CallBase>(&I)) {
      // setjmp's frame is captured, its buffer re-created by the rewind
      // (MojMigrateSetjmp.cpp); other returns_twice calls are not.
      if ((CB->hasFnAttr(Attribute::ReturnsTwice) && !capturableSetjmp(*CB)) ||
          CB->isMustTailCall())
        return false;
      if (auto *II = dyn_cast<IntrinsicInst>(CB))
        if (II->getIntrinsicID() == Intrinsic::vastart ||
            II->getIntrinsicID() == Intrinsic::stacksave ||
            II->getIntrinsicID() == Intrinsic::eh_sjlj_setjmp)
          return false;
    }
    if (I.getType()->isTokenTy())
      return false;
  }
  return true;
}

void Migrate::classify() {
  // Seeds: functions with loops, self recursion, pointer calls, calls out of
  // the module (other than to C library functions) and explicit migrations.
  for (Function &F : M) {
    if (F.isDeclaration() || isRuntimeFunction(F.getName()) || Generated.count(&F))
      continue;
    SmallVector<std::pair<const BasicBlock *, const BasicBlock *>, 8> BE;
    FindFunctionBackedges(F, BE);
    bool Seed = !BE.empty();
    for (Instruction &I : instructions(F))
      if (auto *CB = dyn_cast<CallBase>(&I)) {
        Function *Callee = CB->getCalledFunction();
        if (Callee == &F || (Callee && Callee->isDeclaration() && isSiteCallee(*CB)) ||
            (!Callee && !CB->isInlineAsm()))
          Seed = true;
      }
    if (Seed)
      MayMigrate.insert(&F);
  }
  for (bool Changed = true; Changed;) {
    Changed = false;
    for (Function &F : M) {
      if (F.isDeclaration() || MayMigrate.count(&F) || isRuntimeFunction(F.getName()) ||
          Generated.count(&F))
        continue;
      for (Instruction &I : instructions(F))
        if (auto *CB = dyn_cast<CallBase>(&I))
          if (Function *C = CB->getCalledFunction())
            if (!C->isDeclaration() && MayMigrate.count(C)) {
              MayMigrate.insert(&F);
              Changed = true;
              break;
            }
    }
  }
  for (Function *F : MayMigrate)
    if (!supported(*F))
      Unsupported.insert(F);
}

// An innermost loop without calls, nested in another loop of the function,
// runs for a bounded stretch between two polls of its parent: its own poll
// would cost more (it is the hottest code) than the latency it saves.
static bool needsPoll(const Loop *L) {
  if (!L || !L->getParentLoop() || !L->isInnermost())
    return true;
  for (BasicBlock *BB : L->blocks())
    for (Instruction &I : *BB)
      if (auto *CB = dyn_cast<CallBase>(&I))
        if (!isa<IntrinsicInst>(CB))
          return true;
  return false;
}

// if (__moj_mig_req) __moj_mig_poll();  at the top of every loop header
// (after its phis) and, for self-recursive functions, at entry.  A header
// poll resumes at the header itself: nothing of the iteration has run before
// it, and entering a loop through its header keeps the loop reducible (an
// edge into the middle of a hot loop would cost more than the poll).  The
// runtime sets __moj_mig_req while rewinding so the header calls the poll.
void Migrate::insertPolls(Function &F, bool EntryPoll) {
  GlobalVariable *Req = extGlobal(MOJ_MIG_REQ);
  FunctionCallee Poll = rt(MOJ_MIG_POLL, Type::getVoidTy(Ctx), {});
  MDNode *Unlikely = MDBuilder(Ctx).createBranchWeights(1, 1 << 20);
  SmallVector<std::pair<Instruction *, bool>, 8> At;
  SmallVector<std::pair<const BasicBlock *, const BasicBlock *>, 8> BE;
  FindFunctionBackedges(F, BE);
  LoopInfo &LI = FAM.getResult<LoopAnalysis>(F);
  SmallPtrSet<const BasicBlock *, 8> Seen;
  for (auto &E : BE) {
    auto *H = const_cast<BasicBlock *>(E.second);
    if (!Seen.insert(H).second || !needsPoll(LI.getLoopFor(H)))
      continue;
    At.push_back({&*H->getFirstInsertionPt(), true});
  }
  if (EntryPoll) {
    Instruction *I = &*F.getEntryBlock().getFirstInsertionPt();
    while (isa<AllocaInst>(I)) // stack objects must stay in the entry block
      I = I->getNextNode();
    At.push_back({I, false});
  }
  for (auto &[Before, IsHeader] : At) {
    IRBuilder<> B(Before);
    LoadInst *L = B.CreateLoad(I32, Req, "mig.req");
    L->setVolatile(true);
    Value *C = B.CreateICmpNE(L, ConstantInt::get(I32, 0));
    Instruction *Then = SplitBlockAndInsertIfThen(C, Before, false, Unlikely);
    IRBuilder<> TB(Then);
    CallInst *P = TB.CreateCall(Poll);
    if (IsHeader)
      HeaderPoll[P] = L->getParent();
  }
}


bool Migrate::run() {
  bool HasDefs = false;
  for (Function &F : M)
    HasDefs |= !F.isDeclaration();
  if (!HasDefs)
    return false;
  Function *Main = M.getFunction("main");
  if (Main && !Main->isDeclaration() && Main->getFunctionType()->getNumParams() <= 3) {
    Main->setName(MainBody);
    wrapMain(Main);
  }
  classify();
  SmallVector<Function *, 32> ToDo;
  for (Function &F : M)
    if (MayMigrate.count(&F))
      ToDo.push_back(&F);
  for (Function *F : ToDo) {
    if (Unsupported.count(F)) {
      bracketUnsupported(*F);
      continue;
    }
    bool SelfRecursive = false;
    for (Instruction &I : instructions(*F))
      if (auto *CB = dyn_cast<CallBase>(&I))
        SelfRecursive |= CB->getCalledFunction() == F;
    insertPolls(*F, SelfRecursive);
    transform(*F);
  }
  registerSymbols();
  return true;
}

} // namespace mig

PreservedAnalyses MojMigratePass::run(Module &M, ModuleAnalysisManager &MAM) {
  // For measurements only: the program then cannot migrate.
  if (const char *Off = getenv("MOJCC_NO_MIGRATE"); Off && *Off && *Off != '0')
    return PreservedAnalyses::all();
  mig::Migrate Mig(M, MAM);
  return Mig.run() ? PreservedAnalyses::none() : PreservedAnalyses::all();
}

} // namespace moj
