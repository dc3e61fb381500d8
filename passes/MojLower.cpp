//===- MojLower.cpp - moj-lower: translation markers -> inline fast paths -===//
//
// Expands __moj_xr / __moj_xw / __moj_xws into the IR equivalent of
// __moj_r / __moj_w in include/mojave/abi.h:
//
//   v = ptrtoint p;  if (v >= 0) -> p (raw pointer)
//   e = __moj_tbl + (v >> 32) * 16             ; biased table, tag absorbed
//   read:  e->base + (u32)v
//   write: e->owner == __moj_cur_owner ? e->base + (u32)v
//                                      : __moj_w_slow(v)   (unlikely)
//
// In x86-64 executables the slow path is called through its preserve_most
// entry (__moj_cc_w_slow_pm / __moj_cc_w_soft_pm).
// __moj_xws uses __moj_cc_w_soft instead of __moj_w_slow: same copy-on-write,
// but a freed handle is not fatal there (used when the translation runs
// earlier than the program's own write would have).
//
// In x86-64 executables at -O2, a translation in a cold block (estimated to
// run less than once in 32 entries of its function: error paths,
// blocks behind unlikely branches) is the call below instead of the inline
// form: its few bytes instead of ~30, and one block instead of three for the
// code generator (issue 11: binary size and compile time).  At 1/32 the
// extended benchmarks' and a Lua script's instruction counts did not move
// (docs/performance.md); at 1/8 one program's rose by 3 %.
//
// At -O0 (moj-lower-O0) x86-64 executables call the whole translation out of
// line instead (__moj_cc_r_pa, preserve_all; __moj_cc_w_pm / __moj_cc_ws_pm,
// preserve_most):
// -O0's register allocator spills every value live across a block boundary,
// and the inline form's three blocks per access cost more in spills and
// reloads than the call does.  Every module processed
// here references the ABI version symbol, so a stale runtime fails to link.
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/Analysis/BlockFrequencyInfo.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"

using namespace llvm;

namespace moj {

namespace {

class Lowering {
public:
  Lowering(Module &M, bool OutOfLine, FunctionAnalysisManager *FAM)
      : M(M), Ctx(M.getContext()), OutOfLine(OutOfLine), FAM(FAM) {}
  bool run();

private:
  Module &M;
  LLVMContext &Ctx;
  bool OutOfLine;
  FunctionAnalysisManager *FAM; // null: no cold-block outlining
  GlobalVariable *Tbl = nullptr, *CurOwner = nullptr;
  bool cold(CallInst *C);

