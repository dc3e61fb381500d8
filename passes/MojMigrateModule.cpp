//===- MojMigrateModule.cpp - moj-migrate: the module-wide parts ----------===//
//
// moj-migrate's module room (MojMigrate.cpp says what the pass does):
// functions that may migrate but cannot be captured are bracketed so the
// runtime refuses an unwind while one is on the stack; main is wrapped;
// every global, function and string literal is registered under a stable
// name so addresses travel as symbols.
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

// Functions that may migrate but cannot be captured (VLAs, varargs,
// returns_twice calls other than a direct setjmp, see supported()): while
// one is on the stack, the runtime refuses to start an unwind.
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

} // namespace mig
} // namespace moj
