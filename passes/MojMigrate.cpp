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
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

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

namespace {

constexpr const char *MainBody = "main.body";

// Slot type codes of the image format (migrate/image.h moj_img_slot_type).
enum SlotType : uint8_t {
  SlotI1 = 1, SlotI8, SlotI16, SlotI32, SlotI64, SlotF32, SlotF64, SlotF80,
  SlotPtr, SlotBytes
};

class Migrate {
public:
  Migrate(Module &M, ModuleAnalysisManager &MAM)
      : M(M), Ctx(M.getContext()), DL(M.getDataLayout()),
        FAM(MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager()) {
    I8 = Type::getInt8Ty(Ctx);
    I32 = Type::getInt32Ty(Ctx);
    I64 = Type::getInt64Ty(Ctx);
    Ptr = PointerType::getUnqual(Ctx);
    ModId = utohexstr(xxHash64(M.getSourceFileName().empty()
                                   ? M.getModuleIdentifier()
                                   : M.getSourceFileName()));
  }
  bool run();

private:
  Module &M;
  LLVMContext &Ctx;
  const DataLayout &DL;
  FunctionAnalysisManager &FAM;
  Type *I8, *I32, *I64;
  PointerType *Ptr;
  std::string ModId;
  SmallPtrSet<Function *, 32> MayMigrate, Unsupported, Generated;
  DenseMap<CallBase *, BasicBlock *> HeaderPoll; // poll -> its loop header

  GlobalVariable *extGlobal(StringRef Name) {
    if (auto *G = M.getNamedGlobal(Name))
      return G;
    auto *G = new GlobalVariable(M, I32, false, GlobalValue::ExternalLinkage,
                                 nullptr, Name);
    G->setDSOLocal(M.getPICLevel() == PICLevel::NotPIC ||
                   M.getPIELevel() != PIELevel::Default);
    return G;
  }
  FunctionCallee rt(StringRef Name, Type *Ret, ArrayRef<Type *> Args) {
    FunctionCallee C =
        M.getOrInsertFunction(Name, FunctionType::get(Ret, Args, false));
    if (auto *F = dyn_cast<Function>(C.getCallee()))
      F->setDoesNotThrow();
    return C;
  }

  std::string stableName(const GlobalValue &GV, unsigned Ordinal) const {
    if (!GV.hasLocalLinkage() && GV.hasName())
      return GV.getName().str();
    return ModId + ":" + (GV.hasName() ? GV.getName().str()
                                       : "#" + std::to_string(Ordinal));
  }

