//===- MojDiagnose.cpp - moj-diagnose: warn about pointer bits mojave loses ===//
//
// A handle keeps its meaning through any arithmetic that C pointer
// arithmetic, (uintptr_t) round trips or even XOR tricks do, because every
// bit comes back.  What breaks it is code that *drops* high bits of a pointer
// and rebuilds a pointer from the rest: masking the top bits off (pointer
// tagging in bits 48..63), shifting a pointer right/left (pointer
// compression), truncating it to 32 bits.  Such an integer flowing into an
// inttoptr is reported at compile time; the code is left unchanged (a raw
// pointer still works, a handle would be corrupted).
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/Operator.h"

using namespace llvm;

namespace moj {

namespace {

// True when V (an integer) is derived from a ptrtoint through an operation
// that loses the handle's tag or index bits.
bool losesPointerBits(Value *V, unsigned Depth = 0) {
  if (Depth > 6)
    return false;
  auto *I = dyn_cast<Instruction>(V);
  if (!I)
    return false;
  auto FromPointer = [&](Value *X) {
    for (unsigned D = 0; D < 6; ++D) {
      if (isa<PtrToIntOperator>(X))
        return true;
      auto *B = dyn_cast<BinaryOperator>(X);
      if (!B)
        return false;
      X = B->getOperand(0);
    }
    return false;
  };
  switch (I->getOpcode()) {
  case Instruction::And:
    if (auto *C = dyn_cast<ConstantInt>(I->getOperand(1)))
      // Clearing bit 63 (the tag) while keeping other high bits.
      return !C->getValue().isNegative() && C->getValue().getActiveBits() > 32 &&
             FromPointer(I->getOperand(0));
    return false;
  case Instruction::LShr:
  case Instruction::AShr:
  case Instruction::Shl:
    return FromPointer(I->getOperand(0));
  case Instruction::ZExt:
  case Instruction::SExt:
    // A pointer squeezed into 32 bits and widened again.
    if (auto *T = dyn_cast<TruncInst>(I->getOperand(0)))
      return T->getSrcTy()->getIntegerBitWidth() == 64 &&
             T->getDestTy()->getIntegerBitWidth() <= 32 &&
             FromPointer(T->getOperand(0));
    return false;
  case Instruction::Or:
  case Instruction::Add:
  case Instruction::Sub:
  case Instruction::Xor:
    // Only a pointer re-tagged with a constant (`(p & mask) | TAG`); a
    // variable base plus bits of a pointer (`table + (p >> 32) * 16`, as
    // mojave's own inline fast path does) is an index computation.
    if (isa<Constant>(I->getOperand(1)))
      return losesPointerBits(I->getOperand(0), Depth + 1);
    if (isa<Constant>(I->getOperand(0)))
      return losesPointerBits(I->getOperand(1), Depth + 1);
    return false;
  default:
    return false;
  }
}

} // namespace

PreservedAnalyses MojDiagnosePass::run(Function &F, FunctionAnalysisManager &) {
  for (BasicBlock &BB : F)
    for (Instruction &I : BB)
      if (auto *ITP = dyn_cast<IntToPtrInst>(&I))
        if (losesPointerBits(ITP->getOperand(0)))
          warn(*F.getParent(), ITP,
               "mojcc: a pointer is rebuilt from an integer whose high bits "
               "were masked, shifted or truncated away; if it was a managed "
               "(heap) pointer, its mojave handle is lost");
  return PreservedAnalyses::all();
}

} // namespace moj
