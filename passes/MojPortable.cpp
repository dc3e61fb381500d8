//===- MojPortable.cpp - bitcode that moves across instruction sets --------===//
//
// IR migration ships the module as mojcc left it for the source's
// instruction set (docs/migration.md, "Across instruction sets").  Most of
// that IR is the same on x86-64 and aarch64 (both LP64, little endian); what
// is not falls in two groups:
//
//  * converted at the destination (moj-retarget, run first in the pipeline
//    of a shipped module whose source instruction set differs): the
//    target-cpu/target-features/tune-cpu attributes (the source's: on the
//    other target they name no FP unit and floating point turns into
//    unresolved soft-float calls) are dropped so the destination's defaults
//    apply; the calls of the x86-64-only preserve_most/preserve_all entry
//    points (MojLower.cpp) become the destination's inline translation; the
//    open(2) flags passed to open/openat/fcntl(F_SETFL) and returned by
//    fcntl(F_GETFL) are renumbered (aarch64 permutes four of them); setjmp
//    and longjmp get a buffer of the destination's size (convertJmpBufs);
//    x86-64's variadic calls and va_start are emulated (MojVarargs.cpp).
//  * refused, with a named reason (portabilityProblems): what clang's front
//    end already lowered for the source's ABI and the IR does not say how
//    to undo — va_start/va_arg of aarch64 code (va_list layouts differ;
//    x86-64's are converted, within limits), long double
//    (x86_fp80 against IEEE binary128), struct types whose layout differs
//    under the two data layouts, calls of the C library's functions that
//    take or return structures by value (their coercion is ABI-specific) or
//    fill structures whose glibc layout differs (struct stat, ...),
//    target intrinsics, inline assembly, calling conventions the other
//    target lacks.
//
// The source decides before anything is sent: moj-isa-report writes each
// module's refusals per destination instruction set into the non-loaded
// section `.mojave.isa`, one line "ARCH REASON" (no line: movable), which
// migrate/ship.c reads when IR mode crosses instruction sets.  The report is
// module asm, so it is inside the shipped bitcode too and a destination's
// executable carries it on.  The destination checks again (a peer may not).
// The module also records its source triple and data layout (named metadata
// `mojave.source`): clang overwrites both when it compiles shipped bitcode.
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DataLayout.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Metadata.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/TargetParser/Triple.h"

#include <algorithm>
#include <cstring>

using namespace llvm;

