//===- MojTranslate.cpp - moj-translate: translate possibly-handle accesses ===//
//
// Every load, store, atomic, memory intrinsic and byval argument whose
// address may be a handle gets its address from a translation marker
// (__moj_xr for reads, __moj_xw / __moj_xws for writes, lowered by moj-lower).
// Accesses whose address provably is raw (allocas, globals, byval copies) are
// left alone: the runtime rolls the stack and globals back by itself.
//
// Cost is kept down by translating the *root* of an address instead of the
// address itself: for p = root + off computed with inbounds GEPs (C array
// indexing and pointer arithmetic), translate(p) == translate(root) + off
// because both lie in the same object, so one translation serves every
// access derived from root.  Translations are then reused:
//
//  * Loops: a translation of a loop-invariant root is placed in the preheader
//    of the outermost enclosing loop that (a) contains no call that may move
//    or free objects (anything but intrinsics and plain libc functions), and,
//    for reads, (b) runs no write translation inside it — a copy-on-write slow
//    path could move the very object a hoisted read translation points to.
//    In a preheader, write translations come before read translations for
//    the same reason.  Hoisted write translations use the soft slow path, as
//    the original write might not have executed at all.
//  * Straight-line code: a translation is reused along the dominator tree
//    (through single-predecessor edges) until a call that is not harmless;
//    a new write translation invalidates the cached read translations.
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"

#include <memory>
#include "llvm/Analysis/LoopInfo.h"
#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/IR/Dominators.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Operator.h"
#include "llvm/Transforms/Utils/Local.h"
#include "llvm/Transforms/Utils/LoopUtils.h"
#include "llvm/Transforms/Utils/BasicBlockUtils.h"

using namespace llvm;

namespace moj {

namespace {

struct Access {
  Instruction *I;
  unsigned OpIdx; // operand of I holding the address
  bool Write;
  Value *Root = nullptr;
  Loop *Place = nullptr; // hoisted to this loop's preheader, or null
};

struct CacheEntry {
  Value *X;
  bool Write;
};
using Cache = DenseMap<Value *, CacheEntry>;

class Translator {
public:
  Translator(Function &F, LoopInfo &LI, DominatorTree &DT,
             const TargetLibraryInfo &TLI, bool Hoist)
      : F(F), M(*F.getParent()), LI(LI), DT(DT), TLI(TLI), Hoist(Hoist) {}
  bool run();

private:
  Function &F;
  Module &M;
  LoopInfo &LI;
  DominatorTree &DT;
  const TargetLibraryInfo &TLI;
  bool Hoist;
  SmallVector<Access, 64> Accesses;
  DenseMap<Instruction *, SmallVector<unsigned, 2>> ByInst;
  DenseMap<Loop *, bool> CallFree, InnerWrite;
  DenseMap<std::pair<Loop *, Value *>, CacheEntry> Hoisted;
  SmallVector<WeakTrackingVH, 16> MaybeDead;

