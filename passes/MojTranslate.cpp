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
//  * Everywhere else: a translation is reused down the CFG (blocks in
//    reverse post-order) until a call that is not harmless; a new write
//    translation invalidates the cached read translations.  At a join, a
//    root every predecessor has translated is reused through a phi of the
//    translations; at a loop header, a pointer phi the header dereferences
//    gets a phi of translations whose back-edge input is the previous
//    iteration's translation of the value it came from (`p = p->next`
//    walks, where p->next's object was translated for another access).
//    Allocations (not realloc) move nothing, so they keep the cache.  A read
//    of a root the same block then writes takes the write translation.
//
// Writes to objects this function allocated need no barrier at all when the
// function cannot change the speculation level (no call that may reach
// spec_enter/spec_commit/spec_abort): the allocation gave the object the
// current level as owner, and the owner can only differ from
// __moj_cur_owner after the level changed.  Such writes get a read
// translation ("fresh" roots: allocation results, and phis/selects of them).
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/PostOrderIterator.h"
#include "llvm/ADT/SmallPtrSet.h"

#include "llvm/Analysis/LoopInfo.h"
#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/IR/Dominators.h"
#include "llvm/IR/CFG.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
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
// A MapVector: merges at joins create phis in the cache's order, which must
// not depend on pointer values (reproducible output).
using Cache = MapVector<Value *, CacheEntry>;

// True for the runtime's allocation entry points: their result is a new
// object whose entry records the current level as owner (runtime/alloc.c).
// Without realloc (NewOnly), the call only adds a table entry: no existing
// object moves, so cached translations stay valid across it.
static bool isAllocation(const CallBase &CB, bool NewOnly = false) {
  const Function *F = CB.getCalledFunction();
  if (!F)
    return false;
  StringRef N = F->getName();
  return N == "__moj_malloc" || N == "__moj_calloc" ||
         N == "__moj_aligned_alloc" || N == "__moj_strdup" ||
         N == "__moj_strndup" || (!NewOnly && N == "__moj_realloc");
}

// Runtime entry points that allocate, free or translate but never enter,
// commit or abort a level: free, and mojcc's own helpers (__moj_cc_*: the
// soft barrier, re-handling of libc results, the libc wrappers).
static bool keepsLevel(const CallBase &CB) {
  const Function *F = CB.getCalledFunction();
  if (!F)
    return false;
  StringRef N = F->getName();
  return isAllocation(CB) || N == "__moj_free" || N == "__moj_usable_size" ||
         N.startswith("__moj_cc_");
}

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
  SmallPtrSet<Value *, 16> Fresh; // roots owned by the current level
  SmallPtrSet<Value *, 32> Translated; // roots of accesses not hoisted

  void findFresh();
  void collect();
  void add(Instruction *I, unsigned Op, bool Write);
  void placeInLoops();
  void emitHoisted();
  void upgradeReads();
  void walkBlock(BasicBlock *BB, Cache &C);
  using OutMap = DenseMap<BasicBlock *, Cache>; // caches at block ends
  Cache mergeIn(BasicBlock *BB, const OutMap &Out);
  bool allPredsWalked(BasicBlock *BB, const OutMap &Out) const;
  void walk();
  struct Carried { // a loop-carried translation waiting for its latch
    PHINode *X, *Orig;
    unsigned Edge;
    BasicBlock *Latch;
  };
  SmallVector<Carried, 8> Carry;
  void carryIn(BasicBlock *BB, const OutMap &Out,
               const SmallPtrSetImpl<Value *> &Used, Cache &C);
  Value *translationAtEnd(BasicBlock *P, Value *V, const Cache &C);
  void fillCarried(const OutMap &Out);
  Value *rebase(Value *V, Value *Root, Value *X, IRBuilder<> &B);
  bool isClobber(const Instruction &I) const {
    const auto *CB = dyn_cast<CallBase>(&I);
    return CB && !isHarmlessCall(*CB, TLI) && !isAllocation(*CB, true);
  }
};

void Translator::add(Instruction *I, unsigned Op, bool Write) {
  Value *P = I->getOperand(Op);
  if (!P->getType()->isPointerTy())
    return;
  Value *R = getRoot(P);
  if (isProvablyRaw(R) || isMarkerCall(R))
    return;
  // A fresh object is owned by the current level: no barrier needed.
  Access A{I, Op, Write && !Fresh.contains(R), R};
  ByInst[I].push_back(Accesses.size());
  Accesses.push_back(A);
}