namespace moj {

static constexpr const char *SourceMD = "mojave.source";
static constexpr const char *ReportDirective = ".pushsection .mojave.isa,\"\",%progbits";

namespace {

// The instruction sets mojave runs on, with clang 16's data layout for their
// Linux triples (the report is computed at the source, where only the
// source's target is at hand; the destination checks with its real one).
struct Isa { const char *Name; Triple::ArchType Arch; const char *DL; };
const Isa Isas[] = {
    {"x86_64", Triple::x86_64,
     "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"},
    {"aarch64", Triple::aarch64, "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128"},
};

const char *archName(Triple::ArchType A) {
  for (const Isa &I : Isas)
    if (I.Arch == A)
      return I.Name;
  return nullptr;
}

// C library functions whose parameters or result are structures or complex
// numbers by value: clang coerced them for the source's ABI (float complex
// is one <2 x float> vector register on x86-64, two s registers on aarch64).
bool aggregateLibcall(StringRef N) {
  static const char *const Div[] = {"div", "ldiv", "lldiv", "imaxdiv"};
  for (const char *D : Div)
    if (N == D)
      return true;
  static const char *const Complex[] = {
      "cabs", "carg", "cimag", "creal", "conj", "cproj", "cexp", "clog", "cpow", "csqrt",
      "csin", "ccos", "ctan", "casin", "cacos", "catan", "csinh", "ccosh", "ctanh",
      "casinh", "cacosh", "catanh"};
  for (const char *C : Complex) {
    StringRef S(C);
    if (N == S || (N.size() == S.size() + 1 && N.startswith(S) && (N.back() == 'f' || N.back() == 'l')))
      return true;
  }
  return false;
}

// C library functions that fill or read a structure through a pointer whose
// glibc layout differs between x86-64 and aarch64 (measured with sizeof on
// both: docs/migration.md lists the types): the program's IR sized and
// addressed it for the source, the destination's C library would not.
const char *libcStructType(StringRef N) {
  static const struct { const char *Name; const char *Type; } Fns[] = {
      {"stat", "struct stat"}, {"fstat", "struct stat"}, {"lstat", "struct stat"},
      {"fstatat", "struct stat"}, {"stat64", "struct stat"}, {"fstat64", "struct stat"},
      {"lstat64", "struct stat"}, {"fstatat64", "struct stat"}, {"__xstat", "struct stat"},
      {"__fxstat", "struct stat"}, {"__lxstat", "struct stat"}, {"__fxstatat", "struct stat"},
      {"__xstat64", "struct stat"}, {"__fxstat64", "struct stat"}, {"__lxstat64", "struct stat"},
      {"__fxstatat64", "struct stat"},
      {"epoll_ctl", "struct epoll_event"}, {"epoll_wait", "struct epoll_event"},
      {"epoll_pwait", "struct epoll_event"}, {"epoll_pwait2", "struct epoll_event"},
      {"getcontext", "ucontext_t"}, {"setcontext", "ucontext_t"},
      {"makecontext", "ucontext_t"}, {"swapcontext", "ucontext_t"},
      {"fegetenv", "fenv_t"}, {"fesetenv", "fenv_t"}, {"feholdexcept", "fenv_t"},
      {"feupdateenv", "fenv_t"}, {"semctl", "struct semid_ds"},
      {"pthread_create", "pthread_attr_t"}, {"pthread_getattr_np", "pthread_attr_t"},
  };
  for (auto &F : Fns)
    if (N == F.Name)
      return F.Type;
  if (N.startswith("pthread_mutexattr_"))
    return "pthread_mutexattr_t";
  if (N.startswith("pthread_mutex_"))
    return "pthread_mutex_t";
  if (N.startswith("pthread_attr_"))
    return "pthread_attr_t";
  if (N.startswith("pthread_condattr_"))
    return "pthread_condattr_t";
  return nullptr;
}

// open(2) flags: the kernel's generic numbering (x86-64) and aarch64's
// permute four bits (runtime/arch.h).  Calls that pass or return them get
// converted from the source's numbering to the destination's.
struct OFlagBits { uint64_t Direct, LargeFile, Directory, NoFollow; };
constexpr OFlagBits GenBits = {040000, 0100000, 0200000, 0400000};
constexpr OFlagBits A64Bits = {0200000, 0400000, 040000, 0100000};
constexpr uint64_t PermutedBits = 0740000;
const OFlagBits &oflagBits(Triple::ArchType A) { return A == Triple::aarch64 ? A64Bits : GenBits; }

// The index of the argument holding open(2) flags, or -1.
int oflagArg(StringRef N) {
  if (N == "open" || N == "open64" || N == "__open_2" || N == "__open64_2" || N == "mkostemp" ||
      N == "mkostemp64" || N == "shm_open")
    return 1;
  if (N == "openat" || N == "openat64" || N == "__openat_2" || N == "__openat64_2" || N == "mkostemps" ||
      N == "mkostemps64")
    return 2;
  return -1;
}
bool isFcntl(StringRef N) { return N == "fcntl" || N == "fcntl64" || N == "__fcntl"; }
constexpr uint64_t FGetFl = 3, FSetFl = 4;

Value *permuteOFlags(IRBuilder<> &B, Value *F, const OFlagBits &From, const OFlagBits &To) {
  const std::pair<uint64_t, uint64_t> Map[] = {{From.Direct, To.Direct},
                                               {From.LargeFile, To.LargeFile},
                                               {From.Directory, To.Directory},
                                               {From.NoFollow, To.NoFollow}};
  Type *T = F->getType();
  if (auto *C = dyn_cast<ConstantInt>(F)) {
    uint64_t V = C->getZExtValue(), Out = V & ~PermutedBits;
    for (auto &P : Map)
      if (V & P.first)
        Out |= P.second;
    return ConstantInt::get(T, Out);
  }
  Value *Out = B.CreateAnd(F, ConstantInt::get(T, ~PermutedBits));
  for (auto &P : Map) {
    Value *Has = B.CreateICmpNE(B.CreateAnd(F, ConstantInt::get(T, P.first)), ConstantInt::get(T, 0));
    Out = B.CreateOr(Out, B.CreateSelect(Has, ConstantInt::get(T, P.second), ConstantInt::get(T, 0)));
  }
  return Out;
}

// Converts the open(2) flags of the calls in M (see oflagArg, F_GETFL and
// F_SETFL of fcntl) from instruction set From's numbering to To's.
void convertOFlags(Module &M, Triple::ArchType From, Triple::ArchType To) {
  const OFlagBits &FB = oflagBits(From), &TB = oflagBits(To);
  if (&FB == &TB)
    return;
  for (Function &Callee : M) {
    if (!Callee.isDeclaration())
      continue;
    int Arg = oflagArg(Callee.getName());
    bool Fcntl = isFcntl(Callee.getName());
    if (Arg < 0 && !Fcntl)
      continue;
    for (User *U : make_early_inc_range(Callee.users())) {
      auto *CB = dyn_cast<CallBase>(U);
      if (!CB || CB->getCalledFunction() != &Callee)
        continue;
      IRBuilder<> B(CB);
      if (Arg >= 0 && (unsigned)Arg < CB->arg_size() && CB->getArgOperand(Arg)->getType()->isIntegerTy()) {
        CB->setArgOperand(Arg, permuteOFlags(B, CB->getArgOperand(Arg), FB, TB));
        continue;
      }
      auto *Cmd = CB->arg_size() > 1 ? dyn_cast<ConstantInt>(CB->getArgOperand(1)) : nullptr;
      if (!Cmd)
        continue; // refused by the check
      if (Cmd->getZExtValue() == FSetFl && CB->arg_size() > 2 &&
          CB->getArgOperand(2)->getType()->isIntegerTy()) {
        CB->setArgOperand(2, permuteOFlags(B, CB->getArgOperand(2), FB, TB));
      } else if (Cmd->getZExtValue() == FGetFl && CB->getType()->isIntegerTy() && isa<CallInst>(CB)) {
        SmallVector<Use *, 8> Uses;
        for (Use &Us : CB->uses())
          Uses.push_back(&Us);
        B.SetInsertPoint(CB->getNextNode());
        Value *Back = permuteOFlags(B, CB, TB, FB); // the result, in the source's numbering
        for (Use *Us : Uses)
          Us->set(Back);
      }
    }
  }
}

// setjmp family: the destination's C library writes its own jmp_buf (312
// bytes on aarch64, 200 on x86-64) where the source's IR made room for the
// source's.  Each setjmp call gets a buffer of room enough for both in its
// own frame, whose address the program's jmp_buf holds, and longjmp follows
// that address.  A jmp_buf is valid only while its setjmp's frame lives,
// and no buffer crosses a migration: when such a frame is captured, its
// rewind calls setjmp again on the program's buffer (MojMigrateSetjmp.cpp),
// a call this conversion gives a room of its own like any other.  The rooms
// come after moj-migrate (this runs on shipped, instrumented bitcode), so
// they are not stack objects of any record and the frames of the source's
// and the destination's builds stay alike.
constexpr uint64_t JmpBufRoom = 320;

void convertJmpBufs(Module &M) {
  LLVMContext &C = M.getContext();
  auto *PtrTy = PointerType::getUnqual(C);
  for (Function &Callee : M) {
    bool Set = isSetjmp(Callee.getName()), Long = isLongjmp(Callee.getName());
    if (!Callee.isDeclaration() || (!Set && !Long))
      continue;
    for (User *U : make_early_inc_range(Callee.users())) {
      auto *CB = dyn_cast<CallBase>(U);
      if (!CB || CB->getCalledFunction() != &Callee || CB->arg_size() < 1 ||
          !CB->getArgOperand(0)->getType()->isPointerTy())
        continue;
      IRBuilder<> B(CB);
      if (Long) {
        CB->setArgOperand(0, B.CreateLoad(PtrTy, CB->getArgOperand(0), "moj.jmpbuf"));
        continue;
      }
      BasicBlock &Entry = CB->getFunction()->getEntryBlock();
      IRBuilder<> E(&Entry, Entry.getFirstInsertionPt());
      AllocaInst *Room = E.CreateAlloca(ArrayType::get(Type::getInt8Ty(C), JmpBufRoom), nullptr, "moj.jmpbuf");
      Room->setAlignment(Align(16));
      B.CreateStore(Room, CB->getArgOperand(0));
      CB->setArgOperand(0, Room);
    }
  }
}

class Checker {
public:
  Checker(Module &M, const DataLayout &From, const DataLayout &To, StringRef FromName,
          StringRef ToName)
      : M(M), From(From), To(To), FromName(FromName), ToName(ToName) {}

