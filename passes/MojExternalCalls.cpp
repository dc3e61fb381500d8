//===- MojExternalCalls.cpp - moj-extcall: raw pointers for foreign code --===//
//
// Code not compiled by mojcc (libc, other libraries, inline asm) cannot
// dereference handles, so pointer arguments of calls leaving instrumented
// code are translated to raw addresses, varargs included.  Arguments the
// callee may write through get the copy-on-write barrier first, so what the
// foreign code writes is rolled back like any other write.
//
// Which declared-only functions are foreign is decided at link time: every
// instrumented module defines a weak marker symbol `__moj_def.<fn>` next to
// each externally visible function, and a call to an unknown declared `fn`
// tests the (weak, possibly null) marker address; functions LLVM knows as C
// library functions are translated unconditionally.
//
// Pointers returned by foreign code stay raw, except when they point into the
// managed object one of the arguments referred to (strchr, memchr, strcpy...):
// they are turned back into handles (__moj_cc_rehandle), so writes through
// them still go through the barrier.
//
// Function pointers: every function this pass instruments is placed in
// section moj_text (MOJ_CC_TEXT_SECTION), so the linker gathers a linked
// object's instrumented code into one range [__start_moj_text,
// __stop_moj_text), which a hidden comdat constructor registers with the
// runtime (and a destructor unregisters, for dlclose).  An indirect call
// with possibly-managed pointer arguments tests its target against the
// calling object's own range inline (link-time constants, one compare and
// one unlikely branch); a target outside it is looked up out of line
// (__moj_cc_is_instrumented: the executable's range and registered shared
// objects), and a foreign target (dlsym of a libc or gcc-built function, a
// handler returned by signal) is called with the arguments translated as
// for a direct call of an unknown foreign function, its returned pointer
// re-handled.  Taking the address of a declared-only function yields a
// linkonce_odr wrapper `__moj_wrap.<fn>` (itself in moj_text) that performs
// the link-time test of direct calls, so strcmp through a pointer stays on
// the fast path; so do the runtime's handle-taking functions (free).
//
// spec_enter call sites get returns_twice (the runtime resumes there).
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/Transforms/Utils/BasicBlockUtils.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"

using namespace llvm;

namespace moj {

namespace {

// Variadic C library functions whose variadic pointer arguments are only read
// (printf's %s / %p); for any other variadic callee they may be written
// (scanf's targets), so they get the barrier.
bool varargsAreReadOnly(StringRef N) {
  return N == "printf" || N == "fprintf" || N == "dprintf" ||
         N == "sprintf" || N == "snprintf" || N == "asprintf" ||
         N == "syslog" || N == "err" || N == "errx" || N == "warn" ||
         N == "warnx" || N == "error" || N == "execl" || N == "execlp" ||
         N == "execle" || N == "open" || N == "openat" || N == "fcntl";
}

// Library functions that store a pointer into their first argument's string
// through an out-parameter: {name, out-parameter index}.
struct OutPointer {
  const char *Name;
  unsigned Slot;
};
const OutPointer EndPointerFunctions[] = {
    {"strtol", 1},    {"strtoul", 1},   {"strtoll", 1},  {"strtoull", 1},
    {"strtod", 1},    {"strtof", 1},    {"strtold", 1},  {"strtoimax", 1},
    {"strtoumax", 1}, {"__isoc23_strtol", 1}, {"__isoc23_strtoul", 1},
    {"__isoc23_strtoll", 1}, {"__isoc23_strtoull", 1}, {"strtoq", 1},
    {"strtouq", 1},   {"__strtol_internal", 1}, {"__strtod_internal", 1}};

// Pointer parameters libc never dereferences, only hands back to the
// program's own (instrumented) code: they keep their handle, so the callee
// sees a managed pointer, not a raw address of one copy.
bool isOpaqueParameter(StringRef N, unsigned I) {
  return (N == "pthread_create" && I == 3) || (N == "on_exit" && I == 1) ||
         (N == "pthread_setspecific" && I == 1) ||
         ((N == "tsearch" || N == "tfind" || N == "tdelete" ||
           N == "bsearch") && I == 0) ||
         (N == "qsort_r" && I == 4) || (N == "twalk_r" && I == 2) ||
         (N == "__cxa_atexit" && I == 1) ||
         // Handled by runtime wrappers that need the handle itself.
         ((N == "setvbuf" || N == "setbuf") && I == 1) ||
         ((N == "strtok" || N == "strtok_r") && I == 0);
}

// Runtime functions are not instrumented: the few that write through a
// pointer parameter (an out-parameter, not an object handle) need it raw.
bool isRuntimeOutParameter(StringRef N, unsigned I) {
  return I == 0 && (N == "__moj_posix_memalign" || N == "moj_posix_memalign" ||
                    N == "moj_get_stats");
}

class ExternalCalls {
public:
  ExternalCalls(Module &M, FunctionAnalysisManager &FAM) : M(M), FAM(FAM) {}
  bool run();

private:
  Module &M;
  FunctionAnalysisManager &FAM;
  Function *Rehandle = nullptr;