void Translator::findFresh() {
  // Only where the level cannot change during the function: every call is
  // harmless (libc without callbacks, intrinsics, non-moving functions), a
  // marker, or the allocator — none of them can enter, commit or abort.
  SmallVector<Instruction *, 16> Merges;
  for (Instruction &I : instructions(F)) {
    if (auto *CB = dyn_cast<CallBase>(&I)) {
      if (isAllocation(*CB)) {
        Fresh.insert(CB);
        continue;
      }
      if (!keepsLevel(*CB) && !isMarkerCall(CB) && !isHarmlessCall(*CB, TLI)) {
        Fresh.clear();
        return;
      }
    } else if ((isa<PHINode>(I) || isa<SelectInst>(I)) &&
               I.getType()->isPointerTy()) {
      Merges.push_back(&I);
    }
  }
  // Greatest fixpoint: a merge is fresh when every input is fresh or raw.
  for (Instruction *I : Merges)
    Fresh.insert(I);
  auto FreshOrRaw = [&](Value *V) {
    Value *R = getRoot(V);
    return Fresh.contains(R) || isProvablyRaw(R);
  };
  for (bool Changed = true; Changed;) {
    Changed = false;
    for (Instruction *I : Merges) {
      if (!Fresh.contains(I))
        continue;
      bool Ok = true;
      if (auto *PN = dyn_cast<PHINode>(I))
        Ok = all_of(PN->incoming_values(), FreshOrRaw);
      else
        Ok = FreshOrRaw(cast<SelectInst>(I)->getTrueValue()) &&
             FreshOrRaw(cast<SelectInst>(I)->getFalseValue());
      if (!Ok) {
        Fresh.erase(I);
        Changed = true;
      }
    }
  }
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

// A read of a root that the same block writes later, with no clobbering call
// in between, takes the write translation at once: the barrier would run
// before the write anyway, and the write then reuses it instead of
// translating the same handle a second time.
void Translator::upgradeReads() {
  for (BasicBlock &BB : F) {
    SmallPtrSet<Value *, 8> WrittenLater;
    for (Instruction &I : reverse(BB)) {
      if (isClobber(I))
        WrittenLater.clear();
      auto It = ByInst.find(&I);
      if (It == ByInst.end())
        continue;
      for (unsigned Idx : reverse(It->second)) {
        Access &A = Accesses[Idx];
        if (A.Write)
          WrittenLater.insert(A.Root);
        else if (WrittenLater.contains(A.Root))
          A.Write = true;
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

// What is valid on entry to BB: a predecessor's cache through a single edge;
// at a join, the roots every predecessor has translated, through a phi of
// their translations where they differ (valid for writing only if every one
// is).  A block entered through an edge not walked yet (a loop header from
// its latch) starts empty.
Cache Translator::mergeIn(BasicBlock *BB, const OutMap &Out) {
  SmallVector<BasicBlock *, 4> Preds(predecessors(BB)); // one per edge
  SmallVector<const Cache *, 4> In;
  for (BasicBlock *P : Preds) {
    auto It = Out.find(P);
    if (It == Out.end())
      return {};
    In.push_back(&It->second);
  }
  if (In.empty())
    return {};
  if (all_of(Preds, [&](BasicBlock *P) { return P == Preds[0]; }))
    return *In[0];
  Cache R;
  for (auto &[Root, E] : *In[0]) {
    bool InAll = true, Same = true, Write = E.Write;
    for (const Cache *C : In) {
      auto It = C->find(Root);
      if (It == C->end()) {
        InAll = false;
        break;
      }
      Same &= It->second.X == E.X;
      Write &= It->second.Write;
    }
    if (!InAll)
      continue;
    Value *X = E.X;
    if (!Same) {
      PHINode *PN = PHINode::Create(X->getType(), Preds.size(), "moj.xm",
                                    &BB->front());
      for (unsigned K = 0; K < Preds.size(); ++K)
        PN->addIncoming(In[K]->find(Root)->second.X, Preds[K]);
      MaybeDead.push_back(PN); // unused merges go again
      X = PN;
    }
    R[Root] = {X, Write};
  }
  return R;
}

bool Translator::allPredsWalked(BasicBlock *BB, const OutMap &Out) const {
  return all_of(predecessors(BB),
                [&](BasicBlock *P) { return Out.count(P) != 0; });
}

// The translation of V valid at the end of P (whose out-cache is C), built
// there from a cached translation of V's root; null when there is none.
Value *Translator::translationAtEnd(BasicBlock *P, Value *V, const Cache &C) {
  Value *R = getRoot(V);
  if (isProvablyRaw(R))
    return V; // raw pointers translate to themselves
  auto It = C.find(R);
  if (It == C.end())
    return nullptr;
  IRBuilder<> B(P->getTerminator());
  return rebase(V, R, It->second.X, B);
}

// Loop-carried translations: at a block entered through an edge not walked
// yet (a loop header from its latch), a pointer phi that the block itself
// dereferences gets a phi of translations, one per edge (tree and list
// walks in step: `pr = pr_prev->left`, where pr_prev was translated in the
// previous iteration for another access).  A walked predecessor hands over
// its cached translation, or translates there when the header is its only
// successor (a preheader); the latch's input is filled in after the walk.
void Translator::carryIn(BasicBlock *BB, const OutMap &Out,
                         const SmallPtrSetImpl<Value *> &Used, Cache &C) {
  for (PHINode &PN : BB->phis()) {
    if (!PN.getType()->isPointerTy() || !Used.contains(&PN) ||
        getRoot(&PN) != &PN)
      continue;
    // Worth it only when every back edge brings a value whose root the
    // loop translates anyway (`p = q->left` after an access to q); a value
    // nothing translates (`p = p->next`) would only move the translation.
    // A walked predecessor must have the translation or be a preheader, and
    // each edge must be the only one from its block (the back edge may be
    // split later, which moves one phi entry).
    bool Carries = true, Waits = false;
    SmallPtrSet<BasicBlock *, 4> Seen;
    for (unsigned K = 0; K < PN.getNumIncomingValues() && Carries; ++K) {
      BasicBlock *P = PN.getIncomingBlock(K);
      Value *V = PN.getIncomingValue(K);
      auto It = Out.find(P);
      Carries = Seen.insert(P).second;
      if (It == Out.end()) {
        Waits = true;
        Carries &= Translated.contains(getRoot(V));
      } else if (P->getSingleSuccessor() != BB) {
        Value *R = getRoot(V);
        Carries &= isProvablyRaw(R) || It->second.count(R);
      }
    }
    if (!Carries || !Waits)
      continue;
    SmallVector<Value *, 4> In;
    for (unsigned K = 0; K < PN.getNumIncomingValues(); ++K) {
      BasicBlock *P = PN.getIncomingBlock(K);
      auto It = Out.find(P);
      if (It == Out.end()) {
        In.push_back(nullptr);
        continue;
      }
      Value *V = PN.getIncomingValue(K);
      Value *X = translationAtEnd(P, V, It->second);
      if (!X) {
        // Entering the loop (a preheader): translate here, as the header
        // would have; the latch then hands over the next one.
        IRBuilder<> B(P->getTerminator());
        Value *R = getRoot(V);
        X = rebase(V, R, B.CreateCall(getMarker(M, MarkerRead), {R}, "moj.r"),
                   B);
      }
      In.push_back(X);
    }
    PHINode *X = PHINode::Create(PN.getType(), In.size(), "moj.xc", &BB->front());
    for (unsigned K = 0; K < In.size(); ++K) {
      BasicBlock *P = PN.getIncomingBlock(K);
      X->addIncoming(In[K] ? In[K] : PoisonValue::get(PN.getType()), P);
      if (!In[K])
        Carry.push_back({X, &PN, K, P});
    }
    C[&PN] = {X, false};
  }
}

// Latches: the translation is in the latch's out-cache (reused), or else
// made on the back edge itself (its own block when the latch branches
// elsewhere too), which costs what the header's translation cost before.
void Translator::fillCarried(const OutMap &Out) {
  for (Carried &CI : Carry) {
    if (CI.X->use_empty()) { // the header cleared it before its access
      MaybeDead.push_back(CI.X);
      continue;
    }
    BasicBlock *H = CI.X->getParent();
    Value *V = CI.Orig->getIncomingValue(CI.Edge);
    auto It = Out.find(CI.Latch);
    Value *X =
        It == Out.end() ? nullptr : translationAtEnd(CI.Latch, V, It->second);
    if (!X) {
      BasicBlock *P = CI.X->getIncomingBlock(CI.Edge); // split already?
      if (P->getTerminator()->getNumSuccessors() != 1) {
        unsigned S = 0;
        while (P->getTerminator()->getSuccessor(S) != H)
          ++S;
        P = SplitCriticalEdge(P->getTerminator(), S);
      }
      IRBuilder<> B(P->getTerminator());
      Value *R = getRoot(V);
      X = rebase(V, R, B.CreateCall(getMarker(M, MarkerRead), {R}, "moj.r"), B);
    }
    CI.X->setIncomingValue(CI.Edge, X);
  }
}

// Blocks in reverse post-order, so every forward predecessor of a block is
// walked before it.
void Translator::walk() {
  // Roots a block reads before any call or write of them: a loop-carried
  // translation is made only for those (it runs on every entry).
  DenseMap<BasicBlock *, SmallPtrSet<Value *, 8>> Used;
  for (Access &A : Accesses)
    if (!A.Place)
      Translated.insert(A.Root);
  for (BasicBlock &BB : F) {
    SmallPtrSet<Value *, 8> Written;
    for (Instruction &I : BB) {
      auto It = ByInst.find(&I);
      if (It != ByInst.end())
        for (unsigned Idx : It->second) {
          Access &A = Accesses[Idx];
          if (A.Place)
            continue;
          if (A.Write)
            Written.insert(A.Root);
          else if (!Written.contains(A.Root))
            Used[&BB].insert(A.Root);
        }
      if (isClobber(I))
        break;
    }
  }
  OutMap Out;
  ReversePostOrderTraversal<Function *> RPOT(&F);
  for (BasicBlock *BB : RPOT) {
    Cache C;
    if (allPredsWalked(BB, Out))
      C = mergeIn(BB, Out);
    else if (Hoist)
      carryIn(BB, Out, Used[BB], C);
    walkBlock(BB, C);
    Out[BB] = std::move(C);
  }
  fillCarried(Out);
}

bool Translator::run() {
  findFresh();
  collect();
  if (Accesses.empty())
    return false;
  upgradeReads();
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