  std::vector<std::string> run() {
    std::string Asm = stripReport(M.getModuleInlineAsm());
    if (StringRef(Asm).trim().size())
      add("the module has top-level assembly (" + FromName.str() + " instructions)");
    for (GlobalVariable &G : M.globals())
      type(G.getValueType(), "global '" + G.getName().str() + "'");
    for (Function &F : M) {
      if (!F.isDeclaration() && !portableCC(F.getCallingConv()))
        add("function '" + F.getName().str() + "' uses calling convention " +
            std::to_string(F.getCallingConv()) + ", which " + ToName.str() + " lacks");
      if (F.isDeclaration())
        continue;
      // Once per function, not per instruction: most instructions add nothing.
      std::string Where = "function '" + F.getName().str() + "'";
      for (BasicBlock &BB : F)
        for (Instruction &I : BB)
          inst(F, I, Where);
    }
    return std::move(Problems);
  }

private:
  Module &M;
  const DataLayout &From, &To;
  StringRef FromName, ToName;
  std::vector<std::string> Problems;
  SmallPtrSet<Type *, 32> Seen;

  void add(const std::string &S) {
    // one reason per kind and place is enough; keep the report short
    if (Problems.size() < 32 && std::find(Problems.begin(), Problems.end(), S) == Problems.end())
      Problems.push_back(S);
  }
  static bool portableCC(unsigned CC) {
    return CC == CallingConv::C || CC == CallingConv::Fast || CC == CallingConv::Cold;
  }
  static bool mojEntry(StringRef N) {
    return N == cc::w_slow_pm || N == cc::w_soft_pm || N == cc::r_pa || N == cc::w_pm ||
           N == cc::ws_pm;
  }

