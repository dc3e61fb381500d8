//===- MojGlobals.cpp - moj-globals: large static globals become managed ---===//
//
// Speculation entry copies the executable's writable segments (.data/.bss):
// 64 MB of globals cost milliseconds at every spec_enter.  A large global of
// this module that only this module's code can name (internal linkage, no
// section, not thread-local, not constant, at least MinBytes) is turned into
// a managed heap object instead, so it is copied on write like one — by page
// when it is large (runtime/large.c) — and entry no longer grows with it:
//
//   @big = internal global [N x i8] <init>
// becomes
//   @big.moj = internal global ptr null        ; its handle, set once
//   @big.moj.init = private constant <init>   ; only when <init> is not zero
// with every use of @big in a function replaced by one load of @big.moj at
// the function's entry (constant expressions over @big become instructions),
// and a constructor (priority 1, before any program constructor) that
// allocates the object with __moj_calloc / __moj_aligned_alloc and copies
// the initializer in.  The handle slot is 8 bytes of .bss that never change
// after start-up, so the globals snapshot keeps it for free.
//
// Left alone: globals another module or foreign code could name (external
// linkage), globals used by other globals' initializers (the address must
// be a link-time constant there), llvm.used, explicit sections, TLS.
// Runs first in moj-instrument, so the loaded handle is translated like any
// other possibly-managed root.
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/ReplaceConstant.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"

using namespace llvm;

namespace moj {

namespace {

// Globals below this stay in .data/.bss: their copy at entry is cheaper than
// a translation on every access.
constexpr uint64_t MinBytes = 16 * 1024;

// Every use of C is, through constant expressions only, an instruction.
bool onlyInstructionUses(Constant *C, SmallVectorImpl<Instruction *> &Insts) {
  for (User *U : C->users()) {
    if (auto *I = dyn_cast<Instruction>(U)) {
      Insts.push_back(I);
    } else if (auto *CE = dyn_cast<ConstantExpr>(U)) {
      if (!onlyInstructionUses(CE, Insts))
        return false;
    } else {
      return false;
    }
  }
  return true;
}

bool eligible(GlobalVariable &G, const DataLayout &DL) {
  if (G.isDeclaration() || !G.hasLocalLinkage() || G.isConstant() ||
      G.hasSection() || G.isThreadLocal() || G.isExternallyInitialized() ||
      G.getName().startswith("llvm.") || G.getName().startswith("__moj"))
    return false;
  Type *T = G.getValueType();
  if (!T->isSized() || DL.getTypeAllocSize(T) < MinBytes ||
      DL.getTypeAllocSize(T) > 0xffffffffull) // MOJ_MAX_OBJECT_SIZE
    return false;
  if (G.getAlign() && G.getAlign()->value() > 4096)
    return false;
  G.removeDeadConstantUsers();
  SmallVector<Instruction *, 16> Insts;
  return onlyInstructionUses(&G, Insts);
}

// Constant expressions over G become instructions, so every use of G is an
// instruction operand.
void expandConstantUses(GlobalVariable &G) {
  SmallVector<ConstantExpr *, 8> CEs;
  for (User *U : G.users())
    if (auto *CE = dyn_cast<ConstantExpr>(U))
      CEs.push_back(CE);
  for (ConstantExpr *CE : CEs) {
    SmallVector<Instruction *, 16> Insts;
    onlyInstructionUses(CE, Insts);
    SmallPtrSet<Instruction *, 16> Seen;
    for (Instruction *I : Insts)
      if (Seen.insert(I).second)
        convertConstantExprsToInstructions(I, CE);
  }
  G.removeDeadConstantUsers();
}

} // namespace

PreservedAnalyses MojGlobalsPass::run(Module &M, ModuleAnalysisManager &) {
  const DataLayout &DL = M.getDataLayout();
  SmallVector<GlobalVariable *, 8> Work;
  for (GlobalVariable &G : M.globals())
    if (eligible(G, DL))
      Work.push_back(&G);
  if (Work.empty())
    return PreservedAnalyses::all();

  LLVMContext &Ctx = M.getContext();
  Type *Ptr = PointerType::getUnqual(Ctx);
  Type *I64 = Type::getInt64Ty(Ctx);
  FunctionCallee Calloc = M.getOrInsertFunction("__moj_calloc", Ptr, I64, I64);
  FunctionCallee Aligned = M.getOrInsertFunction("__moj_aligned_alloc", Ptr, I64, I64);
  FunctionCallee Twn = M.getOrInsertFunction("__moj_twn", Ptr, Ptr, I64);
  Function *Ctor = Function::Create(FunctionType::get(Type::getVoidTy(Ctx), false),
                                    GlobalValue::InternalLinkage, "__moj_globals_ctor", M);
  IRBuilder<> CB(BasicBlock::Create(Ctx, "entry", Ctor));

  for (GlobalVariable *G : Work) {
    expandConstantUses(*G);
    uint64_t Size = DL.getTypeAllocSize(G->getValueType());
    uint64_t Align = G->getAlign() ? G->getAlign()->value() : 16;
    auto *Slot = new GlobalVariable(M, Ptr, false, GlobalValue::InternalLinkage,
                                    ConstantPointerNull::get(cast<PointerType>(Ptr)),
                                    G->getName() + ".moj");
    Slot->setAlignment(llvm::Align(8));

    // Constructor: allocate (zeroed), then copy a non-zero initializer in.
    bool Zero = G->getInitializer()->isNullValue(), Calloced = Align <= 16;
    Value *H = Calloced ? CB.CreateCall(Calloc, {ConstantInt::get(I64, 1), ConstantInt::get(I64, Size)})
                        : CB.CreateCall(Aligned, {ConstantInt::get(I64, Align), ConstantInt::get(I64, Size)});
    if (!Zero || !Calloced) { // aligned_alloc does not zero
      Value *Raw = CB.CreateCall(Twn, {H, ConstantInt::get(I64, Size)});
      if (Zero) {
        CB.CreateMemSet(Raw, CB.getInt8(0), Size, llvm::Align(Align));
      } else {
        auto *Init = new GlobalVariable(M, G->getValueType(), true, GlobalValue::PrivateLinkage,
                                        G->getInitializer(), G->getName() + ".moj.init");
        Init->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
        Init->setAlignment(llvm::Align(Align));
        CB.CreateMemCpy(Raw, llvm::Align(Align), Init, llvm::Align(Align), Size);
      }
    }
    CB.CreateStore(H, Slot);

    // Uses: one load of the handle per function, at its entry.
    DenseMap<Function *, Value *> Loaded;
    SmallVector<Use *, 16> Uses;
    for (Use &U : G->uses())
      Uses.push_back(&U);
    for (Use *U : Uses) {
      auto *I = cast<Instruction>(U->getUser());
      Function *F = I->getFunction();
      Value *&L = Loaded[F];
      if (!L) {
        IRBuilder<> B(&*F->getEntryBlock().getFirstInsertionPt());
        L = B.CreateLoad(Ptr, Slot, G->getName() + ".h");
      }
      U->set(L);
    }
    G->eraseFromParent();
  }
  CB.CreateRetVoid();
  appendToGlobalCtors(M, Ctor, 1);
  return PreservedAnalyses::none();
}

} // namespace moj