  bool isForeignDeclaration(const Function &F) const {
    return F.isDeclaration() && !F.isIntrinsic() &&
           !isRuntimeFunction(F.getName()) &&
           !F.getName().startswith("__moj_");
  }
  // The runtime's API taking handles (moj_free, __moj_free after moj-alloc,
  // ...): not in any moj_text range, so a pointer to it gets a wrapper that
  // is, and keeps passing handles.
  bool isWrappedRuntimeDeclaration(const Function &F) const {
    if (!F.isDeclaration() || F.isIntrinsic() || F.isVarArg() ||
        !isRuntimeFunction(F.getName()) ||
        F.getName().startswith("__moj_x") ||
        F.getName().startswith("__moj_cc_") ||
        F.hasFnAttribute(Attribute::ReturnsTwice))
      return false;
    for (Type *T : F.getFunctionType()->params())
      if (T->isPointerTy())
        return true;
    return false;
  }
  void defineMarkers();
  void wrapAddressTakenFunctions();
  void placeInTextSection();
  void registerTextRange();
  GlobalVariable *getTextBound(const char *Name);
  void handleCall(CallBase &CB, const TargetLibraryInfo &TLI);
  void handleIndirectCall(CallBase &CB);
  void translateArgs(CallBase &CB, IRBuilder<> &B, bool ReadOnlyVarargs,
                     SmallVectorImpl<std::pair<unsigned, Value *>> &Out,
                     StringRef Callee = "");
  Function *getRehandle();
  void rehandleOutParameter(CallBase &CB, Function &F,
                            ArrayRef<std::pair<unsigned, Value *>> T);
};

// strtol(s, &end, 10): libc stores a raw pointer into s's current copy in
// *end; turn it back into a handle so `end == s` and later writes work.
void ExternalCalls::rehandleOutParameter(
    CallBase &CB, Function &F, ArrayRef<std::pair<unsigned, Value *>> T) {
  const OutPointer *OP = nullptr;
  for (const OutPointer &E : EndPointerFunctions)
    if (F.getName() == E.Name)
      OP = &E;
  if (!OP || CB.arg_size() <= OP->Slot)
    return;
  // The string: its original (possibly handle) value, if it was translated.
  Value *Orig = nullptr;
  for (auto &P : T)
    if (P.first == 0)
      Orig = P.second;
  if (!Orig)
    return;
  Orig = cast<CallInst>(Orig)->getArgOperand(0);
  auto *PtrTy = PointerType::getUnqual(M.getContext());
  FunctionCallee Fix = M.getOrInsertFunction(
      cc::rehandle_out,
      FunctionType::get(Type::getVoidTy(M.getContext()), {PtrTy, PtrTy}, false));
  IRBuilder<> B(CB.getNextNode());
  B.CreateCall(Fix, {CB.getArgOperand(OP->Slot), Orig});
}

void ExternalCalls::defineMarkers() {
  auto *I8 = Type::getInt8Ty(M.getContext());
  for (Function &F : M) {
    if (F.isDeclaration() || F.hasLocalLinkage() ||
        F.hasAvailableExternallyLinkage() || isRuntimeFunction(F.getName()) ||
        F.getName().startswith("__moj_wrap."))
      continue;
    std::string Name = definitionMarkerName(F.getName());
    if (GlobalVariable *Old = M.getNamedGlobal(Name)) {
      if (!Old->isDeclaration())
        continue;
      Old->setName(""); // a declaration from a call in this module
      auto *New = new GlobalVariable(M, I8, true, GlobalValue::WeakAnyLinkage,
                                     ConstantInt::get(I8, 0), Name);
      Old->replaceAllUsesWith(New);
      Old->eraseFromParent();
      New->setVisibility(F.getVisibility());
      continue;
    }
    auto *GV = new GlobalVariable(M, I8, true, GlobalValue::WeakAnyLinkage,
                                  ConstantInt::get(I8, 0), Name);
    GV->setVisibility(F.getVisibility());
  }
}

void ExternalCalls::wrapAddressTakenFunctions() {
  SmallVector<Function *, 16> Targets;
  for (Function &F : M) {
    if (!isForeignDeclaration(F) && !isWrappedRuntimeDeclaration(F))
      continue;
    for (const Use &U : F.uses()) {
      const auto *CB = dyn_cast<CallBase>(U.getUser());
      if (!CB || !CB->isCallee(&U)) {
        Targets.push_back(&F);
        break;
      }
    }
  }
  for (Function *F : Targets) {
    // A variadic function cannot be forwarded: its address stays, and each
    // call through it is decided at run time (handleIndirectCall).
    if (F->isVarArg())
      continue;
    std::string WName = ("__moj_wrap." + F->getName()).str();
    Function *W = M.getFunction(WName);
    if (!W) {
      W = Function::Create(F->getFunctionType(),
                           GlobalValue::LinkOnceODRLinkage, WName, M);
      W->copyAttributesFrom(F);
      W->setLinkage(GlobalValue::LinkOnceODRLinkage);
      W->setVisibility(GlobalValue::DefaultVisibility);
      if (Triple(M.getTargetTriple()).supportsCOMDAT())
        W->setComdat(M.getOrInsertComdat(WName)); // one copy per link
      BasicBlock *BB = BasicBlock::Create(M.getContext(), "entry", W);
      IRBuilder<> B(BB);
      SmallVector<Value *, 8> Args;
      for (Argument &A : W->args())
        Args.push_back(&A);
      CallInst *CI = B.CreateCall(F, Args);
      if (F->getReturnType()->isVoidTy())
        B.CreateRetVoid();
      else
        B.CreateRet(CI);
    }
    F->replaceUsesWithIf(W, [&](Use &U) {
      auto *CB = dyn_cast<CallBase>(U.getUser());
      if (CB && CB->isCallee(&U))
        return false;
      if (auto *I = dyn_cast<Instruction>(U.getUser()))
        return I->getFunction() != W;
      return true;
    });
  }
}

Function *ExternalCalls::getRehandle() {
  if (!Rehandle) {
    auto *PtrTy = PointerType::getUnqual(M.getContext());
    Rehandle = cast<Function>(
        M.getOrInsertFunction(cc::rehandle,
                              FunctionType::get(PtrTy, {PtrTy, PtrTy}, false))
            .getCallee());
    Rehandle->setDoesNotThrow();
  }
  return Rehandle;
}

// Emits translation markers for the pointer arguments of CB at B's insertion
// point; records (argument index, translated value).
void ExternalCalls::translateArgs(
    CallBase &CB, IRBuilder<> &B, bool ReadOnlyVarargs,
    SmallVectorImpl<std::pair<unsigned, Value *>> &Out, StringRef Callee) {
  Function *Rd = getMarker(M, MarkerRead);
  Function *Wr = getMarker(M, MarkerWriteSoft);
  unsigned NumFixed = CB.getFunctionType()->getNumParams();
  // Barriers first: a read translation made before a copy-on-write of the
  // same object (sscanf(s, "%d", &s_obj->n)) would point to the old copy.
  for (int Pass = 0; Pass < 2; ++Pass) {
    for (unsigned I = 0, E = CB.arg_size(); I != E; ++I) {
      Value *A = CB.getArgOperand(I);
      if (!A->getType()->isPointerTy() || isProvablyRaw(getRoot(A)) ||
          isOpaqueParameter(Callee, I))
        continue;
      bool ReadOnly = I < NumFixed ? CB.onlyReadsMemory(I) : ReadOnlyVarargs;
      if (CB.paramHasAttr(I, Attribute::ByVal))
        ReadOnly = true;
      if (ReadOnly != (Pass == 1))
        continue;
      Out.push_back({I, B.CreateCall(ReadOnly ? Rd : Wr, {A})});
    }
  }
}

GlobalVariable *ExternalCalls::getTextBound(const char *Name) {
  if (GlobalVariable *G = M.getNamedGlobal(Name))
    return G;
  // Hidden: every linked object (executable, shared object) has its own
  // bounds, defined by the linker for its moj_text output section.
  auto *G = new GlobalVariable(M, Type::getInt8Ty(M.getContext()), true,
                               GlobalValue::ExternalLinkage, nullptr, Name);
  G->setVisibility(GlobalValue::HiddenVisibility);
  return G;
}

// Places every function instrumented here in moj_text.  A function that
// already has a section (attribute, #pragma clang section) keeps it: the
// program may rely on it, and such functions count as foreign for indirect
// calls (they get raw pointers, which instrumented code accepts).
void ExternalCalls::placeInTextSection() {
  for (Function &F : M) {
    if (F.isDeclaration() || F.hasAvailableExternallyLinkage() ||
        F.hasSection() || F.hasFnAttribute("implicit-section-name"))
      continue;
    F.setSection(MOJ_CC_TEXT_SECTION);
  }
}

// Each linked object registers its moj_text range once: the constructor and
// destructor are hidden comdats (one copy per linked object, whose
// .init_array/.fini_array entry joins the same group), at a priority that
// runs before the program's own constructors and after its destructors.
void ExternalCalls::registerTextRange() {
  // Also when only explicit-section functions test call targets against the
  // bounds: the constructor itself makes sure the section exists.
  bool Any = M.getNamedGlobal("__start_" MOJ_CC_TEXT_SECTION) != nullptr;
  for (Function &F : M)
    Any |= !F.isDeclaration() && F.getSection() == MOJ_CC_TEXT_SECTION;
  if (!Any || M.getFunction("__moj_text.ctor"))
    return;
  LLVMContext &Ctx = M.getContext();
  auto *PtrTy = PointerType::getUnqual(Ctx);
  auto *VoidFnTy = FunctionType::get(Type::getVoidTy(Ctx), false);
  auto *RegTy = FunctionType::get(Type::getVoidTy(Ctx), {PtrTy, PtrTy}, false);
  GlobalVariable *Lo = getTextBound("__start_" MOJ_CC_TEXT_SECTION);
  GlobalVariable *Hi = getTextBound("__stop_" MOJ_CC_TEXT_SECTION);
  bool Comdats = Triple(M.getTargetTriple()).supportsCOMDAT();
  const unsigned Priority = 100; // reserved range: the implementation's
  for (int Dtor = 0; Dtor < 2; ++Dtor) {
    const char *Name = Dtor ? "__moj_text.dtor" : "__moj_text.ctor";
    Function *F = Function::Create(VoidFnTy, GlobalValue::LinkOnceODRLinkage,
                                   Name, M);
    F->setVisibility(GlobalValue::HiddenVisibility);
    F->setSection(MOJ_CC_TEXT_SECTION);
    F->setDoesNotThrow();
    if (Comdats)
      F->setComdat(M.getOrInsertComdat(Name));
    IRBuilder<> B(BasicBlock::Create(Ctx, "entry", F));
    B.CreateCall(M.getOrInsertFunction(Dtor ? cc::unregister_text
                                            : cc::register_text,
                                       RegTy),
                 {Lo, Hi});
    B.CreateRetVoid();
    if (Dtor)
      appendToGlobalDtors(M, F, Priority, Comdats ? F : nullptr);
    else
      appendToGlobalCtors(M, F, Priority, Comdats ? F : nullptr);
  }
}

// fp(args) with possibly-managed pointer arguments becomes
//
//   if (likely(fp - __start_moj_text < __stop_moj_text - __start_moj_text))
//     r = fp(args);                          // this object's own code
//   else if (__moj_cc_is_instrumented(fp))
//     r = fp(args);                          // another mojcc object
//   else
//     r = rehandle(fp(translate(args)));     // foreign: raw pointers
//
// Both calls stay ordinary calls (clobbering cached translations, keeping
// the original's attributes); the foreign one is translated exactly like a
// direct call of an unknown foreign function.
void ExternalCalls::handleIndirectCall(CallBase &CB) {
  auto *Call = dyn_cast<CallInst>(&CB);
  if (!Call || CB.hasFnAttr(Attribute::ReturnsTwice))
    return;
  bool HasPtr = false;
  for (Value *A : CB.args())
    HasPtr |= A->getType()->isPointerTy() && !isProvablyRaw(getRoot(A));
  if (!HasPtr)
    return; // both conventions are the same call
  if (Call->isMustTailCall()) {
    warn(M, &CB, "mojcc: musttail indirect call: its pointer arguments are "
                 "not translated if the callee is not compiled by mojcc");
    return;
  }
  LLVMContext &Ctx = M.getContext();
  Type *I64 = Type::getInt64Ty(Ctx);
  auto *PtrTy = PointerType::getUnqual(Ctx);
  Value *FP = CB.getCalledOperand();
  Function *Fn = CB.getFunction();

  BasicBlock *Head = CB.getParent();
  BasicBlock *Own = Head->splitBasicBlock(&CB, "moj.icall");
  BasicBlock *Join = Own->splitBasicBlock(CB.getNextNode(), "moj.icall.join");
  BasicBlock *Check = BasicBlock::Create(Ctx, "moj.icall.check", Fn, Join);
  BasicBlock *Foreign = BasicBlock::Create(Ctx, "moj.icall.foreign", Fn, Join);

  Constant *Lo = ConstantExpr::getPtrToInt(getTextBound("__start_" MOJ_CC_TEXT_SECTION), I64);
  Constant *Hi = ConstantExpr::getPtrToInt(getTextBound("__stop_" MOJ_CC_TEXT_SECTION), I64);
  Head->getTerminator()->eraseFromParent();
  IRBuilder<> B(Head);
  B.SetCurrentDebugLocation(CB.getDebugLoc());
  Value *Off = B.CreateSub(B.CreatePtrToInt(FP, I64), Lo, "moj.fp.off");
  Value *Inside = B.CreateICmpULT(Off, ConstantExpr::getSub(Hi, Lo), "moj.fp.own");
  MDBuilder MDB(Ctx);
  B.CreateCondBr(Inside, Own, Check, MDB.createBranchWeights(1u << 20, 1));

  B.SetInsertPoint(Check);
  FunctionCallee IsInstr = M.getOrInsertFunction(
      cc::is_instrumented, FunctionType::get(Type::getInt32Ty(Ctx), {PtrTy}, false));
  if (auto *IF = dyn_cast<Function>(IsInstr.getCallee())) {
    IF->setDoesNotThrow();
    IF->setOnlyReadsMemory();
  }
  Value *R = B.CreateCall(IsInstr, {FP}, "moj.fp.instr");
  B.CreateCondBr(B.CreateICmpNE(R, B.getInt32(0)), Own, Foreign);

  B.SetInsertPoint(Foreign);
  auto *FC = cast<CallInst>(CB.clone());
  B.Insert(FC);
  B.CreateBr(Join);
  IRBuilder<> BT(FC);
  SmallVector<std::pair<unsigned, Value *>, 4> T;
  translateArgs(*FC, BT, /*ReadOnlyVarargs=*/false, T);
  SmallVector<Value *, 4> Originals;
  for (auto &P : T) {
    Originals.push_back(FC->getArgOperand(P.first));
    FC->setArgOperand(P.first, P.second);
  }
  if (CB.getType()->isVoidTy() || CB.use_empty())
    return;
  Value *FR = FC;
  if (CB.getType()->isPointerTy()) {
    // A pointer into an argument's current copy becomes a handle again.
    IRBuilder<> BR(Foreign->getTerminator());
    for (Value *O : Originals)
      FR = BR.CreateCall(getRehandle(), {FR, O});
  }
  PHINode *PN = PHINode::Create(CB.getType(), 2, "moj.icall.ret", &Join->front());
  CB.replaceAllUsesWith(PN);
  PN->addIncoming(&CB, Own);
  PN->addIncoming(FR, Foreign);
}

void ExternalCalls::handleCall(CallBase &CB, const TargetLibraryInfo &TLI) {
  if (CB.isInlineAsm()) {
    bool HasPtr = false;
    for (Value *A : CB.args())
      HasPtr |= A->getType()->isPointerTy() && !isProvablyRaw(getRoot(A));
    if (!HasPtr)
      return;
    // Documented fallback: the asm sees raw addresses of the current copies.
    // Pointers the asm produces or stores are not tracked.
    warn(M, &CB,
         "mojcc: inline asm takes pointer operands; they are translated to "
         "raw addresses (with the copy-on-write barrier) and pointers it "
         "stores or returns are not managed");
    IRBuilder<> B(&CB);
    SmallVector<std::pair<unsigned, Value *>, 4> T;
    translateArgs(CB, B, false, T);
    for (auto &P : T)
      CB.setArgOperand(P.first, P.second);
    return;
  }
  Function *F = CB.getCalledFunction();
  if (!F) {
    handleIndirectCall(CB);
    return;
  }
  if (F->getName() == "spec_enter") {
    F->addFnAttr(Attribute::ReturnsTwice);
    CB.addFnAttr(Attribute::ReturnsTwice);
    return;
  }
  if (isRuntimeOutParameter(F->getName(), 0) && CB.arg_size() > 0 &&
      !isProvablyRaw(getRoot(CB.getArgOperand(0)))) {
    IRBuilder<> B(&CB);
    CB.setArgOperand(0, B.CreateCall(getMarker(M, MarkerWriteSoft),
                                     {CB.getArgOperand(0)}));
    return;
  }
  if (!isForeignDeclaration(*F))
    return;
  if (hasRuntimeWrapper(F->getName()) &&
      CB.getFunctionType() == F->getFunctionType()) {
    // Redirected first: the wrapper has the same prototype and is itself
    // foreign-convention, so the argument handling below still applies.
    // (The name is in MOJ_CC_LIBC_WRAPPERS, checked against the runtime.)
    Function *W = cast<Function>(
        M.getOrInsertFunction(("__moj_cc_" + F->getName()).str(),
                              F->getFunctionType())
            .getCallee());
    CB.setCalledFunction(W);
  }
  bool HasPtr = false;
  for (Value *A : CB.args())
    HasPtr |= A->getType()->isPointerTy() && !isProvablyRaw(getRoot(A));
  if (!HasPtr)
    return;
  bool ROVarargs = varargsAreReadOnly(F->getName());
  SmallVector<std::pair<unsigned, Value *>, 4> T;
  SmallVector<Value *, 4> Originals;
  if (isKnownLibraryFunction(*F, TLI)) {
    IRBuilder<> B(&CB);
    translateArgs(CB, B, ROVarargs, T, F->getName());
    for (auto &P : T) {
      Originals.push_back(CB.getArgOperand(P.first));
      CB.setArgOperand(P.first, P.second);
    }
  } else {
    // if (&__moj_def.F == 0) { translate }  — decided by the linker.
    auto *I8 = Type::getInt8Ty(M.getContext());
    std::string MName = definitionMarkerName(F->getName());
    GlobalVariable *Marker = M.getNamedGlobal(MName);
    if (!Marker) {
      Marker = new GlobalVariable(M, I8, true,
                                  GlobalValue::ExternalWeakLinkage, nullptr,
                                  MName);
    }
    IRBuilder<> B0(&CB);
    Value *Foreign = B0.CreateICmpEQ(
        Marker, ConstantPointerNull::get(Marker->getType()), "moj.foreign");
    Instruction *ThenTerm = SplitBlockAndInsertIfThen(Foreign, &CB, false);
    IRBuilder<> B(ThenTerm);
    translateArgs(CB, B, ROVarargs, T, F->getName());
    BasicBlock *ThenBB = ThenTerm->getParent();
    BasicBlock *JoinBB = CB.getParent();
    BasicBlock *HeadBB = ThenBB->getSinglePredecessor();
    IRBuilder<> BJ(&JoinBB->front());
    for (auto &P : T) {
      Value *Orig = CB.getArgOperand(P.first);
      PHINode *PN = BJ.CreatePHI(Orig->getType(), 2, "moj.arg");
      PN->addIncoming(Orig, HeadBB);
      PN->addIncoming(P.second, ThenBB);
      Originals.push_back(Orig);
      CB.setArgOperand(P.first, PN);
    }
  }
  rehandleOutParameter(CB, *F, T);
  if (!CB.getType()->isPointerTy() || Originals.empty() || CB.use_empty())
    return;
  // The returned pointer may point into a managed argument's current copy.
  IRBuilder<> B(CB.getNextNode());
  Value *R = &CB;
  Instruction *First = nullptr;
  for (Value *O : Originals) {
    auto *C = B.CreateCall(getRehandle(), {R, O});
    if (!First)
      First = C;
    R = C;
  }
  CB.replaceUsesWithIf(R, [&](Use &U) { return U.getUser() != First; });
}

bool ExternalCalls::run() {
  defineMarkers();
  wrapAddressTakenFunctions();
  placeInTextSection();
  for (Function &F : M) {
    if (F.isDeclaration())
      continue;
    const TargetLibraryInfo &TLI = FAM.getResult<TargetLibraryAnalysis>(F);
    SmallVector<CallBase *, 32> Calls;
    for (BasicBlock &BB : F)
      for (Instruction &I : BB)
        if (auto *CB = dyn_cast<CallBase>(&I))
          if (!isa<IntrinsicInst>(CB) && !isMarkerCall(CB))
            Calls.push_back(CB);
    for (CallBase *CB : Calls) {
      if (isa<InvokeInst>(CB) || isa<CallBrInst>(CB)) {
        // C code has no invokes; asm goto is diagnosed, not rewritten.
        if (CB->isInlineAsm())
          warn(M, CB,
               "mojcc: asm goto operands are not translated to raw "
               "addresses");
        continue;
      }
      handleCall(*CB, TLI);
    }
  }
  registerTextRange();
  return true;
}

} // namespace

PreservedAnalyses MojExternalCallPass::run(Module &M,
                                           ModuleAnalysisManager &MAM) {
  auto &FAM = MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();
  ExternalCalls EC(M, FAM);
  EC.run();
  return PreservedAnalyses::none();
}

} // namespace moj