  GlobalVariable *getGlobal(StringRef Name, Type *Ty) {
    GlobalVariable *G = M.getNamedGlobal(Name);
    if (!G) {
      G = new GlobalVariable(M, Ty, false, GlobalValue::ExternalLinkage,
                             nullptr, Name);
      // The runtime is linked statically into executables, so the fast path
      // can address these directly; a shared object must go through the GOT.
      G->setDSOLocal(executable());
    }
    return G;
  }
  // The runtime is linked statically into executables (see getGlobal).
  bool executable() const {
    return M.getPICLevel() == PICLevel::NotPIC ||
           M.getPIELevel() != PIELevel::Default;
  }
  // The runtime's preserve_most entries (runtime/cc_slow_x86_64.S) exist in
  // x86-64 executables only: shared objects call through the PLT, whose lazy
  // binding may clobber r10.
  bool preserveMost() const {
    return executable() && Triple(M.getTargetTriple()).getArch() == Triple::x86_64;
  }
  Function *getEntry(StringRef Name, bool PM, bool All = false) {
    auto *PtrTy = PointerType::getUnqual(Ctx);
    auto *F = cast<Function>(
        M.getOrInsertFunction(
             Name, FunctionType::get(PtrTy, {Type::getInt64Ty(Ctx)}, false))
            .getCallee());
    F->setDoesNotThrow();
    if (PM) {
      F->setCallingConv(All ? CallingConv::PreserveAll : CallingConv::PreserveMost);
      F->setDSOLocal(true);
    }
    return F;
  }
  // The barrier's slow path.  In x86-64 executables, its preserve_most entry:
  // the caller keeps its registers across the call, so each cold block is a
  // move, a call and a jump back instead of spills and reloads around it
  // (less code, and no pressure on the hot path's register allocation from
  // cold calls).
  Function *getSlow(bool Soft) {
    bool PM = preserveMost();
    return getEntry(PM ? (Soft ? cc::w_soft_pm : cc::w_slow_pm)
                       : (Soft ? cc::w_soft : "__moj_w_slow"),
                    PM);
  }
  void lower(CallInst *C, bool Write, bool Soft);
  void call(CallInst *C, bool Write, bool Soft);
};

void Lowering::call(CallInst *C, bool Write, bool Soft) {
  // The read entry touches no vector register: preserve_all.
  Function *F = getEntry(!Write ? cc::r_pa : Soft ? cc::ws_pm : cc::w_pm, true, !Write);
  IRBuilder<> B(C);
  CallInst *X = B.CreateCall(
      F, {B.CreatePtrToInt(C->getArgOperand(0), Type::getInt64Ty(Ctx), "moj.v")});
  X->setCallingConv(F->getCallingConv());
  X->takeName(C);
  C->replaceAllUsesWith(X);
  C->eraseFromParent();
}

void Lowering::lower(CallInst *C, bool Write, bool Soft) {
  Type *I64 = Type::getInt64Ty(Ctx), *I32 = Type::getInt32Ty(Ctx);
  auto *PtrTy = PointerType::getUnqual(Ctx);
  Value *P = C->getArgOperand(0);
  BasicBlock *Head = C->getParent();
  BasicBlock *Join = Head->splitBasicBlock(C, "moj.join");
  BasicBlock *H = BasicBlock::Create(Ctx, "moj.handle", Head->getParent(), Join);

  IRBuilder<> B(Head->getTerminator());
  Value *V = B.CreatePtrToInt(P, I64, "moj.v");
  Value *IsH = B.CreateICmpSLT(V, ConstantInt::get(I64, 0), "moj.ish");

  // The table is reserved once by the runtime's first constructor and never
  // moves (runtime/table.c), so every load of __moj_tbl in instrumented code
  // reads the same value: loaded before the tag test (so a dominating
  // translation's load can serve) and marked invariant, the backend keeps it
  // in a register instead of loading it again at every translation.
  LoadInst *T = B.CreateAlignedLoad(I64, Tbl, Align(8), "moj.tbl");
  T->setMetadata(LLVMContext::MD_invariant_load, MDNode::get(Ctx, {}));
  B.CreateCondBr(IsH, H, Join);
  Head->getTerminator()->eraseFromParent();
  B.SetInsertPoint(H);
  B.SetCurrentDebugLocation(C->getDebugLoc());
  Value *Idx = B.CreateLShr(V, 32);
  Value *EAddr = B.CreateAdd(T, B.CreateShl(Idx, 4), "moj.ea");
  Value *E = B.CreateIntToPtr(EAddr, PtrTy, "moj.e");
  Value *Base = B.CreateAlignedLoad(PtrTy, E, Align(8), "moj.base");
  Value *Off = B.CreateAnd(V, ConstantInt::get(I64, 0xffffffffull));

  IRBuilder<> BJ(&Join->front());
  PHINode *PN = BJ.CreatePHI(PtrTy, 3, "moj.x");
  PN->addIncoming(P, Head);

  if (!Write) {
    Value *R = B.CreateGEP(B.getInt8Ty(), Base, Off, "moj.raw");
    B.CreateBr(Join);
    PN->addIncoming(R, H);
  } else {
    Value *OwnAddr = B.CreateConstGEP1_64(B.getInt8Ty(), E, 12);
    Value *Own = B.CreateAlignedLoad(I32, OwnAddr, Align(4), "moj.owner");
    Value *Cur = B.CreateLoad(I32, CurOwner, "moj.cur");
    Value *Ne = B.CreateICmpNE(Own, Cur, "moj.cow");
    // The raw address is computed before the owner test (one add, unused
    // on the rare slow path), so the fast path goes straight to the join:
    // no block of its own, one machine block less per write to select and
    // allocate registers for (4 305 in one-file Lua).
    Value *R = B.CreateGEP(B.getInt8Ty(), Base, Off, "moj.raw");
    BasicBlock *Slow = BasicBlock::Create(Ctx, "moj.slow", Head->getParent(), Join);
    MDBuilder MDB(Ctx);
    B.CreateCondBr(Ne, Slow, Join, MDB.createBranchWeights(1, 1u << 20));
    B.SetInsertPoint(Slow);
    Function *SlowF = getSlow(Soft);
    CallInst *S = B.CreateCall(SlowF, {V}, "moj.copied");
    S->setCallingConv(SlowF->getCallingConv());
    B.CreateBr(Join);
    PN->addIncoming(R, H);
    PN->addIncoming(S, Slow);
  }
  PN->takeName(C);
  C->replaceAllUsesWith(PN);
  C->eraseFromParent();
}

// A block runs, by the static estimate, at most once in MojColdRatio
// entries of its function.  The estimate is taken before any block is split
// (run() decides for every marker first).
static constexpr uint64_t MojColdRatio = 32;

bool Lowering::cold(CallInst *C) {
  Function &F = *C->getFunction();
  auto &BFI = FAM->getResult<BlockFrequencyAnalysis>(F);
  uint64_t Entry = BFI.getEntryFreq();
  uint64_t Here = BFI.getBlockFreq(C->getParent()).getFrequency();
  return Here * MojColdRatio < Entry;
}

bool Lowering::run() {
  auto *I32 = Type::getInt32Ty(Ctx), *I64 = Type::getInt64Ty(Ctx);
  SmallVector<std::pair<CallInst *, int>, 64> Work;
  const char *Names[] = {MarkerRead, MarkerWrite, MarkerWriteSoft};
  for (int K = 0; K < 3; ++K)
    if (Function *F = M.getFunction(Names[K]))
      for (User *U : F->users())
        if (auto *C = dyn_cast<CallInst>(U))
          Work.push_back({C, K});
  bool Calls = OutOfLine && preserveMost();
  if (!Work.empty() && !Calls) {
    Tbl = getGlobal("__moj_tbl", I64);
    CurOwner = getGlobal("__moj_cur_owner", I32);
  }
  // Decided before any block is split: splitting invalidates the estimate.
  SmallVector<bool, 64> Outline(Work.size(), Calls);
  if (!Calls && FAM && preserveMost())
    for (size_t I = 0; I < Work.size(); ++I)
      Outline[I] = cold(Work[I].first);
  for (size_t I = 0; I < Work.size(); ++I) {
    auto &W = Work[I];
    if (Outline[I])
      call(W.first, W.second != 0, W.second == 2);
    else
      lower(W.first, W.second != 0, W.second == 2);
  }
  for (const char *N : Names)
    if (Function *F = M.getFunction(N))
      if (F->use_empty())
        F->eraseFromParent();

  // Link-time ABI version check, kept alive through llvm.used.
  if (!M.getNamedGlobal("__moj_abi_check")) {
    FunctionCallee Check = M.getOrInsertFunction(
        "__moj_version_mismatch_check_v2", FunctionType::get(Type::getVoidTy(Ctx), false));
    auto *Ref = new GlobalVariable(
        M, PointerType::getUnqual(Ctx), true, GlobalValue::PrivateLinkage,
        cast<Constant>(Check.getCallee()), "__moj_abi_check");
    appendToUsed(M, {Ref});
  }
  return true;
}

} // namespace

PreservedAnalyses MojLowerPass::run(Module &M, ModuleAnalysisManager &MAM) {
  auto *FAM = OutOfLine ? nullptr : &MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();
  Lowering L(M, OutOfLine, FAM);
  L.run();
  return PreservedAnalyses::none();
}

} // namespace moj