  // A type whose bytes mean something else, or lie elsewhere, on the other
  // instruction set.  Struct layouts are compared under both data layouts:
  // clang made its struct types follow the source's C layout, so a type
  // laid out differently on the destination would move every field after it.
  void type(Type *T, const std::string &Where) {
    if (!T || !Seen.insert(T).second)
      return;
    if (T->isX86_FP80Ty())
      add(Where + " uses long double as x87 80-bit (" + ToName.str() +
          "'s long double is IEEE binary128)");
    else if (T->isFP128Ty())
      add(Where + " uses fp128 (IEEE binary128, aarch64's long double; x86_64's is x87 "
                  "80-bit, so the C library takes it otherwise)");
    else if (T->isX86_MMXTy() || T->isX86_AMXTy())
      add(Where + " uses an x86 register type");
    if (auto *S = dyn_cast<StructType>(T)) {
      if (S->isOpaque())
        return;
      for (Type *E : S->elements())
        type(E, Where);
      if (!S->isSized())
        return;
      const StructLayout *A = From.getStructLayout(S), *B = To.getStructLayout(S);
      // Alignment alone does not count: clang gives every alloca, global and
      // access its alignment explicitly, and an enclosing struct whose
      // offsets it changes is compared itself.
      bool Same = A->getSizeInBytes() == B->getSizeInBytes();
      for (unsigned I = 0; Same && I < S->getNumElements(); ++I)
        Same = A->getElementOffset(I) == B->getElementOffset(I);
      if (!Same)
        add(Where + ": struct type " + (S->hasName() ? S->getName().str() : std::string("{...}")) +
            " is laid out differently (" + std::to_string(A->getSizeInBytes()) + " bytes on " +
            FromName.str() + ", " + std::to_string(B->getSizeInBytes()) + " on " + ToName.str() +
            ", or fields at other offsets)");
    } else if (auto *AT = dyn_cast<ArrayType>(T)) {
      type(AT->getElementType(), Where);
    } else if (auto *VT = dyn_cast<VectorType>(T)) {
      type(VT->getElementType(), Where);
    } else if (T->isSized() && T->isIntegerTy() &&
               From.getTypeAllocSize(T) != To.getTypeAllocSize(T)) {
      add(Where + ": " + std::to_string(T->getIntegerBitWidth()) +
          "-bit integers take another size in memory");
    }
  }

