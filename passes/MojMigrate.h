//===- MojMigrate.h - moj-migrate's rooms: the state they share ----------===//
//
// moj-migrate (migration points and portable frames, see MojMigrate.cpp) is
// split by job: MojMigrate.cpp decides which functions may migrate, puts
// the polls and drives the pass; MojMigrateFrames.cpp makes each frame
// capturable (unwind and rewind paths, live values in typed slots, stack
// objects' addresses); MojMigrateSetjmp.cpp lets a frame that called setjmp
// be captured (its jmp_bufs re-created by the rewind); MojMigrateModule.cpp
// does the module-wide parts (unsupported functions bracketed, main wrapped,
// symbols registered).  This header is theirs alone.
//===----------------------------------------------------------------------===//
#ifndef MOJ_MIGRATE_H
#define MOJ_MIGRATE_H
#include "MojCommon.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/DataLayout.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Support/xxhash.h"

#include <string>

namespace moj {
namespace mig {
using namespace llvm;

inline constexpr const char *MainBody = "main.body";

// Slot type codes of the image format (migrate/image.h moj_img_slot_type).
enum SlotType : uint8_t {
  SlotI1 = 1, SlotI8, SlotI16, SlotI32, SlotI64, SlotF32, SlotF64, SlotF80,
  SlotPtr, SlotBytes
};

// A setjmp call in a frame that may be captured (MojMigrateSetjmp.cpp).
struct SetjmpSite {
  CallBase *Call;    // setjmp(buf, ...), returns twice
  AllocaInst *Buf;   // slot: buf of its last run in this activation, or null
  AllocaInst *Ret;   // slot: its result, from the call or from the rewind's
  BasicBlock *Cont;  // where its result is used (the rewind's nonzero edge)
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
  bool capturableSetjmp(const CallBase &CB) const;
  SmallVector<SetjmpSite, 2> prepareSetjmps(Function &F, Instruction *InitAt,
                                            SmallVectorImpl<AllocaInst *> &Slots);
  BasicBlock *rewindSetjmps(Function &F, ArrayRef<SetjmpSite> SJ, Value *Site,
                            ArrayRef<BasicBlock *> Resume, BasicBlock *Bad);
  void bracketUnsupported(Function &F);
  void wrapMain(Function *Body);
  void registerSymbols();
};

bool isMigrateEntry(StringRef N);
uint8_t slotType(Type *T, const DataLayout &DL);

} // namespace mig
} // namespace moj
#endif
