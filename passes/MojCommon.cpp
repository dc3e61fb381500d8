//===- MojCommon.cpp - helpers shared by the mojcc passes -----------------===//
//
// Classification of values (provably raw vs. possibly a handle), of callees
// (runtime, known C library, harmless for cached translations) and the
// marker functions the passes use to talk to each other.
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Operator.h"

#include <cctype>

using namespace llvm;

namespace moj {

std::string definitionMarkerName(StringRef Fn) {
  return ("__moj_def." + Fn).str();
}

bool hasRuntimeWrapper(StringRef Fn) {
  static const StringSet<> Names = {
#define MOJ_CC_WRAPPED(n) #n,
      MOJ_CC_LIBC_WRAPPERS(MOJ_CC_WRAPPED)
#undef MOJ_CC_WRAPPED
  };
  return Names.contains(Fn);
}

Function *getMarker(Module &M, const char *Name) {
  auto *PtrTy = PointerType::getUnqual(M.getContext());
  FunctionCallee FC =
      M.getOrInsertFunction(Name, FunctionType::get(PtrTy, {PtrTy}, false));
  auto *F = cast<Function>(FC.getCallee());
  F->setDoesNotThrow();
  return F;
}

bool isMarkerCall(const Value *V, const char *Name) {
  const auto *CI = dyn_cast<CallInst>(V);
  if (!CI)
    return false;
  const Function *F = CI->getCalledFunction();
  return F && F->getName() == Name;
}

bool isMarkerCall(const Value *V) {
  return isMarkerCall(V, MarkerRead) || isMarkerCall(V, MarkerWrite) ||
         isMarkerCall(V, MarkerWriteSoft);
}

bool isRuntimeFunction(StringRef Name) {
  // The runtime and its public API take handles: they are "instrumented".
  return Name.startswith("__moj_") || Name.startswith("moj_") ||
         Name.startswith("spec_");
}

bool isSetjmp(StringRef N) {
  return N == "setjmp" || N == "_setjmp" || N == "sigsetjmp" || N == "__sigsetjmp";
}
bool isLongjmp(StringRef N) {
  return N == "longjmp" || N == "_longjmp" || N == "siglongjmp" || N == "__longjmp_chk";
}

static Value *getRootImpl(Value *V, SmallPtrSetImpl<Value *> &Visiting,
                          unsigned Depth) {
  for (;;) {
    V = V->stripPointerCasts();
    if (auto *GEP = dyn_cast<GEPOperator>(V)) {
      // Only inbounds GEPs are known to stay inside the object, which is what
      // makes translating the base and re-adding the offset exact.
      if (!GEP->isInBounds())
        return V;
      V = GEP->getPointerOperand();
      continue;
    }
    break;
  }
  if (Depth > 8)
    return V;
  if (isa<PHINode>(V) || isa<SelectInst>(V)) {
    if (!Visiting.insert(V).second)
      return nullptr; // a cycle through V itself says nothing
    Value *Common = nullptr;
    auto Merge = [&](Value *In) {
      Value *R = getRootImpl(In, Visiting, Depth + 1);
      if (!R)
        return true;
      if (!Common)
        Common = R;
      return Common == R;
    };
    bool Same = true;
    if (auto *PN = dyn_cast<PHINode>(V)) {
      for (Value *In : PN->incoming_values())
        if (!(Same = Merge(In)))
          break;
    } else {
      auto *SI = cast<SelectInst>(V);
      Same = Merge(SI->getTrueValue()) && Merge(SI->getFalseValue());
    }
    Visiting.erase(V);
    if (Same && Common)
      return Common;
    return V;
  }
  return V;
}

Value *getRoot(Value *V) {
  SmallPtrSet<Value *, 8> Visiting;
  Value *R = getRootImpl(V, Visiting, 0);
  return R ? R : V;
}

bool isProvablyRaw(const Value *Root) {
  if (isa<AllocaInst>(Root) || isa<GlobalValue>(Root) ||
      isa<ConstantPointerNull>(Root) || isa<UndefValue>(Root))
    return true;
  if (const auto *A = dyn_cast<Argument>(Root))
    return A->hasByValAttr(); // the callee's own stack copy
  if (const auto *II = dyn_cast<IntrinsicInst>(Root))
    return II->getIntrinsicID() == Intrinsic::threadlocal_address ||
           II->getIntrinsicID() == Intrinsic::stacksave;
  if (const auto *CE = dyn_cast<ConstantExpr>(Root)) {
    // inttoptr of a constant below 2^63 is an absolute raw address.
    if (CE->getOpcode() == Instruction::IntToPtr)
      if (const auto *CI = dyn_cast<ConstantInt>(CE->getOperand(0)))
        return !CI->getValue().isNegative();
  }
  return false;
}

// Library functions that may call back into instrumented code, return twice
// or never return: a cached translation must not survive them.
static const StringSet<> &callbackLibFunctions() {
  static const StringSet<> S = {
      "qsort",   "qsort_r",  "bsearch", "lfind",      "lsearch",
      "tsearch", "tfind",    "tdelete", "twalk",      "twalk_r",
      "atexit",  "on_exit",  "signal",  "sigaction",  "pthread_create",
      "pthread_once", "fopencookie", "ftw", "nftw",   "scandir",
      "glob",    "setjmp",   "_setjmp", "sigsetjmp",  "__sigsetjmp",
      "vfork",   "fork",     "exit",    "_exit",      "longjmp",
      "siglongjmp", "raise", "kill",    "dlopen",     "dlclose"};
  return S;
}

bool isKnownLibraryFunction(const Function &F, const TargetLibraryInfo &TLI) {
  StringRef N = F.getName();
  if (isRuntimeFunction(N))
    return false;
  // Reserved identifiers belong to the implementation (glibc's
  // __isoc99_scanf, __errno_location, _IO_getc ...), never to the program.
  if (N.startswith("__") || (N.size() > 1 && N[0] == '_' && isupper(N[1])))
    return true;
  LibFunc LF;
  return TLI.getLibFunc(F, LF) && TLI.has(LF);
}

bool isHarmlessCall(const CallBase &CB, const TargetLibraryInfo &TLI) {
  if (isa<IntrinsicInst>(CB))
    return true;
  if (CB.isInlineAsm())
    return false;
  const Function *F = CB.getCalledFunction();
  if (!F)
    return false;
  if (isMarkerCall(&CB, MarkerRead))
    return true;
  if (CB.hasFnAttr(Attribute::ReturnsTwice) ||
      F->hasFnAttribute(Attribute::ReturnsTwice))
    return false;
  // Proven by moj-nonmoving: only reads managed memory, transitively.
  if (F->hasFnAttribute("mojave-nonmoving"))
    return true;
  if (!F->isDeclaration() || isRuntimeFunction(F->getName()))
    return false;
  // A plain C library function cannot reach the runtime, so it cannot move a
  // managed object; the ones that run callbacks are excluded by name.
  LibFunc LF;
  return TLI.getLibFunc(*F, LF) && TLI.has(LF) &&
         !callbackLibFunctions().contains(F->getName());
}

void warn(Module &M, const Instruction *I, const Twine &Msg) {
  std::string S = Msg.str();
  if (I) {
    M.getContext().diagnose(DiagnosticInfoUnsupported(
        *I->getFunction(), S, I->getDebugLoc(), DS_Warning));
    return;
  }
  // Module-level: attach it to some function so clang does not file it
  // under -Winline-asm.
  for (const Function &F : M)
    if (!F.isDeclaration()) {
      M.getContext().diagnose(
          DiagnosticInfoUnsupported(F, S, DiagnosticLocation(), DS_Warning));
      return;
    }
  M.getContext().diagnose(DiagnosticInfoInlineAsm(S, DS_Warning));
}

} // namespace moj