  void inst(Function &F, Instruction &I, const std::string &Where) {
    type(I.getType(), Where);
    for (Value *Op : I.operands())
      type(Op->getType(), Where);
    if (auto *A = dyn_cast<AllocaInst>(&I))
      type(A->getAllocatedType(), Where);
    else if (auto *G = dyn_cast<GetElementPtrInst>(&I))
      type(G->getSourceElementType(), Where);
    else if (isa<VAArgInst>(I))
      add(Where + " reads variadic arguments (va_arg; the va_list layouts differ)");
    auto *CB = dyn_cast<CallBase>(&I);
    if (!CB)
      return;
    if (CB->isInlineAsm()) {
      add(Where + " contains inline assembly (" + FromName.str() + " instructions)");
      return;
    }
    Function *Callee = CB->getCalledFunction();
    if (auto *II = dyn_cast<IntrinsicInst>(CB)) {
      Intrinsic::ID ID = II->getIntrinsicID();
      if ((ID == Intrinsic::vastart || ID == Intrinsic::vacopy) && FromName != "x86_64")
        add(Where + " uses va_start/va_copy (its va_list is laid out for " + FromName.str() +
            ")");
      else if (ID == Intrinsic::vastart && !sysvVaStartProblem(F).empty())
        add(Where + " " + sysvVaStartProblem(F));
      else if (II->getCalledFunction()->getName().startswith("llvm.x86.") ||
               II->getCalledFunction()->getName().startswith("llvm.aarch64."))
        add(Where + " calls the target intrinsic " + II->getCalledFunction()->getName().str());
      return;
    }
    if (Callee && mojEntry(Callee->getName()))
      return; // converted at the destination
    if (FromName == "x86_64") { // variadic calls are converted (MojVarargs.cpp)
      if (std::string P = sysvVarargProblem(*CB); !P.empty())
        add(Where + " " + P);
      if (Callee && isVaListLibcall(Callee->getName()))
        add(Where + " calls " + Callee->getName().str() +
            ", which reads a va_list the destination's way (the moved code's is x86-64's)");
    }
    if (!portableCC(CB->getCallingConv()))
      add(Where + " makes a call with calling convention " +
          std::to_string(CB->getCallingConv()) + ", which " + ToName.str() + " lacks");
    if (Callee && Callee->isDeclaration() && aggregateLibcall(Callee->getName()))
      add(Where + " calls " + Callee->getName().str() +
          ", whose structure or complex argument/result was lowered for " + FromName.str());
    // A variadic callee outside the module reads its arguments with its own
    // va_arg: an aggregate or vector is passed as the source's ABI says.
    if (Callee && Callee->isDeclaration() && Callee->isVarArg())
      for (unsigned A = Callee->getFunctionType()->getNumParams(); A < CB->arg_size(); ++A) {
        Type *T = CB->getArgOperand(A)->getType();
        if (T->isVectorTy() || T->isStructTy() || T->isArrayTy() || CB->isByValArgument(A))
          add(Where + " passes a structure or vector to the variadic " + Callee->getName().str() +
              " (lowered for " + FromName.str() + ")");
      }
    if (Callee && Callee->isDeclaration() && isFcntl(Callee->getName()) &&
        (CB->arg_size() < 2 || !isa<ConstantInt>(CB->getArgOperand(1))))
      add(Where + " calls " + Callee->getName().str() +
          " with a command not known at compile time (the open(2) flags it may pass or return "
          "could not be converted)");
    if (const char *T = Callee && Callee->isDeclaration() ? libcStructType(Callee->getName()) : nullptr)
      add(Where + " calls " + Callee->getName().str() + " (the C library's " + T +
          " has another size or layout on " + ToName.str() + ")");
  }