  void collect();
  void add(Instruction *I, unsigned Op, bool Write);
  void placeInLoops();
  void emitHoisted();
  void walkBlock(BasicBlock *BB, Cache &C);
  void walk();
  Value *rebase(Value *V, Value *Root, Value *X, IRBuilder<> &B);
  bool isClobber(const Instruction &I) const {
    const auto *CB = dyn_cast<CallBase>(&I);
    return CB && !isHarmlessCall(*CB, TLI);
  }
};

void Translator::add(Instruction *I, unsigned Op, bool Write) {
  Value *P = I->getOperand(Op);
  if (!P->getType()->isPointerTy())
    return;
  Value *R = getRoot(P);
  if (isProvablyRaw(R) || isMarkerCall(R))
    return;
  Access A{I, Op, Write, R};
  ByInst[I].push_back(Accesses.size());
  Accesses.push_back(A);
}

void Translator::collect() {
  for (BasicBlock &BB : F) {
    for (Instruction &I : BB) {
      if (auto *L = dyn_cast<LoadInst>(&I)) {
        add(L, L->getPointerOperandIndex(), false);
      } else if (auto *S = dyn_cast<StoreInst>(&I)) {
        add(S, S->getPointerOperandIndex(), true);
      } else if (auto *RMW = dyn_cast<AtomicRMWInst>(&I)) {
        add(RMW, RMW->getPointerOperandIndex(), true);
      } else if (auto *CX = dyn_cast<AtomicCmpXchgInst>(&I)) {
        add(CX, CX->getPointerOperandIndex(), true);
      } else if (auto *MT = dyn_cast<AnyMemTransferInst>(&I)) {
        add(MT, 0, true); // destination first: see walk()
        add(MT, 1, false);
      } else if (auto *MS = dyn_cast<AnyMemSetInst>(&I)) {
        add(MS, 0, true);
      } else if (auto *II = dyn_cast<IntrinsicInst>(&I)) {
        switch (II->getIntrinsicID()) {
        case Intrinsic::vastart:
        case Intrinsic::vaend:
          add(II, 0, true);
          break;
        case Intrinsic::vacopy:
          add(II, 0, true);
          add(II, 1, false);
          break;
        case Intrinsic::masked_load:
          add(II, 0, false);
          break;
        case Intrinsic::masked_store:
          add(II, 1, true);
          break;
        case Intrinsic::masked_gather:
        case Intrinsic::masked_scatter:
        case Intrinsic::masked_expandload:
        case Intrinsic::masked_compressstore:
          warn(M, II,
               "mojcc: vector gather/scatter through possibly-managed "
               "pointers is not translated; compile without -march/-mavx2 "
               "vector gathers (e.g. -fno-vectorize)");
          break;
        default:
          break; // lifetime, dbg, prefetch, ... touch no managed memory
        }
      } else if (auto *CB = dyn_cast<CallBase>(&I)) {
        // The backend copies byval arguments from the pointer itself.
        for (unsigned A = 0, E = CB->arg_size(); A != E; ++A)
          if (CB->paramHasAttr(A, Attribute::ByVal))
            add(CB, A, false);
      }
    }
  }
}

void Translator::placeInLoops() {
  // Late CFG cleanups often fold a loop's preheader away; give every loop
  // one back so translations have a place to go.
  for (Loop *L : LI.getLoopsInPreorder())
    if (!L->getLoopPreheader())
      InsertPreheaderForLoop(L, &DT, &LI, nullptr, false);
  for (Loop *L : LI.getLoopsInPreorder()) {
    bool Free = true;
    for (BasicBlock *BB : L->blocks())
      for (Instruction &I : *BB)
        if (isClobber(I)) {
          Free = false;
          break;
        }
    CallFree[L] = Free;
  }
  auto Outside = [](Loop *L, Value *R) {
    auto *I = dyn_cast<Instruction>(R);
    return !I || !L->contains(I);
  };
  auto Best = [&](Access &A, bool CheckInnerWrites) {
    Loop *B = nullptr;
    for (Loop *L = LI.getLoopFor(A.I->getParent()); L; L = L->getParentLoop()) {
      if (!Outside(L, A.Root) || !CallFree[L] || !L->getLoopPreheader())
        break;
      if (CheckInnerWrites && InnerWrite.lookup(L))
        break;
      B = L;
    }
    return B;
  };
  for (Access &A : Accesses)
    if (A.Write)
      A.Place = Best(A, false);
  for (Access &A : Accesses) {
    if (!A.Write)
      continue;
    for (Loop *L = LI.getLoopFor(A.I->getParent()); L; L = L->getParentLoop())
      if (!A.Place || (A.Place != L && L->contains(A.Place)))
        InnerWrite[L] = true;
  }
  for (Access &A : Accesses)
    if (!A.Write)
      A.Place = Best(A, true);
}

void Translator::emitHoisted() {
  // Writes first so that reads placed in the same preheader see the copy.
  for (int Pass = 0; Pass < 2; ++Pass) {
    bool Writes = Pass == 0;
    for (Access &A : Accesses) {
      if (!A.Place || A.Write != Writes)
        continue;
      auto Key = std::make_pair(A.Place, A.Root);
      if (Hoisted.count(Key))
        continue;
      if (!Writes) {
        // A write translation of the same root in this or an enclosing
        // preheader is valid for reading too.
        bool Found = false;
        for (Loop *L = A.Place; L && !Found; L = L->getParentLoop()) {
          auto It = Hoisted.find({L, A.Root});
          if (It != Hoisted.end() && It->second.Write) {
            Hoisted[Key] = It->second;
            Found = true;
          }
        }
        if (Found)
          continue;
      }
      IRBuilder<> B(A.Place->getLoopPreheader()->getTerminator());
      Value *X = B.CreateCall(
          getMarker(M, Writes ? MarkerWriteSoft : MarkerRead), {A.Root},
          Writes ? "moj.hw" : "moj.hr");
      Hoisted[Key] = {X, Writes};
    }
  }
}

// Rebuilds the address V (derived from Root by casts and inbounds GEPs) on
// the translated root X, so the original arithmetic is reused; anything else
// (phis, selects) gets X + (V - Root), exact because both are in one object.
Value *Translator::rebase(Value *V, Value *Root, Value *X, IRBuilder<> &B) {
  if (V == Root)
    return X;
  if (auto *GEP = dyn_cast<GEPOperator>(V)) {
    if (GEP->isInBounds()) {
      Value *Base = rebase(GEP->getPointerOperand(), Root, X, B);
      SmallVector<Value *, 4> Idx(GEP->indices());
      if (auto *I = dyn_cast<Instruction>(V))
        MaybeDead.push_back(I);
      return B.CreateInBoundsGEP(GEP->getSourceElementType(), Base, Idx,
                                 V->getName() + ".moj");
    }
  }
  if (auto *Op = dyn_cast<Operator>(V)) {
    if (Op->getOpcode() == Instruction::BitCast ||
        Op->getOpcode() == Instruction::AddrSpaceCast) {
      Value *Base = rebase(Op->getOperand(0), Root, X, B);
      return B.CreatePointerBitCastOrAddrSpaceCast(Base, V->getType());
    }
  }
  Type *IntPtr = B.getInt64Ty();
  Value *Diff = B.CreateSub(B.CreatePtrToInt(V, IntPtr),
                            B.CreatePtrToInt(Root, IntPtr), "moj.off");
  return B.CreateGEP(B.getInt8Ty(), X, Diff, "moj.addr");
}

void Translator::walkBlock(BasicBlock *BB, Cache &C) {
  SmallVector<Instruction *, 32> Insts;
  for (Instruction &I : *BB)
    Insts.push_back(&I);
  for (Instruction *I : Insts) {
    auto It = ByInst.find(I);
    if (It != ByInst.end()) {
      for (unsigned Idx : It->second) {
        Access &A = Accesses[Idx];
        Value *X = nullptr;
        if (A.Place) {
          X = Hoisted.lookup({A.Place, A.Root}).X;
        } else {
          auto CI = C.find(A.Root);
          if (CI != C.end() && (CI->second.Write || !A.Write)) {
            X = CI->second.X;
          } else {
            IRBuilder<> B(I);
            X = B.CreateCall(getMarker(M, A.Write ? MarkerWrite : MarkerRead),
                             {A.Root}, A.Write ? "moj.w" : "moj.r");
            if (A.Write) {
              // The barrier may have moved an object a cached read
              // translation points into.
              SmallVector<Value *, 8> Stale;
              for (auto &E : C)
                if (!E.second.Write)
                  Stale.push_back(E.first);
              for (Value *S : Stale)
                C.erase(S);
            }
            C[A.Root] = {X, A.Write};
          }
        }
        IRBuilder<> B(I);
        Value *Old = I->getOperand(A.OpIdx);
        I->setOperand(A.OpIdx, rebase(Old, A.Root, X, B));
        if (auto *OI = dyn_cast<Instruction>(Old))
          MaybeDead.push_back(OI);
      }
    }
    if (isClobber(*I))
      C.clear();
  }
}

// Dominator-tree preorder with an explicit stack (huge functions have deep
// trees); a child inherits its parent's cache only through a
// single-predecessor edge, where no other path can have clobbered it.
void Translator::walk() {
  SmallVector<std::pair<DomTreeNode *, std::shared_ptr<Cache>>, 32> Stack;
  Stack.push_back({DT.getRootNode(), std::make_shared<Cache>()});
  while (!Stack.empty()) {
    auto [N, In] = Stack.pop_back_val();
    BasicBlock *BB = N->getBlock();
    auto C = std::make_shared<Cache>(*In);
    walkBlock(BB, *C);
    for (DomTreeNode *Child : N->children()) {
      if (Child->getBlock()->getSinglePredecessor() == BB)
        Stack.push_back({Child, C});
      else
        Stack.push_back({Child, std::make_shared<Cache>()});
    }
  }
}

bool Translator::run() {
  collect();
  if (Accesses.empty())
    return false;
  if (Hoist) {
    placeInLoops();
    emitHoisted();
  }
  walk();
  RecursivelyDeleteTriviallyDeadInstructionsPermissive(MaybeDead);
  return true;
}

} // namespace

PreservedAnalyses MojTranslatePass::run(Function &F,
                                        FunctionAnalysisManager &FAM) {
  if (F.isDeclaration() || F.getName().startswith("__moj_"))
    return PreservedAnalyses::all();
  auto &LI = FAM.getResult<LoopAnalysis>(F);
  auto &DT = FAM.getResult<DominatorTreeAnalysis>(F);
  auto &TLI = FAM.getResult<TargetLibraryAnalysis>(F);
  Translator T(F, LI, DT, TLI, Hoist);
  if (!T.run())
    return PreservedAnalyses::all();
  return PreservedAnalyses::none();
}

} // namespace moj
