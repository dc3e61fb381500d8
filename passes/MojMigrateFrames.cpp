//===- MojMigrateFrames.cpp - moj-migrate: capturable frames --------------===//
//
// moj-migrate's frame room (MojMigrate.cpp says what the pass does): for each
// function that may migrate, the unwind path after every site (live values
// saved in typed slots, stack objects' addresses recorded) and the rewind
// path at entry (values reloaded, a jump to the site), live values found by
// demoting to slots and promoting back; stack-object addresses a frame
// holds are rematerialized so they follow their objects to a new stack.
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

uint8_t slotType(Type *T, const DataLayout &DL) {
  if (T->isPointerTy())
    return DL.getTypeStoreSize(T) == 8 ? SlotPtr : SlotBytes;
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

  // setjmp calls: their buffers and results in slots (MojMigrateSetjmp.cpp),
  // set up before the body starts (after the rewind's split point).
  Instruction *InitAt = &*Entry.getFirstInsertionPt();
  while (isa<AllocaInst>(InitAt))
    InitAt = InitAt->getNextNode();
  SmallVector<SetjmpSite, 2> SJ = prepareSetjmps(F, InitAt, Slots);

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

  // Descriptor: name, counts, record size, packed slot types, sizes of the
  // BYTES slots, object sizes/alignments (layout in
  // include/mojave/migrate_abi.h).  Slot offsets and scalar sizes are not
  // stored: the runtime derives them from each slot's type and alignment the
  // way the DataLayout laid the record out, which is checked here.  Empty
  // tables are null.
  auto Table = [&](auto V, StringRef N) -> Constant * {
    if (V.empty())
      return ConstantPointerNull::get(Ptr);
    auto *Init = ConstantDataArray::get(Ctx, V);
    auto *G = new GlobalVariable(M, Init->getType(), true, GlobalValue::PrivateLinkage,
                                 Init, N);
    G->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
    return G;
  };
  static const uint32_t ScalarSize[] = MOJ_MIG_SLOT_SIZES;
  SmallVector<uint32_t, 32> BytesSize, ObjSize, ObjAlign;
  SmallVector<uint8_t, 32> SlotTy;
  uint64_t End = SL->getElementOffset(2) + Objects.size() * DL.getTypeAllocSize(Ptr);
  Align MaxAlign = std::max(DL.getABITypeAlign(I32), DL.getABITypeAlign(Ptr));
  for (unsigned K = 0; K < Slots.size(); ++K) {
    Type *T = Slots[K]->getAllocatedType();
    uint8_t Ty = slotType(T, DL);
    Align A = DL.getABITypeAlign(T);
    uint64_t Size = Ty == SlotBytes ? DL.getTypeStoreSize(T).getFixedValue() : ScalarSize[Ty];
    if (Ty == SlotBytes)
      BytesSize.push_back((uint32_t)Size);
    End = alignTo(End, A);
    if (Log2(A) > 15 || End != SL->getElementOffset(3 + K) ||
        alignTo(Size, A) != DL.getTypeAllocSize(T))
      report_fatal_error(Twine("moj-migrate: slot ") + Twine(K) + " of " + F.getName() +
                         " does not fit the frame descriptor's layout rule");
    End += alignTo(Size, A);
    MaxAlign = std::max(MaxAlign, A);
    SlotTy.push_back((uint8_t)(Ty | Log2(A) << 4));
  }
  if (alignTo(End, MaxAlign) != SL->getSizeInBytes())
    report_fatal_error(Twine("moj-migrate: the frame record of ") + F.getName() +
                       " does not end where the descriptor's layout rule says");
  for (AllocaInst *A : Objects) {
    ObjSize.push_back((uint32_t)*A->getAllocationSize(DL));
    ObjAlign.push_back((uint32_t)A->getAlign().value());
  }
  std::string FName = stableName(F, 0);
  Constant *Name = ConstantDataArray::getString(Ctx, FName);
  auto *NameG = new GlobalVariable(M, Name->getType(), true, GlobalValue::PrivateLinkage,
                                   Name, "mig.fname");
  Constant *Tables[] = {Table(ArrayRef<uint8_t>(SlotTy), "mig.slottype"),
                        Table(ArrayRef<uint32_t>(BytesSize), "mig.bytessize"),
                        Table(ArrayRef<uint32_t>(ObjSize), "mig.objsize"),
                        Table(ArrayRef<uint32_t>(ObjAlign), "mig.objalign")};
  // References are i32 distances from the field to the target (0: none), so
  // the descriptor needs no load-time relocation.
  StructType *DescTy = StructType::get(Ctx, {I32, I32, I32, I32, I32, I32, I32, I32, I32});
  auto *Desc = new GlobalVariable(M, DescTy, true, GlobalValue::PrivateLinkage, nullptr,
                                  "mig.desc");
  auto Rel = [&](Constant *Target, unsigned Field) -> Constant * {
    if (Target->isNullValue())
      return ConstantInt::get(I32, 0);
    Constant *At = ConstantExpr::getInBoundsGetElementPtr(
        DescTy, Desc, ArrayRef<Constant *>{ConstantInt::get(I32, 0), ConstantInt::get(I32, Field)});
    return ConstantExpr::getTrunc(
        ConstantExpr::getSub(ConstantExpr::getPtrToInt(Target, I64),
                             ConstantExpr::getPtrToInt(At, I64)),
        I32);
  };
  Desc->setInitializer(ConstantStruct::get(
      DescTy, {Rel(NameG, 0), ConstantInt::get(I32, Slots.size()),
               ConstantInt::get(I32, Objects.size()), ConstantInt::get(I32, SL->getSizeInBytes()),
               ConstantInt::get(I32, SL->getElementOffset(2)),
               Rel(Tables[0], 5), Rel(Tables[1], 6), Rel(Tables[2], 7), Rel(Tables[3], 8)}));

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
  // A frame that called setjmp also keeps, at every site, the buffers to
  // re-create and what a longjmp to them would read (MojMigrateSetjmp.cpp).
  if (!SJ.empty()) {
    BitVector Extra(N);
    for (const SetjmpSite &S : SJ) {
      Extra |= LiveIn[S.Cont];
      Extra.set(SlotNo[S.Buf]);
    }
    for (const SetjmpSite &S : SJ)
      Extra.reset(SlotNo[S.Ret]);
    for (BitVector &L : LiveAt)
      L |= Extra;
  }

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
  BasicBlock *Again = SJ.empty() ? nullptr : rewindSetjmps(F, SJ, Site, Resume, Bad);
  for (unsigned K = 0; K < Resume.size(); ++K) {
    // per site: reload the values live where it resumes, then go there
    // (through the setjmps called again, if any)
    BasicBlock *Restore = BasicBlock::Create(Ctx, "mig.restore", &F);
    IRBuilder<> XB(Restore);
    for (unsigned J : LiveAt[K].set_bits()) {
      Type *T = Slots[J]->getAllocatedType();
      XB.CreateStore(XB.CreateLoad(T, XB.CreateStructGEP(RecTy, RRec, 3 + J)), Slots[J]);
    }
    XB.CreateBr(Again ? Again : Resume[K]);
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

} // namespace mig
} // namespace moj