  static std::string stripReport(StringRef Asm) {
    // our own records (.mojave.isa, .mojave.bc) are data, not code
    std::string Out;
    while (!Asm.empty()) {
      size_t At = Asm.find(".pushsection .mojave.");
      Out += Asm.substr(0, At).str();
      if (At == StringRef::npos)
        break;
      size_t End = Asm.find(".popsection", At);
      if (End == StringRef::npos)
        break;
      Asm = Asm.substr(End + strlen(".popsection"));
    }
    return Out;
  }
};

// The source's triple and data layout as recorded (or the module's own when
// nothing is recorded yet: a fresh compile).
std::pair<std::string, std::string> source(const Module &M) {
  if (NamedMDNode *N = M.getNamedMetadata(SourceMD))
    if (N->getNumOperands() == 1 && N->getOperand(0)->getNumOperands() == 2) {
      auto *T = dyn_cast<MDString>(N->getOperand(0)->getOperand(0));
      auto *D = dyn_cast<MDString>(N->getOperand(0)->getOperand(1));
      if (T && D)
        return {T->getString().str(), D->getString().str()};
    }
  return {M.getTargetTriple(), M.getDataLayoutStr()};
}

} // namespace

std::vector<std::string> portabilityProblems(Module &M, StringRef ToArch, StringRef ToDL) {
  auto [SrcTriple, SrcDL] = source(M);
  const char *FromName = archName(Triple(SrcTriple).getArch());
  DataLayout From(SrcDL), To(ToDL);
  return Checker(M, From, To, FromName ? FromName : SrcTriple, ToArch).run();
}

PreservedAnalyses MojIsaReportPass::run(Module &M, ModuleAnalysisManager &) {
  if (M.getModuleInlineAsm().find(ReportDirective) != std::string::npos)
    return PreservedAnalyses::all();
  auto [SrcTriple, SrcDL] = source(M);
  if (!M.getNamedMetadata(SourceMD)) {
    LLVMContext &C = M.getContext();
    M.getOrInsertNamedMetadata(SourceMD)->addOperand(
        MDNode::get(C, {MDString::get(C, SrcTriple), MDString::get(C, SrcDL)}));
  }
  Triple::ArchType Here = Triple(SrcTriple).getArch();
  std::string Asm = std::string(ReportDirective) + "\n";
  for (const Isa &I : Isas) {
    if (I.Arch == Here)
      continue;
    for (const std::string &P : portabilityProblems(M, I.Name, I.DL)) {
      std::string Line = std::string(I.Name) + " " + M.getSourceFileName() + ": " + P;
      Asm += ".ascii \"";
      for (char Ch : Line)
        if (Ch >= 0x20 && Ch < 0x7f && Ch != '"' && Ch != '\\')
          Asm += Ch;
        else
          Asm += '?';
      Asm += "\\n\"\n";
    }
  }
  // A module with nothing to report still says that it was checked.
  Asm += ".ascii \"checked\\n\"\n.popsection";
  M.appendModuleInlineAsm(Asm);
  return PreservedAnalyses::none();
}

PreservedAnalyses MojRetargetPass::run(Module &M, ModuleAnalysisManager &MAM) {
  auto [SrcTriple, SrcDL] = source(M);
  Triple Src(SrcTriple), Dst(M.getTargetTriple());
  if (Src.getArch() == Dst.getArch() || !M.getNamedMetadata(SourceMD))
    return PreservedAnalyses::all();
  const char *DstName = archName(Dst.getArch());
  std::string Name = DstName ? DstName : Dst.str();
  std::vector<std::string> P = portabilityProblems(M, Name, M.getDataLayoutStr());
  if (!P.empty()) {
    std::string All;
    for (const std::string &S : P)
      All += (All.empty() ? "" : "; ") + S;
    report_fatal_error(Twine("mojave: refusing bitcode module '") + M.getSourceFileName() +
                           "' for " + Name + ": " + All,
                       /*GenCrashDiag=*/false);
  }
  for (Function &F : M) {
    F.removeFnAttr("target-cpu");
    F.removeFnAttr("target-features");
    F.removeFnAttr("tune-cpu");
  }
  convertOFlags(M, Src.getArch(), Dst.getArch());
  convertJmpBufs(M);
  if (Src.getArch() == Triple::x86_64)
    convertSysVVarargs(M);
  // x86-64's out-of-line entries: the slow paths have portable C twins, the
  // whole translations go back to markers for this target's lowering.
  LLVMContext &C = M.getContext();
  auto *PtrTy = PointerType::getUnqual(C);
  auto *I64 = Type::getInt64Ty(C);
  struct { const char *From, *To; bool Marker; } Map[] = {
      {cc::w_slow_pm, "__moj_w_slow", false}, {cc::w_soft_pm, cc::w_soft, false},
      {cc::r_pa, MarkerRead, true},           {cc::w_pm, MarkerWrite, true},
      {cc::ws_pm, MarkerWriteSoft, true}};
  bool Markers = false;
  for (auto &E : Map) {
    Function *Old = M.getFunction(E.From);
    if (!Old)
      continue;
    FunctionCallee New =
        E.Marker ? FunctionCallee(getMarker(M, E.To))
                 : M.getOrInsertFunction(E.To, FunctionType::get(PtrTy, {I64}, false));
    if (auto *NF = dyn_cast<Function>(New.getCallee()))
      NF->setDoesNotThrow();
    SmallVector<CallInst *, 16> Calls;
    for (User *U : Old->users())
      if (auto *CI = dyn_cast<CallInst>(U))
        Calls.push_back(CI);
    for (CallInst *CI : Calls) {
      IRBuilder<> B(CI);
      Value *A = CI->getArgOperand(0);
      CallInst *N = E.Marker ? B.CreateCall(New, {B.CreateIntToPtr(A, PtrTy)})
                             : B.CreateCall(New, {A});
      N->takeName(CI);
      N->setDebugLoc(CI->getDebugLoc());
      CI->replaceAllUsesWith(N);
      CI->eraseFromParent();
    }
    Markers |= E.Marker && !Calls.empty();
    if (Old->use_empty())
      Old->eraseFromParent();
  }
  if (Markers)
    MojLowerPass().run(M, MAM);
  return PreservedAnalyses::none();
}

} // namespace moj
