//===- MojForwardLocals.cpp - moj-forward-locals: -O0 pointer reloads -----===//
//
// At -O0 clang keeps every local variable in its stack slot and reloads it at
// each use: `p->a = p->b` loads `p` twice.  moj-translate reuses a
// translation only for the same SSA root, so each reload was translated
// again — one call of the runtime's out-of-line entry per access, the bulk
// of what -O0 programs paid over clang -O0 (docs/performance.md, "Compile
// time and -O0 code").
//
// This pass, run by the -O0 pipeline only and before moj-translate, replaces
// a reload of a pointer-typed local by the value the slot already holds: the
// value last stored to it or loaded from it earlier on the same path.  Then
// the reloads share one root and moj-translate's cache serves them until a
// call that may move objects.  Only slots nothing else can write qualify:
// static allocas whose every use is a plain (non-volatile, non-atomic) load
// or store of a pointer *through* them — their address never escapes, so no
// call or store through another pointer changes them.  The value is carried
// down extended basic blocks (a block takes its single predecessor's state,
// in reverse post-order; joins start empty), which needs no phis and keeps
// the pass linear.
//
// -O0 is the debugging level: in functions with debug info a reload is
// replaced only by a value from the same source line (one statement), so a
// variable changed from the debugger between statements is still read back.
// Functions that call a returns-twice function (setjmp) are left alone.
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/PostOrderIterator.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/IR/CFG.h"
#include "llvm/IR/Instructions.h"

using namespace llvm;

namespace moj {

namespace {

// What a slot holds at a point: the value and the source line it came from
// (0 without debug info).
struct Held {
  Value *V;
  unsigned Line;
};
using State = DenseMap<AllocaInst *, Held>;

// A static alloca used only as the address of plain pointer loads and stores.
bool isPrivatePointerSlot(AllocaInst &AI) {
  if (!AI.isStaticAlloca() || !AI.getAllocatedType()->isPointerTy())
    return false;
  for (User *U : AI.users()) {
    if (auto *L = dyn_cast<LoadInst>(U)) {
      if (!L->isSimple() || L->getType() != AI.getAllocatedType())
        return false;
    } else if (auto *S = dyn_cast<StoreInst>(U)) {
      if (!S->isSimple() || S->getValueOperand() == &AI ||
          S->getValueOperand()->getType() != AI.getAllocatedType())
        return false;
    } else {
      return false;
    }
  }
  return true;
}

unsigned lineOf(const Instruction &I) {
  const DebugLoc &DL = I.getDebugLoc();
  return DL ? DL.getLine() : 0;
}

} // namespace

PreservedAnalyses MojForwardLocalsPass::run(Function &F, FunctionAnalysisManager &) {
  if (F.isDeclaration() || F.callsFunctionThatReturnsTwice())
    return PreservedAnalyses::all();
  SmallPtrSet<AllocaInst *, 16> Slots;
  for (Instruction &I : F.getEntryBlock())
    if (auto *AI = dyn_cast<AllocaInst>(&I); AI && isPrivatePointerSlot(*AI))
      Slots.insert(AI);
  if (Slots.empty())
    return PreservedAnalyses::all();
  bool Debug = F.getSubprogram() != nullptr;

  DenseMap<BasicBlock *, State> Out;
  SmallVector<LoadInst *, 32> Dead;
  for (BasicBlock *BB : ReversePostOrderTraversal<Function *>(&F)) {
    State S;
    // A single predecessor seen before in RPO dominates BB: its state holds.
    if (BasicBlock *P = BB->getSinglePredecessor(); P && Out.count(P))
      S = Out[P];
    for (Instruction &I : *BB) {
      if (auto *St = dyn_cast<StoreInst>(&I)) {
        if (auto *AI = dyn_cast<AllocaInst>(St->getPointerOperand()); AI && Slots.count(AI))
          S[AI] = {St->getValueOperand(), lineOf(I)};
      } else if (auto *L = dyn_cast<LoadInst>(&I)) {
        auto *AI = dyn_cast<AllocaInst>(L->getPointerOperand());
        if (!AI || !Slots.count(AI))
          continue;
        auto It = S.find(AI);
        if (It != S.end() && (!Debug || It->second.Line == lineOf(I))) {
          L->replaceAllUsesWith(It->second.V);
          Dead.push_back(L);
        } else {
          S[AI] = {L, lineOf(I)};
        }
      }
    }
    Out[BB] = std::move(S);
  }
  for (LoadInst *L : Dead)
    L->eraseFromParent();
  if (Dead.empty())
    return PreservedAnalyses::all();
  PreservedAnalyses PA;
  PA.preserveSet<CFGAnalyses>();
  return PA;
}

} // namespace moj
