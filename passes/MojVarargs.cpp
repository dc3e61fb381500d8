//===- MojVarargs.cpp - x86-64 variadic functions on another target --------===//
//
// clang lowers va_arg inline for the target's va_list, so x86-64 bitcode
// compiled for aarch64 reads System V's {gp_offset, fp_offset,
// overflow_arg_area, reg_save_area} while aarch64's va_start would fill
// AAPCS64's, and the variadic arguments sit in aarch64's registers.  The
// callee cannot rebuild System V's areas at va_start: it does not know the
// classes of its variadic arguments in order.  Every caller does (the types
// of its call's arguments), so moj-retarget makes each variadic call of the
// moved code lay out its arguments as an x86-64 caller would — the register
// save area (six 8-byte integer slots, eight 16-byte vector slots) and the
// overflow area after it — and leave the area's address in a thread-local
// word for the callee; each variadic function of the moved code takes the
// address at entry (before it can make a variadic call of its own) and its
// va_start points System V's va_list there.  The arguments are still passed
// the destination's way as well, so callees of other code (the C library's
// printf) are unaffected.  va_copy copies System V's 24 bytes, va_end goes.
//
// What this cannot do is refused by the report (MojPortable.cpp): variadic
// arguments or named parameters of a va_start function other than integers
// of up to 64 bits, pointers, float and double; a va_list handed to the C
// library (vprintf reads its own layout).
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"

using namespace llvm;