  bool isSiteCallee(const CallBase &CB) const;
  void classify();
  bool supported(Function &F) const;
  void insertPolls(Function &F, bool EntryPoll);
  void transform(Function &F);
  void rematerializeFrameAddresses(Function &F);
  void bracketUnsupported(Function &F);
  void wrapMain(Function *Body);
  void registerSymbols();
};

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
  if (isRuntimeFunction(N))
    return false;
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
      if (CB->hasFnAttr(Attribute::ReturnsTwice) || CB->isMustTailCall())
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

uint8_t slotType(Type *T, const DataLayout &DL) {
  if (T->isPointerTy())
    return SlotPtr;
  if (T->isIntegerTy(1))
    return SlotI1;
  if (T->isIntegerTy(8))
    return SlotI8;
  if (T->isIntegerTy(16))
    return SlotI16;
  if (T->isIntegerTy(32))
    return SlotI32;
  if (T->isIntegerTy(64))
    return SlotI64;
  if (T->isFloatTy())
    return SlotF32;
  if (T->isDoubleTy())
    return SlotF64;
  if (T->isX86_FP80Ty() && DL.getTypeAllocSize(T) == 16)
    return SlotF80;
  return SlotBytes;
}

// A constant offset into one of the frame's own stack objects (a GEP with
// constant indices of a static alloca, or of such a GEP).
static bool isFrameAddress(const Value *V) {
  if (auto *AI = dyn_cast<AllocaInst>(V))
    return AI->isStaticAlloca();
  auto *G = dyn_cast<GetElementPtrInst>(V);
  return G && G->hasAllConstantIndices() && isFrameAddress(G->getPointerOperand());
}

static Value *cloneFrameAddress(Value *V, Instruction *Before) {
  auto *G = dyn_cast<GetElementPtrInst>(V);
  if (!G)
    return V;
  Instruction *C = G->clone();
  C->setOperand(0, cloneFrameAddress(G->getPointerOperand(), Before));
  C->insertBefore(Before);
  C->setName(G->getName());
  return C;
}

// Addresses into the frame's stack objects are recomputed in every block that
// uses them rather than carried across blocks: carried, each became a slot
// (optimizations hoist them to the entry block, so an interpreter loop has
// them live across all its sites), saved and restored at every site and merged
// by phis at every resume point — code and compile time for values that are
// one `lea` away (Lua's luaV_execute had 13 of them across 168 sites).  The
// rewind re-points addresses into the stack objects anyway, so recomputing
// them from the (restored) objects is the same value.
void Migrate::rematerializeFrameAddresses(Function &F) {
  SmallVector<GetElementPtrInst *, 32> Carried;
  for (Instruction &I : instructions(F))
    if (auto *G = dyn_cast<GetElementPtrInst>(&I); G && isFrameAddress(G))
      for (User *U : G->users())
        if (cast<Instruction>(U)->getParent() != G->getParent() || isa<PHINode>(U)) {
          Carried.push_back(G);
          break;
        }
  for (GetElementPtrInst *G : Carried) {
    // A phi takes one value per predecessor, even over several edges.
    SmallDenseMap<BasicBlock *, Value *, 4> AtEndOf;
    for (Use &U : make_early_inc_range(G->uses())) {
      auto *User = cast<Instruction>(U.getUser());
      if (auto *PN = dyn_cast<PHINode>(User)) {
        BasicBlock *Pred = PN->getIncomingBlock(U);
        Value *&C = AtEndOf[Pred];
        if (!C)
          C = cloneFrameAddress(G, Pred->getTerminator());
        U.set(C);
      } else if (User->getParent() != G->getParent()) {
        U.set(cloneFrameAddress(G, User));
      }
    }
  }
  // Chains (a GEP of a carried GEP) leave their inner links unused.
  for (bool Erased = true; Erased;) {
    Erased = false;
    for (GetElementPtrInst *&G : Carried)
      if (G && G->use_empty()) {
        G->eraseFromParent();
        G = nullptr;
        Erased = true;
      }
  }
}

void Migrate::transform(Function &F) {
  bool IsMainBody = F.getName() == MainBody;
  BasicBlock &Entry = F.getEntryBlock();

  // Lifetime markers would let codegen share stack slots between objects
  // whose bytes the rewind restores together: drop them here.
  for (Instruction &I : make_early_inc_range(instructions(F)))
    if (auto *II = dyn_cast<IntrinsicInst>(&I))
      if (II->isLifetimeStartOrEnd())
        II->eraseFromParent();

  // byval arguments live in the caller's outgoing area: give them a slot of
  // their own that the record can carry.
  IRBuilder<> EB(&*Entry.getFirstInsertionPt());
  for (Argument &A : F.args())
    if (A.hasByValAttr() && !A.use_empty()) {
      Type *T = A.getParamByValType();
      AllocaInst *Copy = EB.CreateAlloca(T, nullptr, A.getName() + ".byval");
      Copy->setAlignment(DL.getPrefTypeAlign(T));
      A.replaceAllUsesWith(Copy);
      EB.CreateMemCpy(Copy, Copy->getAlign(), &A, A.getParamAlign().valueOrOne(),
                      DL.getTypeAllocSize(T));
    }

  // Stack objects first in the entry block: the rewind splits the entry after
  // them, and the record stores their addresses on paths that skip the rest.
  Instruction *FirstOther = &*Entry.getFirstInsertionPt();
  while (isa<AllocaInst>(FirstOther))
    FirstOther = FirstOther->getNextNode();
  for (Instruction &I : make_early_inc_range(
           make_range(FirstOther->getIterator(), Entry.end())))
    if (isa<AllocaInst>(I))
      I.moveBefore(FirstOther);

  // Sites: every call that may reach a migration point.
  SmallVector<CallBase *, 16> Sites;
  for (Instruction &I : instructions(F))
    if (auto *CB = dyn_cast<CallBase>(&I))
      if (isSiteCallee(*CB))
        Sites.push_back(CB);
  if (Sites.empty())
    return;
  // The frame now returns early while unwinding and calls the runtime: no
  // longer noreturn, read-only or free of side effects, at its sites either.
  AttributeMask Stale;
  Stale.addAttribute(Attribute::NoReturn).addAttribute(Attribute::WillReturn)
      .addAttribute(Attribute::NoSync).addAttribute(Attribute::NoFree)
      .addAttribute(Attribute::Memory).addAttribute(Attribute::NoRecurse);
  F.removeFnAttrs(Stale);
  for (CallBase *CB : Sites)
    CB->removeFnAttrs(Stale);

  // Stack objects of the frame (all static, in the entry block).
  SmallVector<AllocaInst *, 16> Objects;
  for (Instruction &I : Entry)
    if (auto *AI = dyn_cast<AllocaInst>(&I))
      Objects.push_back(AI);

  // Arguments used anywhere become slots (main's argc/argv/envp stay: the
  // wrapper passes the same values again when it re-enters main).
  SmallVector<AllocaInst *, 32> Slots;
  Instruction *AfterObjects = &*Entry.getFirstInsertionPt();
  while (isa<AllocaInst>(AfterObjects))
    AfterObjects = AfterObjects->getNextNode();
  if (!IsMainBody)
    for (Argument &A : F.args()) {
      if (A.use_empty())
        continue;
      IRBuilder<> B(&Entry, Entry.getFirstInsertionPt());
      AllocaInst *S = B.CreateAlloca(A.getType(), nullptr, A.getName() + ".arg");
      SmallVector<Use *, 8> Uses;
      for (Use &U : A.uses())
        Uses.push_back(&U);
      IRBuilder<> SB(AfterObjects);
      SB.CreateStore(&A, S);
      for (Use *U : Uses) {
        auto *User = cast<Instruction>(U->getUser());
        Instruction *InsertAt = User;
        if (auto *PN = dyn_cast<PHINode>(User))
          InsertAt = PN->getIncomingBlock(*U)->getTerminator();
        IRBuilder<> LB(InsertAt);
        U->set(LB.CreateLoad(A.getType(), S, A.getName() + ".reload"));
      }
      Slots.push_back(S);
    }

  // Each site begins a block (the rewind enters there) and ends one (the
  // unwind check follows it).
  GlobalVariable *State = extGlobal(MOJ_MIG_STATE);
  MDNode *Unlikely = MDBuilder(Ctx).createBranchWeights(1, 1 << 20);
  SmallVector<BasicBlock *, 16> Resume, Stub;
  for (CallBase *CB : Sites) {
    auto HP = HeaderPoll.find(CB);
    BasicBlock *R = HP != HeaderPoll.end()
                        ? CB->getParent()
                        : SplitBlock(CB->getParent(), CB, (DominatorTree *)nullptr,
                                     nullptr, nullptr, "mig.resume");
    BasicBlock *Cont = SplitBlock(R, CB->getNextNode(), (DominatorTree *)nullptr,
                                  nullptr, nullptr, "mig.cont");
    BasicBlock *S = BasicBlock::Create(Ctx, "mig.unwind.site", &F);
    new UnreachableInst(Ctx, S); // filled once liveness is known
    R->getTerminator()->eraseFromParent();
    IRBuilder<> B(R);
    LoadInst *St = B.CreateLoad(I32, State, "mig.state");
    B.CreateCondBr(B.CreateICmpNE(St, ConstantInt::get(I32, 0)), S, Cont, Unlikely);
    Resume.push_back(HP != HeaderPoll.end() ? HP->second : R);
    Stub.push_back(S);
  }

  rematerializeFrameAddresses(F);

  // Demote every phi, then every value used outside its block (the phis'
  // reloads included).
  SmallVector<PHINode *, 32> Phis;
  for (Instruction &I : instructions(F))
    if (auto *PN = dyn_cast<PHINode>(&I))
      Phis.push_back(PN);
  for (PHINode *PN : Phis)
    Slots.push_back(DemotePHIToStack(PN, &*Entry.getFirstInsertionPt()));
  SmallVector<Instruction *, 64> Work;
  for (Instruction &I : instructions(F)) {
    if (isa<AllocaInst>(I) || I.getType()->isVoidTy())
      continue;
    for (User *U : I.users())
      if (cast<Instruction>(U)->getParent() != I.getParent() || isa<PHINode>(U)) {
        Work.push_back(&I);
        break;
      }
  }
  for (Instruction *I : Work)
    Slots.push_back(DemoteRegToStack(*I, false, &*Entry.getFirstInsertionPt()));
  Slots.erase(std::remove(Slots.begin(), Slots.end(), nullptr), Slots.end());

  // The record: { i32 site, i32 pad, [n x ptr] objects, slot values... }.
  SmallVector<Type *, 32> Fields = {I32, I32, ArrayType::get(Ptr, Objects.size())};
  for (AllocaInst *S : Slots)
    Fields.push_back(S->getAllocatedType());
  StructType *RecTy = StructType::create(Ctx, Fields, ("mig.rec." + F.getName()).str());
  const StructLayout *SL = DL.getStructLayout(RecTy);

  // Descriptor: name, counts, record size, slot offsets/types/sizes,
  // object sizes/alignments (layout in include/mojave/migrate_abi.h).
  auto U32Array = [&](ArrayRef<uint32_t> V, StringRef N) -> Constant * {
    auto *Init = ConstantDataArray::get(Ctx, V);
    auto *G = new GlobalVariable(M, Init->getType(), true, GlobalValue::PrivateLinkage,
                                 Init, N);
    return G;
  };
  SmallVector<uint32_t, 32> SlotOff, SlotSize, ObjSize, ObjAlign;
  SmallVector<uint8_t, 32> SlotTy;
  for (unsigned K = 0; K < Slots.size(); ++K) {
    Type *T = Slots[K]->getAllocatedType();
    SlotOff.push_back((uint32_t)SL->getElementOffset(3 + K));
    SlotSize.push_back((uint32_t)DL.getTypeStoreSize(T));
    SlotTy.push_back(slotType(T, DL));
  }
  for (AllocaInst *A : Objects) {
    ObjSize.push_back((uint32_t)*A->getAllocationSize(DL));
    ObjAlign.push_back((uint32_t)A->getAlign().value());
  }
  std::string FName = stableName(F, 0);
  Constant *Name = ConstantDataArray::getString(Ctx, FName);
  auto *NameG = new GlobalVariable(M, Name->getType(), true, GlobalValue::PrivateLinkage,
                                   Name, "mig.fname");
  auto *TyInit = ConstantDataArray::get(Ctx, SlotTy);
  auto *TyG = new GlobalVariable(M, TyInit->getType(), true, GlobalValue::PrivateLinkage,
                                 TyInit, "mig.slottype");
  StructType *DescTy = StructType::get(Ctx, {Ptr, I32, I32, I32, I32, Ptr, Ptr, Ptr, Ptr, Ptr});
  Constant *DescInit = ConstantStruct::get(
      DescTy, {NameG, ConstantInt::get(I32, Slots.size()), ConstantInt::get(I32, Objects.size()),
               ConstantInt::get(I32, SL->getSizeInBytes()),
               ConstantInt::get(I32, SL->getElementOffset(2)),
               U32Array(SlotOff, "mig.slotoff"), TyG, U32Array(SlotSize, "mig.slotsize"),
               U32Array(ObjSize, "mig.objsize"), U32Array(ObjAlign, "mig.objalign")});
  auto *Desc = new GlobalVariable(M, DescTy, true, GlobalValue::PrivateLinkage, DescInit,
                                  "mig.desc");

  // Which slots are live where each site resumes: backward dataflow over the
  // blocks on the slots' loads and stores.  A frame saves and restores only
  // those (Asyncify's rule), which keeps big functions with many sites (an
  // interpreter loop) from growing by slots x sites.
  unsigned N = Slots.size();
  DenseMap<const AllocaInst *, unsigned> SlotNo;
  for (unsigned K = 0; K < N; ++K)
    SlotNo[Slots[K]] = K;
  auto SlotOf = [&](Value *P) -> int {
    auto *A = dyn_cast<AllocaInst>(P);
    auto It = A ? SlotNo.find(A) : SlotNo.end();
    return It == SlotNo.end() ? -1 : (int)It->second;
  };
  DenseMap<const BasicBlock *, BitVector> UseB, DefB, LiveIn;
  for (BasicBlock &BB : F) {
    BitVector U(N), D(N);
    for (Instruction &I : BB) {
      if (auto *L = dyn_cast<LoadInst>(&I)) {
        int K = SlotOf(L->getPointerOperand());
        if (K >= 0 && !D[K])
          U.set(K);
      } else if (auto *S = dyn_cast<StoreInst>(&I)) {
        int K = SlotOf(S->getPointerOperand());
        if (K >= 0)
          D.set(K);
      }
    }
    LiveIn[&BB] = U;
    UseB[&BB] = std::move(U);
    DefB[&BB] = std::move(D);
  }
  SmallVector<BasicBlock *, 64> PO(post_order(&F));
  for (bool Changed = true; Changed;) {
    Changed = false;
    for (BasicBlock *BB : PO) {
      BitVector Out(N);
      for (BasicBlock *Succ : successors(BB))
        Out |= LiveIn[Succ];
      Out.reset(DefB[BB]);
      Out |= UseB[BB];
      if (Out != LiveIn[BB]) {
        LiveIn[BB] = std::move(Out);
        Changed = true;
      }
    }
  }
  SmallVector<BitVector, 16> LiveAt;
  for (BasicBlock *R : Resume)
    LiveAt.push_back(LiveIn[R]);

  // Unwind: each site's stub pushes the record and saves its live values;
  // one shared tail records the stack objects and returns.
  BasicBlock *Unwind = BasicBlock::Create(Ctx, "mig.unwind", &F);
  IRBuilder<> UB(Unwind);
  PHINode *Rec = UB.CreatePHI(Ptr, Stub.size(), "mig.rec");
  FunctionCallee Push = rt(MOJ_MIG_PUSH, Ptr, {Ptr, I32});
  for (unsigned K = 0; K < Stub.size(); ++K) {
    Stub[K]->getTerminator()->eraseFromParent();
    IRBuilder<> SB(Stub[K]);
    Value *R = SB.CreateCall(Push, {Desc, SB.getInt32(K)}, "mig.rec");
    for (unsigned J : LiveAt[K].set_bits()) {
      Type *T = Slots[J]->getAllocatedType();
      SB.CreateStore(SB.CreateLoad(T, Slots[J]), SB.CreateStructGEP(RecTy, R, 3 + J));
    }
    SB.CreateBr(Unwind);
    Rec->addIncoming(R, Stub[K]);
  }
  for (unsigned K = 0; K < Objects.size(); ++K)
    UB.CreateStore(Objects[K], UB.CreateInBoundsGEP(RecTy, Rec, {UB.getInt32(0), UB.getInt32(2), UB.getInt32(K)}));
  UB.CreateCall(rt(MOJ_MIG_SAVED, Type::getVoidTy(Ctx), {Ptr}), {Rec});
  if (F.getReturnType()->isVoidTy())
    UB.CreateRetVoid();
  else
    UB.CreateRet(PoisonValue::get(F.getReturnType()));

  // Rewind: checked right after the stack objects, before anything else runs.
  Instruction *SplitAt = &*Entry.getFirstInsertionPt();
  while (isa<AllocaInst>(SplitAt))
    SplitAt = SplitAt->getNextNode();
  BasicBlock *Body = SplitBlock(&Entry, SplitAt, (DominatorTree *)nullptr, nullptr,
                                nullptr, "mig.body");
  BasicBlock *Rewind = BasicBlock::Create(Ctx, "mig.rewind", &F);
  Entry.getTerminator()->eraseFromParent();
  IRBuilder<> EB2(&Entry);
  LoadInst *St = EB2.CreateLoad(I32, State, "mig.state");
  EB2.CreateCondBr(EB2.CreateICmpEQ(St, ConstantInt::get(I32, MOJ_MIG_REWINDING)), Rewind,
                   Body, Unlikely);
  IRBuilder<> RB(Rewind);
  Value *RRec = RB.CreateCall(rt(MOJ_MIG_POP, Ptr, {Ptr}), {Desc}, "mig.rec");
  for (unsigned K = 0; K < Objects.size(); ++K)
    RB.CreateStore(Objects[K], RB.CreateInBoundsGEP(RecTy, RRec, {RB.getInt32(0), RB.getInt32(2), RB.getInt32(K)}));
  RB.CreateCall(rt(MOJ_MIG_ENTERED, Type::getVoidTy(Ctx), {Ptr}), {RRec});
  Value *Site = RB.CreateLoad(I32, RB.CreateStructGEP(RecTy, RRec, 0), "mig.site");
  BasicBlock *Bad = BasicBlock::Create(Ctx, "mig.badsite", &F);
  IRBuilder<> BB(Bad);
  BB.CreateCall(Intrinsic::getDeclaration(&M, Intrinsic::trap));
  BB.CreateUnreachable();
  SwitchInst *Sw = RB.CreateSwitch(Site, Bad, Resume.size());
  for (unsigned K = 0; K < Resume.size(); ++K) {
    // per site: reload the values live where it resumes, then go there
    BasicBlock *Restore = BasicBlock::Create(Ctx, "mig.restore", &F);
    IRBuilder<> XB(Restore);
    for (unsigned J : LiveAt[K].set_bits()) {
      Type *T = Slots[J]->getAllocatedType();
      XB.CreateStore(XB.CreateLoad(T, XB.CreateStructGEP(RecTy, RRec, 3 + J)), Slots[J]);
    }
    XB.CreateBr(Resume[K]);
    Sw->addCase(ConstantInt::get(cast<IntegerType>(I32), K), Restore);
  }

  // Back to SSA: the normal path keeps its registers.
  DominatorTree DT(F);
  AssumptionCache &AC = FAM.getResult<AssumptionAnalysis>(F);
  SmallVector<AllocaInst *, 32> Promotable;
  for (AllocaInst *S : Slots)
    if (isAllocaPromotable(S))
      Promotable.push_back(S);
  if (!Promotable.empty())
    PromoteMemToReg(Promotable, DT, &AC);
  FAM.invalidate(F, PreservedAnalyses::none());
}

// Functions that may migrate but cannot be captured (VLAs, varargs, setjmp):
// while one is on the stack, the runtime refuses to start an unwind.
void Migrate::bracketUnsupported(Function &F) {
  GlobalVariable *Block = extGlobal(MOJ_MIG_BLOCK);
  IRBuilder<> B(&*F.getEntryBlock().getFirstInsertionPt());
  B.CreateStore(B.CreateAdd(B.CreateLoad(I32, Block), ConstantInt::get(I32, 1)), Block);
  for (BasicBlock &BB : F)
    if (auto *R = dyn_cast<ReturnInst>(BB.getTerminator())) {
      IRBuilder<> RB(R);
      RB.CreateStore(RB.CreateSub(RB.CreateLoad(I32, Block), ConstantInt::get(I32, 1)), Block);
    }
}

// main(argc, argv, envp) { for (;;) { r = body(...); if (!unwinding) return r;
//                                      __moj_mig_unwound(); } }
void Migrate::wrapMain(Function *Body) {
  FunctionType *FT = FunctionType::get(I32, {I32, Ptr, Ptr}, false);
  Function *Main = Function::Create(FT, GlobalValue::ExternalLinkage, "main", M);
  Generated.insert(Main);
  Main->copyAttributesFrom(Body);
  Main->setSection(Body->getSection());
  Main->removeFnAttr(Attribute::NoInline);
  Main->addFnAttr(Attribute::NoInline);
  Body->setLinkage(GlobalValue::InternalLinkage);
  Body->addFnAttr(Attribute::NoInline);
  BasicBlock *EntryBB = BasicBlock::Create(Ctx, "entry", Main);
  BasicBlock *Loop = BasicBlock::Create(Ctx, "loop", Main);
  BasicBlock *Done = BasicBlock::Create(Ctx, "done", Main);
  BasicBlock *Again = BasicBlock::Create(Ctx, "again", Main);
  IRBuilder<> E(EntryBB);
  SmallVector<Value *, 3> Args;
  for (Argument &A : Main->args())
    Args.push_back(&A);
  E.CreateCall(rt(MOJ_MIG_MAIN_START, Type::getVoidTy(Ctx), {I32, Ptr, Ptr}), Args);
  E.CreateBr(Loop);
  IRBuilder<> L(Loop);
  SmallVector<Value *, 3> CallArgs;
  FunctionType *BT = Body->getFunctionType();
  for (unsigned K = 0; K < BT->getNumParams() && K < 3; ++K)
    CallArgs.push_back(L.CreateBitOrPointerCast(Args[K], BT->getParamType(K)));
  Value *R = L.CreateCall(Body, CallArgs);
  Value *St = L.CreateLoad(I32, extGlobal(MOJ_MIG_STATE));
  L.CreateCondBr(L.CreateICmpEQ(St, ConstantInt::get(I32, MOJ_MIG_UNWINDING)), Again, Done);
  IRBuilder<> A(Again);
  A.CreateCall(rt(MOJ_MIG_UNWOUND, Type::getVoidTy(Ctx), {}));
  A.CreateBr(Loop);
  IRBuilder<> D(Done);
  if (BT->getReturnType()->isVoidTy())
    D.CreateRet(ConstantInt::get(I32, 0));
  else
    D.CreateRet(D.CreateIntCast(R, I32, true));
}

// { name, address, size, flags } for every global, function and literal.
void Migrate::registerSymbols() {
  StructType *SymTy = StructType::get(Ctx, {Ptr, Ptr, I64, I32, I32});
  SmallVector<Constant *, 64> Rows;
  unsigned Ordinal = 0;
  auto Add = [&](GlobalValue &GV, uint64_t Size, uint32_t Flags) {
    std::string N = stableName(GV, Ordinal);
    Constant *S = ConstantDataArray::getString(Ctx, N);
    auto *SG = new GlobalVariable(M, S->getType(), true, GlobalValue::PrivateLinkage, S,
                                  "mig.sym");
    Rows.push_back(ConstantStruct::get(SymTy, {SG, &GV, ConstantInt::get(I64, Size),
                                               ConstantInt::get(I32, Flags),
                                               ConstantInt::get(I32, 0)}));
  };
  SmallVector<GlobalVariable *, 64> Globals;
  for (GlobalVariable &G : M.globals())
    Globals.push_back(&G);
  for (GlobalVariable *G : Globals) {
    ++Ordinal;
    if (G->isDeclaration() || G->isThreadLocal() || G->getName().startswith("llvm.") ||
        G->getName().startswith("__moj") || G->getName().startswith("mig.") ||
        G->getSection() == ".mojave.bc" || G->getSection().startswith("moj_"))
      continue;
    uint32_t Flags = G->isConstant() ? MOJ_MIG_SYM_CONST : MOJ_MIG_SYM_WRITABLE;
    Add(*G, DL.getTypeAllocSize(G->getValueType()), Flags);
  }
  for (Function &F : M) {
    ++Ordinal;
    if (F.isDeclaration() || F.getName().startswith("__moj_mig"))
      continue;
    Add(F, 1, MOJ_MIG_SYM_FUNCTION);
  }
  if (Rows.empty())
    return;
  auto *ArrTy = ArrayType::get(SymTy, Rows.size());
  auto *Tab = new GlobalVariable(M, ArrTy, true, GlobalValue::PrivateLinkage,
                                 ConstantArray::get(ArrTy, Rows), "__moj_mig_syms");
  Function *Ctor = Function::Create(FunctionType::get(Type::getVoidTy(Ctx), false),
                                    GlobalValue::InternalLinkage, "__moj_mig_ctor", M);
  IRBuilder<> B(BasicBlock::Create(Ctx, "entry", Ctor));
  B.CreateCall(rt(MOJ_MIG_REGISTER, Type::getVoidTy(Ctx), {Ptr, I64}),
               {Tab, ConstantInt::get(I64, Rows.size())});
  B.CreateRetVoid();
  appendToGlobalCtors(M, Ctor, 102);
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

} // namespace

PreservedAnalyses MojMigratePass::run(Module &M, ModuleAnalysisManager &MAM) {
  // For measurements only: the program then cannot migrate.
  if (const char *Off = getenv("MOJCC_NO_MIGRATE"); Off && *Off && *Off != '0')
    return PreservedAnalyses::all();
  Migrate Mig(M, MAM);
  return Mig.run() ? PreservedAnalyses::none() : PreservedAnalyses::all();
}

} // namespace moj
