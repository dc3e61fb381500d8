//===- MojMigrateSetjmp.cpp - moj-migrate: frames that called setjmp ------===//
//
// moj-migrate's setjmp room (MojMigrate.cpp says what the pass does): a
// frame that called setjmp can be captured although its jmp_buf cannot
// travel.  A jmp_buf holds machine state (stack pointer, return address,
// callee-saved registers, some of them mangled with a per-process secret)
// that is valid only for that frame at that address in that process, and on
// another instruction set it does not even have the same layout.  But the
// rewind rebuilds the frame, and calling setjmp again on the same buffer in
// the rebuilt frame makes a jmp_buf that is valid there and leads to the
// same place.  So, per activation, each setjmp call site keeps in a slot of
// the record the buffer it last ran on (null: not run yet); the rewind,
// after reloading the frame's values and before going on to its site, calls
// each of those setjmps again.  0 (now) goes on with the rewind; nonzero (a
// later longjmp to the buffer) goes where the original call's nonzero
// return goes, with the value: both calls' results meet in a slot at the
// original continuation, and the values live there are restored with every
// site's (they are what a longjmp there reads).
//
// Only the buffer of each site's last run is re-created, and a site that
// runs on a buffer another site of the activation last ran on takes it over
// (the other's slot is cleared), so the re-created buffers are distinct and
// their order does not matter.  The buffer's own bytes are restored with
// the frame's stack objects (or with the heap and globals) before the
// re-call overwrites them.  Frames with other returns_twice calls (vfork,
// getcontext, spec_enter, setjmp through a pointer, __builtin_setjmp) and
// sigsetjmp with a computed savemask are still bracketed
// (MojMigrateModule.cpp).
//===----------------------------------------------------------------------===//
#include "MojMigrate.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/Transforms/Utils/BasicBlockUtils.h"

using namespace llvm;

namespace moj {
namespace mig {

// A direct call of the C library's setjmp family whose arguments the rewind
// can give again: the buffer (kept in a slot) and constants (sigsetjmp's
// savemask).
bool Migrate::capturableSetjmp(const CallBase &CB) const {
  const Function *F = CB.getCalledFunction();
  if (!isa<CallInst>(CB) || !F || !F->isDeclaration() || !isSetjmp(F->getName()) ||
      CB.arg_size() < 1 || !CB.getArgOperand(0)->getType()->isPointerTy() ||
      !CB.getType()->isIntegerTy())
    return false;
  for (unsigned K = 1; K < CB.arg_size(); ++K)
    if (!isa<Constant>(CB.getArgOperand(K)))
      return false;
  return true;
}

// Before demotion: each setjmp call stores its buffer in its slot (null at
// entry, InitAt) and its result in another, read where the result is used.
SmallVector<SetjmpSite, 2> Migrate::prepareSetjmps(Function &F, Instruction *InitAt,
                                                   SmallVectorImpl<AllocaInst *> &Slots) {
  SmallVector<SetjmpSite, 2> SJ;
  for (Instruction &I : instructions(F))
    if (auto *CB = dyn_cast<CallBase>(&I); CB && CB->hasFnAttr(Attribute::ReturnsTwice))
      SJ.push_back({CB, nullptr, nullptr, nullptr}); // all capturable: supported()
  BasicBlock &Entry = F.getEntryBlock();
  IRBuilder<> AB(&Entry, Entry.getFirstInsertionPt());
  Constant *Null = ConstantPointerNull::get(Ptr);
  for (SetjmpSite &S : SJ) {
    S.Buf = AB.CreateAlloca(Ptr, nullptr, "mig.sj.buf");
    S.Ret = AB.CreateAlloca(S.Call->getType(), nullptr, "mig.sj.ret");
    new StoreInst(Null, S.Buf, InitAt);
    Slots.push_back(S.Buf);
    Slots.push_back(S.Ret);
  }
  for (SetjmpSite &S : SJ) {
    IRBuilder<> B(S.Call);
    Value *Arg = S.Call->getArgOperand(0);
    for (SetjmpSite &O : SJ) // the same buffer: this run is the one to re-create
      if (O.Call != S.Call) {
        Value *Old = B.CreateLoad(Ptr, O.Buf);
        B.CreateStore(B.CreateSelect(B.CreateICmpEQ(Old, Arg), Null, Old), O.Buf);
      }
    B.CreateStore(Arg, S.Buf);
    SmallVector<Use *, 4> Uses;
    for (Use &U : S.Call->uses())
      Uses.push_back(&U);
    S.Cont = SplitBlock(S.Call->getParent(), S.Call->getNextNode(), (DominatorTree *)nullptr,
                        nullptr, nullptr, "mig.sj.cont");
    new StoreInst(S.Call, S.Ret, S.Call->getParent()->getTerminator());
    Value *R = new LoadInst(S.Call->getType(), S.Ret, "mig.sj.r", &*S.Cont->getFirstInsertionPt());
    for (Use *U : Uses)
      U->set(R);
  }
  return SJ;
}

// The rewind's path once the frame's values are back: each setjmp that ran
// is called again on its buffer; 0 goes on to the site being resumed
// (switch on Site), nonzero to the original call's continuation.  Returns
// the path's first block.
BasicBlock *Migrate::rewindSetjmps(Function &F, ArrayRef<SetjmpSite> SJ, Value *Site,
                                   ArrayRef<BasicBlock *> Resume, BasicBlock *Bad) {
  BasicBlock *Next = BasicBlock::Create(Ctx, "mig.sj.resume", &F);
  SwitchInst *Sw = IRBuilder<>(Next).CreateSwitch(Site, Bad, Resume.size());
  for (unsigned K = 0; K < Resume.size(); ++K)
    Sw->addCase(ConstantInt::get(cast<IntegerType>(I32), K), Resume[K]);
  for (const SetjmpSite &S : reverse(SJ)) {
    BasicBlock *Check = BasicBlock::Create(Ctx, "mig.sj.rewind", &F);
    BasicBlock *Again = BasicBlock::Create(Ctx, "mig.sj.again", &F);
    IRBuilder<> CB(Check);
    Value *Buf = CB.CreateLoad(Ptr, S.Buf, "mig.sj.buf");
    CB.CreateCondBr(CB.CreateICmpNE(Buf, ConstantPointerNull::get(Ptr)), Again, Next);
    IRBuilder<> AB(Again);
    SmallVector<Value *, 2> Args(S.Call->args());
    Args[0] = Buf;
    CallInst *R = AB.CreateCall(S.Call->getFunctionType(), S.Call->getCalledOperand(), Args);
    R->setAttributes(S.Call->getAttributes());
    R->setCallingConv(S.Call->getCallingConv());
    R->setDebugLoc(S.Call->getDebugLoc());
    AB.CreateStore(R, S.Ret);
    AB.CreateCondBr(AB.CreateICmpNE(R, ConstantInt::get(R->getType(), 0)), S.Cont, Next);
    Next = Check;
  }
  return Next;
}

} // namespace mig
} // namespace moj