namespace moj {

namespace {

constexpr const char *AreaTLS = "__moj_sysv_va_area";
constexpr unsigned GPSlots = 6, FPSlots = 8, GPBytes = 8, FPBytes = 16;
constexpr unsigned RegSaveBytes = GPSlots * GPBytes + FPSlots * FPBytes; // 176

enum Class { GP, FP, Unsupported };

Class classOf(Type *T) {
  if (T->isPointerTy() || (T->isIntegerTy() && T->getIntegerBitWidth() <= 64))
    return GP;
  if (T->isFloatTy() || T->isDoubleTy())
    return FP;
  return Unsupported;
}

// Registers the named parameters take, as an x86-64 caller counts them.
std::pair<unsigned, unsigned> namedRegs(FunctionType *FT) {
  unsigned G = 0, F = 0;
  for (Type *T : FT->params()) {
    Class K = classOf(T);
    G += K == GP;
    F += K == FP;
  }
  return {std::min(G, GPSlots), std::min(F, FPSlots)};
}

bool isVarargCall(const CallBase &CB) {
  return CB.getFunctionType()->isVarArg() && !isa<IntrinsicInst>(CB) && !CB.isInlineAsm();
}

} // namespace

std::string sysvVarargProblem(const CallBase &CB) {
  if (!isVarargCall(CB))
    return "";
  for (unsigned A = CB.getFunctionType()->getNumParams(); A < CB.arg_size(); ++A)
    if (classOf(CB.getArgOperand(A)->getType()) == Unsupported || CB.isByValArgument(A)) {
      std::string S;
      raw_string_ostream OS(S);
      CB.getArgOperand(A)->getType()->print(OS);
      return "passes a variadic argument of type " + OS.str() +
             " (only integers, pointers and floating point are laid out for the x86-64 va_list)";
    }
  return "";
}

std::string sysvVaStartProblem(const Function &F) {
  for (const Argument &A : F.args())
    if (classOf(A.getType()) == Unsupported || A.hasByValAttr())
      return "uses va_start after a named parameter of another kind than integer, pointer or "
             "floating point";
  return "";
}

bool isVaListLibcall(StringRef N) {
  N.consume_front("__moj_cc_");
  N.consume_front("__isoc99_");
  while (N.consume_front("_"))
    ;
  if (N == "vsyslog" || N == "vwarn" || N == "vwarnx" || N == "verr" || N == "verrx" ||
      N == "obstack_vprintf")
    return true;
  N.consume_back("_chk");
  return N.startswith("v") && (N.endswith("printf") || N.endswith("scanf"));
}

void convertSysVVarargs(Module &M) {
  LLVMContext &C = M.getContext();
  auto *PtrTy = PointerType::getUnqual(C);
  auto *I8 = Type::getInt8Ty(C), *I32 = Type::getInt32Ty(C);
  GlobalVariable *Area = M.getNamedGlobal(AreaTLS);
  auto area = [&]() {
    if (!Area) {
      Area = new GlobalVariable(M, PtrTy, false, GlobalValue::LinkOnceODRLinkage,
                                ConstantPointerNull::get(PtrTy), AreaTLS, nullptr,
                                GlobalValue::InitialExecTLSModel);
      Area->setVisibility(GlobalValue::HiddenVisibility);
    }
    return Area;
  };
  SmallVector<CallBase *, 64> Calls;
  SmallVector<IntrinsicInst *, 16> VaStarts, VaOthers;
  for (Function &F : M)
    for (BasicBlock &BB : F)
      for (Instruction &I : BB)
        if (auto *II = dyn_cast<IntrinsicInst>(&I)) {
          if (II->getIntrinsicID() == Intrinsic::vastart)
            VaStarts.push_back(II);
          else if (II->getIntrinsicID() == Intrinsic::vacopy || II->getIntrinsicID() == Intrinsic::vaend)
            VaOthers.push_back(II);
        } else if (auto *CI = dyn_cast<CallInst>(&I); CI && isVarargCall(*CI) && !CI->isMustTailCall()) {
          Calls.push_back(CI); // (a musttail call forwards its caller's area as it is)
        }

  // Callers: System V's register save area and overflow area, in one block.
  for (CallBase *CB : Calls) {
    auto [G, F] = namedRegs(CB->getFunctionType());
    SmallVector<std::pair<Value *, unsigned>, 16> At; // value, byte offset
    unsigned Over = 0;
    for (unsigned A = CB->getFunctionType()->getNumParams(); A < CB->arg_size(); ++A) {
      Value *V = CB->getArgOperand(A);
      Class K = classOf(V->getType());
      if (K == GP && G < GPSlots)
        At.push_back({V, GPBytes * G++});
      else if (K == FP && F < FPSlots)
        At.push_back({V, GPSlots * GPBytes + FPBytes * F++});
      else if (K != Unsupported)
        At.push_back({V, RegSaveBytes + 8 * Over++});
    }
    BasicBlock &Entry = CB->getFunction()->getEntryBlock();
    IRBuilder<> E(&Entry, Entry.getFirstInsertionPt());
    AllocaInst *Buf =
        E.CreateAlloca(ArrayType::get(I8, RegSaveBytes + 8 * Over), nullptr, "moj.va.area");
    Buf->setAlignment(Align(16));
    IRBuilder<> B(CB);
    for (auto &[V, Off] : At) {
      if (V->getType()->isFloatTy()) // a float is read back as a double
        V = B.CreateFPExt(V, B.getDoubleTy());
      B.CreateAlignedStore(V, B.CreateConstGEP1_32(I8, Buf, Off), Align(8));
    }
    B.CreateStore(Buf, area());
    // The callee now reads this frame's area: a `tail` marker (set at the
    // source, where nothing of the frame was passed) would let the backend
    // pop the frame first.
    cast<CallInst>(CB)->setTailCallKind(CallInst::TCK_NoTail);
  }

  // Variadic functions: take the area at entry, va_start points there.
  DenseMap<Function *, Value *> Taken;
  for (IntrinsicInst *II : VaStarts) {
    Function *F = II->getFunction();
    if (!Taken.count(F)) {
      BasicBlock &Entry = F->getEntryBlock();
      IRBuilder<> E(&Entry, Entry.getFirstInsertionPt());
      Taken[F] = E.CreateLoad(PtrTy, area(), "moj.va.area");
    }
    Value *Buf = Taken[F];
    auto [G, Fp] = namedRegs(F->getFunctionType());
    IRBuilder<> B(II);
    Value *L = II->getArgOperand(0);
    B.CreateAlignedStore(ConstantInt::get(I32, GPBytes * G), L, Align(4));
    B.CreateAlignedStore(ConstantInt::get(I32, GPSlots * GPBytes + FPBytes * Fp),
                         B.CreateConstGEP1_32(I8, L, 4), Align(4));
    B.CreateAlignedStore(B.CreateConstGEP1_32(I8, Buf, RegSaveBytes), B.CreateConstGEP1_32(I8, L, 8),
                         Align(8));
    B.CreateAlignedStore(Buf, B.CreateConstGEP1_32(I8, L, 16), Align(8));
    II->eraseFromParent();
  }
  for (IntrinsicInst *II : VaOthers) {
    if (II->getIntrinsicID() == Intrinsic::vacopy) {
      IRBuilder<> B(II);
      B.CreateMemCpy(II->getArgOperand(0), Align(8), II->getArgOperand(1), Align(8), 24);
    }
    II->eraseFromParent();
  }
}

} // namespace moj
